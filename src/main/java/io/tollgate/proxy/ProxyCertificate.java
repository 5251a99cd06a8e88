package io.tollgate.proxy;

import io.tollgate.config.ConfigException;
import io.tollgate.config.ConfigProblem;
import io.tollgate.config.TlsOptions;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.PemKeyCertOptions;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.X509KeyManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The certificate and key of the proxy port's TLS listener ({@code server.tls}), checked before the port listens:
 * the configured PEM files, or the self-signed leaf in {@code selfSignedDir}, generated at first start
 * ({@link SelfSignedLeaf}) and reused while it is valid. A file that is missing, unreadable, not PEM, expired, or a
 * key that does not belong to its certificate fails start-up with a {@link ConfigException} naming the key, so
 * Tollgate exits 2 before anything listens.
 *
 * <p>Blocking (files, key generation): call it off the event loops, once per gateway before the proxy verticles
 * deploy. Generation holds a lock file in the directory, so two sidecars sharing it never pair one's certificate with
 * the other's key. The key file is created with mode 0600 before a byte is written to it.
 */
public final class ProxyCertificate {
  private static final Logger LOG = LoggerFactory.getLogger(ProxyCertificate.class);
  static final String CERT_FILE = "cert.pem";
  static final String KEY_FILE = "key.pem";
  /** A self-signed certificate with less than this left is replaced at start rather than reused. */
  static final Duration RENEW_BEFORE = Duration.ofDays(1);
  private static final Object GENERATING = new Object();

  private final Path certFile;
  private final Path keyFile;
  private final X509Certificate certificate;
  private final boolean selfSigned;

  private ProxyCertificate(Path certFile, Path keyFile, X509Certificate certificate, boolean selfSigned) {
    this.certFile = certFile;
    this.keyFile = keyFile;
    this.certificate = certificate;
    this.selfSigned = selfSigned;
  }

  /**
   * Checks the configured files, or reuses or generates the self-signed certificate. Blocking.
   *
   * @throws ConfigException naming {@code server.tls.certFile}, {@code keyFile} or {@code selfSignedDir}
   */
  public static ProxyCertificate load(Vertx vertx, TlsOptions tls, Clock clock) {
    return tls.isSelfSigned() ? selfSigned(Path.of(tls.getSelfSignedDir()), clock.instant())
        : configured(vertx, Path.of(tls.getCertFile()), Path.of(tls.getKeyFile()), clock.instant());
  }

  /** The PEM certificate file the proxy port serves: what an application trusts for a self-signed one. */
  public Path certFile() { return certFile; }
  public Path keyFile() { return keyFile; }
  public X509Certificate certificate() { return certificate; }
  public boolean isSelfSigned() { return selfSigned; }

