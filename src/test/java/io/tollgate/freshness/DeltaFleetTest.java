package io.tollgate.freshness;

import static io.tollgate.freshness.DeltaTesting.ALICE;
import static io.tollgate.freshness.DeltaTesting.BOB;
import static io.tollgate.freshness.DeltaTesting.POLL;
import static io.tollgate.testing.GatewayHarness.xCache;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.Gateway;
import io.tollgate.testing.Await;
import io.tollgate.testing.GatewayHarness;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** Two gateways on one real redis-server: one polls each feed (a lease); the other takes over with the cursor. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class DeltaFleetTest {
  private static final Duration LAG = POLL.plusSeconds(1);
  private GatewayHarness h;

  @AfterEach
  void stop() {
    if (h != null) h.close();
  }

  private static boolean leads(Gateway g, String feed) {
    return g.deltaFeeds() != null && g.deltaFeeds().leading().contains(feed);
  }

  private static Gateway leaderOf(List<Gateway> gs, String feed) {
    Gateway found = null;
    for (Gateway g : gs) {
      if (leads(g, feed)) {
        if (found != null) throw new AssertionError("two instances poll the " + feed + " feed");
        found = g;
      }
    }
    return found;
  }

  private void cached(Gateway via, String authorization, String path) throws Exception {
    h.getAs(via, authorization, path);
    assertTrue(xCache(h.getAs(via, authorization, path)).startsWith("HIT"), path);
  }

  @Test
  void one_instance_polls_each_feed_evicting_on_both_and_the_other_takes_over_the_cursor_when_it_dies() throws Exception {
    h = GatewayHarness.builder().simulator(DeltaTesting.simulator()).gateway(DeltaTesting.following()).redis().start();
    Gateway second = h.another(DeltaTesting.following());
    Gateway first = h.gateway();
    List<Gateway> both = List.of(first, second);
    Await.until(() -> DeltaTesting.pastInitialSync(h.sim()) && leaderOf(both, "users") != null && leaderOf(both, "groups") != null,
        Duration.ofSeconds(10), "each feed polled by one instance, past its initial sync");
    long initialSyncsBefore = h.sim().stats().count("GET /v1.0/users/delta");

    // Cached on the instance that does not poll users: the index lives in Redis, the poller evicts through pub/sub.
    Gateway usersLeader = leaderOf(both, "users");
    Gateway follower = usersLeader == first ? second : first;
    List<JsonObject> followerEvents = DeltaTesting.events(follower);
    cached(follower, ALICE, "/v1.0/users/u3");
    cached(usersLeader, BOB, "/v1.0/users/u3");
    cached(follower, ALICE, "/v1.0/users/u4");
    DeltaTesting.change(h, DeltaTesting.rename("u3", "Seen By The Fleet"));
    Await.until(() -> xCache(h.getAs(follower, ALICE, "/v1.0/users/u3")).equals("MISS")
        && xCache(h.getAs(usersLeader, BOB, "/v1.0/users/u3")).equals("MISS"), LAG.plusSeconds(2), "u3 evicted on both instances");
    assertTrue(xCache(h.getAs(follower, ALICE, "/v1.0/users/u4")).startsWith("HIT"), "an unaffected entry stays");
    assertFalse(leads(follower, "users"), "the follower never polled users while the leader lived");

    // The lease holder dies without a word (nothing released): the other takes the lease over once it lapses
    // (3 x 300 ms), with the cursor.
    usersLeader.deltaFeeds().halt();
    long died = System.nanoTime();
    Await.until(() -> leads(follower, "users"), Duration.ofSeconds(5), "the survivor polls the users feed");
    long takeoverMs = (System.nanoTime() - died) / 1_000_000;
    assertTrue(takeoverMs >= 300, "taken over only once the lease lapsed, not at once: " + takeoverMs + " ms");
    h.kill(usersLeader);
    cached(follower, ALICE, "/v1.0/users/u4");
    DeltaTesting.change(h, DeltaTesting.rename("u4", "After The Takeover"));
    Await.until(() -> xCache(h.getAs(follower, ALICE, "/v1.0/users/u4")).equals("MISS"), LAG.plusSeconds(2), "u4 evicted by the survivor");
    assertTrue(followerEvents.stream().noneMatch(e -> e.getString("state").equals("resynced")),
        "the survivor continued the cursor instead of starting a new one: " + followerEvents);
    assertTrue(followerEvents.stream().anyMatch(e -> e.getString("feed").equals("users") && e.getString("state").equals("leader")));

    // Nothing secret in Redis: no token, no client secret.
    Redis redis = Redis.createClient(h.gateway().vertx(), h.redisUrl());
    try {
      var keys = redis.send(Request.cmd(Command.KEYS).arg(h.keyPrefix() + "{fresh}:*")).await(5, TimeUnit.SECONDS);
      assertTrue(keys.size() > 0, "the index and the cursor live in Redis");
      for (var k : keys) {
        var type = redis.send(Request.cmd(Command.TYPE).arg(k.toString())).await(5, TimeUnit.SECONDS).toString();
        String value = type.equals("string") ? String.valueOf(redis.send(Request.cmd(Command.GET).arg(k.toString())).await(5, TimeUnit.SECONDS))
            : String.valueOf(redis.send(Request.cmd(Command.SMEMBERS).arg(k.toString())).await(5, TimeUnit.SECONDS));
        assertFalse(value.contains("eyJ") || value.contains("simulator-secret"), k + " holds " + value);
      }
    } finally {
      redis.close();
    }
    assertEquals(initialSyncsBefore >= 2, true);
  }
}
