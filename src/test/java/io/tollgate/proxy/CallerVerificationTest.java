package io.tollgate.proxy;

import static io.tollgate.testing.GatewayHarness.xCache;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.config.RateLimitOptions;
import io.tollgate.sim.SimulatorOptions;
import io.tollgate.sim.Tokens;
import io.tollgate.testing.GatewayHarness;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * Identities that cannot be forged, partitions that survive token refresh: over real HTTP, against a
 * simulator that refuses forged, expired and revoked tokens as Graph does.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class CallerVerificationTest {
  GatewayHarness harness;

  @AfterEach
  void stop() {
    if (harness != null) harness.close();
  }

  static JsonObject victim() {
    return new JsonObject().put("tid", "tenant-victim").put("appid", "app-1").put("oid", "o-1").put("idtyp", "user")
        .put("scp", "User.Read.All").put("exp", 4_102_444_800L);
  }

  /** The victim's claims, with a signature the simulator did not make. */
  static String forged(JsonObject claims, int n) {
    Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
    String header = b64.encodeToString("{\"alg\":\"none\",\"typ\":\"JWT\"}".getBytes(StandardCharsets.UTF_8));
    return "Bearer " + header + "." + b64.encodeToString(claims.copy().put("n", n).encode().getBytes(StandardCharsets.UTF_8)) + ".forged";
  }

  @Test
  void a_forged_token_with_the_victims_claims_does_not_spend_the_victims_budget() throws Exception {
    // Flat costs: the simulator's x-ms-resource-unit would settle a user list at Graph's 2 units.
    harness = GatewayHarness.builder().simulator(new io.tollgate.sim.SimulatorOptions().setResourceUnits(false)).gateway(o -> {
      o.getRateLimit().setMaxWait(Duration.ZERO).setCosts(List.of())
          .setLimits(List.of(new RateLimitOptions.Limit().setName("tenant").setKey("tenant").setRate(0.1).setBurst(3)));
      o.getRetry().setEnabled(false);
    }).start();
    String real = Tokens.issue(victim());
    assertEquals(200, harness.getAs(real, "/v1.0/users").statusCode(), "the victim's token is verified by this call");
    for (int i = 0; i < 6; i++) {
      assertEquals(401, harness.getAs(forged(victim(), i), "/v1.0/users").statusCode(), "the upstream refuses the forgery");
    }
    // Its first call was paid as an unverified caller; from now on it pays the tenant's budget of 3.
    for (int i = 0; i < 3; i++) assertEquals(200, harness.getAs(real, "/v1.0/users").statusCode(), "the victim's tenant budget is untouched");
    assertEquals(429, harness.getAs(real, "/v1.0/users").statusCode(), "and it is the victim's own budget of 3 that runs out");
  }

  @Test
  void at_most_one_request_per_unverified_token_is_in_flight() throws Exception {
    harness = GatewayHarness.builder().simulator(new SimulatorOptions().setLatency(Duration.ofMillis(50)))
        .gateway(o -> {
          o.getRetry().setEnabled(false);
          o.getRateLimit().setEnabled(false);
        }).start();
    String forgery = forged(victim(), 1);
    List<CompletableFuture<HttpResponse<String>>> flood = new ArrayList<>();
    for (int i = 0; i < 8; i++) flood.add(harness.send("GET", "/v1.0/users?$top=" + (i + 1), "Authorization", forgery));
    for (CompletableFuture<HttpResponse<String>> f : flood) assertEquals(401, f.get().statusCode());
    assertEquals(1, harness.sim().stats().maxInFlight(), "a refused token is served one request at a time");
    String fresh = Tokens.issue(victim().put("oid", "o-2"));
    List<CompletableFuture<HttpResponse<String>>> burst = new ArrayList<>();
    for (int i = 0; i < 8; i++) burst.add(harness.send("GET", "/v1.0/users?$top=" + (i + 1), "Authorization", fresh));
    for (CompletableFuture<HttpResponse<String>> f : burst) assertEquals(200, f.get().statusCode());
    assertTrue(harness.sim().stats().maxInFlight() > 1, "once verified, a token's requests run side by side");
  }

  @Test
  void a_token_the_upstream_revoked_gets_no_more_cached_answers() throws Exception {
    harness = GatewayHarness.builder().start();
    String token = Tokens.issue(victim());
    assertEquals("MISS", xCache(harness.getAs(token, "/v1.0/users/u1")));
    assertEquals("HIT-L1", xCache(harness.getAs(token, "/v1.0/users/u1")));
    harness.sim().revoke(token);
    assertEquals(401, harness.getAs(token, "/v1.0/organization").statusCode(), "the upstream now refuses the token");
    HttpResponse<String> after = harness.getAs(token, "/v1.0/users/u1");
    assertEquals(401, after.statusCode(), "no hit for a refused token: the upstream judges it again");
  }

  @Test
  void a_refreshed_token_of_the_same_identity_keeps_the_warm_cache_after_one_verification() throws Exception {
    harness = GatewayHarness.builder().start();
    String first = Tokens.issue(victim());
    for (String u : List.of("u1", "u2", "u3")) assertEquals("MISS", xCache(harness.getAs(first, "/v1.0/users/" + u)));
    String refreshed = Tokens.issue(victim().put("exp", 4_102_444_900L).put("uti", "another-token"));
    assertEquals("MISS", xCache(harness.getAs(refreshed, "/v1.0/users/u1")), "unverified: its own partition");
    assertEquals("HIT-L1", xCache(harness.getAs(refreshed, "/v1.0/users/u2")), "verified: the identity's shared partition");
    assertEquals("HIT-L1", xCache(harness.getAs(refreshed, "/v1.0/users/u3")));
    String otherUser = Tokens.issue(victim().put("oid", "o-other"));
    harness.getAs(otherUser, "/v1.0/users/u1");
    assertEquals("MISS", xCache(harness.getAs(otherUser, "/v1.0/users/u2")), "another user never shares it");
  }

  @Test
  void callers_without_an_identity_header_are_not_cached_unless_configured() throws Exception {
    harness = GatewayHarness.builder().start();
    assertEquals("MISS", xCache(harness.get("/v1.0/users/u1")));
    assertEquals("MISS", xCache(harness.get("/v1.0/users/u1")));
    assertEquals(2, harness.sim().stats().count("GET /v1.0/users/u1"));
    harness.close();
    harness = GatewayHarness.builder().gateway(o -> o.getIdentity().setCacheAnonymous(true)).start();
    harness.get("/v1.0/users/u1");
    assertEquals("HIT-L1", xCache(harness.get("/v1.0/users/u1")));
  }
}
