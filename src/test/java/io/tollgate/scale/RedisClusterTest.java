package io.tollgate.scale;

import static io.tollgate.scale.Fleet.ADMIN;
import static io.tollgate.scale.Fleet.inL1;
import static io.tollgate.testing.GatewayHarness.xCache;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.Gateway;
import io.tollgate.testing.Await;
import io.tollgate.testing.RedisCluster;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * The shared cache on a 3-master Redis Cluster the test forms itself: entries spread over every master, pattern
 * invalidation and clear reach all of them, and invalidations reach every instance through cluster pub/sub.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class RedisClusterTest {
  static RedisCluster cluster;
  Fleet fleet;
  Gateway a;
  Gateway b;
  Gateway c;

  @BeforeAll
  static void formCluster() {
    cluster = RedisCluster.start(3);
  }

  @AfterAll
  static void stopCluster() {
    if (cluster != null) cluster.close();
  }

  @BeforeEach
  void start() {
    fleet = Fleet.start(3, cluster.url(), o -> { });
    a = fleet.gateway(0);
    b = fleet.gateway(1);
    c = fleet.gateway(2);
  }

  @AfterEach
  void stop() {
    if (fleet != null) fleet.close();
  }

  @Test
  void a_miss_on_one_instance_is_an_l2_hit_on_the_others_with_entries_on_every_master() throws Exception {
    int paths = 30;
    for (int i = 0; i < paths; i++) assertEquals("MISS", xCache(fleet.get(a, "/v1.0/users/u" + (1 + i))));
    Await.until(() -> fleet.pathsInL2() >= paths, Duration.ofSeconds(5), "A's entries reached the cluster");
    int l2Hits = 0;
    for (Gateway other : List.of(b, c)) {
      for (int i = 0; i < paths; i++) if ("HIT-L2".equals(xCache(fleet.get(other, "/v1.0/users/u" + (1 + i))))) l2Hits++;
    }
    System.out.printf("[cluster] L2 hit rate across instances: %d/%d%n", l2Hits, 2 * paths);
    assertEquals(2 * paths, l2Hits);
    for (int n = 0; n < cluster.size(); n++) assertTrue(cluster.dbsize(n) > 0, "master " + n + " holds entries");
    assertTrue(a.cache().stats().l2Connected() && b.cache().stats().l2Connected(), "no Redis errors in cluster mode");
    assertEquals(0, a.cache().stats().l2Errors(), "A's L2 writes all succeeded");
  }

  @Test
  void pattern_invalidation_reaches_every_master_and_every_instance() throws Exception {
    for (int g = 1; g <= 12; g++) {
      String path = "/v1.0/groups/g" + g + "/members";
      fleet.get(a, path);
      Await.until(() -> fleet.pathsInL2() >= 1, Duration.ofSeconds(5), "stored");
    }
    Await.until(() -> fleet.pathsInL2() >= 12, Duration.ofSeconds(5), "all stored");
    for (int g = 1; g <= 12; g++) {
      assertEquals("HIT-L2", xCache(fleet.get(b, "/v1.0/groups/g" + g + "/members")));
      fleet.get(c, "/v1.0/groups/g" + g + "/members");
    }
    HttpResponse<String> r = fleet.invalidate(a, "/v1.0/groups/g1*");
    assertEquals(200, r.statusCode(), r.body());
    // g1, g10, g11, g12: their entries hash to different slots, so to different masters.
    assertEquals(4L, new JsonObject(r.body()).getLong("removed"), r.body());
    for (String g : List.of("g1", "g10", "g11", "g12")) {
      String path = "/v1.0/groups/" + g + "/members";
      Await.until(() -> !inL1(b, path) && !inL1(c, path), ScaleOutTest.PROPAGATION_BOUND, "B and C forget " + path);
      assertEquals("MISS", xCache(fleet.get(c, path)), "gone from Redis too");
    }
    assertEquals("HIT-L1", xCache(fleet.get(b, "/v1.0/groups/g2/members")), "other paths untouched");
  }

  @Test
  void clear_deletes_the_prefix_on_every_master() throws Exception {
    for (int i = 1; i <= 20; i++) fleet.get(a, "/v1.0/users/u" + (100 + i));
    Await.until(() -> fleet.pathsInL2() >= 20, Duration.ofSeconds(5), "stored");
    HttpResponse<String> r = fleet.http().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + a.managementPort() + "/admin/cache/clear"))
        .header("Authorization", "Bearer " + ADMIN).POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    assertTrue(new JsonObject(r.body()).getLong("removed") >= 41, "20 entries, 20 indexes, the path list: " + r.body());
    assertEquals(0, fleet.pathsInL2());
    assertEquals("MISS", xCache(fleet.get(b, "/v1.0/users/u101")));
  }
}
