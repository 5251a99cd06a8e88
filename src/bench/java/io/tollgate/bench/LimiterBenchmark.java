package io.tollgate.bench;

import io.tollgate.Gateway;
import io.tollgate.metrics.Readiness;
import io.tollgate.config.ConfigLoader;
import io.tollgate.config.RateLimitOptions;
import io.tollgate.config.TollgateOptions;
import io.tollgate.proxy.Charge;
import io.tollgate.ratelimit.RateLimiter;
import io.tollgate.redis.RedisLink;
import io.tollgate.sim.GraphSimulator;
import io.tollgate.sim.SimulatorOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Rate limiter figures, run by {@code src/bench/limiter.sh}.
 *
 * <ul>
 *   <li>{@code local [seconds] [rate] [burst] [loops]}: one local bucket driven hard through the RateLimiter
 *       API ({@code loops} callers, each acquiring again as soon as it is admitted); admissions per second.
 *   <li>{@code redis PORT [seconds] [rate] [burst] [loops] [instances]}: the same bucket shared by
 *       {@code instances} distributed limiters (one Vert.x, Redis client and limiter each) on one Redis.
 *   <li>{@code throttle [R] [limitRate] [limitBurst] [requests] [concurrency]}: a simulator throttling each
 *       caller at R req/s (burst 2R, Retry-After 1 s); a gateway (shipped config, one limit {@code key: app}
 *       replacing the list) in front; the client fires {@code requests} distinct cached-route GETs
 *       {@code /v1.0/users/u1..uN}. Counts the statuses the client gets and the 429s the simulator sent.
 * </ul>
 */
public final class LimiterBenchmark {
  public static void main(String[] args) throws Exception {
    String mode = args.length > 0 ? args[0] : "local";
    switch (mode) {
      case "local" -> local(args);
      case "redis" -> redis(args);
      case "throttle" -> throttle(args);
      default -> throw new IllegalArgumentException("mode: local | redis | throttle");
    }
    System.exit(0);
  }

  private static String arg(String[] a, int i, String def) {
    return a.length > i ? a[i] : def;
  }

  private static RateLimitOptions limiterOptions() {
    return new RateLimitOptions().setMaxWait(Duration.ofSeconds(30)).setMaxWaiters(100_000);
  }

  /** Per-second admission counts, keyed by whole seconds since start. */
  private static final class Tally {
    final long start = System.nanoTime();
    final long end;
    final Map<Long, LongAdder> perSecond = new ConcurrentHashMap<>();
    final LongAdder inWindow = new LongAdder();
    final LongAdder refused = new LongAdder();
    final AtomicLong firstSecond = new AtomicLong();

    Tally(double seconds) {
      end = start + (long) (seconds * 1e9);
    }

    boolean admitted() {
      long now = System.nanoTime();
      if (now > end) return false;
      inWindow.increment();
      perSecond.computeIfAbsent((now - start) / 1_000_000_000L, k -> new LongAdder()).increment();
      return true;
    }

    long after(long second) {
      return perSecond.entrySet().stream().filter(e -> e.getKey() >= second).mapToLong(e -> e.getValue().sum()).sum();
    }
  }

  /** One caller: acquire, count, acquire again, until the window closes. */
  private static void loop(Vertx vertx, RateLimiter limiter, Charge charge, Tally tally, CountDownLatch done) {
    vertx.runOnContext(v -> step(limiter, charge, tally, done));
  }

  private static void step(RateLimiter limiter, Charge charge, Tally tally, CountDownLatch done) {
    limiter.acquire(List.of(charge)).onComplete(ar -> {
      if (ar.failed()) tally.refused.increment();
      if ((ar.succeeded() && tally.admitted()) || (ar.failed() && System.nanoTime() < tally.end)) {
        step(limiter, charge, tally, done);
      } else {
        done.countDown();
      }
    });
  }

  private static void report(String what, Tally tally, double seconds, double rate, int burst) {
    long n = tally.inWindow.sum();
    double ideal = burst + rate * seconds;
    long steady = tally.after(1);
    double steadyRate = steady / (seconds - 1);
    System.out.printf("%-44s | %8.0f | %5d | %8d | %9.0f | %8.3f | %10.1f | %8.3f | %7d%n", what, rate, burst, n, ideal,
        n / ideal, steadyRate, steadyRate / rate, tally.refused.sum());
  }

  private static void header(double seconds) {
    System.out.printf("window %.0f s; ideal = burst + rate x window; steady = admissions in [1 s, end) / (window - 1 s)%n", seconds);
    System.out.printf("%-44s | %8s | %5s | %8s | %9s | %8s | %10s | %8s | %7s%n", "limiter", "rate/s", "burst",
        "admitted", "ideal", "ach/ideal", "steady/s", "st/rate", "refused");
  }

