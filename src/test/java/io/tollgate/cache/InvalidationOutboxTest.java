package io.tollgate.cache;

import static io.tollgate.testing.GatewayHarness.xCache;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.Gateway;
import io.tollgate.testing.Await;
import io.tollgate.testing.GatewayHarness;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * A write acknowledged while Redis stalls is not followed by stale reads: its invalidation is kept, L2 reads of
 * what it covers are misses meanwhile, and it is replayed (and published to the other instances) as soon as
 * Redis answers again.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class InvalidationOutboxTest {
  static final String ALICE = "Bearer alice";
  static final String GROUP = "/v1.0/groups/g2";
  GatewayHarness harness;

  @AfterEach
  void stop() {
    if (harness != null) {
      harness.redis().resume();
      harness.close();
    }
  }

  String displayName(HttpResponse<String> r) {
    return new JsonObject(r.body()).getString("displayName");
  }

  @Test
  void a_write_during_a_redis_stall_is_invalidated_everywhere_once_redis_answers() throws Exception {
    harness = GatewayHarness.builder().redis().gateway(o -> o.getCache().setL2Timeout(Duration.ofMillis(200))).start();
    Gateway other = harness.another(o -> o.getCache().setL2Timeout(Duration.ofMillis(200)));
    String before = displayName(harness.getAs(ALICE, GROUP));
    // 15 s: on a loaded machine a 200 ms L2 timeout can mark Redis down for a probe interval before this succeeds.
    Await.until(() -> "HIT-L2".equals(xCache(harness.getAs(other, ALICE, GROUP))), Duration.ofSeconds(15),
        "the other instance reads the entry from Redis");

    harness.redis().stall();
    HttpResponse<String> write = harness.http().send(HttpRequest.newBuilder(URI.create(harness.proxy() + GROUP))
        .header("Authorization", ALICE).header("Content-Type", "application/json").timeout(Duration.ofSeconds(20))
        .method("PATCH", HttpRequest.BodyPublishers.ofString("{\"displayName\":\"renamed during the stall\"}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(204, write.statusCode());
    assertTrue(harness.gateway().cache().pendingInvalidations() > 0, "the invalidation is kept, not lost");
    assertEquals("renamed during the stall", displayName(harness.getAs(ALICE, GROUP)), "the writer never serves the old answer");

    harness.redis().resume();
    Await.until(() -> harness.gateway().cache().pendingInvalidations() == 0, Duration.ofSeconds(20),
        "the kept invalidation is replayed once Redis answers");
    Await.until(() -> "renamed during the stall".equals(displayName(harness.getAs(other, ALICE, GROUP))), Duration.ofSeconds(5),
        "the other instance hears of the write");
    assertTrue(!before.equals("renamed during the stall"));
    assertEquals("renamed during the stall", displayName(harness.getAs(other, ALICE, GROUP)), "and never goes back to the old answer");
  }
}
