package io.tollgate.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.sim.SimulatorOptions;
import io.tollgate.testing.GatewayHarness;
import java.net.URI;
import java.net.http.HttpRequest;
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

/** Concurrent misses of one key share one upstream call (300 ms of simulator latency keeps them concurrent). */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class CoalescingTest {
  static final String ALICE = "Bearer alice-token";
  GatewayHarness harness;

  @AfterEach
  void stop() {
    if (harness != null) harness.close();
  }

  List<CompletableFuture<HttpResponse<String>>> concurrentReads(int n, String path) {
    List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      all.add(harness.http().sendAsync(HttpRequest.newBuilder(URI.create(harness.proxy() + path)).header("Authorization", ALICE).build(),
          HttpResponse.BodyHandlers.ofString()));
    }
    return all;
  }

  @Test
  void identical_concurrent_misses_make_one_upstream_call() throws Exception {
    harness = GatewayHarness.builder().simulator(new SimulatorOptions().setLatency(Duration.ofMillis(300))).start();
    String body = null;
    for (var f : concurrentReads(200, "/v1.0/groups/g3/transitiveMembers")) {
      HttpResponse<String> r = f.get(30, TimeUnit.SECONDS);
      assertEquals(200, r.statusCode());
      if (body == null) body = r.body();
      assertEquals(body, r.body(), "every caller gets the same answer");
    }
    assertEquals(1, harness.sim().stats().count("GET /v1.0/groups/g3/transitiveMembers"));
    CacheStats stats = harness.gateway().cache().stats();
    assertTrue(stats.coalesced() + stats.l1Hits() >= 199);
  }

  @Test
  void a_failed_leader_releases_its_followers_with_the_error() throws Exception {
    // No retries: the leader's first failure is what its followers must share.
    harness = GatewayHarness.builder().simulator(new SimulatorOptions().setLatency(Duration.ofMillis(300)).setErrorRate(1.0))
        .gateway(o -> o.getRetry().setEnabled(false)).start();
    for (var f : concurrentReads(20, "/v1.0/groups/g4")) assertEquals(503, f.get(10, TimeUnit.SECONDS).statusCode());
    assertTrue(harness.sim().stats().count("GET /v1.0/groups/g4") < 20, "followers shared the leader's failure");
  }
}
