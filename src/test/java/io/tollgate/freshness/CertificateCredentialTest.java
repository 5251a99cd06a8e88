package io.tollgate.freshness;

import static io.tollgate.freshness.DeltaTesting.ALICE;
import static io.tollgate.testing.GatewayHarness.xCache;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.config.ClientCertificate;
import io.tollgate.config.DeltaOptions;
import io.tollgate.sim.GraphSimulator;
import io.tollgate.sim.SimulatorOptions;
import io.tollgate.testing.Await;
import io.tollgate.testing.GatewayHarness;
import io.tollgate.testing.LogCapture;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * Certificate credentials (issue 13 item 1): the sidecar's token by a client assertion signed with its certificate's
 * key, against the simulator's token endpoint that verifies it, over real HTTP. The PEM files under
 * src/test/resources/freshness are throwaway test-only keys.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class CertificateCredentialTest {
  static String appPem;
  static String otherPem;
  static Vertx vertx;
  static GraphSimulator sim;
  static WebClient client;

  @BeforeAll
  static void start() throws Exception {
    appPem = resource("test-app.pem");
    otherPem = resource("test-other.pem");
    vertx = Vertx.vertx();
    sim = GraphSimulator.start(vertx, DeltaTesting.simulator().setClientCertificate(appPem)).await(10, TimeUnit.SECONDS);
    client = WebClient.create(vertx);
  }

  @AfterAll
  static void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  static String resource(String name) throws Exception {
    try (var in = CertificateCredentialTest.class.getResourceAsStream("/freshness/" + name)) {
      return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
    }
  }

  static DeltaOptions options(String pem, String tokenOrigin) {
    return new DeltaOptions().setEnabled(true).setTenantId("contoso").setClientId(SimulatorOptions.DEFAULT_CLIENT_ID)
        .setClientCertificate(ClientCertificate.fromPem(pem)).setTokenOrigin(tokenOrigin);
  }

  /** Runs {@code work} on a context of the test's Vert.x, as the verticle does. */
  static <T> T onContext(java.util.function.Supplier<io.vertx.core.Future<T>> work) throws Exception {
    io.vertx.core.Promise<T> p = io.vertx.core.Promise.promise();
    vertx.getOrCreateContext().runOnContext(v -> work.get().onComplete(p));
    return p.future().await(10, TimeUnit.SECONDS);
  }

  static HttpResponse<Buffer> post(String assertion) throws Exception {
    MultiMap form = MultiMap.caseInsensitiveMultiMap().add("grant_type", "client_credentials")
        .add("client_id", SimulatorOptions.DEFAULT_CLIENT_ID).add("scope", DeltaOptions.DEFAULT_SCOPE)
        .add("client_assertion_type", TokenClient.ASSERTION_TYPE).add("client_assertion", assertion);
    return client.postAbs(sim.origin() + "/contoso/oauth2/v2.0/token").sendForm(form).await(10, TimeUnit.SECONDS);
  }

  static String description(HttpResponse<Buffer> r) {
    return r.bodyAsJsonObject().getString("error_description");
  }

  @Test
  void the_assertion_names_the_certificate_and_carries_the_claims_the_identity_platform_wants() throws Exception {
    TokenClient tokens = new TokenClient(client, options(appPem, sim.origin()), System::currentTimeMillis);
    long now = System.currentTimeMillis();
    String[] parts = tokens.assertion(now).split("\\.");
    assertEquals(3, parts.length);
    JsonObject header = new JsonObject(new String(Base64.getUrlDecoder().decode(parts[0]), StandardCharsets.UTF_8));
    JsonObject claims = new JsonObject(new String(Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8));
    ClientCertificate c = ClientCertificate.fromPem(appPem);
    byte[] sha1 = java.security.MessageDigest.getInstance("SHA-1").digest(c.certificate().getEncoded());
    assertEquals("RS256", header.getString("alg"));
    assertEquals(Base64.getUrlEncoder().withoutPadding().encodeToString(sha1), header.getString("x5t"));
    assertNotNull(header.getString("x5t#S256"));
    assertEquals(sim.origin() + "/contoso/oauth2/v2.0/token", claims.getString("aud"));
    assertEquals(SimulatorOptions.DEFAULT_CLIENT_ID, claims.getString("iss"));
    assertEquals(SimulatorOptions.DEFAULT_CLIENT_ID, claims.getString("sub"));
    assertEquals(now / 1000, claims.getLong("nbf"));
    assertEquals(now / 1000 + 600, claims.getLong("exp"));
    assertFalse(claims.getString("jti").isEmpty());
    assertFalse(tokens.assertion(now).equals(tokens.assertion(now)), "a fresh jti every time");
    assertFalse(c.toString().contains("PRIVATE") || c.toString().contains(appPem.substring(100, 140)), c.toString());
    String shown = DeltaTesting.simulator().setClientCertificate(appPem).toString();
    assertTrue(shown.contains("BEGIN CERTIFICATE") && !shown.contains("PRIVATE KEY"), "the simulator's options show the certificate only");
  }

  @Test
  void the_registered_certificate_gets_a_token_and_another_one_is_refused() throws Exception {
    long issued = sim.stats().tokensIssued();
    TokenClient right = new TokenClient(client, options(appPem, sim.origin()), System::currentTimeMillis);
    assertTrue(onContext(right::token).length() > 20);
    assertEquals(issued + 1, sim.stats().tokensIssued());
    TokenClient wrong = new TokenClient(client, options(otherPem, sim.origin()), System::currentTimeMillis);
    Throwable refused = org.junit.jupiter.api.Assertions.assertThrows(Throwable.class, () -> onContext(wrong::token));
    assertTrue(String.valueOf(refused.getMessage()).contains("401 (invalid_client)"), String.valueOf(refused.getMessage()));
    assertEquals(issued + 1, sim.stats().tokensIssued());
  }

  @Test
  void expired_tampered_and_misaddressed_assertions_get_the_identity_platforms_errors() throws Exception {
    TokenClient right = new TokenClient(client, options(appPem, sim.origin()), System::currentTimeMillis);
    long now = System.currentTimeMillis();
    assertEquals(200, post(right.assertion(now)).statusCode());

    HttpResponse<Buffer> expired = post(right.assertion(now - Duration.ofMinutes(11).toMillis()));
    assertEquals(401, expired.statusCode());
    assertEquals("invalid_client", expired.bodyAsJsonObject().getString("error"));
    assertTrue(description(expired).startsWith("AADSTS700024:"), description(expired));

    String[] a = right.assertion(now).split("\\.");
    String[] b = right.assertion(now).split("\\.");
    HttpResponse<Buffer> tampered = post(a[0] + "." + b[1] + "." + a[2]);
    assertEquals(401, tampered.statusCode());
    assertTrue(description(tampered).startsWith("AADSTS700027: Client assertion failed signature validation"), description(tampered));

    TokenClient elsewhere = new TokenClient(client, options(appPem, "https://login.example.com"), System::currentTimeMillis);
    HttpResponse<Buffer> audience = post(elsewhere.assertion(now));
    assertEquals(401, audience.statusCode());
    assertTrue(description(audience).startsWith("AADSTS50013:"), description(audience));

    TokenClient other = new TokenClient(client, options(otherPem, sim.origin()), System::currentTimeMillis);
    HttpResponse<Buffer> unknown = post(other.assertion(now));
    assertEquals(401, unknown.statusCode());
    assertTrue(description(unknown).startsWith("AADSTS700027:") && description(unknown).contains("The key was not found"),
        description(unknown));

    HttpResponse<Buffer> garbage = post("not-a-jwt");
    assertEquals(400, garbage.statusCode());
    assertTrue(description(garbage).startsWith("AADSTS50027:"), description(garbage));
  }

  @Test
  void a_gateway_with_a_certificate_follows_the_delta_feeds_and_logs_neither_key_nor_assertion() throws Exception {
    GatewayHarness h = null;
    try (LogCapture logs = new LogCapture()) {
      h = GatewayHarness.builder().simulator(DeltaTesting.simulator().setClientCertificate(appPem))
          .gateway(DeltaTesting.following().andThen(o -> o.getFreshness().getDelta().setClientSecret(null)
              .setClientCertificate(ClientCertificate.fromPem(appPem))))
          .start();
      GraphSimulator s = h.sim();
      Await.until(() -> DeltaTesting.pastInitialSync(s), Duration.ofSeconds(15), "both feeds past their initial sync");
      assertTrue(s.stats().tokensIssued() >= 1);
      assertEquals(0, s.stats().unauthorized());
      h.getAs(ALICE, "/v1.0/users/u3");
      assertEquals("HIT-L1", xCache(h.getAs(ALICE, "/v1.0/users/u3")));
      DeltaTesting.change(h, DeltaTesting.rename("u3", "Renamed By Certificate Test"));
      GatewayHarness g = h;
      Await.until(() -> xCache(g.getAs(ALICE, "/v1.0/users/u3")).equals("MISS"), Duration.ofSeconds(15),
          "the renamed user evicted by a poll made with the certificate's token");
      String all = logs.all();
      assertFalse(all.contains("eyJhbGciOiJSUzI1NiI"), "no client assertion in the logs");
      assertFalse(all.contains(appPem.substring(appPem.indexOf("-----BEGIN PRIVATE KEY-----") + 28).substring(0, 40)), "no key in the logs");
    } finally {
      if (h != null) h.close();
    }
  }
}
