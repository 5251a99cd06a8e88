package io.tollgate;

import io.tollgate.config.ConfigException;
import io.tollgate.config.ConfigLoader;
import io.tollgate.config.ConfigProblem;
import io.tollgate.config.ManagementOptions;
import io.tollgate.config.ServerOptions;
import io.tollgate.config.TollgateOptions;
import io.tollgate.config.UpstreamOptions;
import io.tollgate.sim.GraphSimulator;
import io.tollgate.sim.SimulatorOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.io.PrintStream;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Entry point: flags → options → deploy. A configuration with problems prints one line per problem and
 * exits 2 without starting anything; SIGTERM drains in-flight requests and exits 0.
 */
@Command(name = "tollgate", mixinStandardHelpOptions = true, version = "tollgate 0.1.0",
    description = "Sidecar gateway for Graph-style APIs: two-level cache, pacing, bulkhead, breaker.",
    subcommands = {Tollgate.Simulate.class}, sortOptions = false)
public final class Tollgate {
  private static final Logger LOG = LoggerFactory.getLogger(Tollgate.class);
  public static final int EXIT_CONFIG = 2;

  @Option(names = "--config", paramLabel = "FILE", description = "configuration file (env TOLLGATE_CONFIG; default: "
      + ConfigLoader.DEFAULT_FILE + " when present)")
  String config;
  @Option(names = "--port", paramLabel = "N", description = "proxy port (env TOLLGATE_PORT; default: " + ServerOptions.DEFAULT_PORT + ")")
  String port;
  @Option(names = "--upstream", paramLabel = "URL", description = "the upstream API origin (env TOLLGATE_UPSTREAM; default: "
      + UpstreamOptions.DEFAULT_URL + ")")
  String upstream;
  @Option(names = "--redis", paramLabel = "URL", description = "shared Redis for L2 cache, rate budget and invalidation: "
      + "redis://, rediss://, redis-cluster://h:p,h:p or redis-sentinel://h:p,h:p/master (env TOLLGATE_REDIS_URL; default: none, L1 only)")
  String redis;
  @Option(names = "--admin-token", paramLabel = "T", description = "bearer token for /admin on the management port, "
      + "at least 16 characters (env TOLLGATE_ADMIN_TOKEN; default: none, admin closed)")
  String adminToken;
  @Option(names = "--management-port", paramLabel = "N", description = "health, metrics and admin port on 127.0.0.1 "
      + "(env TOLLGATE_MANAGEMENT_PORT; default: " + ManagementOptions.DEFAULT_PORT + ")")
  String managementPort;
  @Option(names = "--demo", description = "start the built-in Graph simulator on a free loopback port and proxy it (default: false)")
  boolean demo;

  private final Map<String, String> env;
  private final PrintStream out;
  private final PrintStream err;
  /** Completed with the running gateway; lets tests and the signal handler reach it. */
  final CompletableFuture<Gateway> running = new CompletableFuture<>();

  Tollgate(Map<String, String> env, PrintStream out, PrintStream err) {
    this.env = env;
    this.out = out;
    this.err = err;
  }

  public static void main(String[] args) throws InterruptedException {
    Tollgate tollgate = new Tollgate(System.getenv(), System.out, System.err);
    // The main thread (never an event loop) waits for the start-up outcome: until the gateway's own Vert.x
    // threads exist, it is what keeps the JVM from exiting between the config loader closing and start-up.
    java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(1);
    int[] code = {1};
    tollgate.run(args).onComplete(ar -> {
      if (ar.failed()) System.err.println("start failed: " + ar.cause().getMessage());
      code[0] = ar.succeeded() ? ar.result() : 1;
      started.countDown();
    });
    started.await();
    if (code[0] != 0 || tollgate.finished) System.exit(code[0]);
  }

  /** True when the command has nothing left running (help, version): main then exits. */
  private volatile boolean finished;

