package io.tollgate.bench;

import io.tollgate.sim.Tokens;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Issue 11's fairness runs, the load side: open-loop senders at fixed rates through one gateway whose only limit
 * is one app budget of {@code rate} requests a second (started by {@code fairness.sh}). Each sender is a class of
 * traffic: a tenant (its own JWT) and a lane ({@code X-Tollgate-Priority}, which the script's config trusts).
 * Prints, per class, what was sent, answered 200 and 429, the 200s per second answered within the measured window,
 * and the p50/p99 latency of the 200s sent in it, from the moment each was sent (the wait for tokens plus a
 * loopback round trip). Each request reads one user ({@code /v1.0/users/u1}, nothing cached), so the gateway's CPU
 * goes to admission, not to large bodies.
 *
 * <p>Arguments: gatewayUrl seconds warmupSeconds class... where a class is {@code name:tenant:lane:perSecond}.
 * Requests sent during the warm-up are not measured. Outstanding requests are capped at 4,000 (what is not sent
 * for the cap is counted as {@code capped}).
 */
public final class FairnessBenchmark {
  static final int MAX_OUTSTANDING = 4000;

  record Cls(String name, String token, String lane, double perSecond, List<Long> latencies, AtomicInteger sent,
      AtomicInteger ok, AtomicInteger refused, AtomicInteger other, AtomicInteger capped, AtomicInteger measuredOk) {}

  public static void main(String[] args) throws Exception {
    String gateway = args[0];
    int seconds = Integer.parseInt(args[1]);
    int warmup = Integer.parseInt(args[2]);
    List<Cls> classes = new ArrayList<>();
    for (int i = 3; i < args.length; i++) {
      String[] p = args[i].split(":");
      String token = Tokens.issue(new JsonObject().put("tid", p[1]).put("appid", "bench-app"));
      classes.add(new Cls(p[0], token, p[2], Double.parseDouble(p[3]), Collections.synchronizedList(new ArrayList<>()),
          new AtomicInteger(), new AtomicInteger(), new AtomicInteger(), new AtomicInteger(), new AtomicInteger(), new AtomicInteger()));
    }
    Vertx vertx = Vertx.vertx();
    java.net.URI uri = java.net.URI.create(gateway);
    HttpClient http = vertx.createHttpClient(new HttpClientOptions().setKeepAlive(true).setDefaultHost(uri.getHost())
        .setDefaultPort(uri.getPort()), new PoolOptions().setHttp1MaxSize(MAX_OUTSTANDING).setMaxWaitQueueSize(-1));
    AtomicInteger outstanding = new AtomicInteger();
    // Verify each tenant's token first: flows are keyed by verified identity.
    for (Cls c : classes) {
      CountDownLatch one = new CountDownLatch(1);
      http.request(new RequestOptions().setMethod(HttpMethod.GET).setURI("/v1.0/users").putHeader("Authorization", c.token()))
          .compose(r -> r.send().compose(res -> res.body())).onComplete(x -> one.countDown());
      one.await(10, TimeUnit.SECONDS);
    }
    Thread.sleep(1500);
    long start = System.nanoTime();
    long measureFrom = start + TimeUnit.SECONDS.toNanos(warmup);
    long end = start + TimeUnit.SECONDS.toNanos(seconds);
    for (Cls c : classes) {
      long periodNanos = (long) (1e9 / c.perSecond());
      long[] next = {start};
      vertx.setPeriodic(1, id -> {
        long now = System.nanoTime();
        if (now >= end) {
          vertx.cancelTimer(id);
          return;
        }
        while (next[0] <= now) {
          next[0] += periodNanos;
          long sentAt = System.nanoTime();
          if (outstanding.get() >= MAX_OUTSTANDING) {
            c.capped().incrementAndGet();
            continue;
          }
          outstanding.incrementAndGet();
          c.sent().incrementAndGet();
          RequestOptions ro = new RequestOptions().setMethod(HttpMethod.GET).setURI("/v1.0/users/u1")
              .putHeader("Authorization", c.token()).setIdleTimeout(60_000);
          if (!c.lane().equals("-")) ro.putHeader("X-Tollgate-Priority", c.lane());
          http.request(ro).compose(r -> r.send().compose(res -> res.body().map(b -> res.statusCode()))).onComplete(ar -> {
            outstanding.decrementAndGet();
            long took = System.nanoTime() - sentAt;
            boolean measured = sentAt >= measureFrom;
            if (ar.succeeded() && ar.result() == 200) {
              c.ok().incrementAndGet();
              if (measured) c.latencies().add(took);
              long done = System.nanoTime();
              if (done >= measureFrom && done <= end) c.measuredOk().incrementAndGet();
            } else if (ar.succeeded() && ar.result() == 429) {
              c.refused().incrementAndGet();
            } else {
              c.other().incrementAndGet();
            }
          });
        }
      });
    }
    Thread.sleep(TimeUnit.NANOSECONDS.toMillis(end - System.nanoTime()) + 12_000);
    double window = seconds - warmup;
    for (Cls c : classes) {
      List<Long> l = new ArrayList<>(c.latencies());
      Collections.sort(l);
      System.out.printf("%-12s offered %6.1f/s sent %6d ok %6d 429 %6d other %4d capped %6d | ok/s %6.1f | p50 %7.1f ms p99 %7.1f ms%n",
          c.name(), c.perSecond(), c.sent().get(), c.ok().get(), c.refused().get(), c.other().get(), c.capped().get(),
          c.measuredOk().get() / window, pct(l, 0.50), pct(l, 0.99));
    }
    vertx.close();
  }

  static double pct(List<Long> sorted, double q) {
    if (sorted.isEmpty()) return Double.NaN;
    return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(q * sorted.size()) - 1)) / 1e6;
  }
}
