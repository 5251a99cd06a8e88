package io.tollgate.cache;

import static io.tollgate.testing.GatewayHarness.xCache;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tollgate.sim.SimulatorOptions;
import io.tollgate.testing.FakeClock;
import io.tollgate.testing.GatewayHarness;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * While the upstream has paused a budget (a 429 with Retry-After), a read that has a stale entry within
 * {@code staleIfError} gets it at once instead of waiting out the pause, and nothing goes upstream for it.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class StaleWhileThrottledTest {
  static final String ALICE = "Bearer alice";
  GatewayHarness harness;

  @AfterEach
  void stop() {
    if (harness != null) harness.close();
  }

  @Test
  void a_stale_entry_answers_at_once_while_the_budget_is_paused() throws Exception {
    FakeClock clock = new FakeClock();
    // One call per caller, then 429 with a 30 s Retry-After; a read may wait up to 60 s for its budget.
    harness = GatewayHarness.builder().clock(clock)
        .simulator(new SimulatorOptions().setThrottleRate(0.01).setThrottleBurst(1).setRetryAfter(Duration.ofSeconds(30)))
        .gateway(o -> {
          o.getRetry().setEnabled(false);
          o.getRateLimit().setMaxWait(Duration.ofSeconds(60));
        }).start();
    assertEquals("MISS", xCache(harness.getAs(ALICE, "/v1.0/sites/s1")));
    clock.advance(Duration.ofMinutes(65));
    // A write is never sent twice, so its 429 comes straight back, and the SharePoint budget is paused for 30 s.
    assertEquals(429, harness.send("POST", "/v1.0/sites/s2/lists", "Authorization", ALICE).get().statusCode());

    // Without a stale answer this read would wait out the 30 s pause; with one it is answered at once.
    HttpResponse<String> stale = harness.http().send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(harness.proxy() + "/v1.0/sites/s1"))
        .header("Authorization", ALICE).timeout(Duration.ofSeconds(5)).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
    assertEquals(200, stale.statusCode());
    assertEquals("STALE", xCache(stale), "answered from the expired entry instead of waiting out the pause");
    assertEquals(1, harness.sim().stats().count("GET /v1.0/sites/s1"), "nothing went upstream for it while paused");
  }

  @Test
  void after_the_pause_one_probe_goes_upstream_and_the_others_keep_the_stale_answer_until_it_returns() throws Exception {
    FakeClock clock = new FakeClock();
    // Ten site reads spend the whole budget (10 units, next to no refill); then every call is told 1 s.
    harness = GatewayHarness.builder().clock(clock)
        .simulator(new SimulatorOptions().setThrottleRate(0.001).setThrottleBurst(10).setRetryAfter(Duration.ofSeconds(1)))
        .gateway(o -> {
          o.getRetry().setEnabled(false);
          // A 1 s pause outlasts a 0.5 s wait: the probe's 429 is not waited out in the queue.
          o.getRateLimit().setMaxWait(Duration.ofMillis(500));
        }).start();
    for (int i = 1; i <= 10; i++) assertEquals("MISS", xCache(harness.getAs(ALICE, "/v1.0/sites/s" + i)));
    clock.advance(Duration.ofMinutes(65));
    assertEquals(429, harness.send("POST", "/v1.0/sites/s1/lists", "Authorization", ALICE).get().statusCode());
    long pauseOver = System.nanoTime() + Duration.ofMillis(1100).toNanos();
    io.tollgate.testing.Await.until(() -> System.nanoTime() > pauseOver, Duration.ofSeconds(5), "the 1 s pause is over");

    java.util.List<java.util.concurrent.CompletableFuture<HttpResponse<String>>> reads = new java.util.ArrayList<>();
    for (int i = 1; i <= 10; i++) reads.add(harness.send("GET", "/v1.0/sites/s" + i, "Authorization", ALICE));
    for (var r : reads) {
      HttpResponse<String> answer = r.get(10, java.util.concurrent.TimeUnit.SECONDS);
      assertEquals(200, answer.statusCode(), "the probe that met the spent budget answered from its stale entry too");
      assertEquals("STALE", xCache(answer));
    }
    long upstreamReads = 0;
    for (int i = 1; i <= 10; i++) upstreamReads += harness.sim().stats().count("GET /v1.0/sites/s" + i);
    assertEquals(11, upstreamReads, "the ten that filled the cache, and one probe: " + harness.sim().stats().toJson());
  }
}
