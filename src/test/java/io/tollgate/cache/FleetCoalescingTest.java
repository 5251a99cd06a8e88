package io.tollgate.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.Gateway;
import io.tollgate.sim.SimulatorOptions;
import io.tollgate.testing.Await;
import io.tollgate.testing.GatewayHarness;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * Three gateways on one real {@code redis-server}: concurrent cold misses of one key make one upstream call for
 * the whole fleet; a leader that dies mid-fetch is taken over; without Redis each gateway still coalesces its own.
 * The simulator's latency keeps the misses concurrent; the assertions count calls and answers, never times.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class FleetCoalescingTest {
  static final String ALICE = "Bearer alice-token";
  static final String ADMIN = "admin-token-0123456789";
  GatewayHarness harness;
  RedisClientCheck redisCheck;

  @AfterEach
  void stop() {
    if (redisCheck != null) redisCheck.close();
    if (harness != null) harness.close();
  }

  /**
   * Three gateways on one Redis. A generous Redis operation timeout and fleet wait: on a loaded machine a stalled
   * event loop must not count as Redis lost or as a leader given up on, which would add upstream calls.
   */
  List<Gateway> fleet(Duration latency) {
    return fleet(latency, o -> { });
  }

  List<Gateway> fleet(Duration latency, java.util.function.Consumer<io.tollgate.config.TollgateOptions> more) {
    java.util.function.Consumer<io.tollgate.config.TollgateOptions> tune =
        o -> {
          o.getCache().setFleetCoalesceWait(Duration.ofSeconds(10)).setL2Timeout(Duration.ofSeconds(2));
          more.accept(o);
        };
    harness = GatewayHarness.builder().simulator(new SimulatorOptions().setLatency(latency)).redis().gateway(tune).start();
    redisCheck = new RedisClientCheck(harness.gateway());
    List<Gateway> all = new ArrayList<>(List.of(harness.gateway()));
    for (int i = 0; i < 2; i++) all.add(harness.another(tune));
    return all;
  }

  CompletableFuture<HttpResponse<String>> read(Gateway via, String path) {
    return read(via, path, ALICE);
  }

  CompletableFuture<HttpResponse<String>> read(Gateway via, String path, String authorization) {
    return harness.http().sendAsync(HttpRequest.newBuilder(URI.create(GatewayHarness.proxy(via) + path))
        .header("Authorization", authorization).timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
  }

  /** Every answer is a 200 with one body; returns the number of answers. */
  static int sameAnswer(List<CompletableFuture<HttpResponse<String>>> reads) throws Exception {
    String body = null;
    for (var f : reads) {
      HttpResponse<String> r = f.get(30, TimeUnit.SECONDS);
      assertEquals(200, r.statusCode(), r.body());
      if (body == null) body = r.body();
      assertEquals(body, r.body(), "every client gets the same answer");
    }
    return reads.size();
  }

  static long sum(List<Gateway> gateways, java.util.function.ToLongFunction<CacheStats> counter) {
    return gateways.stream().mapToLong(g -> counter.applyAsLong(g.cache().stats())).sum();
  }

  @Test
  void concurrent_cold_misses_on_three_gateways_make_one_upstream_call_per_caller_partition() throws Exception {
    List<Gateway> gateways = fleet(Duration.ofMillis(500));
    String path = "/v1.0/groups/g11/transitiveMembers";
    List<CompletableFuture<HttpResponse<String>>> reads = new ArrayList<>();
    List<CompletableFuture<HttpResponse<String>>> bobs = new ArrayList<>();
    for (int i = 0; i < 64; i++) reads.add(read(gateways.get(i % 3), path, ALICE));
    // Another caller of the same path, at the same time: its own flight (the lease key is the full cache key).
    for (int i = 0; i < 6; i++) bobs.add(read(gateways.get(i % 3), path, "Bearer bob-token"));
    assertEquals(64, sameAnswer(reads));
    assertEquals(6, sameAnswer(bobs));
    assertEquals(2, harness.sim().stats().count("GET " + path), "one upstream call for the fleet per partition");
    assertTrue(sum(gateways, CacheStats::fleetFollowed) >= 1, "another gateway followed the leader's flight");
    assertTrue(sum(gateways, CacheStats::fleetCarried) >= 1, "a follower served the entry its leader's message carried");
  }

  @Test
  void when_the_leaders_gateway_dies_mid_fetch_another_takes_over_and_every_client_gets_an_answer() throws Exception {
    List<Gateway> gateways = fleet(Duration.ofMillis(1000));
    Gateway leader = gateways.get(0);
    String path = "/v1.0/groups/g13/members";
    String lease = L2Store.tag(harness.keyPrefix(), path) + ":l:0:" + GatewayHarness.cacheKey(path, ALICE).digest();
    CompletableFuture<HttpResponse<String>> leaders = read(leader, path);
    Await.until(() -> redisCheck.keyExists(lease), Duration.ofSeconds(10), "the first gateway took the lease");
    Await.until(() -> harness.sim().stats().count("GET " + path) == 1, Duration.ofSeconds(10), "its fetch is under way");
    List<CompletableFuture<HttpResponse<String>>> reads = new ArrayList<>();
    for (int i = 0; i < 40; i++) reads.add(read(gateways.get(1 + i % 2), path));
    Await.until(() -> gateways.get(1).cache().fleet().waiting() == 1 && gateways.get(2).cache().fleet().waiting() == 1,
        Duration.ofSeconds(10), "both other gateways wait for the leader");
    // Killed, not drained: no release, no message; its lease has to run out.
    harness.kill(leader);
    assertEquals(40, sameAnswer(reads));
    leaders.handle((r, failure) -> null).get(10, TimeUnit.SECONDS);
    long calls = harness.sim().stats().count("GET " + path);
    // The dead leader's call and one takeover (a third only if the taker's own lease ran out on a stalled machine).
    assertTrue(calls == 2 || calls == 3, "no stampede after the leader died: " + calls + " upstream calls");
    assertTrue(sum(gateways.subList(1, 3), CacheStats::fleetTakeovers) >= 1, "a follower took the lease over");
  }

  @Test
  void an_invalidation_heard_while_waiting_for_the_leader_sends_the_followers_upstream_after_it() throws Exception {
    List<Gateway> gateways = fleet(Duration.ofMillis(1000), o -> o.getManagement().setAdminToken(ADMIN));
    String path = "/v1.0/groups/g15/members";
    String lease = L2Store.tag(harness.keyPrefix(), path) + ":l:0:" + GatewayHarness.cacheKey(path, ALICE).digest();
    CompletableFuture<HttpResponse<String>> leaders = read(gateways.get(0), path);
    Await.until(() -> redisCheck.keyExists(lease), Duration.ofSeconds(10), "the first gateway took the lease");
    Await.until(() -> harness.sim().stats().count("GET " + path) == 1, Duration.ofSeconds(10), "its fetch is under way");
    List<CompletableFuture<HttpResponse<String>>> reads = new ArrayList<>();
    for (int i = 0; i < 8; i++) reads.add(read(gateways.get(1), path));
    Await.until(() -> gateways.get(1).cache().fleet().waiting() == 1, Duration.ofSeconds(10), "the second gateway waits");
    // The leader's read began before this: its answer may show the group as it was, and must not be shared.
    HttpResponse<String> invalidated = harness.http().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
            + gateways.get(1).managementPort() + "/admin/cache/invalidate?pattern=/v1.0/groups/g15/**"))
        .header("Authorization", "Bearer " + ADMIN).POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, invalidated.statusCode(), invalidated.body());
    assertEquals(8, sameAnswer(reads));
    assertEquals(200, leaders.get(30, TimeUnit.SECONDS).statusCode());
    assertEquals(2, harness.sim().stats().count("GET " + path), "the followers fetched again after the invalidation");
  }

  @Test
  void with_redis_stopped_each_gateway_still_coalesces_its_own_misses() throws Exception {
    List<Gateway> gateways = fleet(Duration.ofMillis(500));
    harness.redis().kill();
    String path = "/v1.0/groups/g14/transitiveMembers";
    List<CompletableFuture<HttpResponse<String>>> reads = new ArrayList<>();
    for (int i = 0; i < 48; i++) reads.add(read(gateways.get(i % 3), path));
    assertEquals(48, sameAnswer(reads));
    long calls = harness.sim().stats().count("GET " + path);
    assertTrue(calls >= 1 && calls <= 3, "at most one upstream call per gateway: " + calls);
  }
}
