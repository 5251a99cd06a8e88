package io.tollgate.bench;

import io.tollgate.sim.GraphSimulator;
import io.tollgate.sim.SimulatorOptions;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * Issue 10's stale-while-throttled run. Phase "sim" runs the simulator: 200 units then next to no refill, and
 * every throttle says Retry-After 30 s. Phase "load": fills 100 users (TTL 3 s in the gateway's config) and
 * 100 groups (TTL 1 h), lets the users expire, spends the budget with one more user read (429: the gateway
 * pauses the identity budget for 30 s), then for {@code seconds} reads expired users (served STALE) and fresh
 * groups (HIT-L1) alternately from {@code clients} loops, and prints both p50/p99 and the upstream user reads
 * made meanwhile (probes) per 30 s window.
 */
public final class StaleThrottledBenchmark {
  public static void main(String[] args) throws Exception {
    String phase = args[0];
    int simPort = Integer.parseInt(args[1]);
    Vertx vertx = Vertx.vertx();
    if (phase.equals("sim")) {
      GraphSimulator.start(vertx, new SimulatorOptions().setPort(simPort).setThrottleRate(0.001).setThrottleBurst(201)
          .setRetryAfter(Duration.ofSeconds(30)).setUsers(200).setGroups(150)).await(60, TimeUnit.SECONDS);
      System.out.println("simulator ready");
      Thread.currentThread().join();
      return;
    }
    String gateway = args[2];
    int seconds = Integer.parseInt(args[3]);
    int clients = Integer.parseInt(args[4]);
    String token = "Bearer stale-bench";
    HttpClient http = vertx.createHttpClient(new HttpClientOptions().setKeepAlive(true), new PoolOptions().setHttp1MaxSize(clients * 2));
    for (int i = 1; i <= 100; i++) {
      get(http, gateway + "/v1.0/users/u" + i, token).await(10, TimeUnit.SECONDS);
      get(http, gateway + "/v1.0/groups/g" + i, token).await(10, TimeUnit.SECONDS);
    }
    long filled = System.nanoTime();
    while (System.nanoTime() - filled < TimeUnit.MILLISECONDS.toNanos(3500)) Thread.sleep(100);
    String sim = "http://127.0.0.1:" + simPort;
    Result trigger = get(http, gateway + "/v1.0/users/u150", token).await(10, TimeUnit.SECONDS);
    long before = userReads(http, sim);
    System.out.printf("trigger: %d (the 201st unit: the budget is spent; Retry-After 30 s)%n", trigger.status);

    ConcurrentHashMap<String, LongAdder> xcache = new ConcurrentHashMap<>();
    long[][] stale = new long[clients][];
    long[][] fresh = new long[clients][];
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    List<Future<Void>> loops = new ArrayList<>();
    for (int c = 0; c < clients; c++) {
      int me = c;
      Promise<Void> done = Promise.promise();
      loops.add(done.future());
      List<Long> s = new ArrayList<>();
      List<Long> f = new ArrayList<>();
      vertx.runOnContext(v -> loop(http, gateway, token, me, 0, end, s, f, xcache, done));
      done.future().onSuccess(v -> {
        stale[me] = s.stream().mapToLong(Long::longValue).toArray();
        fresh[me] = f.stream().mapToLong(Long::longValue).toArray();
      });
    }
    // When the upstream reads happen, to tell the first discovery (before any pause) from probes of a pause.
    List<String> readTimes = new java.util.concurrent.CopyOnWriteArrayList<>();
    long began = System.nanoTime();
    long[] seen = {before};
    long sampler = vertx.setPeriodic(250, id -> http.request(new RequestOptions().setAbsoluteURI(sim + "/_sim/stats"))
        .compose(r -> r.send().compose(resp -> resp.body())).onSuccess(b -> {
          long n = 0;
          JsonObject byPath = b.toJsonObject().getJsonObject("byPath");
          for (String k : byPath.fieldNames()) if (k.startsWith("GET /v1.0/users/")) n += byPath.getLong(k);
          if (n > seen[0]) {
            readTimes.add(String.format("%.2fs:+%d", (System.nanoTime() - began) / 1e9, n - seen[0]));
            seen[0] = n;
          }
        }));
    Future.all(loops).await(seconds + 60L, TimeUnit.SECONDS);
    vertx.cancelTimer(sampler);
    long probes = userReads(http, sim) - before;
    System.out.println("upstream user reads at (s since the load began, sampled every 250 ms): " + readTimes);
    long[] s = Arrays.stream(stale).flatMapToLong(Arrays::stream).sorted().toArray();
    long[] f = Arrays.stream(fresh).flatMapToLong(Arrays::stream).sorted().toArray();
    System.out.printf("X-Cache: %s%n", xcache);
    System.out.printf("stale (expired users, budget paused): n=%d p50=%.2f ms p99=%.2f ms%n", s.length, pct(s, 50), pct(s, 99));
    System.out.printf("L1 hit (fresh groups):                 n=%d p50=%.2f ms p99=%.2f ms%n", f.length, pct(f, 50), pct(f, 99));
    System.out.printf("stale p99 - L1 p99 = %.2f ms (target <= 1 ms)%n", pct(s, 99) - pct(f, 99));
    System.out.printf("upstream user reads during %d s (probes): %d, windows of 30 s: %d (target <= 1 per window)%n",
        seconds, probes, (seconds + 29) / 30);
    vertx.close().await(10, TimeUnit.SECONDS);
    System.exit(0);
  }

  record Result(int status, String xcache) {}

  private static void loop(HttpClient http, String gateway, String token, int client, int i, long end, List<Long> stale,
      List<Long> fresh, ConcurrentHashMap<String, LongAdder> xcache, Promise<Void> done) {
    if (System.nanoTime() >= end) {
      done.complete();
      return;
    }
    boolean user = i % 2 == 0;
    int n = 1 + (client * 37 + i) % 100;
    String path = user ? "/v1.0/users/u" + n : "/v1.0/groups/g" + n;
    long start = System.nanoTime();
    get(http, gateway + path, token).onComplete(ar -> {
      long micros = (System.nanoTime() - start) / 1000;
      if (ar.succeeded()) {
        (user ? stale : fresh).add(micros);
        xcache.computeIfAbsent((user ? "users " : "groups ") + ar.result().status + " " + ar.result().xcache, k -> new LongAdder()).increment();
      }
      loop(http, gateway, token, client, i + 1, end, stale, fresh, xcache, done);
    });
  }

  private static Future<Result> get(HttpClient http, String url, String token) {
    return http.request(new RequestOptions().setAbsoluteURI(url).putHeader("Authorization", token))
        .compose(r -> r.send().compose(resp -> resp.body().map(b -> new Result(resp.statusCode(), resp.getHeader("X-Cache")))));
  }

  private static long userReads(HttpClient http, String sim) throws Exception {
    JsonObject stats = http.request(new RequestOptions().setAbsoluteURI(sim + "/_sim/stats"))
        .compose(r -> r.send().compose(resp -> resp.body())).await(10, TimeUnit.SECONDS).toJsonObject();
    long n = 0;
    JsonObject byPath = stats.getJsonObject("byPath");
    for (String k : byPath.fieldNames()) if (k.startsWith("GET /v1.0/users/")) n += byPath.getLong(k);
    return n;
  }

  private static double pct(long[] sorted, int p) {
    if (sorted.length == 0) return Double.NaN;
    return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p / 100.0 * sorted.length) - 1)] / 1000.0;
  }
}
