package io.tollgate.proxy;

import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Base64;
import java.util.List;

/**
 * A self-signed X.509 v3 leaf certificate for the loopback names, built with public JDK APIs only: an ECDSA P-256 key
 * pair ({@link KeyPairGenerator}), the certificate's DER written here, signed with {@link Signature}, and read back
 * through {@link CertificateFactory} as a check.
 *
 * <p>Design note, why not something else. The JDK has no public certificate builder; {@code sun.security.x509} needs
 * {@code --add-exports} and changes between releases. Netty's (and so Vert.x's) {@code SelfSignedCertificate} falls
 * back to those internals without BouncyCastle, writes its files to the temp directory and gives no subject
 * alternative names, so a client checking the host against {@code 127.0.0.1} refuses it. {@code keytool} would mean a
 * child process and a PKCS#12 detour to reach a PEM key. The DER of one certificate is small and fixed, so it is
 * written here, the same on every JDK from 17 on.
 *
 * <p>The certificate: subject and issuer {@code CN=localhost}; subject alternative names {@code DNS:localhost},
 * {@code IP:127.0.0.1} and {@code IP:::1}; basic constraints critical with {@code cA} false (a leaf: it can sign no
 * other certificate, so trusting it trusts this listener and nothing else); extended key usage {@code serverAuth};
 * subject and authority key identifiers; no key usage extension (OpenSSL-based clients then still accept it as its own
 * trust anchor). Valid from an hour ago (clock skew) for {@link #VALIDITY}, the longest Apple's clients accept.
 */
