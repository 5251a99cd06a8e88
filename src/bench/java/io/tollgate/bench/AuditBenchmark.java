package io.tollgate.bench;

import io.tollgate.Gateway;
import io.tollgate.config.ConfigLoader;
import io.tollgate.config.TollgateOptions;
import io.tollgate.sim.GraphSimulator;
import io.tollgate.sim.SimulatorOptions;
import io.tollgate.sim.Tokens;
import io.tollgate.sim.Workload;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * The audit-workload benchmark (issue 5): one permission audit straight at a throttling, slow Graph
 * simulator with the naive client (wait Retry-After, retry), then the same audit twice through Tollgate.
 * Run with {@code src/bench/audit.sh [sites] [workers]}; it prints one row per pass and the ratios.
 *
 * <p>Simulator: 30 ms latency, Graph's budget model at {@code FACTOR} x the profile's SharePoint estimate
 * (or {@code RATE} RU/s); groups shared across sites (3 grants per site over sites/4 groups).
 *
 * <p>Clients: {@code TENANTS} (default 1) audits run side by side in every pass, each as its own tenant (a signed
 * JWT with its own {@code tid}, which the simulator accepts; each tenant has its own hidden budget). After the
 * Tollgate passes the per-tenant economics from {@code /admin/cache/stats} are printed and checked: for every
 * tenant, reads from the cache + reads from the upstream = the logical reads its client made (requests minus the
 * 429/503s it was told to send again), and the refused reads = those 429/503s. A mismatch exits 1.
 */
public final class AuditBenchmark {
  public static void main(String[] args) throws Exception {
    int sites = args.length > 0 ? Integer.parseInt(args[0]) : 200;
    int workers = args.length > 1 ? Integer.parseInt(args[1]) : 16;
    String config = args.length > 2 ? args[2] : "conf/graph-audit.yaml";
    // The upstream's RU budgets, as a multiple of the shipped profile's estimates (SharePoint 40 RU/s, directory
    // 750 RU/s): the gateway is not told them. Graph's model: two budgets per app+tenant, 10 s of the rate held,
    // Retry-After = time to refill, usage headers past 80 %.
    double factor = Double.parseDouble(System.getenv().getOrDefault("FACTOR", "3"));
    double rate = 40 * factor;
    double directoryRate = 750 * factor;
    double capacity = Math.ceil(10 * rate);
    double directoryCapacity = Math.ceil(10 * directoryRate);
    SimulatorOptions simOptions = new SimulatorOptions().setSites(sites).setGroups(Math.max(20, sites / 4))
        .setUsers(Math.max(500, sites * 2)).setGroupsPerSite(3).setLatency(Duration.ofMillis(30))
        .setThrottleRate(directoryRate).setSharepointRate(rate);
    int tenants = Integer.parseInt(System.getenv().getOrDefault("TENANTS", "1"));
    List<String> tids = new ArrayList<>();
    for (int i = 0; i < tenants; i++) tids.add(UUID.nameUUIDFromBytes(("audit-tenant-" + i).getBytes(StandardCharsets.UTF_8)).toString());
    Vertx vertx = Vertx.vertx();
    GraphSimulator sim = GraphSimulator.start(vertx, simOptions).await(30, TimeUnit.SECONDS);

    // DIRECT=off skips the direct pass: against a budget below the estimate the naive client's refused retries,
    // charged like Graph charges them, keep it in debt for a very long time.
    boolean runDirect = !"off".equals(System.getenv("DIRECT"));
    Workload.Result d = new Workload.Result();
    long directCalls = 0;
    double directFloor = Double.NaN;
    if (runDirect) {
      List<Workload> direct = workloads(vertx, sim.origin(), tids, workers);
      d = merged(runAll(direct));
      directCalls = sim.stats().total();
      directFloor = floor(sim, capacity, rate, directoryCapacity, directoryRate);
      direct.forEach(Workload::close);
    }

    sim.reset();
    Vertx loader = Vertx.vertx();
    TollgateOptions options = ConfigLoader.load(loader, config, Map.of(), Map.of("port", "0", "management-port", "0",
        "upstream", sim.origin())).await(30, TimeUnit.SECONDS);
    loader.close();
    options.getServer().setPort(0);
    String admin = "audit-" + UUID.randomUUID();
    options.getManagement().setAdminToken(admin);
    Gateway gateway = Gateway.start(options).await(30, TimeUnit.SECONDS);
    String via = "http://127.0.0.1:" + gateway.proxyPort();
    List<Workload> through = workloads(vertx, via, tids, workers);
    List<Workload.Result> firsts = runAll(through);
    Workload.Result first = merged(firsts);
    long firstCalls = sim.stats().total();
    double firstFloor = floor(sim, capacity, rate, directoryCapacity, directoryRate);
    long firstUpstream429 = sim.stats().throttled();
    List<Workload.Result> seconds = runAll(through);
    Workload.Result second = merged(seconds);
    long secondCalls = sim.stats().total() - firstCalls;
    through.forEach(Workload::close);

    System.out.printf("audit: %d sites, %d workers, simulator budgets SharePoint %.1f RU/s, directory %.0f RU/s (%.2fx "
        + "the profile's estimates, 10 s of each held, hidden), 30 ms latency, config %s%n", sites, workers, rate,
        directoryRate, factor, config);
    System.out.printf("%-22s | %10s | %12s | %10s | %14s | %9s | %8s%n", "pass", "client req", "upstream", "429s@client",
        "group hit rate", "wall ms", "errors");
    row("direct", d, directCalls);
    row("tollgate 1st pass", first, firstCalls);
    row("tollgate 2nd pass", second, secondCalls);
    System.out.printf("principals found: direct %d, tollgate %d / %d%n", d.principals.size(), first.principals.size(), second.principals.size());
    System.out.printf("upstream calls, 2nd pass vs direct: %.1f %% fewer%n", 100.0 * (1 - (double) secondCalls / directCalls));
    System.out.printf("wall time: 1st pass %.2fx direct, 2nd pass %.2fx direct%n",
        (double) first.wallMillis / d.wallMillis, (double) second.wallMillis / d.wallMillis);
    System.out.printf("budget floor, max over the two budgets of (RU charged - capacity) / rate: direct %.1f s (wall %.2fx), tollgate 1st pass %.1f s "
        + "(wall %.2fx, upstream 429s %d)%n", directFloor, d.wallMillis / 1000.0 / directFloor, firstFloor,
        first.wallMillis / 1000.0 / firstFloor, firstUpstream429);
    boolean addsUp = economics(gateway, admin, tids, firsts, seconds);
    gateway.close().await(30, TimeUnit.SECONDS);
    vertx.close().await(30, TimeUnit.SECONDS);
    System.exit(addsUp ? 0 : 1);
  }

