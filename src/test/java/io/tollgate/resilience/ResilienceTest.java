package io.tollgate.resilience;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.metrics.Addresses;
import io.tollgate.sim.SimulatorOptions;
import io.tollgate.testing.TrafficStack;
import io.vertx.circuitbreaker.CircuitBreakerState;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** Stage 5 over real HTTP: breaker per origin, retries, retry budget. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ResilienceTest {
  TrafficStack stack;

  @AfterEach
  void stop() {
    if (stack != null) stack.close();
  }

  @Test
  void the_breaker_opens_after_failures_fails_fast_half_opens_after_the_reset_timeout_and_closes_on_success() throws Exception {
    stack = TrafficStack.start(new SimulatorOptions(), o -> {
      o.getRateLimit().setEnabled(false);
      o.getBreaker().setFailureThreshold(3).setResetTimeout(Duration.ofMillis(700));
    });
    List<JsonObject> events = new CopyOnWriteArrayList<>();
    stack.gateway.vertx().eventBus().<JsonObject>consumer(Addresses.EVENTS, m -> events.add(m.body()));
    for (int i = 0; i < 3; i++) assertEquals(500, stack.get("/_sim/status/500").statusCode());
    String origin = stack.sim.origin();
    assertEquals(CircuitBreakerState.OPEN, breakers().state(origin));

    HttpResponse<String> fast = stack.get("/v1.0/users");
    assertEquals(503, fast.statusCode());
    assertTrue(fast.body().contains("circuit breaker is open"), fast.body());
    assertTrue(fast.headers().firstValue("Retry-After").isPresent());
    assertEquals(0, stack.sim.stats().count("GET /v1.0/users"), "failing fast: nothing reached the upstream");
    assertEquals("DEGRADED", stack.readiness().getJsonObject("components").getJsonObject("breaker").getString("status"));

    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (breakers().state(origin) == CircuitBreakerState.OPEN && System.nanoTime() < deadline) Thread.sleep(20);
    assertEquals(CircuitBreakerState.HALF_OPEN, breakers().state(origin));
    assertEquals(200, stack.get("/v1.0/users").statusCode(), "the probe goes through");
    assertEquals(CircuitBreakerState.CLOSED, breakers().state(origin));
    assertEquals(1, stack.sim.stats().count("GET /v1.0/users"));
    assertEquals("UP", stack.readiness().getJsonObject("components").getJsonObject("breaker").getString("status"));

    waitFor(() -> events.size() >= 3);
    assertEquals(List.of("open", "half-open", "closed"), events.stream().filter(e -> "circuit".equals(e.getString("type")))
        .map(e -> e.getString("state")).toList());
    assertEquals(origin, events.get(0).getString("origin"));
    assertNotNull(events.get(0).getString("at"));
  }

  @Test
  void throttling_503_with_retry_after_and_429_do_not_open_the_breaker() throws Exception {
    stack = TrafficStack.start(new SimulatorOptions(), o -> {
      o.getRateLimit().setEnabled(false);
      o.getRetry().setEnabled(false);
      o.getBreaker().setFailureThreshold(2);
    });
    for (int i = 0; i < 4; i++) {
      assertEquals(503, stack.get("/_sim/status/503?retryAfter=1").statusCode());
      assertEquals(429, stack.get("/_sim/status/429?retryAfter=1").statusCode());
    }
    assertEquals(CircuitBreakerState.CLOSED, breakers().state(stack.sim.origin()));
  }

  @Test
  void a_retry_waits_out_the_upstream_retry_after_and_succeeds() throws Exception {
    // The simulator admits 1 then 2 per second, charges refused calls too and asks for 1 s: a retry sent
    // early would be throttled again.
    stack = TrafficStack.start(new SimulatorOptions().setThrottleRate(2).setThrottleBurst(1).setRetryAfter(Duration.ofSeconds(1)),
        o -> o.getRateLimit().setEnabled(false));
    assertEquals(200, stack.get("/v1.0/users").statusCode());
    assertEquals(200, stack.get("/v1.0/users").statusCode(), "throttled once, then retried after Retry-After");
    assertEquals(1, stack.sim.stats().throttled(), "the retry was not early");
    assertEquals(3, stack.sim.stats().count("GET /v1.0/users"));
  }

  @Test
  void a_post_is_never_retried_and_a_get_is_retried_up_to_max_attempts() throws Exception {
    stack = TrafficStack.start(new SimulatorOptions().setErrorRate(1.0).setRetryAfter(Duration.ofMillis(1)), o -> {
      o.getRateLimit().setEnabled(false);
      o.getRetry().setMaxAttempts(3).setMaxRetryAfter(Duration.ofSeconds(2));
    });
    assertEquals(503, stack.send("POST", "/v1.0/groups", "Content-Type", "application/json").get(30, TimeUnit.SECONDS).statusCode());
    assertEquals(1, stack.sim.stats().count("POST /v1.0/groups"), "POST sent once");
    assertEquals(503, stack.get("/v1.0/groups").statusCode());
    assertEquals(3, stack.sim.stats().count("GET /v1.0/groups"), "GET sent three times");
  }

  @Test
  void the_retry_budget_caps_amplification_when_everything_fails() throws Exception {
    // Every answer is 503 Retry-After: 1; without a budget 60 requests would make 180 upstream calls.
    stack = TrafficStack.start(new SimulatorOptions().setErrorRate(1.0), o -> {
      o.getRateLimit().setEnabled(false);
      o.getRetry().setMaxAttempts(3).setBudgetRatio(0.2).setMinRetriesPerSecond(2);
    });
    int requests = 60;
    List<CompletableFuture<HttpResponse<String>>> pending = new ArrayList<>();
    for (int i = 0; i < requests; i++) pending.add(stack.send("GET", "/v1.0/users"));
    for (var f : pending) assertEquals(503, f.get(30, TimeUnit.SECONDS).statusCode());
    long upstream = stack.sim.stats().count("GET /v1.0/users");
    // ratio x requests, plus minRetriesPerSecond for each of the few seconds the test spans.
    assertTrue(upstream <= requests * 1.2 + 10, "upstream calls " + upstream);
    assertTrue(upstream > requests, "some retries were allowed: " + upstream);
  }

  Breakers breakers() {
    return stack.gateway.breakers();
  }

  static void waitFor(java.util.function.BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (!condition.getAsBoolean() && System.nanoTime() < deadline) Thread.sleep(10);
  }
}