  /** SHA-256 of the certificate's DER, as colon-separated hex (what browsers and {@code openssl x509 -fingerprint} show). */
  public String fingerprint() {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(certificate.getEncoded());
      return HexFormat.ofDelimiter(":").withUpperCase().formatHex(digest);
    } catch (GeneralSecurityException e) {
      return "unknown";
    }
  }

  // ---- configured files ----

  private static ProxyCertificate configured(Vertx vertx, Path certPath, Path keyPath, Instant now) {
    byte[] certPem = read(certPath, "server.tls.certFile", "a readable PEM certificate file");
    byte[] keyPem = read(keyPath, "server.tls.keyFile", "a readable PEM private key file");
    X509Certificate cert = firstCertificate(certPem);
    if (cert == null) {
      throw problem("server.tls.certFile", certPath, "a PEM file holding an X.509 certificate (-----BEGIN CERTIFICATE-----)");
    }
    if (now.isBefore(cert.getNotBefore().toInstant()) || now.isAfter(cert.getNotAfter().toInstant())) {
      throw problem("server.tls.certFile", certPath, "a certificate valid now (this one is valid from "
          + cert.getNotBefore().toInstant() + " to " + cert.getNotAfter().toInstant() + ")");
    }
    PrivateKey key;
    try {
      KeyManagerFactory factory = new PemKeyCertOptions().setCertValue(Buffer.buffer(certPem))
          .setKeyValue(Buffer.buffer(keyPem)).getKeyManagerFactory(vertx);
      key = privateKey(factory, cert);
    } catch (Exception e) {
      throw problem("server.tls.keyFile", keyPath, "an unencrypted PEM private key (PKCS#8 -----BEGIN PRIVATE KEY-----, "
          + "or PKCS#1 RSA) (" + e.getMessage() + ")");
    }
    if (key != null && !matches(key, cert.getPublicKey())) {
      throw problem("server.tls.keyFile", keyPath, "the private key of the certificate in server.tls.certFile");
    }
    return new ProxyCertificate(certPath, keyPath, cert, false);
  }

  private static byte[] read(Path path, String key, String expected) {
    try {
      return Files.readAllBytes(path);
    } catch (IOException | RuntimeException e) {
      throw problem(key, path, expected);
    }
  }

  private static X509Certificate firstCertificate(byte[] pem) {
    try {
      Collection<? extends Certificate> all = CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(pem));
      return all.isEmpty() ? null : (X509Certificate) all.iterator().next();
    } catch (GeneralSecurityException | RuntimeException e) {
      return null;
    }
  }

  /** The key Vert.x loaded for {@code cert}, or null when its key manager does not say (then no match check). */
  private static PrivateKey privateKey(KeyManagerFactory factory, X509Certificate cert) {
    for (KeyManager manager : factory.getKeyManagers()) {
      if (!(manager instanceof X509KeyManager x)) continue;
      String[] aliases = x.getServerAliases(cert.getPublicKey().getAlgorithm(), null);
      if (aliases == null) continue;
      for (String alias : aliases) {
        PrivateKey key = x.getPrivateKey(alias);
        if (key != null) return key;
      }
    }
    return null;
  }

  /** Signs a few bytes with {@code key} and checks them with {@code certificateKey}; true when unsure of the algorithm. */
  private static boolean matches(PrivateKey key, PublicKey certificateKey) {
    String algorithm = switch (certificateKey.getAlgorithm()) {
      case "RSA" -> "SHA256withRSA";
      case "EC" -> "SHA256withECDSA";
      case "Ed25519", "EdDSA" -> "Ed25519";
      default -> null;
    };
    if (algorithm == null) return true;
    try {
      byte[] probe = "tollgate".getBytes(StandardCharsets.US_ASCII);
      Signature signer = Signature.getInstance(algorithm);
      signer.initSign(key);
      signer.update(probe);
      byte[] signature = signer.sign();
      Signature verifier = Signature.getInstance(algorithm);
      verifier.initVerify(certificateKey);
      verifier.update(probe);
      return verifier.verify(signature);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  // ---- self-signed ----

  private static ProxyCertificate selfSigned(Path dir, Instant now) {
    Path certPath = dir.resolve(CERT_FILE);
    Path keyPath = dir.resolve(KEY_FILE);
    synchronized (GENERATING) {
      try {
        Files.createDirectories(dir);
      } catch (IOException | RuntimeException e) {
        throw problem("server.tls.selfSignedDir", dir, "a directory Tollgate can create and write (" + e + ")");
      }
      try (FileChannel lockFile = FileChannel.open(dir.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
           FileLock lock = lockFile.lock()) {
        String unusable = null;
        if (Files.exists(certPath) || Files.exists(keyPath)) {
          unusable = reusable(certPath, keyPath, now);
          if (unusable == null) {
            X509Certificate cert = firstCertificate(Files.readAllBytes(certPath));
            keepPrivate(keyPath);
            LOG.info("proxy TLS: reusing the self-signed certificate {} (valid until {})", certPath.toAbsolutePath(),
                cert.getNotAfter().toInstant());
            return new ProxyCertificate(certPath, keyPath, cert, true);
          }
        }
        SelfSignedLeaf.Pem generated = SelfSignedLeaf.generate(now);
        writePrivate(keyPath, generated.privateKey());
        writeAtomically(certPath, generated.certificate());
        if (unusable != null) {
          LOG.warn("proxy TLS: replaced the self-signed certificate {} ({}): applications must trust the new one",
              certPath.toAbsolutePath(), unusable);
        } else {
          LOG.info("proxy TLS: generated a self-signed certificate {} for localhost, 127.0.0.1 and ::1 (valid until {})",
              certPath.toAbsolutePath(), generated.parsed().getNotAfter().toInstant());
        }
        return new ProxyCertificate(certPath, keyPath, generated.parsed(), true);
      } catch (IOException | GeneralSecurityException | RuntimeException e) {
        if (e instanceof ConfigException c) throw c;
        throw problem("server.tls.selfSignedDir", dir, "a directory where Tollgate can keep its certificate and key (" + e + ")");
      }
    }
  }

  /** Null when the pair in the directory can be served again, else why not. */
  private static String reusable(Path certPath, Path keyPath, Instant now) {
    try {
      X509Certificate cert = firstCertificate(Files.readAllBytes(certPath));
      if (cert == null) return "not a PEM certificate";
      if (now.isBefore(cert.getNotBefore().toInstant())) return "not valid yet";
      if (now.plus(RENEW_BEFORE).isAfter(cert.getNotAfter().toInstant())) return "expired or about to";
      if (cert.getBasicConstraints() != -1) return "a CA certificate";
      if (!coversLoopback(cert)) return "not for localhost and 127.0.0.1";
      String pem = Files.readString(keyPath, StandardCharsets.US_ASCII);
      int begin = pem.indexOf("-----BEGIN PRIVATE KEY-----");
      int end = pem.indexOf("-----END PRIVATE KEY-----");
      if (begin < 0 || end < begin) return "key file not PKCS#8 PEM";
      byte[] der = Base64.getMimeDecoder().decode(pem.substring(begin + 27, end));
      PrivateKey key = KeyFactory.getInstance(cert.getPublicKey().getAlgorithm()).generatePrivate(new PKCS8EncodedKeySpec(der));
      return matches(key, cert.getPublicKey()) ? null : "key and certificate do not belong together";
    } catch (IOException | GeneralSecurityException | RuntimeException e) {
      return "unreadable: " + e.getClass().getSimpleName();
    }
  }

  private static boolean coversLoopback(X509Certificate cert) throws GeneralSecurityException {
    Collection<List<?>> names = cert.getSubjectAlternativeNames();
    if (names == null) return false;
    boolean dns = false;
    boolean ip = false;
    for (List<?> n : names) {
      if (Integer.valueOf(2).equals(n.get(0)) && SelfSignedLeaf.DNS_NAME.equals(n.get(1))) dns = true;
      if (Integer.valueOf(7).equals(n.get(0)) && "127.0.0.1".equals(n.get(1))) ip = true;
    }
    return dns && ip;
  }

  private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

  /** Writes the key into a new file that is 0600 from its creation, then moves it into place. */
  private static void writePrivate(Path keyPath, String pem) throws IOException {
    Path tmp = keyPath.resolveSibling(keyPath.getFileName() + ".tmp");
    Files.deleteIfExists(tmp);
    try {
      Files.createFile(tmp, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
    } catch (UnsupportedOperationException notPosix) {
      Files.createFile(tmp);
    }
    Files.writeString(tmp, pem, StandardCharsets.US_ASCII, StandardOpenOption.TRUNCATE_EXISTING);
    move(tmp, keyPath);
  }

  private static void writeAtomically(Path path, String text) throws IOException {
    Path tmp = path.resolveSibling(path.getFileName() + ".tmp");
    Files.writeString(tmp, text, StandardCharsets.US_ASCII);
    move(tmp, path);
  }

  private static void move(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /** A reused key file readable by others is brought back to 0600. */
  private static void keepPrivate(Path keyPath) throws IOException {
    try {
      if (!Files.getPosixFilePermissions(keyPath).equals(OWNER_ONLY)) {
        Files.setPosixFilePermissions(keyPath, OWNER_ONLY);
        LOG.warn("proxy TLS: {} was readable by others; set back to mode 0600", keyPath.toAbsolutePath());
      }
    } catch (UnsupportedOperationException notPosix) {
      // Not a POSIX file system: its own access control applies.
    }
  }

  private static ConfigException problem(String key, Object value, String expected) {
    return new ConfigException(List.of(new ConfigProblem(key, String.valueOf(value), expected)));
  }
}