  private static List<Workload> workloads(Vertx vertx, String base, List<String> tids, int workers) {
    List<Workload> out = new ArrayList<>();
    for (String tid : tids) {
      String token = Tokens.issue(new JsonObject().put("tid", tid).put("appid", "audit-app").put("oid", "auditor"));
      out.add(new Workload(vertx, base, token, workers));
    }
    return out;
  }

  /** Every client's audit, side by side; their results in the clients' order. */
  private static List<Workload.Result> runAll(List<Workload> clients) throws Exception {
    List<Future<Workload.Result>> runs = new ArrayList<>();
    for (Workload w : clients) runs.add(w.run());
    Future.all(runs).await(60, TimeUnit.MINUTES);
    List<Workload.Result> out = new ArrayList<>();
    for (Future<Workload.Result> f : runs) out.add(f.result());
    return out;
  }

  /** The clients' results as one pass (wall time: the slowest client's). */
  private static Workload.Result merged(List<Workload.Result> results) {
    if (results.size() == 1) return results.get(0);
    Workload.Result m = new Workload.Result();
    for (Workload.Result r : results) {
      m.requests.add(r.requests.sum());
      m.throttled.add(r.throttled.sum());
      m.errors.add(r.errors.sum());
      m.groupExpansions.add(r.groupExpansions.sum());
      m.groupExpansionHits.add(r.groupExpansionHits.sum());
      m.principals.addAll(r.principals);
      m.wallMillis = Math.max(m.wallMillis, r.wallMillis);
    }
    return m;
  }

