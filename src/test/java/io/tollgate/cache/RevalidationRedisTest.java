package io.tollgate.cache;

import static io.tollgate.testing.GatewayHarness.xCache;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tollgate.Gateway;
import io.tollgate.testing.Await;
import io.tollgate.testing.FakeClock;
import io.tollgate.testing.GatewayHarness;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;

/**
 * ETag revalidation through a shared L2 on a real {@code redis-server}: an expired entry is kept in Redis for its
 * revalidation window, so another instance that never read it revalidates it (304) instead of reading it whole.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class RevalidationRedisTest {
  static final String ALICE = "Bearer alice-token";
  static final String PERMISSIONS = "/v1.0/drives/d2/items/d2i3/permissions";
  final FakeClock clock = new FakeClock();
  GatewayHarness harness;
  RedisClientCheck redisCheck;

  @AfterEach
  void stop() {
    if (redisCheck != null) redisCheck.close();
    if (harness != null) harness.close();
  }

  @Test
  void an_expired_entry_in_l2_is_revalidated_by_another_instance() throws Exception {
    harness = GatewayHarness.builder().clock(clock).redis().gateway(o -> {
      o.getRetry().setEnabled(false);
      o.getRateLimit().setEnabled(false);
    }).start();
    redisCheck = new RedisClientCheck(harness.gateway());
    Gateway b = harness.another(o -> {
      o.getRetry().setEnabled(false);
      o.getRateLimit().setEnabled(false);
    });
    HttpResponse<String> first = harness.getAs(ALICE, PERMISSIONS);
    assertEquals("MISS", xCache(first));
    Await.until(() -> redisCheck.exists(PERMISSIONS), Duration.ofSeconds(10), "the entry reached Redis");

    clock.advance(Duration.ofHours(2));
    HttpResponse<String> viaB = harness.getAs(b, ALICE, PERMISSIONS);
    assertEquals(200, viaB.statusCode());
    assertEquals("REVALIDATED", xCache(viaB), "found expired in L2, kept for revalidation");
    assertEquals(first.body(), viaB.body());
    assertEquals(1, harness.sim().stats().notModified());
    assertEquals(2, harness.sim().stats().count("GET " + PERMISSIONS));
    assertEquals("HIT-L1", xCache(harness.getAs(b, ALICE, PERMISSIONS)));
  }
}