  /**
   * Parses the command line and starts what it asks for.
   *
   * @return 0 once running (or after help), 2 for a bad configuration or command line, 1 when start-up failed
   */
  public Future<Integer> run(String[] args) {
    CommandLine cli = new CommandLine(this);
    cli.setOut(new java.io.PrintWriter(out, true));
    cli.setErr(new java.io.PrintWriter(err, true));
    CommandLine.ParseResult parsed;
    try {
      parsed = cli.parseArgs(args);
    } catch (CommandLine.ParameterException e) {
      err.println("config error: " + e.getMessage());
      e.getCommandLine().usage(err);
      return Future.succeededFuture(EXIT_CONFIG);
    }
    if (CommandLine.printHelpIfRequested(parsed)) {
      finished = true;
      return Future.succeededFuture(0);
    }
    if (parsed.hasSubcommand()) {
      Simulate simulate = (Simulate) parsed.subcommand().commandSpec().userObject();
      if (simulate.issueToken != null) finished = true;
      return simulate.start(out, err);
    }
    return startGateway();
  }

  private Future<Integer> startGateway() {
    Map<String, String> flags = new HashMap<>();
    put(flags, "port", port);
    put(flags, "upstream", upstream);
    put(flags, "redis", redis);
    put(flags, "admin-token", adminToken);
    put(flags, "management-port", managementPort);
    return loadConfig(flags)
        .compose(options -> demo ? startDemo(options) : Gateway.start(options))
        .map(gateway -> {
          running.complete(gateway);
          onTermination(() -> {
            LOG.info("signal received: draining for up to {}", gateway.options().getServer().getDrainTimeout());
            gateway.close().onComplete(ar -> Runtime.getRuntime().halt(0));
          });
          return 0;
        })
        .recover(failure -> {
          if (failure instanceof ConfigException e) {
            for (ConfigProblem p : e.problems()) err.println("config error: " + p);
            return Future.succeededFuture(EXIT_CONFIG);
          }
          err.println("start failed: " + failure.getMessage());
          return Future.succeededFuture(1);
        });
  }

  /**
   * Loads the configuration with a short-lived Vert.x of its own (the gateway's Vert.x needs the metrics
   * registry set at build time). The result is handed over through a context-free promise so the rest of
   * start-up does not run on the loader's closing event loop.
   */
  private Future<TollgateOptions> loadConfig(Map<String, String> flags) {
    Vertx loader = Vertx.vertx();
    io.vertx.core.Promise<TollgateOptions> loaded = io.vertx.core.Promise.promise();
    ConfigLoader.load(loader, config, env, flags).onComplete(ar -> {
      loader.close();
      loaded.handle(ar);
    });
    // Start-up continues on a plain thread: creating the gateway's Vert.x from an event loop is discouraged.
    return offEventLoop(loaded.future());
  }

  /** The simulator gets a Vert.x of its own, closed when the gateway closes. */
  private Future<Gateway> startDemo(TollgateOptions options) {
    Vertx simVertx = Vertx.vertx();
    return offEventLoop(GraphSimulator.start(simVertx, new SimulatorOptions().setLatency(Duration.ofMillis(30))))
        .compose(simulator -> {
          options.getUpstream().setUrl(simulator.origin());
          return Gateway.start(options)
              .onSuccess(gateway -> {
                gateway.onClose(simVertx::close);
                printDemo(gateway, simulator);
              });
        })
        .onFailure(failure -> simVertx.close());
  }

  /** Completes on a plain (non-daemon) thread, so what follows may create a Vert.x instance without being on another's loop. */
  private static <T> Future<T> offEventLoop(Future<T> future) {
    io.vertx.core.Promise<T> plain = io.vertx.core.Promise.promise();
    // A non-daemon thread: between the loader's Vert.x closing and the gateway's starting, it is what keeps
    // the JVM alive.
    future.onComplete(ar -> new Thread(() -> plain.handle(ar), "tollgate-start").start());
    return plain.future();
  }

