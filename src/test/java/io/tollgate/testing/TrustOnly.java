package io.tollgate.testing;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * TLS client trust that holds exactly one certificate, as an application that trusts Tollgate's certificate (and
 * nothing else) would build it: no JDK CA, so a handshake succeeds only against that certificate.
 */
public final class TrustOnly {
  private TrustOnly() {}

  /** A trust manager whose only trust anchor is the PEM certificate in {@code certFile}. */
  public static X509TrustManager trustManager(Path certFile) {
    try (InputStream in = Files.newInputStream(certFile)) {
      Certificate cert = CertificateFactory.getInstance("X.509").generateCertificate(in);
      KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
      store.load(null, null);
      store.setCertificateEntry("tollgate", cert);
      TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      factory.init(store);
      for (TrustManager m : factory.getTrustManagers()) {
        if (m instanceof X509TrustManager x) return x;
      }
      throw new IllegalStateException("no X509TrustManager");
    } catch (Exception e) {
      throw new IllegalStateException("cannot trust " + certFile, e);
    }
  }

  /** An {@link SSLContext} (TLS) that trusts only the PEM certificate in {@code certFile}. */
  public static SSLContext sslContext(Path certFile) {
    try {
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, new TrustManager[] {trustManager(certFile)}, null);
      return context;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
