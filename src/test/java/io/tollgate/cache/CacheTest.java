package io.tollgate.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.metrics.Addresses;
import io.tollgate.Gateway;
import io.tollgate.sim.SimulatorOptions;
import io.tollgate.testing.FakeClock;
import io.tollgate.testing.RedisProcess;
import io.tollgate.testing.Stack;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** The two-level cache through real HTTP: the simulator counts what reached the upstream. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class CacheTest {
  static final String ALICE = "Bearer alice-token";
  static final String ADMIN = "admin-token-0123456789";
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  final List<AutoCloseable> closing = new ArrayList<>();
  Stack stack;

  @AfterEach
  void stop() throws Exception {
    if (stack != null) stack.close();
    for (AutoCloseable c : closing) c.close();
  }

  HttpResponse<String> get(int port, String path, String auth, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(20));
    if (auth != null) b.header("Authorization", auth);
    for (int i = 0; i < headers.length; i += 2) b.header(headers[i], headers[i + 1]);
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<String> get(String path, String auth, String... headers) throws Exception {
    return get(stack.gateway.proxyPort(), path, auth, headers);
  }

  static String xCache(HttpResponse<?> r) {
    return r.headers().firstValue("X-Cache").orElse("none");
  }

  Gateway closeLater(Gateway g) {
    closing.add(0, () -> g.close().await(20, TimeUnit.SECONDS));
    return g;
  }

  RedisProcess redis() {
    RedisProcess r = RedisProcess.start();
    closing.add(r);
    return r;
  }

  @Test
  void a_repeated_read_is_a_miss_then_an_l1_hit_with_age() throws Exception {
    stack = Stack.start(new SimulatorOptions(), o -> { });
    HttpResponse<String> first = get("/v1.0/users/u1", ALICE);
    HttpResponse<String> second = get("/v1.0/users/u1", ALICE);
    assertEquals(200, second.statusCode());
    assertEquals("MISS", xCache(first));
    assertEquals("HIT-L1", xCache(second));
    assertEquals("0", second.headers().firstValue("Age").orElse(null));
    assertEquals(first.body(), second.body());
    assertEquals(1, stack.sim.stats().count("GET /v1.0/users/u1"));
    assertEquals("MISS", xCache(get("/v1.0/users", ALICE)), "routes without a rule pass through");
    assertEquals("MISS", xCache(get("/v1.0/users", ALICE)));
    assertEquals(2, stack.sim.stats().count("GET /v1.0/users"));
  }

  @Test
  void answer_changing_headers_and_query_order_are_part_of_the_key() throws Exception {
    stack = Stack.start(new SimulatorOptions(), o -> { });
    get("/v1.0/users/u1?$select=id,mail&$top=1", ALICE);
    assertEquals("HIT-L1", xCache(get("/v1.0/users/u1?$top=1&$select=id,mail", ALICE)), "same query, other order");
    assertEquals("MISS", xCache(get("/v1.0/users/u1?$top=1&$select=id,mail", ALICE, "ConsistencyLevel", "eventual")));
    assertEquals("MISS", xCache(get("/v1.0/users/u1?$top=1&$select=id,mail", ALICE, "Accept-Language", "de")));
  }

  @Test
  void a_client_no_cache_bypasses_the_cache_but_refreshes_it() throws Exception {
    stack = Stack.start(new SimulatorOptions(), o -> { });
    get("/v1.0/groups/g1", ALICE);
    assertEquals("BYPASS", xCache(get("/v1.0/groups/g1", ALICE, "Cache-Control", "no-cache")));
    assertEquals(2, stack.sim.stats().count("GET /v1.0/groups/g1"));
    assertEquals("HIT-L1", xCache(get("/v1.0/groups/g1", ALICE)));
  }

  @Test
  void entries_expire_after_their_ttl_and_stale_windows() throws Exception {
    FakeClock clock = new FakeClock();
    stack = Stack.start(new SimulatorOptions(), o -> { }, clock);
    get("/v1.0/users/u2", ALICE);
    clock.advance(Duration.ofMinutes(59));
    assertEquals("HIT-L1", xCache(get("/v1.0/users/u2", ALICE)));
    clock.advance(Duration.ofMinutes(12));
    assertEquals("MISS", xCache(get("/v1.0/users/u2", ALICE)), "1 h TTL + 10 min staleIfError passed");
    assertEquals(2, stack.sim.stats().count("GET /v1.0/users/u2"));
  }

  @Test
  void the_l1_byte_bound_evicts_and_counts_evictions() throws Exception {
    stack = Stack.start(new SimulatorOptions(), o -> o.getCache().setL1MaxWeight(32 << 10));
    for (int i = 1; i <= 200; i++) assertEquals(200, get("/v1.0/users/u" + i, ALICE).statusCode());
    ResponseCache cache = stack.gateway.cache();
    cache.l1().cleanUp();
    assertTrue(cache.l1().weightBytes() <= 32 << 10, "weight " + cache.l1().weightBytes());
    assertTrue(cache.stats().evictions() > 0, "evictions counted");
    assertTrue(cache.l1().size() < 200, "size " + cache.l1().size());
  }

  @Test
  void callers_never_see_each_others_answers_under_concurrency() throws Exception {
    stack = Stack.start(new SimulatorOptions().setLatency(Duration.ofMillis(5)), o -> { });
    Random random = new Random(7);
    List<String> tokens = new ArrayList<>();
    for (int i = 0; i < 25; i++) tokens.add("Bearer token-" + random.nextLong());
    List<CompletableFuture<Void>> checks = new ArrayList<>();
    for (int i = 0; i < 600; i++) {
      String token = tokens.get(random.nextInt(tokens.size()));
      String path = random.nextBoolean() ? "/v1.0/users/u" + (1 + random.nextInt(5)) : "/v1.0/groups/g" + (1 + random.nextInt(5));
      HttpRequest req = HttpRequest.newBuilder(URI.create(stack.proxy() + path)).header("Authorization", token).build();
      checks.add(http.sendAsync(req, HttpResponse.BodyHandlers.ofString()).thenAccept(r -> {
        assertEquals(200, r.statusCode());
        assertEquals(simHash(token), new JsonObject(r.body()).getString("callerHash"), "answer belongs to its own token");
      }));
    }
    CompletableFuture.allOf(checks.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
    assertTrue(stack.gateway.cache().stats().l1Hits() > 0, "the cache was used");
  }

  @Test
  void identical_concurrent_misses_make_one_upstream_call() throws Exception {
    stack = Stack.start(new SimulatorOptions().setLatency(Duration.ofMillis(300)), o -> { });
    List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      all.add(http.sendAsync(HttpRequest.newBuilder(URI.create(stack.proxy() + "/v1.0/groups/g3/transitiveMembers"))
          .header("Authorization", ALICE).build(), HttpResponse.BodyHandlers.ofString()));
    }
    String body = null;
    for (var f : all) {
      HttpResponse<String> r = f.get(30, TimeUnit.SECONDS);
      assertEquals(200, r.statusCode());
      if (body == null) body = r.body();
      assertEquals(body, r.body(), "every caller gets the same answer");
    }
    assertEquals(1, stack.sim.stats().count("GET /v1.0/groups/g3/transitiveMembers"));
    assertTrue(stack.gateway.cache().stats().coalesced() + stack.gateway.cache().stats().l1Hits() >= 199);
  }

  @Test
  void a_failed_leader_releases_its_followers_with_the_error() throws Exception {
    stack = Stack.start(new SimulatorOptions().setLatency(Duration.ofMillis(300)).setErrorRate(1.0), o -> { });
    List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      all.add(http.sendAsync(HttpRequest.newBuilder(URI.create(stack.proxy() + "/v1.0/groups/g4"))
          .header("Authorization", ALICE).build(), HttpResponse.BodyHandlers.ofString()));
    }
    for (var f : all) assertEquals(503, f.get(10, TimeUnit.SECONDS).statusCode());
    assertTrue(stack.sim.stats().count("GET /v1.0/groups/g4") < 20, "followers shared the leader's failure");
  }

  @Test
  void stale_while_revalidate_serves_the_old_entry_and_refreshes_once() throws Exception {
    FakeClock clock = new FakeClock();
    stack = Stack.start(new SimulatorOptions(), o -> { }, clock);
    get("/v1.0/sites/s1", ALICE);
    clock.advance(Duration.ofMinutes(60).plusSeconds(10));
    HttpResponse<String> stale = get("/v1.0/sites/s1", ALICE);
    assertEquals("STALE", xCache(stale));
    assertEquals("3610", stale.headers().firstValue("Age").orElse(null));
    waitFor(() -> stack.sim.stats().count("GET /v1.0/sites/s1") == 2, "one background refresh");
    waitFor(() -> {
      try {
        return "HIT-L1".equals(xCache(get("/v1.0/sites/s1", ALICE)));
      } catch (Exception e) {
        return false;
      }
    }, "the refreshed entry is served fresh");
    assertEquals(2, stack.sim.stats().count("GET /v1.0/sites/s1"));
  }

  @Test
  void stale_if_error_serves_the_old_entry_when_the_upstream_fails() throws Exception {
    FakeClock clock = new FakeClock();
    stack = Stack.start(new SimulatorOptions(), o -> { }, clock);
    get("/v1.0/sites/s2", ALICE);
    clock.advance(Duration.ofMinutes(65));
    stack.sim.reconfigure(new SimulatorOptions().setErrorRate(1.0));
    HttpResponse<String> r = get("/v1.0/sites/s2", ALICE);
    assertEquals(200, r.statusCode());
    assertEquals("STALE", xCache(r));
    assertEquals(503, get("/v1.0/sites/s3", ALICE).statusCode(), "nothing stale to serve: the error passes");
    clock.advance(Duration.ofMinutes(10));
    assertEquals(503, get("/v1.0/sites/s2", ALICE).statusCode(), "past staleIfError");
  }

  @Test
  void an_l2_hit_on_another_instance_is_promoted_to_its_l1() throws Exception {
    RedisProcess redis = redis();
    stack = Stack.start(new SimulatorOptions(), o -> useRedis(o, redis));
    Gateway b = closeLater(stack.another(o -> useRedis(o, redis)));
    assertEquals("MISS", xCache(get("/v1.0/groups/g5/transitiveMembers", ALICE)));
    waitFor(() -> l2Holds(b, "/v1.0/groups/g5/transitiveMembers"), "the entry reached Redis");
    HttpResponse<String> fromL2 = get(b.proxyPort(), "/v1.0/groups/g5/transitiveMembers", ALICE);
    assertEquals("HIT-L2", xCache(fromL2));
    assertEquals("HIT-L1", xCache(get(b.proxyPort(), "/v1.0/groups/g5/transitiveMembers", ALICE)));
    assertEquals(1, stack.sim.stats().count("GET /v1.0/groups/g5/transitiveMembers"));
    assertEquals("MISS", xCache(get(b.proxyPort(), "/v1.0/groups/g5/transitiveMembers", "Bearer bob")), "other caller, other entry");
  }

  @Test
  void tokens_are_never_stored_in_redis() throws Exception {
    RedisProcess redis = redis();
    stack = Stack.start(new SimulatorOptions(), o -> useRedis(o, redis));
    get("/v1.0/users/u9", "Bearer very-secret-token-42");
    waitFor(() -> l2Holds(stack.gateway, "/v1.0/users/u9"), "stored");
    String dump = redisDump(redis);
    assertTrue(dump.contains("u9"), "the dump shows the entry: " + dump.length());
    assertTrue(!dump.contains("very-secret-token-42"), "no token in Redis");
  }

  @Test
  void pattern_invalidation_evicts_every_partition_on_every_instance() throws Exception {
    RedisProcess redis = redis();
    stack = Stack.start(new SimulatorOptions(), o -> {
      useRedis(o, redis);
      o.getManagement().setAdminToken(ADMIN);
    });
    Gateway b = closeLater(stack.another(o -> useRedis(o, redis)));
    for (String who : new String[] {ALICE, "Bearer bob"}) {
      get("/v1.0/groups/g6/transitiveMembers", who);
      get(b.proxyPort(), "/v1.0/groups/g6/members", who);
      assertEquals("HIT-L1", xCache(get(b.proxyPort(), "/v1.0/groups/g6/members", who)));
    }
    get("/v1.0/groups/g7", ALICE);
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(stack.management() + "/admin/cache/invalidate?pattern=/v1.0/groups/g6/*"))
        .header("Authorization", "Bearer " + ADMIN).POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    assertTrue(new JsonObject(r.body()).getLong("removed") >= 4, r.body());
    waitFor(() -> b.cache().l1().get(keyFor("/v1.0/groups/g6/members", ALICE)) == null, "B's L1 was told");
    for (String who : new String[] {ALICE, "Bearer bob"}) {
      assertEquals("MISS", xCache(get(b.proxyPort(), "/v1.0/groups/g6/members", who)));
      assertEquals("MISS", xCache(get("/v1.0/groups/g6/transitiveMembers", who)));
    }
    assertEquals("HIT-L1", xCache(get("/v1.0/groups/g7", ALICE)), "other paths untouched");
  }

  @Test
  void a_write_through_one_instance_evicts_the_reads_it_changes_on_the_other() throws Exception {
    RedisProcess redis = redis();
    stack = Stack.start(new SimulatorOptions(), o -> useRedis(o, redis));
    Gateway b = closeLater(stack.another(o -> useRedis(o, redis)));
    String before = get(b.proxyPort(), "/v1.0/groups/g8/members", ALICE).body();
    assertTrue(!before.contains("\"u499\""), "u499 is not yet a member");
    HttpResponse<String> write = http.send(HttpRequest.newBuilder(URI.create(stack.proxy() + "/v1.0/groups/g8/members/$ref"))
        .header("Authorization", ALICE).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"@odata.id\":\"https://graph.microsoft.com/v1.0/directoryObjects/u499\"}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(204, write.statusCode(), write.body());
    waitFor(() -> b.cache().l1().get(keyFor("/v1.0/groups/g8/members", ALICE)) == null, "B evicted its copy");
    HttpResponse<String> after = get(b.proxyPort(), "/v1.0/groups/g8/members", ALICE);
    assertEquals("MISS", xCache(after));
    assertTrue(after.body().contains("\"u499\""), "the read shows the write");
  }

  @Test
  void redis_killed_mid_traffic_fails_no_request_and_l2_comes_back() throws Exception {
    RedisProcess redis = redis();
    stack = Stack.start(new SimulatorOptions(), o -> useRedis(o, redis));
    int failures = 0;
    for (int i = 0; i < 60; i++) {
      if (i == 20) redis.kill();
      if (get("/v1.0/users/u" + (1 + i % 30), ALICE).statusCode() != 200) failures++;
      if (get("/v1.0/users?$top=2", ALICE).statusCode() != 200) failures++;
    }
    assertEquals(0, failures);
    waitFor(() -> !stack.gateway.cache().stats().l2Connected(), "L2 marked disconnected");
    redis.restart();
    waitFor(() -> stack.gateway.cache().stats().l2Connected(), "L2 reconnected");
    get("/v1.0/users/u100", ALICE);
    waitFor(() -> l2Holds(stack.gateway, "/v1.0/users/u100"), "writes to L2 resume");
  }

  @Test
  void statistics_are_published_on_the_event_bus() throws Exception {
    stack = Stack.start(new SimulatorOptions(), o -> o.getCache().setStatsInterval(Duration.ofMillis(200)));
    get("/v1.0/users/u1", ALICE);
    get("/v1.0/users/u1", ALICE);
    CompletableFuture<JsonObject> message = new CompletableFuture<>();
    stack.gateway.vertx().eventBus().<JsonObject>consumer(Addresses.CACHE_STATS, m -> message.complete(m.body()));
    JsonObject stats = message.get(5, TimeUnit.SECONDS);
    JsonObject l1 = stats.getJsonObject("l1");
    assertEquals(1L, l1.getLong("hits"));
    assertEquals(1L, l1.getLong("misses"));
    assertEquals(0.5, l1.getDouble("hitRate"));
    assertEquals(1L, l1.getLong("size"));
    assertTrue(l1.getLong("weightBytes") > 0);
    assertEquals(0L, l1.getLong("evictions"));
    JsonObject l2 = stats.getJsonObject("l2");
    for (String k : new String[] {"hits", "misses", "errors", "connected"}) assertTrue(l2.containsKey(k), k);
    assertNotNull(stats.getLong("coalesced"));
    assertNotNull(java.time.Instant.parse(stats.getString("at")));
  }

  @Test
  void the_event_bus_api_gets_puts_invalidates_and_clears() throws Exception {
    stack = Stack.start(new SimulatorOptions(), o -> { });
    var bus = stack.gateway.vertx().eventBus();
    var opts = new io.vertx.core.eventbus.DeliveryOptions().setSendTimeout(5000);
    JsonObject key = new JsonObject().put("method", "GET").put("path", "/v1.0/users/u77").put("partition", "p1");
    JsonObject put = key.copy().put("action", "put").put("entry", new JsonObject().put("status", 200).put("ttl", 60_000)
        .put("headers", new io.vertx.core.json.JsonArray()).put("body", "{\"id\":\"u77\"}"));
    bus.request(Addresses.CACHE, put, opts).await(5, TimeUnit.SECONDS);
    JsonObject got = (JsonObject) bus.request(Addresses.CACHE, key.copy().put("action", "get"), opts).await(5, TimeUnit.SECONDS).body();
    assertEquals(true, got.getBoolean("found"));
    assertEquals("{\"id\":\"u77\"}", got.getJsonObject("entry").getString("body"));
    JsonObject inv = (JsonObject) bus.request(Addresses.CACHE, new JsonObject().put("action", "invalidate").put("pattern", "/v1.0/users/*"), opts)
        .await(5, TimeUnit.SECONDS).body();
    assertEquals(1L, inv.getLong("removed"));
    got = (JsonObject) bus.request(Addresses.CACHE, key.copy().put("action", "get"), opts).await(5, TimeUnit.SECONDS).body();
    assertEquals(false, got.getBoolean("found"));
    try {
      bus.request(Addresses.CACHE, new JsonObject().put("action", "invalidate").put("pattern", ""), opts).await(5, TimeUnit.SECONDS);
      throw new AssertionError("an empty pattern must fail");
    } catch (io.vertx.core.eventbus.ReplyException e) {
      assertEquals(400, e.failureCode());
    }
  }

  @Test
  void the_event_bus_hot_path_serves_hits_like_the_in_process_one() throws Exception {
    stack = Stack.start(new SimulatorOptions(), o -> o.getCache().setHotPath(io.tollgate.config.CacheOptions.HotPath.EVENT_BUS));
    assertEquals("MISS", xCache(get("/v1.0/users/u3", ALICE)));
    assertEquals("HIT-L1", xCache(get("/v1.0/users/u3", ALICE)));
    assertEquals(1, stack.sim.stats().count("GET /v1.0/users/u3"));
  }

  static void useRedis(io.tollgate.config.TollgateOptions o, RedisProcess redis) {
    o.getRedis().setUrl(redis.url());
    o.getCache().setKeyPrefix(redis.keyPrefix());
  }

  static CacheKey keyFor(String path, String auth) {
    io.vertx.core.MultiMap h = io.vertx.core.MultiMap.caseInsensitiveMultiMap().add("Authorization", auth);
    String partition = new io.tollgate.proxy.CallerIdentity(List.of("Authorization")).partition(h);
    return CacheKey.of("GET", path, null, h, io.tollgate.config.CacheOptions.DEFAULT_VARY_HEADERS, partition);
  }

  /** True when the gateway's own L2 can read the entry (checked through a fresh L1-less lookup). */
  static boolean l2Holds(Gateway g, String path) {
    try (RedisClientCheck check = new RedisClientCheck(g)) {
      return check.exists(path);
    }
  }

  static String redisDump(RedisProcess redis) throws Exception {
    try (var check = new RedisClientCheck(redis.url())) {
      return check.dumpAll();
    }
  }

  static String simHash(String authorization) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(authorization.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d, 0, 6);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static void waitFor(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting until " + what);
      Thread.sleep(25);
    }
  }
}
