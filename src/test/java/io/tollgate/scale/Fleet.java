package io.tollgate.scale;

import io.tollgate.Gateway;
import io.tollgate.config.TollgateOptions;
import io.tollgate.sim.GraphSimulator;
import io.tollgate.testing.GatewayHarness;
import io.vertx.core.Vertx;
import io.tollgate.config.RedisConnectionOptions;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Several gateways (sidecars) of one {@link GatewayHarness}, in front of its Graph simulator, sharing one Redis
 * URL and key prefix. Each gateway has its own Vert.x, as separate processes would; {@link #close()} stops them all.
 */
final class Fleet implements AutoCloseable {
  static final String ALICE = "Bearer alice-token";
  static final String ADMIN = "admin-token-0123456789";

  final GatewayHarness harness;
  final GraphSimulator sim;
  final List<Gateway> gateways;
  final String redisUrl;
  final String keyPrefix;
  private final Vertx vertx = Vertx.vertx();
  private final Redis redis;

  private Fleet(GatewayHarness harness) {
    this.harness = harness;
    this.sim = harness.sim();
    this.gateways = harness.gateways();
    this.redisUrl = harness.redisUrl();
    this.keyPrefix = harness.keyPrefix();
    this.redis = Redis.createClient(vertx, new RedisConnectionOptions().setUrl(redisUrl).toVertxOptions());
  }

  /**
   * How many paths have an entry in Redis: paths the shared path index {@code prefix{paths}} lists whose
   * entry index {@code prefix{h}:keys} exists (written atomically with the entry), so this counts completed
   * writes.
   */
  /** Redis's own clock (TIME), in millis: the clock the shared buckets refill by. */
  long redisTimeMillis() throws Exception {
    Response t = redis.send(Request.cmd(Command.TIME)).await(5, TimeUnit.SECONDS);
    return t.get(0).toLong() * 1000 + t.get(1).toLong() / 1000;
  }

  long pathsInL2() {
    try {
      Response paths = redis.send(Request.cmd(Command.ZRANGE).arg(io.tollgate.cache.L2Store.keyspace(keyPrefix) + "{paths}").arg(0).arg(-1)).await(5, TimeUnit.SECONDS);
      long n = 0;
      if (paths == null) return 0;
      for (Response p : paths) {
        // Members are "<case-folded path>\0<path>".
        String member = p.toString();
        if (l2Holds(member.substring(member.indexOf('\0') + 1))) n++;
      }
      return n;
    } catch (Exception e) {
      return -1;
    }
  }

  /** True when Redis holds an entry for {@code path} (any caller). */
  boolean l2Holds(String path) {
    try {
      String index = io.tollgate.cache.L2Store.tag(keyPrefix, path) + ":keys";
      Response n = redis.send(Request.cmd(Command.EXISTS).arg(index)).await(5, TimeUnit.SECONDS);
      return n != null && n.toLong() > 0;
    } catch (Exception e) {
      return false;
    }
  }

  /** Starts {@code n} gateways on {@code redisUrl}, each with an admin token and a 1-instance proxy. */
  static Fleet start(int n, String redisUrl, Consumer<TollgateOptions> customize) {
    Consumer<TollgateOptions> member = o -> {
      o.getServer().setInstances(1);
      // These tests check sharing across sidecars; on a loaded 2-core CI machine a Redis reply can take longer
      // than the 250 ms default, which would (correctly) degrade to L1 and make the sharing checks flaky.
      o.getCache().setL2Timeout(Duration.ofSeconds(2));
      o.getManagement().setAdminToken(ADMIN);
      customize.accept(o);
    };
    GatewayHarness harness = GatewayHarness.builder().redis(redisUrl).gateway(member).start();
    try {
      for (int i = 1; i < n; i++) harness.another(member);
      return new Fleet(harness);
    } catch (RuntimeException e) {
      harness.close();
      throw e;
    }
  }

  Gateway gateway(int i) {
    return gateways.get(i);
  }

  HttpResponse<String> get(int port, String path, String auth) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(10));
    if (auth != null) b.header("Authorization", auth);
    return harness.http().send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /**
   * Four client threads reading through the given gateways in turn until {@link Traffic#stop()}; the path
   * of each client's i-th request is {@code pathOf.apply(i)}. A non-200 or an exception counts as failed.
   */
  Traffic traffic(List<Gateway> gateways, java.util.function.IntFunction<String> pathOf) {
    return new Traffic(gateways, pathOf);
  }

  final class Traffic {
    private final java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
    private final java.util.concurrent.atomic.AtomicInteger sent = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.concurrent.atomic.AtomicInteger failed = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.concurrent.ExecutorService clients = java.util.concurrent.Executors.newFixedThreadPool(4);
    private final List<java.util.concurrent.Future<?>> running = new ArrayList<>();

    private Traffic(List<Gateway> gateways, java.util.function.IntFunction<String> pathOf) {
      for (int t = 0; t < 4; t++) {
        Gateway g = gateways.get(t % gateways.size());
        int seed = t;
        running.add(clients.submit(() -> {
          for (int i = seed; !stop.get(); i++) {
            try {
              if (get(g, pathOf.apply(i)).statusCode() != 200) failed.incrementAndGet();
            } catch (Exception e) {
              failed.incrementAndGet();
            }
            sent.incrementAndGet();
          }
          return null;
        }));
      }
    }

    /** Stops the clients and waits for their last requests. */
    void stop() throws Exception {
      stop.set(true);
      for (var f : running) f.get(20, TimeUnit.SECONDS);
      clients.shutdown();
    }

    int sent() { return sent.get(); }
    int failed() { return failed.get(); }
  }

  HttpResponse<String> get(Gateway g, String path) throws Exception {
    return get(g.proxyPort(), path, ALICE);
  }

  HttpResponse<String> post(Gateway g, String path, String json) throws Exception {
    return harness.http().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + g.proxyPort() + path))
        .header("Authorization", ALICE).header("Content-Type", "application/json")
        .timeout(Duration.ofSeconds(10)).POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<String> invalidate(Gateway g, String pattern) throws Exception {
    return harness.http().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + g.managementPort() + "/admin/cache/invalidate?pattern=" + pattern))
        .header("Authorization", "Bearer " + ADMIN).timeout(Duration.ofSeconds(10))
        .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
  }

  HttpClient http() {
    return harness.http();
  }

  static boolean inL1(Gateway g, String path) {
    return GatewayHarness.inL1(g, path, ALICE);
  }

  /** p-th percentile (0..100) of the values, nearest rank. */
  static long percentile(List<Long> values, double p) {
    List<Long> sorted = new ArrayList<>(values);
    sorted.sort(Long::compare);
    int rank = (int) Math.ceil(p / 100.0 * sorted.size());
    return sorted.get(Math.max(0, Math.min(sorted.size() - 1, rank - 1)));
  }

  @Override
  public void close() {
    try {
      redis.close().eventually(vertx::close).await(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    } finally {
      harness.close();
    }
  }
}