  private void printDemo(Gateway gateway, GraphSimulator simulator) {
    // With server.tls the proxy speaks only HTTPS: the lines name it, and curl trusts the printed certificate.
    boolean tls = gateway.proxyCertificate() != null;
    String proxy = (tls ? "https" : "http") + "://127.0.0.1:" + gateway.proxyPort();
    String mgmt = "http://127.0.0.1:" + gateway.managementPort();
    String curl = tls ? "curl --cacert '" + gateway.proxyCertificate().certFile().toAbsolutePath() + "' -si" : "curl -si";
    out.println();
    out.println("Tollgate demo: gateway " + proxy + " -> Graph simulator " + simulator.origin());
    out.println("Try it: run the first line twice; the second answer comes from the cache (X-Cache: HIT-L1, Age).");
    out.println("  " + curl + " -H 'Authorization: Bearer alice' " + proxy + "/v1.0/groups/g1/transitiveMembers");
    out.println("  " + curl + " -H 'Authorization: Bearer bob' " + proxy + "/v1.0/groups/g1/transitiveMembers   # other caller: own entry");
    out.println("  " + curl + " -H 'Authorization: Bearer alice' '" + proxy + "/v1.0/users?$top=3'   # no cache rule: passes through");
    out.println("  curl -s " + mgmt + "/health/ready");
    out.println("  curl -s " + mgmt + "/metrics | grep '^tollgate_'");
    out.println("  curl -s " + simulator.origin() + "/_sim/stats    # what reached the upstream");
    out.println("Dashboard: open " + mgmt + "/ in a browser.");
    out.println("Ctrl-C stops both.");
    out.flush();
  }

  private static void put(Map<String, String> flags, String name, String value) {
    if (value != null) flags.put(name, value);
  }

  /** SIGTERM and SIGINT drain and exit 0, as orchestrators expect of a clean shutdown. */
  static void onTermination(Runnable drain) {
    sun.misc.SignalHandler handler = signal -> new Thread(drain, "tollgate-shutdown").start();
    sun.misc.Signal.handle(new sun.misc.Signal("TERM"), handler);
    sun.misc.Signal.handle(new sun.misc.Signal("INT"), handler);
  }

  /** {@code tollgate simulate --port N}: the Graph simulator alone. */
  @Command(name = "simulate", mixinStandardHelpOptions = true,
      description = "Run the built-in Graph simulator (for tests, benchmarks and your own load tests).")
  static final class Simulate {
    @Option(names = "--port", paramLabel = "N", description = "listen port on 127.0.0.1 (default: 9090)")
    int port = 9090;
    @Option(names = "--latency", paramLabel = "D", description = "added latency per call, e.g. 30ms (default: 0ms)")
    String latency = "0ms";
    @Option(names = "--throttle-rate", paramLabel = "R", description = "per-caller requests per second before 429 (default: 0 = never)")
    double throttleRate;
    @Option(names = "--throttle-burst", paramLabel = "B",
        description = "budget capacity in units (default: 0 = 10 s of the rate, as Graph)")
    int throttleBurst;
    @Option(names = "--retry-after", paramLabel = "D",
        description = "fixed Retry-After when throttled (default: 0s = the time to refill the cost, as Graph)")
    String retryAfter = "0s";
    @Option(names = "--flat-cost", description = "every request costs 1 unit instead of Graph's resource units")
    boolean flatCost;
    @Option(names = "--no-usage-headers", description = "send no x-ms-resource-unit / usage headers (learn from 429s only)")
    boolean noUsageHeaders;
    @Option(names = "--no-compression", description = "never gzip answers")
    boolean noCompression;
    @Option(names = "--sharepoint", description = "SharePoint's throttling: 120 s pauses, RateLimit-* usage headers")
    boolean sharepoint;
    @Option(names = "--error-rate", paramLabel = "F", description = "fraction of calls answered 503 (default: 0)")
    double errorRate;
    @Option(names = "--sites", paramLabel = "N", description = "number of sites in the data set (default: 100)")
    int sites = 100;
    @Option(names = "--group-change-rate", paramLabel = "F",
        description = "fraction of the groups changed per hour in the background, seen by /groups/delta (default: 0.01)")
    double groupChangeRate = SimulatorOptions.DEFAULT_GROUP_CHANGE_RATE;
    @Option(names = "--notification-delay", paramLabel = "D",
        description = "delay before a directory change is posted to change-notification subscribers (default: 0s)")
    String notificationDelay = "0s";
    @Option(names = "--drive-item-change-rate", paramLabel = "F",
        description = "fraction of the drive items changed per hour in the background, new ETags (default: 0.05)")
    double driveItemChangeRate = SimulatorOptions.DEFAULT_DRIVE_ITEM_CHANGE_RATE;
    @Option(names = "--client-certificate", paramLabel = "FILE",
        description = "PEM file whose certificate the token endpoint registers: client assertions signed with its key are accepted")
    String clientCertificate;
    @Option(names = "--issue-token", paramLabel = "CLAIMS", description = "print a bearer token the simulator accepts, "
        + "carrying these JSON claims (e.g. '{\"tid\":\"t1\",\"appid\":\"a1\"}'), and exit")
    String issueToken;

