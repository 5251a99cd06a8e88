package io.tollgate.cache;

import static io.tollgate.testing.GatewayHarness.inL1;
import static io.tollgate.testing.GatewayHarness.xCache;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.Gateway;
import io.tollgate.config.TollgateOptions;
import io.tollgate.testing.Await;
import io.tollgate.testing.GatewayHarness;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** Two gateways sharing an L2 on a real {@code redis-server}: what one stores the other serves, what one evicts the other forgets. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class SharedL2CacheTest {
  static final String ALICE = "Bearer alice-token";
  static final String ADMIN = "admin-token-0123456789";
  static final Duration STORED = Duration.ofSeconds(10);
  GatewayHarness harness;
  RedisClientCheck redisCheck;

  @AfterEach
  void stop() {
    if (redisCheck != null) redisCheck.close();
    if (harness != null) harness.close();
  }

  void start(Consumer<TollgateOptions> tune) {
    harness = GatewayHarness.builder().redis().gateway(tune).start();
    redisCheck = new RedisClientCheck(harness.gateway());
  }

  /** True when the shared L2 holds an entry for the path. */
  boolean l2Holds(String path) {
    return redisCheck.exists(path);
  }

  @Test
  void an_l2_hit_on_another_instance_is_promoted_to_its_l1() throws Exception {
    start(o -> { });
    Gateway b = harness.another(o -> { });
    assertEquals("MISS", xCache(harness.getAs(ALICE, "/v1.0/groups/g5/transitiveMembers")));
    Await.until(() -> l2Holds("/v1.0/groups/g5/transitiveMembers"), STORED, "the entry reached Redis");
    HttpResponse<String> fromL2 = harness.getAs(b, ALICE, "/v1.0/groups/g5/transitiveMembers");
    assertEquals("HIT-L2", xCache(fromL2));
    assertEquals("HIT-L1", xCache(harness.getAs(b, ALICE, "/v1.0/groups/g5/transitiveMembers")));
    assertEquals(1, harness.sim().stats().count("GET /v1.0/groups/g5/transitiveMembers"));
    assertEquals("MISS", xCache(harness.getAs(b, "Bearer bob", "/v1.0/groups/g5/transitiveMembers")), "other caller, other entry");
  }

  @Test
  void a_page_read_from_l2_has_its_next_link_pointing_at_the_instance_that_serves_it() throws Exception {
    start(o -> { });
    Gateway b = harness.another(o -> { });
    String page = "/v1.0/groups/g7/transitiveMembers?$top=2";
    String viaA = new JsonObject(harness.getAs(ALICE, page).body()).getString("@odata.nextLink");
    assertTrue(viaA.startsWith(harness.proxy() + "/v1.0/groups/g7/transitiveMembers?"), viaA);
    assertEquals("MISS", xCache(harness.getAs(ALICE, "/v1.0/users/u7")), "a body without links");
    Await.until(() -> l2Holds("/v1.0/groups/g7/transitiveMembers") && l2Holds("/v1.0/users/u7"), STORED, "the entries reached Redis");
    HttpResponse<String> fromL2 = harness.getAs(b, ALICE, page);
    assertEquals("HIT-L2", xCache(fromL2));
    String viaB = new JsonObject(fromL2.body()).getString("@odata.nextLink");
    assertEquals(GatewayHarness.proxy(b) + viaA.substring(harness.proxy().length()), viaB);
    HttpResponse<String> userFromL2 = harness.getAs(b, ALICE, "/v1.0/users/u7");
    assertEquals("HIT-L2", xCache(userFromL2));
    assertEquals(harness.getAs(ALICE, "/v1.0/users/u7").body(), userFromL2.body());
  }

  @Test
  void entries_an_earlier_version_stored_are_hits_and_a_meta_it_cannot_read_is_a_miss_that_is_replaced() throws Exception {
    start(o -> { });
    String path = "/v1.0/users/u8";
    HttpResponse<String> first = harness.getAs(ALICE, path);
    assertEquals("MISS", xCache(first));
    Await.until(() -> l2Holds(path), STORED, "the entry reached Redis");
    String entry = redisCheck.entryKeys(path).get(0);
    Buffer binary = redisCheck.send(Request.cmd(Command.HGET).arg(entry).arg("meta")).toBuffer();
    assertEquals(1, binary.getByte(0), "this version stores the binary meta");
    // What an earlier version stored: the same meta as JSON.
    String json = CachedResponse.fromMeta(binary, Buffer.buffer()).meta().encode();
    redisCheck.send(Request.cmd(Command.HSET).arg(entry).arg("meta").arg(json));
    HttpResponse<String> fromJson = harness.getAs(harness.another(o -> { }), ALICE, path);
    assertEquals("HIT-L2", xCache(fromJson));
    assertEquals(first.body(), fromJson.body());
    // A meta this version cannot read (as a binary one is to an earlier version): a miss, answered from upstream,
    // and the entry is stored again in a form it reads.
    redisCheck.send(Request.cmd(Command.HSET).arg(entry).arg("meta").arg("\u0002 from a later version"));
    Gateway c = harness.another(o -> { });
    HttpResponse<String> unreadable = harness.getAs(c, ALICE, path);
    assertEquals(200, unreadable.statusCode());
    assertEquals("MISS", xCache(unreadable));
    assertEquals(2, harness.sim().stats().count("GET " + path));
    Await.until(() -> redisCheck.send(Request.cmd(Command.HGET).arg(entry).arg("meta")).toBuffer().getByte(0) == 1, STORED, "stored again");
    assertEquals("HIT-L2", xCache(harness.getAs(harness.another(o -> { }), ALICE, path)));
  }

  @Test
  void tokens_are_never_stored_in_redis() throws Exception {
    start(o -> { });
    harness.getAs("Bearer very-secret-token-42", "/v1.0/users/u9");
    Await.until(() -> l2Holds("/v1.0/users/u9"), STORED, "stored");
    String dump = redisCheck.dumpAll();
    assertTrue(dump.contains("u9"), "the dump shows the entry: " + dump.length());
    assertFalse(dump.contains("very-secret-token-42"), "no token in Redis");
  }

  @Test
  void pattern_invalidation_evicts_every_partition_on_every_instance() throws Exception {
    start(o -> o.getManagement().setAdminToken(ADMIN));
    Gateway b = harness.another(o -> { });
    for (String who : new String[] {ALICE, "Bearer bob"}) {
      harness.getAs(who, "/v1.0/groups/g6/transitiveMembers");
      harness.getAs(b, who, "/v1.0/groups/g6/members");
      assertEquals("HIT-L1", xCache(harness.getAs(b, who, "/v1.0/groups/g6/members")));
    }
    harness.getAs(ALICE, "/v1.0/groups/g7");
    HttpResponse<String> r = harness.http().send(HttpRequest.newBuilder(URI.create(harness.management() + "/admin/cache/invalidate?pattern=/v1.0/groups/g6/*"))
        .header("Authorization", "Bearer " + ADMIN).POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    assertTrue(new JsonObject(r.body()).getLong("removed") >= 4, r.body());
    Await.until(() -> !inL1(b, "/v1.0/groups/g6/members", ALICE), Duration.ofSeconds(10), "B's L1 was told");
    for (String who : new String[] {ALICE, "Bearer bob"}) {
      assertEquals("MISS", xCache(harness.getAs(b, who, "/v1.0/groups/g6/members")));
      assertEquals("MISS", xCache(harness.getAs(who, "/v1.0/groups/g6/transitiveMembers")));
    }
    assertEquals("HIT-L1", xCache(harness.getAs(ALICE, "/v1.0/groups/g7")), "other paths untouched");
  }

  @Test
  void a_write_through_one_instance_evicts_the_reads_it_changes_on_the_other() throws Exception {
    start(o -> { });
    Gateway b = harness.another(o -> { });
    String before = harness.getAs(b, ALICE, "/v1.0/groups/g8/members").body();
    assertFalse(before.contains("\"u499\""), "u499 is not yet a member");
    HttpResponse<String> write = harness.http().send(HttpRequest.newBuilder(URI.create(harness.proxy() + "/v1.0/groups/g8/members/$ref"))
        .header("Authorization", ALICE).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"@odata.id\":\"https://graph.microsoft.com/v1.0/directoryObjects/u499\"}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(204, write.statusCode(), write.body());
    Await.until(() -> !inL1(b, "/v1.0/groups/g8/members", ALICE), Duration.ofSeconds(10), "B evicted its copy");
    HttpResponse<String> after = harness.getAs(b, ALICE, "/v1.0/groups/g8/members");
    assertEquals("MISS", xCache(after));
    assertTrue(after.body().contains("\"u499\""), "the read shows the write");
  }

  @Test
  void redis_killed_mid_traffic_fails_no_request_and_l2_comes_back() throws Exception {
    start(o -> { });
    int failures = 0;
    for (int i = 0; i < 60; i++) {
      if (i == 20) harness.redis().kill();
      if (harness.getAs(ALICE, "/v1.0/users/u" + (1 + i % 30)).statusCode() != 200) failures++;
      if (harness.getAs(ALICE, "/v1.0/users?$top=2").statusCode() != 200) failures++;
    }
    assertEquals(0, failures);
    CacheStats stats = harness.gateway().cache().stats();
    Await.until(() -> !stats.l2Connected(), Duration.ofSeconds(10), "L2 marked disconnected");
    harness.redis().restart();
    Await.until(stats::l2Connected, Duration.ofSeconds(10), "L2 reconnected");
    harness.getAs(ALICE, "/v1.0/users/u100");
    Await.until(() -> l2Holds("/v1.0/users/u100"), STORED, "writes to L2 resume");
  }
}
