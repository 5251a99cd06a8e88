package io.tollgate.resilience;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.sim.SimulatorOptions;
import io.tollgate.testing.GatewayHarness;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** Retries over real HTTP: which requests are retried, when, and how many the retry budget allows. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class RetryTest {
  GatewayHarness harness;

  @AfterEach
  void stop() {
    if (harness != null) harness.close();
  }

  @Test
  void a_retry_waits_out_the_upstream_retry_after_and_succeeds() throws Exception {
    // The simulator admits 1 then 2 per second, charges refused calls too and asks for 1 s: a retry sent
    // early would be throttled again.
    harness = GatewayHarness.builder().simulator(new SimulatorOptions().setThrottleRate(2).setThrottleBurst(1).setRetryAfter(Duration.ofSeconds(1)).setResourceUnits(false))
        .gateway(o -> o.getRateLimit().setEnabled(false)).start();
    assertEquals(200, harness.get("/v1.0/users").statusCode());
    assertEquals(200, harness.get("/v1.0/users").statusCode(), "throttled once, then retried after Retry-After");
    assertEquals(1, harness.sim().stats().throttled(), "the retry was not early");
    assertEquals(3, harness.sim().stats().count("GET /v1.0/users"));
  }

  @Test
  void a_post_is_never_retried_and_a_get_is_retried_up_to_max_attempts() throws Exception {
    harness = GatewayHarness.builder().simulator(new SimulatorOptions().setErrorRate(1.0).setRetryAfter(Duration.ofMillis(1))).gateway(o -> {
      o.getRateLimit().setEnabled(false);
      o.getRetry().setMaxAttempts(3).setMaxRetryAfter(Duration.ofSeconds(2));
    }).start();
    assertEquals(503, harness.send("POST", "/v1.0/groups", "Content-Type", "application/json").get(30, TimeUnit.SECONDS).statusCode());
    assertEquals(1, harness.sim().stats().count("POST /v1.0/groups"), "POST sent once");
    assertEquals(503, harness.get("/v1.0/groups").statusCode());
    assertEquals(3, harness.sim().stats().count("GET /v1.0/groups"), "GET sent three times");
  }

  @Test
  void the_retry_budget_caps_amplification_when_everything_fails() throws Exception {
    // Every answer is 503 Retry-After: 1; without a budget 60 requests would make 180 upstream calls.
    harness = GatewayHarness.builder().simulator(new SimulatorOptions().setErrorRate(1.0)).gateway(o -> {
      o.getRateLimit().setEnabled(false);
      o.getRetry().setMaxAttempts(3).setBudgetRatio(0.2).setMinRetriesPerSecond(2);
    }).start();
    int requests = 60;
    List<CompletableFuture<HttpResponse<String>>> pending = new ArrayList<>();
    for (int i = 0; i < requests; i++) pending.add(harness.send("GET", "/v1.0/users"));
    for (var f : pending) assertEquals(503, f.get(30, TimeUnit.SECONDS).statusCode());
    long upstream = harness.sim().stats().count("GET /v1.0/users");
    // ratio x requests, plus minRetriesPerSecond for each of the few seconds the test spans.
    assertTrue(upstream <= requests * 1.2 + 10, "upstream calls " + upstream);
    assertTrue(upstream > requests, "some retries were allowed: " + upstream);
  }
}