    Future<Integer> start(PrintStream out, PrintStream err) {
      if (issueToken != null) {
        try {
          out.println(io.tollgate.sim.Tokens.issue(new io.vertx.core.json.JsonObject(issueToken)));
          out.flush();
          return Future.succeededFuture(0);
        } catch (RuntimeException e) {
          err.println("config error: --issue-token: got '" + issueToken + "', expected a JSON object of claims");
          return Future.succeededFuture(EXIT_CONFIG);
        }
      }
      Duration lat = io.tollgate.config.Units.parseDuration(latency);
      if (lat == null) {
        err.println("config error: --latency: got '" + latency + "', expected a duration such as 30ms");
        return Future.succeededFuture(EXIT_CONFIG);
      }
      Duration pause = io.tollgate.config.Units.parseDuration(retryAfter);
      if (pause == null) {
        err.println("config error: --retry-after: got '" + retryAfter + "', expected a duration such as 120s");
        return Future.succeededFuture(EXIT_CONFIG);
      }
      SimulatorOptions o = new SimulatorOptions().setPort(port).setLatency(lat).setThrottleRate(throttleRate)
          .setThrottleBurst(throttleBurst).setRetryAfter(pause).setResourceUnits(!flatCost)
          .setUsageHeaders(!noUsageHeaders).setCompression(!noCompression).setSharepoint(sharepoint)
          .setErrorRate(errorRate).setSites(sites).setGroupChangeRate(groupChangeRate)
          .setDriveItemChangeRate(driveItemChangeRate);
      Duration delivery = io.tollgate.config.Units.parseDuration(notificationDelay);
      if (delivery == null) {
        err.println("config error: --notification-delay: got '" + notificationDelay + "', expected a duration such as 30s");
        return Future.succeededFuture(EXIT_CONFIG);
      }
      o.setNotificationDelay(delivery);
      if (clientCertificate != null) {
        try {
          o.setClientCertificate(java.nio.file.Files.readString(java.nio.file.Path.of(clientCertificate), java.nio.charset.StandardCharsets.US_ASCII));
        } catch (java.io.IOException | RuntimeException e) {
          err.println("config error: --client-certificate: got '" + clientCertificate + "', expected a readable PEM file with a certificate");
          return Future.succeededFuture(EXIT_CONFIG);
        }
      }
      List<String> problems = o.validate();
      if (!problems.isEmpty()) {
        err.println("config error: " + problems.get(0));
        return Future.succeededFuture(EXIT_CONFIG);
      }
      Vertx vertx = Vertx.vertx();
      return GraphSimulator.start(vertx, o)
          .map(sim -> {
            out.println("Graph simulator on " + sim.origin() + " (stats: " + sim.origin() + "/_sim/stats)");
            out.flush();
            onTermination(() -> vertx.close().onComplete(ar -> Runtime.getRuntime().halt(0)));
            return 0;
          })
          .recover(failure -> {
            err.println("simulator failed to start: " + failure.getMessage());
            return vertx.close().transform(ignored -> Future.succeededFuture(1));
          });
    }
  }
}