  /**
   * Prints the per-tenant table of {@code /admin/cache/stats} after both Tollgate passes and checks, for every
   * tenant, cache + upstream reads = the logical reads its client made (requests minus the 429/503s it resent),
   * refused reads = those 429/503s.
   */
  private static boolean economics(Gateway gateway, String admin, List<String> tids, List<Workload.Result> firsts,
      List<Workload.Result> seconds) throws Exception {
    // Each request is booked right after its last byte went out: give the last ones a moment.
    Thread.sleep(1000);
    HttpClient http = HttpClient.newHttpClient();
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.managementPort()
        + "/admin/cache/stats")).header("Authorization", "Bearer " + admin).build(), HttpResponse.BodyHandlers.ofString());
    JsonArray rows = new JsonObject(r.body()).getJsonArray("tenants");
    Map<String, long[]> clients = new LinkedHashMap<>();
    for (int i = 0; i < tids.size(); i++) {
      long requests = firsts.get(i).requests.sum() + seconds.get(i).requests.sum();
      long resent = firsts.get(i).throttled.sum() + seconds.get(i).throttled.sum();
      clients.put(sha8(tids.get(i)), new long[] {requests - resent, resent});
    }
    System.out.println("per-tenant economics (GET /admin/cache/stats, both Tollgate passes):");
    System.out.printf("%-12s | %-11s | %10s | %10s | %8s | %13s | %9s | %9s | %9s | %7s | %8s | %s%n", "tenant", "lane",
        "cache", "upstream", "refused", "client reads", "RU spent", "RU saved", "429s abs.", "retries", "wait s", "adds up");
    boolean all = true;
    Map<String, long[]> booked = new LinkedHashMap<>();
    for (Object o : rows) {
      JsonObject row = (JsonObject) o;
      JsonObject reads = row.getJsonObject("reads");
      long cache = reads.getLong("cache");
      long upstream = reads.getLong("upstream");
      long refused = reads.getLong("refused");
      long[] sum = booked.computeIfAbsent(row.getString("tenant"), k -> new long[2]);
      sum[0] += cache + upstream;
      sum[1] += refused;
      long[] client = clients.get(row.getString("tenant"));
      System.out.printf("%-12s | %-11s | %10d | %10d | %8d | %13s | %9d | %9d | %9d | %7d | %8.1f | %s%n",
          row.getString("tenant"), row.getString("lane"), cache, upstream, refused, client == null ? "-" : client[0],
          row.getJsonObject("ru").getLong("spent"), row.getJsonObject("ru").getLong("saved"), row.getLong("throttlesAbsorbed"),
          row.getLong("retries"), row.getLong("waitMs") / 1000.0, client == null ? "no client" : "");
    }
    for (Map.Entry<String, long[]> c : clients.entrySet()) {
      long[] b = booked.getOrDefault(c.getKey(), new long[2]);
      boolean ok = b[0] == c.getValue()[0] && b[1] == c.getValue()[1];
      all &= ok;
      System.out.printf("tenant %s: cache + upstream = %d, client's logical reads = %d; refused = %d, client resent = %d: %s%n",
          c.getKey(), b[0], c.getValue()[0], b[1], c.getValue()[1], ok ? "adds up" : "MISMATCH");
    }
    System.out.println(all ? "economics: reads add up for every tenant" : "economics: MISMATCH");
    return all;
  }

  private static String sha8(String id) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(id.getBytes(StandardCharsets.UTF_8)), 0, 4);
  }

  /** The budget floor of what was sent since the last reset: the slower of the two budgets. */
  private static double floor(GraphSimulator sim, double capacity, double rate, double directoryCapacity, double directoryRate) {
    long sp = sim.stats().sharepointUnits();
    long dir = sim.stats().units() - sp;
    return Math.max((sp - capacity) / rate, (dir - directoryCapacity) / directoryRate);
  }

  private static void row(String name, Workload.Result r, long upstream) {
    System.out.printf("%-22s | %10d | %12d | %10d | %13.1f%% | %9d | %8d%n", name, r.requests.sum(), upstream,
        r.throttled.sum(), 100 * r.groupHitRate(), r.wallMillis, r.errors.sum());
  }
}
