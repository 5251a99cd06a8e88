package io.tollgate.scale;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.Gateway;
import io.tollgate.config.RateLimitOptions;
import io.tollgate.config.TollgateOptions;
import io.tollgate.testing.Await;
import io.tollgate.testing.RedisCluster;
import io.tollgate.testing.RedisProcess;
import io.tollgate.testing.RedisSentinel;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * Three sidecars with {@code rateLimit.distributed: true} share one budget in Redis (single server, Cluster,
 * Sentinel): driven far beyond it over real HTTP, the simulator behind them counts no more than
 * {@code burst + rate x window}, and most of that budget is used.
 *
 * <p>The window is measured from before the first request to after the last answer, so it can only be
 * longer than the real admission window: the upper bound errs towards passing, and a broken share (each
 * instance admitting the full budget) is still three times over it.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class SharedBudgetTest {
  static final double RATE = 20;
  static final int BURST = 10;
  static final int INSTANCES = 3;
  /** Admissions in flight when a window is cut, rounding of the per-instance fallback share. */
  static final int TOLERANCE = 3;
  /** Admissions each measurement drives: the budget of a 3 s window, BURST + RATE x 3 s. */
  static final long ADMISSIONS = 70;
  static final String PATH = "/v1.0/users/u";

  RedisProcess redis;
  RedisCluster cluster;
  RedisSentinel sentinel;
  Fleet fleet;

  @AfterEach
  void stop() {
    if (fleet != null) fleet.close();
    if (redis != null) redis.close();
    if (cluster != null) cluster.close();
    if (sentinel != null) sentinel.close();
  }

  /** One global limit on the users paths, shared through Redis; nothing cached, so each admission reaches the simulator. */
  static Consumer<TollgateOptions> sharedLimit() {
    String prefix = "rl" + UUID.randomUUID().toString().substring(0, 8) + ":";
    return o -> {
      o.getCache().setEnabled(false);
      o.getRetry().setEnabled(false);
      // redisTimeout above the 250 ms default: a loaded test machine must not look like a lost Redis.
      o.getRateLimit().setEnabled(true).setDistributed(true).setInstances(INSTANCES).setKeyPrefix(prefix)
          .setMaxWait(Duration.ofMillis(50)).setRedisTimeout(Duration.ofSeconds(1)).setCosts(List.of())
          .setLimits(List.of(new RateLimitOptions.Limit().setName("shared").setKey("global").setRate(RATE).setBurst(BURST)
              .setPaths(List.of("/v1.0/users/**"))));
    };
  }

  @Test
  void three_instances_on_one_redis_admit_no_more_than_the_shared_budget_plus_burst() throws Exception {
    redis = RedisProcess.start();
    fleet = Fleet.start(INSTANCES, redis.url(), sharedLimit());
    Window w = drive(ADMISSIONS);
    assertWithinBudget("one redis-server", w);
  }

  @Test
  void three_instances_on_a_redis_cluster_admit_no_more_than_the_shared_budget_plus_burst() throws Exception {
    cluster = RedisCluster.start(3);
    fleet = Fleet.start(INSTANCES, cluster.url(), sharedLimit());
    Window w = drive(ADMISSIONS);
    assertWithinBudget("3-master cluster", w);
    for (Gateway g : fleet.gateways) assertEquals("UP", rateLimitStatus(g), "never fell back to local buckets");
  }

  @Test
  void the_sentinel_primary_killed_mid_traffic_fails_no_request_and_the_budget_carries_on_after_failover() throws Exception {
    sentinel = RedisSentinel.start();
    fleet = Fleet.start(INSTANCES, sentinel.url(), sharedLimit());
    for (Gateway g : fleet.gateways) assertEquals("UP", rateLimitStatus(g));

    Traffic during = new Traffic();
    long outage;
    double outageSeconds;
    try {
      Await.until(() -> during.sent.get() >= 100, Duration.ofSeconds(10), "100 requests met the shared budget before the kill");
      long beforeKill = admitted();
      long killedAt = System.nanoTime();
      sentinel.primary().kill();
      Await.until(() -> fleet.gateways.stream().anyMatch(g -> "DEGRADED".equals(rateLimitStatus(g))), Duration.ofSeconds(5),
          "a gateway reports the rate limiter DEGRADED");
      sentinel.awaitFailover();
      Await.until(() -> fleet.gateways.stream().allMatch(g -> "UP".equals(rateLimitStatus(g))), Duration.ofSeconds(20),
          "every gateway's rate limiter is UP again");
      outage = admitted() - beforeKill;
      outageSeconds = (System.nanoTime() - killedAt) / 1e9;
    } finally {
      during.stop();
    }
    System.out.printf("[budget] sentinel failover: %d requests (%d admitted, %d refused with 429), %d failed;"
        + " %d admitted in the %.1f s from kill to UP (budget %.0f + %.0f/s, one extra burst allowed)%n",
        during.sent.get(), during.ok.get(), during.refused.get(), during.failed.get(), outage, outageSeconds, (double) BURST, RATE);
    assertEquals(0, during.failed.get(), "no client request failed: every answer was 200 or the limiter's 429");
    assertTrue(outage > 0, "the limiter admitted locally while Redis was away");
    // Local buckets start full (burst / instances each) and the Redis bucket refills while unused: one extra burst at most.
    // Across a mode switch each of the 12 clients may have one request admitted by the side it just left.
    assertTrue(outage <= 2 * BURST + RATE * outageSeconds + 12, "admitted " + outage + " in " + outageSeconds + " s");

    Window after = drive(ADMISSIONS);
    assertWithinBudget("sentinel, after failover", after);
    for (Gateway g : fleet.gateways) assertEquals("UP", rateLimitStatus(g), "still shared through the promoted primary");
  }

  /** Admissions the simulator counted on the limited paths. */
  long admitted() {
    return fleet.sim.stats().countPrefix("GET " + PATH);
  }

  record Window(long admitted, double seconds, int ok, int refused, int failed) {}

  /**
   * One admission per gateway (connections to Redis and the simulator are open), a pause that refills the
   * bucket, then every gateway driven by four clients until the simulator has counted {@code admissions} more;
   * the window closes after the last answer. Admitting too many makes the window too short for them, too few
   * makes it long enough to hold many more: both fail {@link #assertWithinBudget}.
   */
  Window drive(long admissions) throws Exception {
    for (Gateway g : fleet.gateways) fleet.get(g, PATH + "1");
    // The shared bucket refills by Redis TIME: wait until that clock has moved BURST / RATE (plus a margin) on.
    long spent = fleet.redisTimeMillis();
    long refill = (long) (1000 * BURST / RATE) + 100;
    Await.until(() -> fleet.redisTimeMillis() - spent >= refill, Duration.ofSeconds(10), "Redis's clock refilled the bucket");
    long before = admitted();
    long t0 = System.nanoTime();
    Traffic t = new Traffic();
    try {
      Await.until(() -> admitted() - before >= admissions, Duration.ofSeconds(20), admissions + " admissions counted by the simulator");
    } finally {
      t.stop();
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    return new Window(admitted() - before, seconds, t.ok.get(), t.refused.get(), t.failed.get());
  }

  void assertWithinBudget(String where, Window w) {
    double budget = BURST + RATE * w.seconds();
    System.out.printf("[budget] %d instances on %s: admitted %d in %.2f s, configured %d + %.0f/s x %.2f s = %.0f:"
        + " achieved/configured %.2f (%d answered 200, %d refused with 429, %d failed)%n",
        INSTANCES, where, w.admitted(), w.seconds(), BURST, RATE, w.seconds(), budget, w.admitted() / budget, w.ok(), w.refused(),
        w.failed());
    assertEquals(0, w.failed(), "every answer was 200 or 429");
    assertTrue(w.refused() > 3 * w.admitted(), "the demand was several times the budget: " + w);
    assertEquals(w.ok(), w.admitted(), "every 200 was one upstream call");
    assertTrue(w.admitted() <= budget + TOLERANCE, "admitted " + w.admitted() + " > budget + burst " + budget);
    assertTrue(w.admitted() >= 0.8 * budget, "the shared budget was used, not starved: " + w.admitted() + " of " + budget);
  }

  String rateLimitStatus(Gateway g) {
    try {
      HttpResponse<String> r = fleet.http().send(HttpRequest.newBuilder(
          URI.create("http://127.0.0.1:" + g.managementPort() + "/health/ready")).timeout(Duration.ofSeconds(5)).build(),
          HttpResponse.BodyHandlers.ofString());
      return new JsonObject(r.body()).getJsonObject("components").getJsonObject("rateLimit").getString("status");
    } catch (Exception e) {
      return "unreadable: " + e;
    }
  }

  /** Four blocking clients per gateway, each sending the next request as soon as the last is answered. */
  final class Traffic {
    final AtomicBoolean stopped = new AtomicBoolean();
    final AtomicInteger sent = new AtomicInteger();
    final AtomicInteger ok = new AtomicInteger();
    final AtomicInteger refused = new AtomicInteger();
    final AtomicInteger failed = new AtomicInteger();
    final ExecutorService clients = Executors.newFixedThreadPool(4 * fleet.gateways.size());
    final List<Future<?>> running = new ArrayList<>();

    Traffic() {
      for (int t = 0; t < 4 * fleet.gateways.size(); t++) {
        Gateway g = fleet.gateways.get(t % fleet.gateways.size());
        int seed = t;
        running.add(clients.submit(() -> {
          for (int i = seed; !stopped.get(); i += 16) {
            try {
              int status = fleet.get(g, PATH + (1 + i % 400)).statusCode();
              if (status == 200) ok.incrementAndGet();
              else if (status == 429) refused.incrementAndGet();
              else failed.incrementAndGet();
            } catch (Exception e) {
              failed.incrementAndGet();
            }
            sent.incrementAndGet();
          }
          return null;
        }));
      }
    }

    void stop() throws Exception {
      stopped.set(true);
      for (Future<?> f : running) f.get(20, TimeUnit.SECONDS);
      clients.shutdown();
    }
  }
}