final class SelfSignedLeaf {
  /** 825 days, the longest validity macOS and iOS accept for a TLS server certificate. */
  static final Duration VALIDITY = Duration.ofDays(825);
  static final String DNS_NAME = "localhost";
  static final List<byte[]> IP_ADDRESSES = List.of(new byte[] {127, 0, 0, 1},
      new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});

  private static final byte[] OID_EC_WITH_SHA256 = oid(1, 2, 840, 10045, 4, 3, 2);
  private static final byte[] OID_COMMON_NAME = oid(2, 5, 4, 3);
  private static final byte[] OID_BASIC_CONSTRAINTS = oid(2, 5, 29, 19);
  private static final byte[] OID_EXT_KEY_USAGE = oid(2, 5, 29, 37);
  private static final byte[] OID_SUBJECT_ALT_NAME = oid(2, 5, 29, 17);
  private static final byte[] OID_SUBJECT_KEY_ID = oid(2, 5, 29, 14);
  private static final byte[] OID_AUTHORITY_KEY_ID = oid(2, 5, 29, 35);
  private static final byte[] OID_SERVER_AUTH = oid(1, 3, 6, 1, 5, 5, 7, 3, 1);

  /** The certificate and its private key, each as one PEM block. */
  record Pem(String certificate, String privateKey, X509Certificate parsed) {}

  private SelfSignedLeaf() {}

  /** Generates a key pair and a certificate valid from {@code now} minus an hour; a few milliseconds of CPU. */
  static Pem generate(Instant now) throws GeneralSecurityException {
    SecureRandom random = new SecureRandom();
    KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
    generator.initialize(new ECGenParameterSpec("secp256r1"), random);
    KeyPair keys = generator.generateKeyPair();
    byte[] spki = keys.getPublic().getEncoded();
    byte[] keyId = MessageDigest.getInstance("SHA-1").digest(spki);

    byte[] serial = new byte[16];
    random.nextBytes(serial);
    serial[0] = (byte) ((serial[0] & 0x3f) | 0x40);  // positive, 16 bytes, never zero
    byte[] algorithm = seq(OID_EC_WITH_SHA256);
    byte[] name = seq(set(seq(OID_COMMON_NAME, tlv(0x0c, DNS_NAME.getBytes(StandardCharsets.UTF_8)))));
    Instant notBefore = now.minus(Duration.ofHours(1));
    byte[] validity = seq(time(notBefore), time(notBefore.plus(VALIDITY)));

    ByteArrayOutputStream names = new ByteArrayOutputStream();
    names.writeBytes(tlv(0x82, DNS_NAME.getBytes(StandardCharsets.US_ASCII)));
    for (byte[] ip : IP_ADDRESSES) names.writeBytes(tlv(0x87, ip));
    byte[] extensions = seq(
        extension(OID_BASIC_CONSTRAINTS, true, seq()),
        extension(OID_EXT_KEY_USAGE, false, seq(OID_SERVER_AUTH)),
        extension(OID_SUBJECT_ALT_NAME, false, tlv(0x30, names.toByteArray())),
        extension(OID_SUBJECT_KEY_ID, false, tlv(0x04, keyId)),
        extension(OID_AUTHORITY_KEY_ID, false, seq(tlv(0x80, keyId))));
    byte[] tbs = seq(
        tlv(0xa0, integer(BigInteger.TWO)),  // version 3
        integer(new BigInteger(1, serial)),
        algorithm, name, validity, name, spki,
        tlv(0xa3, extensions));

    Signature signer = Signature.getInstance("SHA256withECDSA");
    signer.initSign(keys.getPrivate(), random);
    signer.update(tbs);
    byte[] signature = signer.sign();
    byte[] der = seq(tbs, algorithm, bitString(signature));

    X509Certificate parsed = (X509Certificate) CertificateFactory.getInstance("X.509")
        .generateCertificate(new java.io.ByteArrayInputStream(der));
    parsed.verify(keys.getPublic());
    return new Pem(pem("CERTIFICATE", der), pem("PRIVATE KEY", keys.getPrivate().getEncoded()), parsed);
  }

  static String pem(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n"
        + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
        + "\n-----END " + type + "-----\n";
  }

  // ---- DER ----

  private static byte[] extension(byte[] oid, boolean critical, byte[] value) {
    return critical ? seq(oid, new byte[] {0x01, 0x01, (byte) 0xff}, tlv(0x04, value)) : seq(oid, tlv(0x04, value));
  }

  /** UTCTime up to 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5). */
  private static byte[] time(Instant t) {
    var utc = t.atOffset(ZoneOffset.UTC);
    boolean utcTime = utc.getYear() < 2050;
    String text = utc.format(DateTimeFormatter.ofPattern(utcTime ? "yyMMddHHmmss'Z'" : "yyyyMMddHHmmss'Z'"));
    return tlv(utcTime ? 0x17 : 0x18, text.getBytes(StandardCharsets.US_ASCII));
  }

  private static byte[] integer(BigInteger n) {
    return tlv(0x02, n.toByteArray());
  }

  private static byte[] bitString(byte[] bits) {
    byte[] v = new byte[bits.length + 1];
    System.arraycopy(bits, 0, v, 1, bits.length);  // no unused bits
    return tlv(0x03, v);
  }

  private static byte[] seq(byte[]... parts) {
    return tlv(0x30, concat(parts));
  }

  private static byte[] set(byte[]... parts) {
    return tlv(0x31, concat(parts));
  }

  private static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) out.writeBytes(p);
    return out.toByteArray();
  }

  private static byte[] tlv(int tag, byte[] value) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(value.length + 6);
    out.write(tag);
    int n = value.length;
    if (n < 0x80) {
      out.write(n);
    } else {
      int bytes = n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x1000000 ? 3 : 4;
      out.write(0x80 | bytes);
      for (int i = bytes - 1; i >= 0; i--) out.write(n >>> (8 * i));
    }
    out.writeBytes(value);
    return out.toByteArray();
  }

  private static byte[] oid(int... arcs) {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    body.write(40 * arcs[0] + arcs[1]);
    for (int i = 2; i < arcs.length; i++) {
      int arc = arcs[i];
      int groups = 1;
      while ((arc >>> (7 * groups)) != 0) groups++;
      for (int g = groups - 1; g >= 0; g--) body.write(((arc >>> (7 * g)) & 0x7f) | (g > 0 ? 0x80 : 0));
    }
    return tlv(0x06, body.toByteArray());
  }
}
