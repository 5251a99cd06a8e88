package io.tollgate.config;

import java.io.ByteArrayInputStream;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.interfaces.RSAPublicKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The sidecar app's certificate credential: an RSA private key (PKCS#8, {@code BEGIN PRIVATE KEY}) and its X.509
 * certificate ({@code BEGIN CERTIFICATE}), read from one PEM text. The token client signs its client assertion with
 * the key and names the certificate by its thumbprints ({@code x5t}: base64url SHA-1 of the DER certificate,
 * {@code x5t#S256}: SHA-256), as the Microsoft identity platform expects. {@link #toString} shows the thumbprint
 * only: the key never reaches a log. Immutable.
 */
public final class ClientCertificate {
  private static final Pattern BLOCK = Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----([^-]*)-----END \\1-----");
  private static final Base64.Encoder B64URL = Base64.getUrlEncoder().withoutPadding();

  private final PrivateKey key;
  private final X509Certificate certificate;
  private final String x5t;
  private final String x5tS256;

  private ClientCertificate(PrivateKey key, X509Certificate certificate) throws GeneralSecurityException {
    this.key = key;
    this.certificate = certificate;
    this.x5t = thumbprint("SHA-1", certificate);
    this.x5tS256 = thumbprint("SHA-256", certificate);
  }

  /**
   * The base64url digest of a certificate's DER form, as the identity platform names certificates ({@code SHA-1}:
   * {@code x5t}, {@code SHA-256}: {@code x5t#S256}).
   */
  public static String thumbprint(String algorithm, X509Certificate certificate) {
    try {
      return B64URL.encodeToString(MessageDigest.getInstance(algorithm).digest(certificate.getEncoded()));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Reads a PEM text holding one PKCS#8 RSA private key and the X.509 certificate of its public key (other blocks,
   * such as a chain's further certificates, and text outside blocks are ignored; the first certificate is the app's).
   *
   * @throws IllegalArgumentException saying what is wrong, never quoting the key
   */
  public static ClientCertificate fromPem(String pem) {
    if (pem == null) throw new IllegalArgumentException("no PEM text");
    byte[] keyDer = null;
    byte[] certDer = null;
    Matcher m = BLOCK.matcher(pem);
    while (m.find()) {
      String kind = m.group(1);
      byte[] der;
      try {
        der = Base64.getMimeDecoder().decode(m.group(2).trim());
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("a " + kind + " block is not base64");
      }
      if (kind.equals("PRIVATE KEY") && keyDer == null) keyDer = der;
      else if (kind.equals("CERTIFICATE") && certDer == null) certDer = der;
      else if (kind.equals("RSA PRIVATE KEY") || kind.equals("ENCRYPTED PRIVATE KEY")) {
        throw new IllegalArgumentException("the key is " + kind + "; convert it to an unencrypted PKCS#8 BEGIN PRIVATE KEY "
            + "(openssl pkcs8 -topk8 -nocrypt)");
      }
    }
    if (keyDer == null) throw new IllegalArgumentException("no BEGIN PRIVATE KEY block (PKCS#8)");
    if (certDer == null) throw new IllegalArgumentException("no BEGIN CERTIFICATE block");
    try {
      X509Certificate cert = (X509Certificate) CertificateFactory.getInstance("X.509")
          .generateCertificate(new ByteArrayInputStream(certDer));
      if (!(cert.getPublicKey() instanceof RSAPublicKey pub)) throw new IllegalArgumentException("the certificate's key is not RSA");
      PrivateKey key = KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(keyDer));
      if (key instanceof RSAPrivateCrtKey crt && !crt.getModulus().equals(pub.getModulus())) {
        throw new IllegalArgumentException("the private key does not belong to the certificate");
      }
      return new ClientCertificate(key, cert);
    } catch (GeneralSecurityException | ClassCastException e) {
      throw new IllegalArgumentException("not an RSA PKCS#8 private key and X.509 certificate (" + e.getClass().getSimpleName() + ")");
    }
  }

  /** The key that signs client assertions. Never log it. */
  public PrivateKey key() { return key; }

  public X509Certificate certificate() { return certificate; }

  /** Base64url SHA-1 thumbprint of the DER certificate (JWT header {@code x5t}). */
  public String x5t() { return x5t; }

  /** Base64url SHA-256 thumbprint of the DER certificate (JWT header {@code x5t#S256}). */
  public String x5tS256() { return x5tS256; }

  @Override
  public String toString() {
    return "certificate " + x5t;
  }
}
