package io.tollgate.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.metrics.Addresses;
import io.tollgate.config.RateLimitOptions;
import io.tollgate.config.TollgateOptions;
import io.tollgate.sim.SimulatorOptions;
import io.tollgate.testing.GatewayHarness;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** Stage 3 over real HTTP: gateway in front of the Graph simulator. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class RateLimitTest {
  GatewayHarness harness;

  @AfterEach
  void stop() {
    if (harness != null) harness.close();
  }

  static Consumer<TollgateOptions> limits(Duration maxWait, RateLimitOptions.Limit... limits) {
    return o -> {
      // One token per request here: the Graph cost table has its own test.
      o.getRateLimit().setMaxWait(maxWait).setLimits(List.of(limits)).setCosts(List.of());
      o.getRetry().setEnabled(false);
    };
  }

  /** A token the simulator accepts (signed with its key), carrying a tenant and an app. */
  static String jwt(String tid, String appid) {
    return io.tollgate.sim.Tokens.issue(new JsonObject().put("tid", tid).put("appid", appid));
  }

  static List<HttpResponse<String>> all(List<CompletableFuture<HttpResponse<String>>> pending) throws Exception {
    List<HttpResponse<String>> out = new ArrayList<>();
    for (var f : pending) out.add(f.get(30, TimeUnit.SECONDS));
    return out;
  }

  @Test
  void requests_wait_for_tokens_and_those_beyond_max_wait_get_429_with_retry_after_and_rate_limit_headers() throws Exception {
    // rate 2/s, burst 2, maxWait 1.2 s: 2 at once, 2 more after 0.5 and 1 s, the rest would wait >= 1.5 s
    // (the arrivals may spread over up to 300 ms without changing that). Flat costs, as the limit's.
    harness = GatewayHarness.builder().simulator(new SimulatorOptions().setResourceUnits(false)).gateway(limits(Duration.ofMillis(1200),
        new RateLimitOptions.Limit().setName("users").setKey("global").setRate(2).setBurst(2).setPaths(List.of("/v1.0/users/**")))).start();
    assertEquals(200, harness.get("/v1.0/groups").statusCode(), "warm-up outside the limit");
    List<CompletableFuture<HttpResponse<String>>> pending = new ArrayList<>();
    for (int i = 0; i < 8; i++) pending.add(harness.send("GET", "/v1.0/users"));
    List<HttpResponse<String>> answers = all(pending);

    long admitted = answers.stream().filter(r -> r.statusCode() == 200).count();
    List<HttpResponse<String>> refused = answers.stream().filter(r -> r.statusCode() == 429).toList();
    // 4 when the 8 arrive within 300 ms; a loaded machine that spreads them over more admits one more per 0.5 s.
    assertTrue(admitted >= 4 && admitted <= 6, "admitted " + admitted);
    assertEquals(8 - admitted, refused.size());
    assertEquals(admitted, harness.sim().stats().count("GET /v1.0/users"), "the simulator saw only the admitted ones");
    HttpResponse<String> r = refused.get(0);
    assertEquals("TooManyRequests", new JsonObject(r.body()).getJsonObject("error").getString("code"));
    assertTrue(Long.parseLong(r.headers().firstValue("Retry-After").orElseThrow()) >= 1);
    assertEquals("2", r.headers().firstValue("RateLimit-Limit").orElseThrow());
    assertEquals("0", r.headers().firstValue("RateLimit-Remaining").orElseThrow());
    assertTrue(Long.parseLong(r.headers().firstValue("RateLimit-Reset").orElseThrow()) >= 1);
  }

  @Test
  void a_throttled_tenant_does_not_slow_another_tenant() throws Exception {
    // maxWait 0: any wait at all would be a 429, so B's 200s prove B never waited behind A. Flat costs: the
    // simulator's x-ms-resource-unit would otherwise settle each user list at Graph's 2 units.
    harness = GatewayHarness.builder().simulator(new SimulatorOptions().setResourceUnits(false)).gateway(limits(Duration.ZERO,
        new RateLimitOptions.Limit().setName("tenant").setKey("tenant").setRate(0.5).setBurst(2))).start();
    String a = jwt("tenant-a", "app-1");
    String b = jwt("tenant-b", "app-1");
    // Claims choose the bucket only once the upstream accepted the token: one call each verifies them.
    assertEquals(200, harness.send("GET", "/v1.0/users", "Authorization", a).get().statusCode());
    assertEquals(200, harness.send("GET", "/v1.0/users", "Authorization", b).get().statusCode());
    List<CompletableFuture<HttpResponse<String>>> fromA = new ArrayList<>();
    for (int i = 0; i < 6; i++) fromA.add(harness.send("GET", "/v1.0/users", "Authorization", a));
    List<HttpResponse<String>> answersA = all(fromA);
    List<HttpResponse<String>> answersB = all(List.of(harness.send("GET", "/v1.0/users", "Authorization", b),
        harness.send("GET", "/v1.0/users", "Authorization", b)));

    assertEquals(2, answersA.stream().filter(r -> r.statusCode() == 200).count());
    assertEquals(4, answersA.stream().filter(r -> r.statusCode() == 429).count());
    assertEquals(List.of(200, 200), answersB.stream().map(HttpResponse::statusCode).toList());
  }

  @Test
  void an_upstream_429_with_retry_after_pauses_the_bucket_and_the_throttled_request_waits_it_out() throws Exception {
    // The simulator admits 3 at once then 2/s, and asks for 2 s after a 429; the gateway's own limit is generous.
    harness = GatewayHarness.builder().simulator(new SimulatorOptions().setThrottleRate(2).setThrottleBurst(3).setRetryAfter(Duration.ofSeconds(2)).setResourceUnits(false))
        .gateway(limits(Duration.ofSeconds(10), new RateLimitOptions.Limit().setName("graph").setKey("global").setRate(100).setBurst(100)))
        .start();
    List<JsonObject> events = new CopyOnWriteArrayList<>();
    harness.gateway().vertx().eventBus().<JsonObject>consumer(Addresses.EVENTS, m -> events.add(m.body()));

    List<CompletableFuture<HttpResponse<String>>> first = new ArrayList<>();
    for (int i = 0; i < 4; i++) first.add(harness.send("GET", "/v1.0/users"));
    assertEquals(List.of(200, 200, 200, 200), all(first).stream().map(HttpResponse::statusCode).toList(),
        "the throttled one waited in its bucket's queue instead of seeing the 429");
    assertEquals(1, harness.sim().stats().throttled(), "sent again only after the pause: the simulator had refilled");
    assertEquals(5, harness.sim().stats().count("GET /v1.0/users"), "three, the throttled one, and it once more");

    JsonObject event = events.stream().filter(e -> "throttled".equals(e.getString("type"))).findFirst().orElse(null);
    assertNotNull(event, "a throttled event was published");
    assertEquals("graph", event.getString("scope"));
    assertEquals(2000L, event.getLong("retryAfterMs"));
    assertNotNull(event.getString("at"));
  }

  @Test
  void a_pause_longer_than_the_wait_left_passes_the_429_on_at_once_with_a_whole_second_retry_after() throws Exception {
    harness = GatewayHarness.builder().simulator(new SimulatorOptions().setThrottleRate(0.01).setThrottleBurst(1).setRetryAfter(Duration.ofSeconds(120)).setResourceUnits(false))
        .gateway(limits(Duration.ofSeconds(5), new RateLimitOptions.Limit().setName("graph").setKey("global").setRate(100).setBurst(100)))
        .start();
    assertEquals(200, harness.get("/v1.0/users").statusCode());
    HttpResponse<String> throttled = harness.get("/v1.0/users");
    assertEquals(429, throttled.statusCode(), "SharePoint-length pauses are not waited out against a 5 s deadline");
    assertEquals("120", throttled.headers().firstValue("Retry-After").orElse(null));
    assertEquals(2, harness.sim().stats().count("GET /v1.0/users"));
  }

  @Test
  void cache_free_requests_outside_every_limit_pass_untouched() throws Exception {
    harness = GatewayHarness.builder().gateway(limits(Duration.ZERO,
        new RateLimitOptions.Limit().setName("groups").setKey("global").setRate(0.1).setBurst(1).setPaths(List.of("/v1.0/groups/**")))).start();
    for (int i = 0; i < 5; i++) assertEquals(200, harness.get("/v1.0/users").statusCode());
    assertEquals(200, harness.get("/v1.0/groups").statusCode());
    assertEquals(429, harness.get("/v1.0/groups").statusCode());
  }
}
