package io.tollgate.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.Gateway;
import io.tollgate.config.CacheOptions;
import io.tollgate.config.PathPattern;
import io.tollgate.testing.Await;
import io.tollgate.testing.GatewayHarness;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * The index of cached paths in Redis, which invalidations consult: a path leaves it when its entries expire,
 * and a write finds the paths it changes without walking the others, so its answer never waits on a walk of
 * every path ever cached.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class RedisPathIndexTest {
  static final String ALICE = "Bearer alice-token";
  static final Pattern TOTAL = Pattern.compile("total_commands_processed:(\\d+)");

  GatewayHarness harness;
  final Vertx vertx = Vertx.vertx();
  Redis redis;
  RedisClientCheck check;

  @AfterEach
  void stop() throws Exception {
    if (check != null) check.close();
    if (redis != null) redis.close().await(5, TimeUnit.SECONDS);
    vertx.close().await(5, TimeUnit.SECONDS);
    if (harness != null) harness.close();
  }

  void start(java.util.function.Consumer<io.tollgate.config.TollgateOptions> tune) {
    harness = GatewayHarness.builder().redis().gateway(o -> o.getCache().setL2Timeout(Duration.ofSeconds(2))).gateway(tune).start();
    redis = Redis.createClient(vertx, harness.redisUrl());
    check = new RedisClientCheck(harness.gateway());
  }

  HttpResponse<String> patch(String path) throws Exception {
    return harness.http().send(HttpRequest.newBuilder(URI.create(harness.proxy() + path))
        .header("Authorization", ALICE).header("Content-Type", "application/json").timeout(Duration.ofSeconds(30))
        .method("PATCH", HttpRequest.BodyPublishers.ofString("{\"displayName\":\"renamed\"}")).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  long entriesInRedis() throws Exception {
    long n = 0;
    String cursor = "0";
    do {
      Response r = redis.send(Request.cmd(Command.SCAN).arg(cursor).arg("MATCH").arg(harness.keyPrefix() + "*:e:*").arg("COUNT").arg(1000))
          .await(5, TimeUnit.SECONDS);
      cursor = r.get(0).toString();
      n += r.get(1).size();
    } while (!"0".equals(cursor));
    return n;
  }

  @Test
  void a_path_leaves_the_index_when_its_entries_expire() throws Exception {
    start(o -> {
      List<CacheOptions.Route> routes = new ArrayList<>(o.getCache().getRoutes());
      routes.add(0, new CacheOptions.Route("brief-users", PathPattern.compile("/v1.0|beta/users/{id}"), Duration.ofSeconds(1),
          Duration.ZERO, Duration.ZERO, Duration.ZERO));
      o.getCache().setRoutes(routes);
    });
    for (int i = 1; i <= 50; i++) assertEquals(200, harness.getAs(ALICE, "/v1.0/users/u" + i).statusCode());
    Await.until(() -> check.dumpAll().contains("/v1.0/users/u50"), Duration.ofSeconds(5), "the reads are stored and indexed");
    Await.until(() -> entriesInRedis() == 0, Duration.ofSeconds(10), "Redis expired the 1 s entries");

    // Later traffic, on other paths: a read stored, a write's invalidation.
    assertEquals(200, harness.getAs(ALICE, "/v1.0/groups/g3").statusCode());
    assertEquals(204, patch("/v1.0/groups/g1").statusCode());
    Await.until(() -> check.dumpAll().contains("/v1.0/groups/g3"), Duration.ofSeconds(5), "the later read is indexed");
    String dump = check.dumpAll();
    Matcher stale = Pattern.compile("/v1\\.0/users/u\\d+").matcher(dump);
    assertFalse(stale.find(), "no expired path is still indexed: " + (stale.find(0) ? stale.group() : ""));
  }

  @Test
  void a_write_does_not_walk_every_cached_path_before_it_answers() throws Exception {
    start(o -> { });
    Gateway g = harness.gateway();
    long alone = commandsForAWrite("/v1.0/groups/g2");
    MultiMap headers = MultiMap.caseInsensitiveMultiMap().add("Content-Type", "application/json");
    int paths = 20_000;
    for (int from = 0; from < paths; from += 500) {
      List<Future<Void>> stored = new ArrayList<>();
      for (int i = from; i < from + 500; i++) {
        CachedResponse entry = new CachedResponse(200, headers, Buffer.buffer("{\"id\":\"x" + i + "\"}"), System.currentTimeMillis(),
            3_600_000, 0, 0);
        stored.add(g.cache().store(GatewayHarness.cacheKey("/v1.0/users/x" + i, ALICE), entry, System.currentTimeMillis()));
      }
      Future.all(stored).await(30, TimeUnit.SECONDS);
    }
    assertTrue(check.exists("/v1.0/users/x" + (paths - 1)), "the unrelated paths are in Redis");
    long among = commandsForAWrite("/v1.0/groups/g1");
    assertTrue(among <= alone + 4, "Redis commands for the same write: " + alone + " with its group alone in Redis, "
        + among + " among " + paths + " other paths\n" + commandStats());
  }

  /** Reads the group (so Redis holds it), writes it, and counts the Redis commands until the write is answered. */
  long commandsForAWrite(String group) throws Exception {
    assertEquals(200, harness.getAs(ALICE, group).statusCode());
    Await.until(() -> check.exists(group), Duration.ofSeconds(5), "the group is in Redis");
    long before = commandsProcessed();
    HttpResponse<String> write = patch(group);
    long during = commandsProcessed() - before - 1;
    assertEquals(204, write.statusCode(), write.body());
    assertFalse(check.exists(group), "the written group left Redis before the write was answered");
    return during;
  }

  long commandsProcessed() throws Exception {
    Matcher m = TOTAL.matcher(redis.send(Request.cmd(Command.INFO).arg("stats")).await(5, TimeUnit.SECONDS).toString());
    assertTrue(m.find());
    return Long.parseLong(m.group(1));
  }

  String commandStats() throws Exception {
    return redis.send(Request.cmd(Command.INFO).arg("commandstats")).await(5, TimeUnit.SECONDS).toString();
  }
}
