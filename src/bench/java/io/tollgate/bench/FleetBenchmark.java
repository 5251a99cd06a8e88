package io.tollgate.bench;

import io.tollgate.Gateway;
import io.tollgate.config.ConfigLoader;
import io.tollgate.config.TollgateOptions;
import io.tollgate.config.Units;
import io.tollgate.sim.GraphSimulator;
import io.tollgate.sim.SimulatorOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * Fleet-wide single flight (issue 14, item 5): how long after the leader's clients the followers on the other
 * instances get their answer, and how many upstream calls a burst of cold misses makes.
 *
 * <p>Starts the Graph simulator (LATENCY per call) and three gateways in this JVM (each its own Vert.x, shipped
 * options, rate limiter off so only the cache is measured) on one Redis (REDIS_URL, a fresh key prefix), with
 * {@code cache.fleetCoalesceWait} = FLEET_WAIT ({@code 0s}: per-instance coalescing, for comparison). Then, per
 * round, 64 concurrent GETs of one cold key ({@code /v1.0/users/u<n>}, one caller), spread round robin over the
 * three gateways from warm keep-alive connections. Per round: the leader is the gateway whose client was answered
 * first; "behind" is the last answer of the other gateways minus the leader's first answer, in ms (for scale, the
 * spread of the leader gateway's own clients, who share one answer, is reported too); and the
 * simulator counts the upstream calls for that key. WARMUP rounds are run first and not reported.
 *
 * <p>Run: {@code src/bench/fleet.sh} (starts redis-server, compiles this against target/tollgate.jar); env ROUNDS
 * (200), WARMUP (30), LATENCY (100ms), FLEET_WAIT (3s).
 */
public final class FleetBenchmark {
  private static final int CLIENTS = 64;
  private static final int GATEWAYS = 3;
  private static final String CALLER = "Bearer fleet-bench";

  private FleetBenchmark() {}

