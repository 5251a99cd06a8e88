package io.tollgate.scale;

import static io.tollgate.scale.Fleet.ALICE;
import static io.tollgate.scale.Fleet.inL1;
import static io.tollgate.testing.GatewayHarness.xCache;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.Gateway;
import io.tollgate.testing.Await;
import io.tollgate.testing.RedisProcess;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * Three sidecars sharing one real {@code redis-server}: what one instance learns, the others can serve; what
 * one invalidates, the others forget; one dying leaves the others untouched.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ScaleOutTest {
  /** Generous for a loaded CI machine; the measured p99 is printed and is far below. */
  static final Duration PROPAGATION_BOUND = Duration.ofSeconds(1);

  RedisProcess redis;
  Fleet fleet;
  Gateway a;
  Gateway b;
  Gateway c;

  @BeforeEach
  void start() {
    redis = RedisProcess.start();
    fleet = Fleet.start(3, redis.url(), o -> { });
    a = fleet.gateway(0);
    b = fleet.gateway(1);
    c = fleet.gateway(2);
  }

  @AfterEach
  void stop() {
    if (fleet != null) fleet.close();
    if (redis != null) redis.close();
  }

  @Test
  void a_miss_on_one_instance_is_an_l2_hit_on_the_other_two() throws Exception {
    int paths = 30;
    for (int i = 0; i < paths; i++) assertEquals("MISS", xCache(fleet.get(a, "/v1.0/groups/g" + (150 + i) + "/members")));
    Await.until(() -> fleet.pathsInL2() >= paths, Duration.ofSeconds(5), "A's entries reached Redis");
    int l2Hits = 0;
    for (Gateway other : List.of(b, c)) {
      for (int i = 0; i < paths; i++) {
        HttpResponse<String> r = fleet.get(other, "/v1.0/groups/g" + (150 + i) + "/members");
        assertEquals(200, r.statusCode());
        if ("HIT-L2".equals(xCache(r))) l2Hits++;
      }
    }
    System.out.printf("[scale] L2 hit rate across instances: %d/%d = %.1f%%%n", l2Hits, 2 * paths, 100.0 * l2Hits / (2 * paths));
    assertEquals(2 * paths, l2Hits, "every read on B and C came from the shared Redis");
    for (int i = 0; i < paths; i++) assertEquals(1, fleet.sim.stats().count("GET /v1.0/groups/g" + (150 + i) + "/members"));
    assertEquals("HIT-L1", xCache(fleet.get(c, "/v1.0/groups/g150/members")), "promoted to C's L1");
  }

  @Test
  void an_admin_invalidation_on_one_instance_evicts_the_others_l1_within_the_bound() throws Exception {
    int rounds = 100;
    List<Long> micros = new ArrayList<>();
    for (int i = 0; i < rounds; i++) {
      String path = "/v1.0/groups/g" + (1 + i) + "/members";
      for (Gateway g : List.of(a, b, c)) assertEquals(200, fleet.get(g, path).statusCode());
      assertTrue(inL1(b, path) && inL1(c, path), "B and C hold the entry");
      long t0 = System.nanoTime();
      HttpResponse<String> r = fleet.invalidate(a, "/v1.0/groups/g" + (1 + i) + "/*");
      assertEquals(200, r.statusCode(), r.body());
      micros.add(awaitEvicted(t0, path, b, c));
    }
    report("admin invalidation", micros);
    assertTrue(Fleet.percentile(micros, 100) <= PROPAGATION_BOUND.toNanos() / 1000, "every invalidation within " + PROPAGATION_BOUND);
  }

  @Test
  void a_write_through_one_instance_evicts_the_reads_it_changes_on_the_other_two() throws Exception {
    int rounds = 20;
    List<Long> micros = new ArrayList<>();
    for (int i = 0; i < rounds; i++) {
      String group = "g" + (120 + i);
      String path = "/v1.0/groups/" + group + "/members";
      String before = fleet.get(a, path).body();
      for (Gateway g : List.of(b, c)) fleet.get(g, path);
      assertTrue(inL1(b, path) && inL1(c, path), "B and C hold the entry");
      String user = newMember(before);
      long t0 = System.nanoTime();
      HttpResponse<String> write = fleet.post(a, "/v1.0/groups/" + group + "/members/$ref",
          "{\"@odata.id\":\"https://graph.microsoft.com/v1.0/directoryObjects/" + user + "\"}");
      assertEquals(204, write.statusCode(), write.body());
      micros.add(awaitEvicted(t0, path, b, c));
      HttpResponse<String> after = fleet.get(c, path);
      assertEquals("MISS", xCache(after), "C asks the upstream again");
      assertTrue(after.body().contains("\"" + user + "\""), "and sees the write");
    }
    report("write invalidation", micros);
    assertTrue(Fleet.percentile(micros, 100) <= PROPAGATION_BOUND.toNanos() / 1000, "every write's eviction within " + PROPAGATION_BOUND);
  }

  @Test
  void one_instance_killed_does_not_disturb_the_others() throws Exception {
    // The victim runs in a JVM of its own so it can die by SIGKILL, mid-traffic, with its Redis connections open.
    try (SidecarProcess victim = SidecarProcess.start(fleet.sim.origin(), fleet.redisUrl, fleet.keyPrefix)) {
      assertEquals("MISS", xCache(fleet.get(victim.port, "/v1.0/groups/g1", ALICE)));
      Await.until(() -> fleet.pathsInL2() >= 1, Duration.ofSeconds(5), "the victim's entry reached Redis");
      assertEquals("HIT-L2", xCache(fleet.get(b, "/v1.0/groups/g1")));

      Fleet.Traffic traffic = fleet.traffic(List.of(b, c),
          i -> i % 3 == 0 ? "/v1.0/users?$top=2" : "/v1.0/groups/g" + (1 + i % 20) + "/members");
      try {
        Await.until(() -> traffic.sent() >= 100, Duration.ofSeconds(10), "100 requests flowed through the survivors");
        victim.kill();
        int atKill = traffic.sent();
        Await.until(() -> traffic.sent() >= atKill + 200, Duration.ofSeconds(10), "200 more flowed after the kill");
      } finally {
        traffic.stop();
      }
      System.out.printf("[scale] one of three sidecars SIGKILLed mid-traffic: %d requests on the other two, %d failed%n",
          traffic.sent(), traffic.failed());
      assertEquals(0, traffic.failed(), "no request on the survivors failed");
    }
    // The survivors still share Redis and invalidations with each other.
    assertEquals("MISS", xCache(fleet.get(b, "/v1.0/groups/g199")));
    Await.until(() -> fleet.l2Holds("/v1.0/groups/g199"), Duration.ofSeconds(5), "B's entry reached Redis");
    assertEquals("HIT-L2", xCache(fleet.get(c, "/v1.0/groups/g199")), "C reads B's entry from Redis");
    assertEquals(200, fleet.invalidate(b, "/v1.0/groups/g199*").statusCode());
    Await.until(() -> !inL1(c, "/v1.0/groups/g199"), PROPAGATION_BOUND, "C forgets it");
  }

  /** A user that the members page does not list yet. */
  static String newMember(String membersPage) {
    for (int u = 500; u > 0; u--) if (!membersPage.contains("\"u" + u + "\"")) return "u" + u;
    throw new AssertionError("every user is already a member");
  }

  /** Spins until neither gateway holds the path in L1; returns microseconds since {@code t0}. */
  static long awaitEvicted(long t0, String path, Gateway... gateways) {
    long deadline = t0 + PROPAGATION_BOUND.toNanos() * 5;
    while (true) {
      boolean held = false;
      for (Gateway g : gateways) held |= inL1(g, path);
      long now = System.nanoTime();
      if (!held) return (now - t0) / 1000;
      if (now > deadline) throw new AssertionError(path + " still in an L1 after " + (now - t0) / 1_000_000 + " ms");
      LockSupport.parkNanos(50_000);
    }
  }

  static void report(String what, List<Long> micros) {
    System.out.printf("[scale] %s propagation to 2 other instances, n=%d: p50 %.2f ms, p99 %.2f ms, max %.2f ms%n", what,
        micros.size(), Fleet.percentile(micros, 50) / 1000.0, Fleet.percentile(micros, 99) / 1000.0, Fleet.percentile(micros, 100) / 1000.0);
  }
}
