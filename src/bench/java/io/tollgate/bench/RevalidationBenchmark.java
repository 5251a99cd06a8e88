package io.tollgate.bench;

import io.tollgate.Gateway;
import io.tollgate.cache.CacheStats;
import io.tollgate.config.CacheOptions;
import io.tollgate.config.ConfigLoader;
import io.tollgate.config.TollgateOptions;
import io.tollgate.sim.GraphSimulator;
import io.tollgate.sim.SimulatorOptions;
import io.tollgate.sim.SimulatorStats;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * The ETag-revalidation benchmark (issue 13, third "Done when" line): a drive-permissions audit (every drive item's
 * {@code /permissions}, 2,000 with 100 sites) read through Tollgate, time past the route TTL, a share of the drive
 * items changed behind the gateway's back (the simulator's out-of-band route), the audit read again. It prints
 * what share of the revalidations ended in 304, whether every changed item was read again whole (a new ETag, a
 * 200 from the upstream), and the body bytes the upstream sent in each pass; it exits 1 when a target is missed
 * (≥ 90 % 304s, every changed item re-read, ≥ 85 % fewer bytes).
 * Run with {@code src/bench/revalidation.sh [sites=100] [fraction=0.05] [ttl=5s] [workers=32]}.
 *
 * <p>Gateway: the shipped configuration, the {@code drive-items} rule's TTL cut to {@code ttl} (so the bench waits
 * seconds, not 30 minutes) and its staleWhileRevalidate to 0 (every second-pass read revalidates in line, none is
 * answered STALE first), rate limiting off (the shipped SharePoint pace, 5 RU per permission read, would make
 * the first pass take minutes and measures nothing here). Simulator: 20 ms latency, no throttling.
 */
public final class RevalidationBenchmark {
  public static void main(String[] args) throws Exception {
    int sites = args.length > 0 ? Integer.parseInt(args[0]) : 100;
    double fraction = args.length > 1 ? Double.parseDouble(args[1]) : 0.05;
    Duration ttl = Duration.ofMillis(args.length > 2 ? parseMillis(args[2]) : 5000);
    int workers = args.length > 3 ? Integer.parseInt(args[3]) : 32;

    Vertx vertx = Vertx.vertx();
    GraphSimulator sim = GraphSimulator.start(vertx, new SimulatorOptions().setSites(sites).setLatency(Duration.ofMillis(20))
        .setDriveItemChangeRate(0))
        .await(30, TimeUnit.SECONDS);
    TollgateOptions options = ConfigLoader.load(vertx, null, Map.of(), Map.of("port", "0", "management-port", "0",
        "upstream", sim.origin())).await(30, TimeUnit.SECONDS);
    options.getServer().setPort(0);
    options.getManagement().setPort(0);
    options.getRateLimit().setEnabled(false);
    List<CacheOptions.Route> routes = new ArrayList<>();
    for (CacheOptions.Route r : options.getCache().getRoutes()) {
      routes.add(!r.name().equals("drive-items") ? r : new CacheOptions.Route(r.name(), r.path(), ttl,
          Duration.ZERO, r.staleIfError(), r.negativeTtl(), r.revalidate(),
          r.revalidateFor()));
    }
    options.getCache().setRoutes(routes);
    Gateway gateway = Gateway.start(options).await(30, TimeUnit.SECONDS);
    String via = "http://127.0.0.1:" + gateway.proxyPort();
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    JsonArray items = new JsonObject(http.send(HttpRequest.newBuilder(URI.create(sim.origin() + "/_sim/drive-items")).build(),
        HttpResponse.BodyHandlers.ofString()).body()).getJsonArray("items");
    List<String> paths = new ArrayList<>();
    for (Object o : items) {
      String[] driveAndItem = ((String) o).split("/");
      paths.add("/v1.0/drives/" + driveAndItem[0] + "/items/" + driveAndItem[1] + "/permissions");
    }
    SimulatorStats s = sim.stats();
    CacheStats cs = gateway.cache().stats();

    long calls0 = s.total();
    long bytes0 = s.bodyBytes();
    Pass first = audit(http, via, paths, workers);
    long calls1 = s.total();
    long bytes1 = s.bodyBytes();

    Thread.sleep(ttl.toMillis() + 1000);
    JsonObject change = new JsonObject(http.send(HttpRequest.newBuilder(URI.create(sim.origin() + "/_sim/drive-items/change?fraction="
        + fraction)).POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString()).body());
    List<String> changed = new ArrayList<>();
    for (Object o : change.getJsonArray("changed")) {
      String[] driveAndItem = ((String) o).split("/");
      changed.add("/v1.0/drives/" + driveAndItem[0] + "/items/" + driveAndItem[1] + "/permissions");
    }

    long notModified1 = s.notModified();
    long revalidated0 = cs.revalidatedNotModified();
    long changed0 = cs.revalidatedChanged();
    long failed0 = cs.revalidationFailed();
    Pass second = audit(http, via, paths, workers);
    long calls2 = s.total();
    long bytes2 = s.bodyBytes();

    long notModified = cs.revalidatedNotModified() - revalidated0;
    long replaced = cs.revalidatedChanged() - changed0;
    long failed = cs.revalidationFailed() - failed0;
    long revalidations = notModified + replaced + failed;
    int reread = 0;
    for (String p : changed) {
      boolean newTag = second.etags.get(p) != null && !second.etags.get(p).equals(first.etags.get(p));
      if (newTag && "MISS".equals(second.xCache.get(p)) && s.count("GET " + p) == 2) reread++;
    }
    double share304 = revalidations == 0 ? 0 : 100.0 * notModified / revalidations;
    double bytesDrop = 100.0 * (1 - (double) (bytes2 - bytes1) / (bytes1 - bytes0));

    System.out.printf("revalidation: %d drive items' permissions (%d sites x 20), %d workers, route TTL %d ms, %.1f %% of items "
        + "changed out of band between the passes, simulator 20 ms latency%n", paths.size(), sites, workers, ttl.toMillis(),
        100 * fraction);
    System.out.printf("%-10s | %8s | %9s | %12s | %10s | %8s | %8s%n", "pass", "requests", "upstream", "body bytes",
        "X-Cache", "errors", "wall ms");
    System.out.printf("%-10s | %8d | %9d | %12d | %10s | %8d | %8d%n", "1st", paths.size(), calls1 - calls0, bytes1 - bytes0,
        first.tally(), first.errors, first.wallMs);
    System.out.printf("%-10s | %8d | %9d | %12d | %10s | %8d | %8d%n", "2nd", paths.size(), calls2 - calls1, bytes2 - bytes1,
        second.tally(), second.errors, second.wallMs);
    System.out.printf("revalidations: %d, ended in 304: %d (%.1f %%, simulator counted %d), changed (200): %d, failed: %d%n",
        revalidations, notModified, share304, s.notModified() - notModified1, replaced, failed);
    System.out.printf("changed items: %d, read again whole (new ETag, MISS, 2nd upstream read): %d%n", changed.size(), reread);
    System.out.printf("upstream body bytes, 2nd pass vs 1st: %d vs %d, %.1f %% fewer%n", bytes2 - bytes1, bytes1 - bytes0, bytesDrop);
    boolean ok = share304 >= 90 && reread == changed.size() && bytesDrop >= 85 && first.errors == 0 && second.errors == 0;
    System.out.println(ok ? "targets met (>= 90 % 304s, every changed item re-read, >= 85 % fewer bytes)" : "TARGET MISSED");
    gateway.close().await(30, TimeUnit.SECONDS);
    vertx.close().await(30, TimeUnit.SECONDS);
    System.exit(ok ? 0 : 1);
  }

