package io.tollgate.scale;

import static io.tollgate.testing.GatewayHarness.xCache;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tollgate.Gateway;
import io.tollgate.testing.Await;
import io.tollgate.testing.RedisSentinel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** Two sidecars on a Sentinel-managed Redis whose primary dies mid-traffic. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class RedisSentinelTest {
  RedisSentinel redis;
  Fleet fleet;

  @BeforeEach
  void start() {
    redis = RedisSentinel.start();
    fleet = Fleet.start(2, redis.url(), o -> { });
  }

  @AfterEach
  void stop() {
    if (fleet != null) fleet.close();
    if (redis != null) redis.close();
  }

  @Test
  void the_primary_killed_mid_traffic_fails_no_request_and_the_gateways_follow_the_promoted_replica() throws Exception {
    Gateway a = fleet.gateway(0);
    Gateway b = fleet.gateway(1);
    assertEquals("MISS", xCache(fleet.get(a, "/v1.0/groups/g1")));
    Await.until(() -> fleet.pathsInL2() >= 1, Duration.ofSeconds(5), "stored on the primary");
    assertEquals("HIT-L2", xCache(fleet.get(b, "/v1.0/groups/g1")), "shared through the Sentinel-named primary");

    // cached reads (L1, L2 or upstream) and pass-through reads
    Fleet.Traffic traffic = fleet.traffic(List.of(a, b), i -> i % 4 == 0 ? "/v1.0/users?$top=2" : "/v1.0/users/u" + (1 + i % 60));
    long promotedMs;
    long reconnectedMs;
    try {
      Await.until(() -> traffic.sent() >= 50, Duration.ofSeconds(10), "50 requests flowed before the kill");
      long killedAt = System.nanoTime();
      redis.primary().kill();
      redis.awaitFailover();
      promotedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);
      Await.until(() -> a.cache().stats().l2Connected() && b.cache().stats().l2Connected()
          && fleet.pathsInL2() >= 0, Duration.ofSeconds(20), "both gateways reconnected");
      reconnectedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);
      int atReconnect = traffic.sent();
      Await.until(() -> traffic.sent() >= atReconnect + 50, Duration.ofSeconds(10), "50 more flowed after the reconnect");
    } finally {
      traffic.stop();
    }
    System.out.printf("[sentinel] primary SIGKILLed: promoted after %d ms, gateways on L2 again after %d ms;"
        + " %d requests during the failover, %d failed%n", promotedMs, reconnectedMs, traffic.sent(), traffic.failed());
    assertEquals(0, traffic.failed(), "no client request failed during the failover");

    // Written after the failover by A, read by B: both talk to the promoted primary.
    assertEquals("MISS", xCache(fleet.get(a, "/v1.0/groups/g7")));
    Await.until(() -> fleet.l2Holds("/v1.0/groups/g7"), Duration.ofSeconds(5), "A's post-failover entry reached the new primary");
    assertEquals("HIT-L2", xCache(fleet.get(b, "/v1.0/groups/g7")), "B reads A's post-failover entry from the new primary");
    assertEquals(redis.replica().port(), redis.primaryPort());
  }
}
