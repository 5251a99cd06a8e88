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
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * More invalidations than the outbox keeps, while Redis stalls: none of the writes acknowledged meanwhile is
 * followed by its old answer, neither on the writer nor, once Redis answers again, on any other instance
 * (one that was running, one that starts later). Every L2 entry older than the overflow becomes unreadable;
 * the epoch that makes them so survives a clear of the cache keyspace.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class OutboxOverflowTest {
  static final String ALICE = "Bearer alice";
  static final String ADMIN = "admin-token-0123456789";
  static final String GROUP = "/v1.0/groups/g2";
  static final Consumer<io.tollgate.config.TollgateOptions> TUNE = o -> {
    o.getCache().setL2Timeout(Duration.ofMillis(200));
    o.getManagement().setAdminToken(ADMIN);
  };
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
  void after_an_overflow_no_instance_serves_what_the_lost_invalidations_covered() throws Exception {
    harness = GatewayHarness.builder().redis().gateway(TUNE).start();
    Gateway writer = harness.gateway();
    Gateway peer = harness.another(TUNE);
    String before = displayName(harness.getAs(ALICE, GROUP));
    // 15 s: on a loaded machine a 200 ms L2 timeout can mark Redis down for a probe interval before this succeeds.
    Await.until(() -> "HIT-L2".equals(xCache(harness.getAs(peer, ALICE, GROUP))), Duration.ofSeconds(15),
        "the peer reads the entry from Redis (and keeps it in its L1)");

    harness.redis().stall();
    HttpResponse<String> write = harness.http().send(HttpRequest.newBuilder(URI.create(harness.proxy() + GROUP))
        .header("Authorization", ALICE).header("Content-Type", "application/json").timeout(Duration.ofSeconds(20))
        .method("PATCH", HttpRequest.BodyPublishers.ofString("{\"displayName\":\"renamed during the stall\"}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(204, write.statusCode());
    overflowTheOutbox(writer);
    assertTrue(writer.cache().pendingInvalidations() > L2Store.OUTBOX_MAX, "the outbox overflowed");
    assertEquals("renamed during the stall", displayName(harness.getAs(ALICE, GROUP)), "the writer never serves the old answer");

    harness.redis().resume();
    Await.until(() -> writer.cache().pendingInvalidations() == 0, Duration.ofSeconds(20), "the overflow is settled once Redis answers");
    assertEquals("renamed during the stall", displayName(harness.getAs(ALICE, GROUP)), "nor after Redis is back");
    Await.until(() -> "renamed during the stall".equals(displayName(harness.getAs(peer, ALICE, GROUP))), Duration.ofSeconds(5),
        "the peer hears of the overflow");
    assertEquals("renamed during the stall", displayName(harness.getAs(peer, ALICE, GROUP)), "and never goes back to the old answer");
    Gateway later = harness.another(TUNE);
    assertEquals("renamed during the stall", displayName(harness.getAs(later, ALICE, GROUP)), "an instance started later neither");
    assertTrue(!before.equals("renamed during the stall"));

    // The epoch only grows: a clear keeps it, so an instance started after the clear shares entries with the others.
    HttpResponse<String> cleared = harness.http().send(HttpRequest.newBuilder(URI.create(harness.management() + "/admin/cache/clear"))
        .header("Authorization", "Bearer " + ADMIN).POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, cleared.statusCode());
    assertEquals("MISS", xCache(harness.getAs(ALICE, GROUP)));
    RedisClientCheck check = new RedisClientCheck(writer);
    try {
      Await.until(() -> check.exists(GROUP), Duration.ofSeconds(5), "stored again, in the current epoch");
    } finally {
      check.close();
    }
    Gateway latest = harness.another(TUNE);
    assertEquals("HIT-L2", xCache(harness.getAs(latest, ALICE, GROUP)), "an instance started after the clear reads the same epoch");
  }

  /** More invalidations than the outbox holds, of other paths, through the admin API (nothing goes upstream). */
  private void overflowTheOutbox(Gateway via) throws Exception {
    String base = "http://127.0.0.1:" + via.managementPort() + "/admin/cache/invalidate?pattern=/v1.0/users/x";
    int n = L2Store.OUTBOX_MAX + 1;
    for (int from = 0; from < n; from += 200) {
      List<CompletableFuture<HttpResponse<Void>>> sent = new ArrayList<>();
      for (int i = from; i < Math.min(n, from + 200); i++) {
        sent.add(harness.http().sendAsync(HttpRequest.newBuilder(URI.create(base + i)).header("Authorization", "Bearer " + ADMIN)
            .timeout(Duration.ofSeconds(20)).POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.discarding()));
      }
      for (CompletableFuture<HttpResponse<Void>> r : sent) assertEquals(200, r.get(30, TimeUnit.SECONDS).statusCode());
    }
  }
}