  /** One pass: what each path answered (X-Cache, ETag), errors and wall time. */
  static final class Pass {
    final Map<String, String> xCache = new ConcurrentHashMap<>();
    final Map<String, String> etags = new ConcurrentHashMap<>();
    long errors;
    long wallMs;

    String tally() {
      Map<String, Integer> n = new HashMap<>();
      for (String v : xCache.values()) n.merge(v, 1, Integer::sum);
      StringBuilder out = new StringBuilder();
      n.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> out.append(out.length() == 0 ? "" : " ")
          .append(e.getKey()).append('=').append(e.getValue()));
      return out.toString();
    }
  }

  private static Pass audit(HttpClient http, String via, List<String> paths, int workers) throws Exception {
    Pass pass = new Pass();
    Semaphore slots = new Semaphore(workers);
    List<CompletableFuture<Void>> all = new ArrayList<>();
    long[] errors = {0};
    long began = System.nanoTime();
    for (String p : paths) {
      slots.acquire();
      HttpRequest req = HttpRequest.newBuilder(URI.create(via + p)).header("Authorization", "Bearer auditor")
          .header("Accept-Encoding", "gzip").timeout(Duration.ofSeconds(60)).build();
      all.add(http.sendAsync(req, HttpResponse.BodyHandlers.discarding()).handle((r, t) -> {
        slots.release();
        if (t != null || r.statusCode() != 200) {
          synchronized (errors) {
            errors[0]++;
          }
          return null;
        }
        pass.xCache.put(p, r.headers().firstValue("X-Cache").orElse("none"));
        r.headers().firstValue("ETag").ifPresent(tag -> pass.etags.put(p, tag));
        return null;
      }));
    }
    CompletableFuture.allOf(all.toArray(new CompletableFuture[0])).get(10, TimeUnit.MINUTES);
    pass.wallMs = (System.nanoTime() - began) / 1_000_000;
    pass.errors = errors[0];
    return pass;
  }

  private static long parseMillis(String text) {
    String t = text.trim();
    if (t.endsWith("ms")) return Long.parseLong(t.substring(0, t.length() - 2));
    if (t.endsWith("s")) return Long.parseLong(t.substring(0, t.length() - 1)) * 1000;
    return Long.parseLong(t);
  }
}
