package io.tollgate.bench;

import io.tollgate.Gateway;
import io.tollgate.cache.CacheKey;
import io.tollgate.cache.CachedResponse;
import io.tollgate.cache.ResponseCache;
import io.tollgate.config.ConfigLoader;
import io.tollgate.config.PathPattern;
import io.tollgate.config.TollgateOptions;
import io.vertx.core.Context;
import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.time.Clock;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Event-loop time of one write's invalidation with a full L1 (issue 12, item 5).
 *
 * <p>Starts a gateway in-process (shipped options, L1 only, no upstream traffic), fills L1 with ENTRIES
 * entries (groups x0.. with 5 reads each, one caller), then, on one of the gateway's event loops, evicts one
 * group at a time the way a write does ({@code /v1.0|beta/groups/{id}/**} bound to the group):
 * {@code ResponseCache.invalidate}, until its future completes. Measured per invalidation: the CPU time of that
 * event-loop thread from the call to the completion (the call itself, and the callbacks that run on the loop
 * when the work finishes; the loop does nothing else meanwhile), the wall time of the call until it
 * returns, and the wall time until the future completes (the whole eviction, on whichever thread it runs). The evicted entries are put back between invalidations, outside the measurement, so L1 stays full.
 *
 * <p>Run: {@code src/bench/invalidation.sh [jar...]} (default {@code target/tollgate.jar}); env ENTRIES (150000),
 * WARMUP (200), RUNS (1000).
 */
public final class InvalidationBenchmark {
  private static final String[] RELATIONS = {"", "/members", "/transitiveMembers", "/owners", "/members/$ref"};
  private static final String CALLER = "Bearer bench";

  private InvalidationBenchmark() {}

  public static void main(String[] args) throws Exception {
    int entries = Integer.parseInt(System.getenv().getOrDefault("ENTRIES", "150000"));
    int warmup = Integer.parseInt(System.getenv().getOrDefault("WARMUP", "200"));
    int runs = Integer.parseInt(System.getenv().getOrDefault("RUNS", "1000"));
    io.vertx.core.Vertx loader = io.vertx.core.Vertx.vertx();
    TollgateOptions o = ConfigLoader.load(loader, null, Map.of(), Map.of()).await(20, TimeUnit.SECONDS);
    loader.close().await(10, TimeUnit.SECONDS);
    o.getServer().setPort(0).setInstances(1);
    o.getManagement().setPort(0);
    o.getUpstream().setUrl("http://127.0.0.1:9");
    o.getCache().setL1MaxWeight(2L << 30);
    Gateway gateway = Gateway.start(o, Clock.systemUTC()).await(30, TimeUnit.SECONDS);
    try {
      ResponseCache cache = gateway.cache();
      MultiMap headers = MultiMap.caseInsensitiveMultiMap().add("Content-Type", "application/json");
      CachedResponse entry = new CachedResponse(200, headers, Buffer.buffer("{\"id\":\"x\"}"), System.currentTimeMillis(),
          3_600_000, 0, 0);
      int groups = entries / RELATIONS.length;
      for (int g = 0; g < groups; g++) fill(cache, g, entry);
      cache.l1().cleanUp();
      PathPattern template = PathPattern.compile("/v1.0|beta/groups/{id}/**");
      Context loop = gateway.vertx().getOrCreateContext();
      ThreadMXBean threads = ManagementFactory.getThreadMXBean();
      long[] cpu = new long[runs];
      long[] call = new long[runs];
      long[] total = new long[runs];
      long evicted = 0;
      for (int i = 0; i < warmup + runs; i++) {
        int group = (int) ((i * 7919L) % groups);
        PathPattern write = template.bind(Map.of("id", "x" + group));
        CompletableFuture<long[]> done = new CompletableFuture<>();
        loop.runOnContext(v -> {
          long cpu0 = threads.getCurrentThreadCpuTime();
          long wall0 = System.nanoTime();
          var result = cache.invalidate(write);
          long returned = System.nanoTime() - wall0;
          result.onComplete(ar -> done.complete(new long[] {threads.getCurrentThreadCpuTime() - cpu0, returned,
              ar.succeeded() ? ar.result() : -1, System.nanoTime() - wall0}));
        });
        long[] m = done.get(60, TimeUnit.SECONDS);
        if (i >= warmup) {
          cpu[i - warmup] = m[0];
          call[i - warmup] = m[1];
          total[i - warmup] = m[3];
          evicted += m[2];
        }
        fill(cache, group, entry);
      }
      cache.l1().cleanUp();
      System.out.printf("L1 entries %d (after the runs: %d); %d invalidations after %d warm-up, %.1f entries evicted each%n",
          groups * RELATIONS.length, cache.l1().size(), runs, warmup, (double) evicted / runs);
      System.out.printf("event-loop CPU per invalidation, call to completion: median %s, p90 %s, p99 %s, max %s%n",
          ms(cpu, 50), ms(cpu, 90), ms(cpu, 99), ms(cpu, 100));
      System.out.printf("wall time of the call on the event loop until it returns: median %s, p99 %s%n",
          ms(call, 50), ms(call, 99));
      System.out.printf("wall time from the call to the completion (the eviction, wherever it runs): median %s, p99 %s%n",
          ms(total, 50), ms(total, 99));
    } finally {
      gateway.close().await(30, TimeUnit.SECONDS);
    }
  }

  private static void fill(ResponseCache cache, int group, CachedResponse entry) {
    MultiMap h = MultiMap.caseInsensitiveMultiMap().add("Authorization", CALLER);
    for (String relation : RELATIONS) {
      cache.l1().put(CacheKey.of("GET", "/v1.0/groups/x" + group + relation, null, h, List.of(), "bench"), entry);
    }
  }

  private static String ms(long[] nanos, double percentile) {
    long[] sorted = nanos.clone();
    Arrays.sort(sorted);
    int rank = (int) Math.ceil(percentile / 100.0 * sorted.length);
    long v = sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    return String.format("%.3f ms", v / 1e6);
  }
}