  private static void local(String[] a) throws Exception {
    double seconds = Double.parseDouble(arg(a, 1, "10"));
    double rate = Double.parseDouble(arg(a, 2, "200"));
    int burst = Integer.parseInt(arg(a, 3, "20"));
    int loops = Integer.parseInt(arg(a, 4, "64"));
    Vertx vertx = Vertx.vertx();
    RateLimiter limiter = RateLimiter.local(vertx, limiterOptions(), System::nanoTime, 1);
    Charge charge = new Charge("bench", "global", rate, burst, 1);
    CountDownLatch done = new CountDownLatch(loops);
    Tally tally = new Tally(seconds);
    for (int i = 0; i < loops; i++) loop(vertx, limiter, charge, tally, done);
    done.await((long) seconds + 60, TimeUnit.SECONDS);
    header(seconds);
    report("local, 1 instance, " + loops + " callers", tally, seconds, rate, burst);
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  private static void redis(String[] a) throws Exception {
    int port = Integer.parseInt(arg(a, 1, "6379"));
    double seconds = Double.parseDouble(arg(a, 2, "10"));
    double rate = Double.parseDouble(arg(a, 3, "200"));
    int burst = Integer.parseInt(arg(a, 4, "20"));
    int loops = Integer.parseInt(arg(a, 5, "64"));
    int instances = Integer.parseInt(arg(a, 6, "3"));
    Charge charge = new Charge("bench", "global", rate, burst, 1);
    List<Vertx> vertxes = new ArrayList<>();
    List<RateLimiter> limiters = new ArrayList<>();
    TollgateOptions defaults = new TollgateOptions();
    defaults.getRedis().setUrl("redis://127.0.0.1:" + port);
    RateLimitOptions options = limiterOptions().setDistributed(true).setInstances(instances)
        .setKeyPrefix("tollgate-bench-" + System.nanoTime() + ":");
    for (int i = 0; i < instances; i++) {
      Vertx v = Vertx.vertx();
      Readiness readiness = new Readiness();
      RedisLink link = new RedisLink(defaults.getRedis(), readiness, options.getRedisTimeout(), Duration.ofSeconds(1));
      v.deployVerticle(link).await(10, TimeUnit.SECONDS);
      vertxes.add(v);
      limiters.add(RateLimiter.redis(v, link, options, readiness));
    }
    // One admission each first, so connecting is not in the window; WARM_CONCURRENT=1: then, per instance,
    // as many concurrent admissions as callers on another bucket (opens the Redis pool's connections).
    for (RateLimiter l : limiters) l.acquire(List.of(new Charge("warm", "global", 1e6, 1_000_000, 1))).await(10, TimeUnit.SECONDS);
    boolean warmConcurrent = "1".equals(System.getenv("WARM_CONCURRENT"));
    if (warmConcurrent) {
      for (int round = 0; round < 3; round++) {
        List<Future<?>> warm = new ArrayList<>();
        for (int i = 0; i < instances; i++) {
          RateLimiter l = limiters.get(i);
          for (int k = 0; k < loops; k++) {
            warm.add(Future.succeededFuture().compose(x -> l.acquire(List.of(new Charge("warm", "global", 1e6, 1_000_000, 1))))
                .transform(x -> Future.succeededFuture()));
          }
        }
        Future.join(new ArrayList<>(warm.stream().map(f -> (Future<?>) f).toList())).await(30, TimeUnit.SECONDS);
      }
      for (RateLimiter l : limiters) if (!"redis".equals(l.mode())) Thread.sleep(1500);
      System.out.println("warm-up: 3 rounds of " + loops + " concurrent admissions per instance before the window");
    }
    CountDownLatch done = new CountDownLatch(loops * instances);
    Tally tally = new Tally(seconds);
    Map<String, LongAdder> modes = new TreeMap<>();
    for (int i = 0; i < instances; i++) for (int k = 0; k < loops; k++) loop(vertxes.get(i), limiters.get(i), charge, tally, done);
    long sampleUntil = tally.end;
    while (System.nanoTime() < sampleUntil) {
      for (RateLimiter l : limiters) modes.computeIfAbsent(l.mode(), m -> new LongAdder()).increment();
      Thread.sleep(100);
    }
    done.await((long) seconds + 60, TimeUnit.SECONDS);
    header(seconds);
    report("redis, " + instances + " instances x " + loops + " callers", tally, seconds, rate, burst);
    System.out.println("limiter mode samples (every 100 ms, per instance): " + modes);
    for (int i = 0; i < instances; i++) {
      limiters.get(i).close().await(10, TimeUnit.SECONDS);
      vertxes.get(i).close().await(10, TimeUnit.SECONDS);
    }
  }

  private static void throttle(String[] a) throws Exception {
    double r = Double.parseDouble(arg(a, 1, "50"));
    double limitRate = Double.parseDouble(arg(a, 2, Double.toString(r)));
    int limitBurst = Integer.parseInt(arg(a, 3, Integer.toString((int) (2 * r))));
    int n = Integer.parseInt(arg(a, 4, Integer.toString((int) (10 * r))));
    int concurrency = Integer.parseInt(arg(a, 5, "64"));
    int simBurst = (int) (2 * r);
    Vertx vertx = Vertx.vertx();
    SimulatorOptions simOptions = new SimulatorOptions().setUsers(Math.max(500, n)).setLatency(Duration.ofMillis(10))
        .setThrottleRate(r).setThrottleBurst(simBurst).setRetryAfter(Duration.ofSeconds(1));
    GraphSimulator sim = GraphSimulator.start(vertx, simOptions).await(30, TimeUnit.SECONDS);
    TollgateOptions options = ConfigLoader.load(vertx, "conf/tollgate.yaml", Map.of(), Map.of("port", "0",
        "management-port", "0", "upstream", sim.origin())).await(30, TimeUnit.SECONDS);
    options.getServer().setPort(0);
    options.getRateLimit().setLimits(List.of(new RateLimitOptions.Limit().setName("pace").setKey("app")
        .setRate(limitRate).setBurst(limitBurst).setUseCosts(false)));
    Gateway gateway = Gateway.start(options).await(30, TimeUnit.SECONDS);
    HttpClientAgent client = vertx.httpClientBuilder().with(new HttpClientOptions().setKeepAlive(true))
        .with(new PoolOptions().setHttp1MaxSize(concurrency)).build();
    Map<String, LongAdder> statuses = new TreeMap<>();
    sim.reset();
    long start = System.nanoTime();
    List<Future<Void>> all = new ArrayList<>();
    for (int i = 1; i <= n; i++) {
      RequestOptions req = new RequestOptions().setMethod(HttpMethod.GET).setHost("127.0.0.1").setPort(gateway.proxyPort())
          .setURI("/v1.0/users/u" + i).putHeader("Authorization", "Bearer limiter-bench").setIdleTimeout(120_000);
      all.add(client.request(req).compose(q -> q.send()).compose(resp -> resp.body().map(b -> {
        String key = resp.statusCode() + " " + resp.getHeader("X-Cache");
        synchronized (statuses) {
          statuses.computeIfAbsent(key, k -> new LongAdder()).increment();
        }
        return (Void) null;
      })).recover(e -> {
        synchronized (statuses) {
          statuses.computeIfAbsent("error " + e.getClass().getSimpleName(), k -> new LongAdder()).increment();
        }
        return Future.succeededFuture();
      }));
    }
    // TRACE=1: sample the simulator's arrival count every 2 ms; report the largest excess of arrivals over
    // what a bucket of the simulator's rate and burst, full at the first arrival, allows.
    Thread tracer = null;
    double[] worst = {Double.NEGATIVE_INFINITY, 0};
    if ("1".equals(System.getenv("TRACE"))) {
      tracer = new Thread(() -> {
        long first = -1;
        while (!Thread.currentThread().isInterrupted()) {
          long now = System.nanoTime();
          long arrived = sim.stats().total();
          if (arrived > 0 && first < 0) first = now;
          if (first >= 0) {
            double excess = arrived - (simBurst + r * (now - first) / 1e9);
            if (excess > worst[0]) { worst[0] = excess; worst[1] = (now - first) / 1e9; }
          }
          try { Thread.sleep(2); } catch (InterruptedException e) { return; }
        }
      });
      tracer.setDaemon(true);
      tracer.start();
    }
    Future.join(all).await(5, TimeUnit.MINUTES);
    double secs = (System.nanoTime() - start) / 1e9;
    if (tracer != null) {
      tracer.interrupt();
      System.out.printf("trace: largest excess of upstream arrivals over burst %d + %.0f/s x t: %.1f at t = %.3f s%n", simBurst, r, worst[0], worst[1]);
    }
    long client429 = statuses.entrySet().stream().filter(e -> e.getKey().startsWith("429")).mapToLong(e -> e.getValue().sum()).sum();
    System.out.printf("simulator: %.0f req/s per caller, burst %d, Retry-After 1 s, 10 ms latency; gateway limit key app rate %.1f burst %d (useCosts false)%n",
        r, simBurst, limitRate, limitBurst);
    System.out.printf("%8s | %11s | %13s | %11s | %8s | %13s | %14s | %9s%n", "requests", "concurrency", "429s@client",
        "upstream", "429s@sim", "wall s", "ideal N/R s", "wall/ideal");
    System.out.printf("%8d | %11d | %13d | %11d | %8d | %13.2f | %14.2f | %9.2f%n", n, concurrency, client429,
        sim.stats().total(), sim.stats().throttled(), secs, n / r, secs / (n / r));
    System.out.printf("ideal with the simulator's burst: (N - %d) / R = %.2f s%n", simBurst, (n - simBurst) / r);
    System.out.println("client saw (status X-Cache): " + statuses);
    client.close();
    gateway.close().await(30, TimeUnit.SECONDS);
    vertx.close().await(30, TimeUnit.SECONDS);
  }
}
