package io.tollgate.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.Gateway;
import io.tollgate.config.ConfigException;
import io.tollgate.config.ConfigProblem;
import io.tollgate.config.TlsOptions;
import io.tollgate.sim.SimulatorOptions;
import io.tollgate.sim.Tokens;
import io.tollgate.testing.GatewayHarness;
import io.tollgate.testing.LogCapture;
import io.tollgate.testing.TrustOnly;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The proxy port over real HTTPS ({@code server.tls}): with PEM files made by {@code keytool}, and with the self-signed
 * leaf Tollgate generates. Each client trusts only the one certificate, as an application told to trust Tollgate's would.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ProxyTlsTest {
  static final String TOKEN = Tokens.issue(new JsonObject().put("tid", "t1").put("appid", "a1").put("idtyp", "app"));

  @TempDir Path dir;
  GatewayHarness harness;

  @AfterEach
  void stop() {
    if (harness != null) harness.close();
  }

  @Test
  @Timeout(60)
  void a_client_trusting_only_the_configured_certificate_pages_over_https_through_links_that_say_https() throws Exception {
    Path cert = dir.resolve("cert.pem");
    Path key = dir.resolve("key.pem");
    keytoolPem(cert, key);
    harness = GatewayHarness.builder().simulator(new SimulatorOptions().setUsers(30).setPageSize(10))
        .config(tls(new JsonObject().put("enabled", true).put("certFile", cert.toString()).put("keyFile", key.toString())))
        .start();
    Gateway g = harness.gateway();
    String origin = "https://127.0.0.1:" + g.proxyPort();
    assertEquals(origin, GatewayHarness.proxy(g));
    assertFalse(g.proxyCertificate().isSelfSigned());
    HttpClient trusting = client(TrustOnly.sslContext(cert));

    String url = origin + "/v1.0/users";
    int pages = 0;
    try (LogCapture logs = new LogCapture()) {
      while (url != null) {
        HttpResponse<String> r = trusting.send(get(url), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), url + ": " + r.body());
        pages++;
        url = new JsonObject(r.body()).getString("@odata.nextLink");
        if (url != null) assertTrue(url.startsWith(origin + "/v1.0/users?"), "nextLink points at the gateway over https: " + url);
      }
      assertFalse(logs.all().contains(TOKEN.substring(TOKEN.lastIndexOf('.') + 1)), "the token never appears in the logs");
    }
    assertEquals(3, pages, "30 users, 10 a page");
    assertEquals(3, harness.sim().stats().count("GET /v1.0/users"), "every page went through the gateway");

    HttpClient jdkCas = client(SSLContext.getDefault());
    IOException refused = assertThrows(IOException.class, () -> jdkCas.send(get(origin + "/v1.0/users"), HttpResponse.BodyHandlers.ofString()));
    assertTrue(causedBy(refused, SSLHandshakeException.class), "a client trusting only the JDK's CAs fails the handshake: " + refused);
    HttpClient plain = client(SSLContext.getDefault());
    assertThrows(IOException.class, () -> plain.send(get("http://127.0.0.1:" + g.proxyPort() + "/v1.0/users"),
        HttpResponse.BodyHandlers.ofString()), "the port speaks HTTPS only");
    assertEquals(3, harness.sim().stats().count("GET /v1.0/users"), "refused connections reach nothing");
  }

  @Test
  @Timeout(60)
  void a_self_signed_leaf_for_localhost_is_generated_with_a_private_key_and_reused_by_the_next_start() throws Exception {
    Path tlsDir = dir.resolve("tollgate-tls");
    JsonObject keys = tls(new JsonObject().put("enabled", true).put("selfSigned", true).put("selfSignedDir", tlsDir.toString()));
    harness = GatewayHarness.builder().config(keys).start();
    Gateway first = harness.gateway();
    Path cert = first.proxyCertificate().certFile();
    assertEquals(tlsDir.resolve("cert.pem"), cert);
    X509Certificate x509 = read(cert);
    assertEquals(-1, x509.getBasicConstraints(), "a leaf, not a CA");
    assertEquals(x509.getSubjectX500Principal(), x509.getIssuerX500Principal(), "self-signed");
    x509.verify(x509.getPublicKey());
    List<String> names = x509.getSubjectAlternativeNames().stream().map(n -> n.get(0) + ":" + n.get(1)).toList();
    assertTrue(names.contains("2:localhost") && names.contains("7:127.0.0.1"), "SAN DNS:localhost, IP:127.0.0.1: " + names);
    assertTrue(x509.getExtendedKeyUsage().contains("1.3.6.1.5.5.7.3.1"), "serverAuth");
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(tlsDir.resolve("key.pem"))), "key file mode 0600");
    assertOk(first, cert);

    byte[] issued = Files.readAllBytes(cert);
    byte[] key = Files.readAllBytes(tlsDir.resolve("key.pem"));
    String firstFingerprint = first.proxyCertificate().fingerprint();
    harness.close();
    harness = null;
    // The next start, configured the same way, serves the same certificate.
    harness = GatewayHarness.builder().config(keys).start();
    Gateway second = harness.gateway();
    assertArrayEquals(issued, Files.readAllBytes(cert), "the certificate was reused, not replaced");
    assertArrayEquals(key, Files.readAllBytes(tlsDir.resolve("key.pem")), "and its key");
    assertEquals(firstFingerprint, second.proxyCertificate().fingerprint());
    assertOk(second, cert);
  }

  @Test
  void bad_tls_files_are_configuration_problems_naming_their_key() throws Exception {
    Vertx vertx = Vertx.vertx();
    try {
      Path a = dir.resolve("a");
      Path b = dir.resolve("b");
      ProxyCertificate one = ProxyCertificate.load(vertx, selfSigned(a), Clock.systemUTC());
      ProxyCertificate.load(vertx, selfSigned(b), Clock.systemUTC());
      Path garbage = Files.writeString(dir.resolve("garbage.pem"), "not a certificate\n");

      assertEquals("server.tls.certFile", problem(vertx, files(dir.resolve("missing.pem"), one.keyFile())).key());
      assertEquals("server.tls.certFile", problem(vertx, files(garbage, one.keyFile())).key());
      assertEquals("server.tls.keyFile", problem(vertx, files(one.certFile(), garbage)).key());
      ConfigProblem mismatch = problem(vertx, files(one.certFile(), b.resolve("key.pem")));
      assertEquals("server.tls.keyFile", mismatch.key());
      assertTrue(mismatch.expected().contains("private key of the certificate"), mismatch.toString());
      assertNotNull(ProxyCertificate.load(vertx, files(one.certFile(), one.keyFile()), Clock.systemUTC()), "a matching pair is fine");
      Clock later = Clock.offset(Clock.systemUTC(), SelfSignedLeaf.VALIDITY.plusDays(1));
      assertEquals("server.tls.certFile", problem(vertx, files(one.certFile(), one.keyFile()), later).key(), "expired");
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void an_expired_self_signed_certificate_is_replaced_at_start() throws Exception {
    Vertx vertx = Vertx.vertx();
    try {
      Path tlsDir = dir.resolve("tls");
      ProxyCertificate old = ProxyCertificate.load(vertx, selfSigned(tlsDir), Clock.systemUTC());
      Clock later = Clock.offset(Clock.systemUTC(), SelfSignedLeaf.VALIDITY);
      ProxyCertificate renewed = ProxyCertificate.load(vertx, selfSigned(tlsDir), later);
      assertFalse(old.fingerprint().equals(renewed.fingerprint()), "a new certificate");
      assertEquals(renewed.fingerprint(), ProxyCertificate.load(vertx, selfSigned(tlsDir), later).fingerprint(), "then reused");
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
  }

  // ---- helpers ----

  static JsonObject tls(JsonObject tls) {
    return new JsonObject().put("server", new JsonObject().put("tls", tls));
  }

  static TlsOptions selfSigned(Path dir) {
    return new TlsOptions().setEnabled(true).setSelfSigned(true).setSelfSignedDir(dir.toString());
  }

  static TlsOptions files(Path cert, Path key) {
    return new TlsOptions().setEnabled(true).setCertFile(cert.toString()).setKeyFile(key.toString());
  }

  static ConfigProblem problem(Vertx vertx, TlsOptions tls) {
    return problem(vertx, tls, Clock.systemUTC());
  }

  static ConfigProblem problem(Vertx vertx, TlsOptions tls, Clock clock) {
    ConfigException e = assertThrows(ConfigException.class, () -> ProxyCertificate.load(vertx, tls, clock));
    assertEquals(1, e.problems().size(), e.problems().toString());
    return e.problems().get(0);
  }

  void assertOk(Gateway g, Path trusted) throws Exception {
    HttpResponse<String> r = client(TrustOnly.sslContext(trusted))
        .send(get("https://127.0.0.1:" + g.proxyPort() + "/v1.0/users/u1"), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    assertEquals("u1", new JsonObject(r.body()).getString("id"));
    HttpResponse<String> byName = client(TrustOnly.sslContext(trusted))
        .send(get("https://localhost:" + g.proxyPort() + "/v1.0/users/u2"), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, byName.statusCode(), "the certificate is good for localhost too: " + byName.body());
  }

  static HttpClient client(SSLContext ssl) {
    return HttpClient.newBuilder().sslContext(ssl).connectTimeout(Duration.ofSeconds(5)).build();
  }

  static HttpRequest get(String url) {
    return HttpRequest.newBuilder(URI.create(url)).header("Authorization", TOKEN).timeout(Duration.ofSeconds(20)).GET().build();
  }

  static boolean causedBy(Throwable t, Class<? extends Throwable> type) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (type.isInstance(c)) return true;
    }
    return false;
  }

  static X509Certificate read(Path pem) throws Exception {
    try (InputStream in = Files.newInputStream(pem)) {
      return assertInstanceOf(X509Certificate.class, CertificateFactory.getInstance("X.509").generateCertificate(in));
    }
  }

  /**
   * An RSA certificate and key for localhost/127.0.0.1 as an operator might make them with the JDK's {@code keytool}
   * (not Tollgate's generator), written as PEM: the certificate, and the key as PKCS#8.
   */
  void keytoolPem(Path cert, Path key) throws Exception {
    Path store = dir.resolve("keytool.p12");
    String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
    Process p = new ProcessBuilder(keytool, "-genkeypair", "-alias", "tollgate", "-keyalg", "RSA", "-keysize", "2048",
        "-dname", "CN=localhost", "-ext", "SAN=dns:localhost,ip:127.0.0.1", "-validity", "30",
        "-keystore", store.toString(), "-storetype", "PKCS12", "-storepass", "changeit", "-keypass", "changeit")
        .redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, "keytool: " + output);
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(store)) {
      ks.load(in, "changeit".toCharArray());
    }
    Files.writeString(cert, SelfSignedLeaf.pem("CERTIFICATE", ks.getCertificate("tollgate").getEncoded()));
    Files.writeString(key, SelfSignedLeaf.pem("PRIVATE KEY", ks.getKey("tollgate", "changeit".toCharArray()).getEncoded()));
  }
}
