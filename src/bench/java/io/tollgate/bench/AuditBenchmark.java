package io.tollgate.bench;

import io.tollgate.Gateway;
import io.tollgate.config.ConfigLoader;
import io.tollgate.config.TollgateOptions;
import io.tollgate.sim.GraphSimulator;
import io.tollgate.sim.SimulatorOptions;
import io.tollgate.sim.Workload;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The audit-workload benchmark (issue 5): one permission audit straight at a throttling, slow Graph
 * simulator with the naive client (wait Retry-After, retry), then the same audit twice through Tollgate.
 * Run with {@code src/bench/audit.sh [sites] [workers]}; it prints one row per pass and the ratios.
 *
 * <p>Simulator: 30 ms latency, Graph's budget model at {@code FACTOR} x the profile's SharePoint estimate
 * (or {@code RATE} RU/s); groups shared across sites (3 grants per site over sites/4 groups).
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
    Vertx vertx = Vertx.vertx();
    GraphSimulator sim = GraphSimulator.start(vertx, simOptions).await(30, TimeUnit.SECONDS);

    // DIRECT=off skips the direct pass: against a budget below the estimate the naive client's refused retries,
    // charged like Graph charges them, keep it in debt for a very long time.
    boolean runDirect = !"off".equals(System.getenv("DIRECT"));
    Workload.Result d = new Workload.Result();
    long directCalls = 0;
    double directFloor = Double.NaN;
    if (runDirect) {
      Workload direct = new Workload(vertx, sim.origin(), "Bearer audit-app", workers);
      d = direct.run().await(60, TimeUnit.MINUTES);
      directCalls = sim.stats().total();
      directFloor = floor(sim, capacity, rate, directoryCapacity, directoryRate);
      direct.close();
    }

    sim.reset();
    Vertx loader = Vertx.vertx();
    TollgateOptions options = ConfigLoader.load(loader, config, Map.of(), Map.of("port", "0", "management-port", "0",
        "upstream", sim.origin())).await(30, TimeUnit.SECONDS);
    loader.close();
    options.getServer().setPort(0);
    Gateway gateway = Gateway.start(options).await(30, TimeUnit.SECONDS);
    String via = "http://127.0.0.1:" + gateway.proxyPort();
    Workload through = new Workload(vertx, via, "Bearer audit-app", workers);
    Workload.Result first = through.run().await(60, TimeUnit.MINUTES);
    long firstCalls = sim.stats().total();
    double firstFloor = floor(sim, capacity, rate, directoryCapacity, directoryRate);
    long firstUpstream429 = sim.stats().throttled();
    Workload.Result second = through.run().await(60, TimeUnit.MINUTES);
    long secondCalls = sim.stats().total() - firstCalls;
    through.close();

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
    gateway.close().await(30, TimeUnit.SECONDS);
    vertx.close().await(30, TimeUnit.SECONDS);
    System.exit(0);
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
