package io.tollgate.scale;

import io.tollgate.Gateway;
import io.tollgate.cache.CacheKey;
import io.tollgate.config.CacheOptions;
import io.tollgate.config.TollgateOptions;
import io.tollgate.proxy.CallerIdentity;
import io.tollgate.sim.GraphSimulator;
import io.tollgate.sim.SimulatorOptions;
import io.tollgate.testing.Stack;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
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
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * Several gateways (sidecars) in front of one Graph simulator, sharing one Redis URL and key prefix.
 * Each gateway has its own Vert.x, as separate processes would; {@link #close()} stops them all.
 */
final class Fleet implements AutoCloseable {
  static final String ALICE = "Bearer alice-token";
  static final String ADMIN = "admin-token-0123456789";

  final GraphSimulator sim;
  final List<Gateway> gateways = new ArrayList<>();
  final String redisUrl;
  final String keyPrefix = "s" + UUID.randomUUID().toString().substring(0, 8) + ":";
  private final Vertx simVertx;
  private final Redis redis;
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();

  private Fleet(Vertx simVertx, GraphSimulator sim, String redisUrl) {
    this.simVertx = simVertx;
    this.sim = sim;
    this.redisUrl = redisUrl;
    this.redis = Redis.createClient(simVertx, new RedisConnectionOptions().setUrl(redisUrl).toVertxOptions());
  }

  /**
   * How many paths have an entry in Redis: paths the shared path index {@code prefix{paths}} lists whose
   * entry index {@code prefix{h}:keys} exists (written atomically with the entry), so this counts completed
   * writes.
   */
  long pathsInL2() {
    try {
      Response paths = redis.send(Request.cmd(Command.ZRANGE).arg(keyPrefix + "{paths}").arg(0).arg(-1)).await(5, TimeUnit.SECONDS);
      long n = 0;
      if (paths == null) return 0;
      for (Response p : paths) if (l2Holds(p.toString())) n++;
      return n;
    } catch (Exception e) {
      return -1;
    }
  }

  /** True when Redis holds an entry for {@code path} (any caller). */
  boolean l2Holds(String path) {
    try {
      String index = keyPrefix + "{" + io.tollgate.proxy.Sha256.shortHex(path, 8) + "}:keys";
      Response n = redis.send(Request.cmd(Command.EXISTS).arg(index)).await(5, TimeUnit.SECONDS);
      return n != null && n.toLong() > 0;
    } catch (Exception e) {
      return false;
    }
  }

  /** Starts {@code n} gateways on {@code redisUrl}, each with an admin token and a 1-instance proxy. */
  static Fleet start(int n, String redisUrl, Consumer<TollgateOptions> customize) {
    Vertx simVertx = Vertx.vertx();
    try {
      GraphSimulator sim = GraphSimulator.start(simVertx, new SimulatorOptions()).await(10, TimeUnit.SECONDS);
      Fleet fleet = new Fleet(simVertx, sim, redisUrl);
      for (int i = 0; i < n; i++) fleet.add(customize);
      return fleet;
    } catch (Exception e) {
      simVertx.close();
      throw new IllegalStateException(e);
    }
  }

  Gateway add(Consumer<TollgateOptions> customize) {
    TollgateOptions o = options();
    customize.accept(o);
    try {
      Gateway g = Gateway.start(o).await(20, TimeUnit.SECONDS);
      gateways.add(g);
      return g;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** The options every member of the fleet starts from: same upstream, Redis and key prefix. */
  TollgateOptions options() {
    TollgateOptions o = Stack.options();
    o.getServer().setInstances(1);
    o.getUpstream().setUrl(sim.origin());
    o.getRedis().setUrl(redisUrl);
    o.getCache().setKeyPrefix(keyPrefix);
    // These tests check sharing across sidecars; on a loaded 2-core CI machine a Redis reply can take longer
    // than the 250 ms default, which would (correctly) degrade to L1 and make the sharing checks flaky.
    o.getCache().setL2Timeout(java.time.Duration.ofSeconds(2));
    o.getManagement().setAdminToken(ADMIN);
    return o;
  }

  Gateway gateway(int i) {
    return gateways.get(i);
  }

  HttpResponse<String> get(int port, String path, String auth) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(10));
    if (auth != null) b.header("Authorization", auth);
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
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
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + g.proxyPort() + path))
        .header("Authorization", ALICE).header("Content-Type", "application/json")
        .timeout(Duration.ofSeconds(10)).POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<String> invalidate(Gateway g, String pattern) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + g.managementPort() + "/admin/cache/invalidate?pattern=" + pattern))
        .header("Authorization", "Bearer " + ADMIN).timeout(Duration.ofSeconds(10))
        .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
  }

  HttpClient http() {
    return http;
  }

  static String xCache(HttpResponse<?> r) {
    return r.headers().firstValue("X-Cache").orElse("none");
  }

  /** The cache key the gateway builds for a plain GET of {@code path} by {@code auth}. */
  static CacheKey keyFor(String path, String auth) {
    MultiMap h = MultiMap.caseInsensitiveMultiMap().add("Authorization", auth);
    String partition = new CallerIdentity(List.of("Authorization")).partition(h);
    return CacheKey.of("GET", path, null, h, CacheOptions.DEFAULT_VARY_HEADERS, partition);
  }

  static boolean inL1(Gateway g, String path) {
    return g.cache().l1().get(keyFor(path, ALICE)) != null;
  }

  static void waitFor(BooleanSupplier condition, Duration limit, String what) throws InterruptedException {
    long deadline = System.nanoTime() + limit.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) throw new AssertionError("timed out after " + limit + " waiting until " + what);
      Thread.sleep(20);
    }
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
    List<Future<?>> all = new ArrayList<>();
    for (Gateway g : gateways) all.add(g.close().otherwiseEmpty());
    all.add(redis.close().otherwiseEmpty().eventually(simVertx::close));
    try {
      Future.join(all).await(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
