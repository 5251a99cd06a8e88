package io.tollgate.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.sim.SimulatorOptions;
import io.tollgate.testing.GatewayHarness;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * An upstream that throttles below what Tollgate was told (the default configuration knows nothing of this
 * simulator's 20/s): a request that meets its 429 waits in its bucket's queue behind the pause instead of
 * seeing the 429, while its deadline allows.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ThrottledUpstreamTest {
  GatewayHarness harness;

  @AfterEach
  void stop() {
    if (harness != null) harness.close();
  }

  @Test
  void no_429_reaches_a_client_that_can_wait() throws Exception {
    harness = GatewayHarness.builder()
        .simulator(new SimulatorOptions().setThrottleRate(20).setThrottleBurst(5).setRetryAfter(Duration.ofSeconds(1)))
        .start();
    List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
    for (int i = 0; i < 48; i++) all.add(harness.send("GET", "/v1.0/users?$top=" + (1 + i % 24) + "&$skip=" + i, "Authorization", "Bearer alice"));
    int ok = 0;
    int tooMany = 0;
    for (CompletableFuture<HttpResponse<String>> f : all) {
      int s = f.get().statusCode();
      if (s == 200) ok++;
      if (s == 429) tooMany++;
    }
    assertTrue(harness.sim().stats().throttled() > 0, "the upstream did throttle");
    assertEquals(0, tooMany, "no 429 reached a client");
    assertEquals(48, ok);
  }
}
