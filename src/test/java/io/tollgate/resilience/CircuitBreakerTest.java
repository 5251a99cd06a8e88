package io.tollgate.resilience;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.metrics.Addresses;
import io.tollgate.testing.Await;
import io.tollgate.testing.GatewayHarness;
import io.vertx.circuitbreaker.CircuitBreakerState;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * The per-origin circuit breaker over real HTTP. The open → half-open wait is the Vert.x breaker's own timer
 * (it takes no clock), so a test that needs the breaker to stay open sets a reset timeout far longer than the
 * test, and one that needs it to half-open sets a short one and waits on {@link Breakers#state}.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class CircuitBreakerTest {
  GatewayHarness harness;
  final List<JsonObject> events = new CopyOnWriteArrayList<>();

  @AfterEach
  void stop() {
    if (harness != null) harness.close();
  }

  void start(Duration resetTimeout) {
    harness = GatewayHarness.builder().gateway(o -> {
      o.getRateLimit().setEnabled(false);
      o.getBreaker().setFailureThreshold(3).setResetTimeout(resetTimeout);
    }).start();
    harness.gateway().vertx().eventBus().<JsonObject>consumer(Addresses.EVENTS, m -> {
      if ("circuit".equals(m.body().getString("type"))) events.add(m.body());
    });
  }

  void openTheBreaker() throws Exception {
    for (int i = 0; i < 3; i++) assertEquals(500, harness.get("/_sim/status/500").statusCode());
  }

  String breakerStatus() throws Exception {
    return harness.readiness().getJsonObject("components").getJsonObject("breaker").getString("status");
  }

  @Test
  void consecutive_failures_open_the_breaker_which_then_fails_fast_without_calling_the_upstream() throws Exception {
    start(Duration.ofMinutes(1));
    openTheBreaker();
    String origin = harness.sim().origin();
    assertEquals(CircuitBreakerState.OPEN, breakers().state(origin));

    HttpResponse<String> fast = harness.get("/v1.0/users");
    assertEquals(503, fast.statusCode());
    assertTrue(fast.body().contains("circuit breaker is open"), fast.body());
    assertEquals("60", fast.headers().firstValue("Retry-After").orElse(null), "Retry-After is the reset timeout");
    assertEquals(0, harness.sim().stats().count("GET /v1.0/users"), "failing fast: nothing reached the upstream");
    assertEquals("DEGRADED", breakerStatus());
    assertEquals(CircuitBreakerState.OPEN, breakers().state(origin), "still open well within the reset timeout");

    Await.until(() -> !events.isEmpty(), Duration.ofSeconds(5), "the open event is published");
    assertEquals("open", events.get(0).getString("state"));
    assertEquals(origin, events.get(0).getString("origin"));
    assertNotNull(events.get(0).getString("at"));
  }

  @Test
  void after_the_reset_timeout_one_probe_goes_through_and_its_success_closes_the_breaker() throws Exception {
    start(Duration.ofMillis(100));
    openTheBreaker();
    String origin = harness.sim().origin();
    Await.until(() -> breakers().state(origin) == CircuitBreakerState.HALF_OPEN, Duration.ofSeconds(5),
        "the breaker half-opens after its 100 ms reset timeout");

    assertEquals(200, harness.get("/v1.0/users").statusCode(), "the probe goes through");
    assertEquals(CircuitBreakerState.CLOSED, breakers().state(origin));
    assertEquals(1, harness.sim().stats().count("GET /v1.0/users"));
    assertEquals("UP", breakerStatus());

    Await.until(() -> events.size() >= 3, Duration.ofSeconds(5), "three transitions are published");
    assertEquals(List.of("open", "half-open", "closed"), events.stream().map(e -> e.getString("state")).toList());
    assertTrue(events.stream().allMatch(e -> origin.equals(e.getString("origin"))), events.toString());
  }

  @Test
  void a_half_open_probe_whose_client_leaves_first_opens_the_breaker_again() throws Exception {
    start(Duration.ofMillis(100));
    openTheBreaker();
    String origin = harness.sim().origin();
    Await.until(() -> breakers().state(origin) == CircuitBreakerState.HALF_OPEN, Duration.ofSeconds(5), "half-open");
    // The probe meets a hanging upstream and its client gives up first: nothing was learned about the upstream.
    java.util.concurrent.CompletableFuture<?> gaveUp = harness.http().sendAsync(java.net.http.HttpRequest.newBuilder(
        java.net.URI.create(harness.proxy() + "/_sim/hang")).timeout(Duration.ofMillis(300)).build(),
        java.net.http.HttpResponse.BodyHandlers.discarding());
    assertThrows(java.util.concurrent.ExecutionException.class, gaveUp::get);
    Await.until(() -> breakers().state(origin) != CircuitBreakerState.HALF_OPEN, Duration.ofSeconds(5), "the probe is over");
    assertEquals(CircuitBreakerState.OPEN, breakers().state(origin), "an unknown outcome never closes the breaker");
  }

  @Test
  void throttling_503_with_retry_after_and_429_do_not_open_the_breaker() throws Exception {
    harness = GatewayHarness.builder().gateway(o -> {
      o.getRateLimit().setEnabled(false);
      o.getRetry().setEnabled(false);
      o.getBreaker().setFailureThreshold(2);
    }).start();
    for (int i = 0; i < 4; i++) {
      assertEquals(503, harness.get("/_sim/status/503?retryAfter=1").statusCode());
      assertEquals(429, harness.get("/_sim/status/429?retryAfter=1").statusCode());
    }
    assertEquals(CircuitBreakerState.CLOSED, breakers().state(harness.sim().origin()));
  }

  Breakers breakers() {
    return harness.gateway().breakers();
  }
}