  public static void main(String[] args) throws Exception {
    String redisUrl = args[0];
    int rounds = Integer.parseInt(args[1]);
    int warmup = Integer.parseInt(args[2]);
    Duration latency = Units.parseDuration(args[3]);
    Duration fleetWait = Units.parseDuration(args[4]);
    Vertx simVertx = Vertx.vertx();
    GraphSimulator sim = GraphSimulator.start(simVertx, new SimulatorOptions().setLatency(latency)).await(20, TimeUnit.SECONDS);
    Vertx loader = Vertx.vertx();
    TollgateOptions shipped = ConfigLoader.load(loader, null, Map.of(), Map.of()).await(20, TimeUnit.SECONDS);
    loader.close().await(10, TimeUnit.SECONDS);
    String prefix = "fb" + UUID.randomUUID().toString().substring(0, 8) + ":";
    List<Gateway> gateways = new ArrayList<>();
    for (int i = 0; i < GATEWAYS; i++) {
      TollgateOptions o = new TollgateOptions(shipped);
      o.getServer().setPort(0).setInstances(2);
      o.getManagement().setPort(0);
      o.getUpstream().setUrl(sim.origin());
      o.getRedis().setUrl(redisUrl);
      o.getCache().setKeyPrefix(prefix).setFleetCoalesceWait(fleetWait);
      o.getRateLimit().setEnabled(false);
      gateways.add(Gateway.start(o, Clock.systemUTC()).await(30, TimeUnit.SECONDS));
    }
    Vertx client = Vertx.vertx();
    List<HttpClient> http = new ArrayList<>();
    for (Gateway g : gateways) {
      http.add(client.createHttpClient(new HttpClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(g.proxyPort()).setKeepAlive(true),
          new PoolOptions().setHttp1MaxSize(CLIENTS)));
    }
    // Warm connections and code paths on an uncached route.
    for (int i = 0; i < 20; i++) round(http, "/v1.0/users?$top=1");

    double[] behind = new double[rounds];
    double[] ownSpread = new double[rounds];
    double[] firstOther = new double[rounds];
    long[] calls = new long[rounds];
    int user = 1;
    for (int r = -warmup; r < rounds; r++, user++) {
      String path = "/v1.0/users/u" + (1 + (user - 1) % 500);
      long before = sim.stats().count("GET " + path);
      long[][] done = round(http, path);
      long leaderFirst = Long.MAX_VALUE;
      int leader = -1;
      for (int g = 0; g < GATEWAYS; g++) {
        for (long t : done[g]) if (t < leaderFirst) {
          leaderFirst = t;
          leader = g;
        }
      }
      long lastOther = leaderFirst;
      long firstOtherAt = Long.MAX_VALUE;
      for (int g = 0; g < GATEWAYS; g++) if (g != leader) for (long t : done[g]) firstOtherAt = Math.min(firstOtherAt, t);
      long leaderLast = leaderFirst;
      for (long t : done[leader]) leaderLast = Math.max(leaderLast, t);
      for (int g = 0; g < GATEWAYS; g++) if (g != leader) for (long t : done[g]) lastOther = Math.max(lastOther, t);
      if (r >= 0) {
        behind[r] = (lastOther - leaderFirst) / 1e6;
        ownSpread[r] = (leaderLast - leaderFirst) / 1e6;
        firstOther[r] = (firstOtherAt - leaderFirst) / 1e6;
        calls[r] = sim.stats().count("GET " + path) - before;
      }
      Thread.sleep(20);
      if (user == 500) throw new IllegalStateException("at most " + (500 - warmup) + " rounds: one cold user per round");
    }
    double[] sorted = behind.clone();
    Arrays.sort(sorted);
    double[] own = ownSpread.clone();
    Arrays.sort(own);
    long total = Arrays.stream(calls).sum();
    long rounds1 = Arrays.stream(calls).filter(c -> c == 1).count();
    System.out.printf("fleetCoalesceWait=%s latency=%s rounds=%d (after %d warm-up) x %d concurrent cold GETs over %d gateways%n",
        Units.formatDuration(fleetWait), Units.formatDuration(latency), rounds, warmup, CLIENTS, GATEWAYS);
    System.out.printf("upstream calls: %d in %d rounds (%.2f per round; %d rounds with exactly 1, max %d)%n", total, rounds,
        (double) total / rounds, rounds1, Arrays.stream(calls).max().orElse(0));
    System.out.printf("followers behind the leader's first answer, ms: median %.1f  p90 %.1f  p99 %.1f  max %.1f  (within 5 ms: %d of %d rounds)%n",
        pct(sorted, 50), pct(sorted, 90), pct(sorted, 99), sorted[sorted.length - 1],
        Arrays.stream(sorted).filter(b -> b <= 5.0).count(), rounds);
    System.out.printf("for scale, the leader's own clients (one gateway, one answer) spread over, ms: median %.1f  p90 %.1f  p99 %.1f  max %.1f  (within 5 ms: %d of %d rounds)%n",
        pct(own, 50), pct(own, 90), pct(own, 99), own[own.length - 1], Arrays.stream(own).filter(b -> b <= 5.0).count(), rounds);
    double[] first = firstOther.clone();
    Arrays.sort(first);
    System.out.printf("the other gateways' first answer behind the leader's first (the hand-over alone), ms: median %.1f  p90 %.1f  p99 %.1f  max %.1f%n",
        pct(first, 50), pct(first, 90), pct(first, 99), first[first.length - 1]);
    for (Gateway g : gateways) g.close().await(30, TimeUnit.SECONDS);
    client.close().await(10, TimeUnit.SECONDS);
    simVertx.close().await(10, TimeUnit.SECONDS);
  }

  /** CLIENTS concurrent GETs of path, round robin over the gateways; per gateway, the nanoTime of each answer. */
  private static long[][] round(List<HttpClient> http, String path) throws Exception {
    List<List<Long>> times = new ArrayList<>();
    for (int g = 0; g < GATEWAYS; g++) times.add(java.util.Collections.synchronizedList(new ArrayList<>()));
    List<Future<?>> all = new ArrayList<>();
    for (int i = 0; i < CLIENTS; i++) {
      int g = i % GATEWAYS;
      all.add(http.get(g).request(new RequestOptions().setMethod(HttpMethod.GET).setURI(path).addHeader("Authorization", CALLER))
          .compose(req -> req.send().compose(resp -> {
            if (resp.statusCode() != 200) return Future.failedFuture("status " + resp.statusCode() + " for " + path);
            return resp.body();
          }))
          .onSuccess(body -> times.get(g).add(System.nanoTime())));
    }
    Future.all(all).await(60, TimeUnit.SECONDS);
    long[][] out = new long[GATEWAYS][];
    for (int g = 0; g < GATEWAYS; g++) out[g] = times.get(g).stream().mapToLong(Long::longValue).toArray();
    return out;
  }

  private static double pct(double[] sorted, int p) {
    return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p / 100.0 * sorted.length) - 1)];
  }
}
