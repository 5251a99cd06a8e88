package io.tollgate;

import io.tollgate.admin.ManagementVerticle;
import io.tollgate.admin.Readiness;
import io.tollgate.concurrency.Bulkhead;
import io.tollgate.concurrency.BulkheadStage;
import io.tollgate.concurrency.WorkerPool;
import io.tollgate.config.TollgateOptions;
import io.tollgate.ratelimit.RateLimitStage;
import io.tollgate.ratelimit.RateLimiter;
import io.tollgate.resilience.Breakers;
import io.tollgate.resilience.ResilienceStage;
import io.tollgate.resilience.RetryBudget;
import io.tollgate.resilience.RetryPolicy;
import io.tollgate.metrics.TollgateMetrics;
import io.tollgate.proxy.Forwarder;
import io.tollgate.proxy.Pipeline;
import io.tollgate.proxy.ProxyVerticle;
import io.tollgate.proxy.Stage;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.ext.web.Router;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MicrometerMetricsOptions;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running Tollgate: its own Vert.x instance (with Micrometer metrics), the management verticle and the
 * proxy verticles. Tests start several in one JVM as if they were separate sidecars.
 */
public final class Gateway {
  private static final Logger LOG = LoggerFactory.getLogger(Gateway.class);

  private final Vertx vertx;
  private final TollgateOptions options;
  private final TollgateMetrics metrics;
  private final Readiness readiness = new Readiness();
  private final List<java.util.function.Supplier<Future<?>>> closeHooks = new java.util.concurrent.CopyOnWriteArrayList<>();
  private RateLimiter rateLimiter;
  private io.vertx.redis.client.Redis rateLimitRedis;
  private RateLimitStage rateLimitStage;
  private Bulkhead bulkhead;
  private WorkerPool workerPool;
  private Breakers breakers;
  private RetryPolicy retryPolicy;
  private RetryBudget retryBudget;
  private int proxyPort;
  private int managementPort;

  private Gateway(Vertx vertx, TollgateOptions options, TollgateMetrics metrics) {
    this.vertx = vertx;
    this.options = options;
    this.metrics = metrics;
  }

  /** Starts a gateway; the returned future fails (and everything started is closed) if any part fails. */
  public static Future<Gateway> start(TollgateOptions options) {
    TollgateMetrics metrics = new TollgateMetrics();
    Vertx vertx = Vertx.builder()
        .with(new VertxOptions().setMetricsOptions(new MicrometerMetricsOptions().setEnabled(true)))
        .withMetrics(new MicrometerMetricsFactory(metrics.registry()))
        .build();
    Gateway gateway = new Gateway(vertx, new TollgateOptions(options), metrics);
    return gateway.deploy().map(v -> gateway)
        .recover(failure -> gateway.close().transform(ignored -> Future.failedFuture(failure)));
  }

  private Future<Void> deploy() {
    trafficControl();
    List<Consumer<Router>> adminRoutes = new ArrayList<>();
    ManagementVerticle management = new ManagementVerticle(options.getManagement(), metrics, readiness, options.toJson(), adminRoutes);
    return vertx.deployVerticle(management)
        .compose(id -> {
          managementPort = management.port();
          ProxyVerticle first = proxyVerticle();
          return vertx.deployVerticle(first).map(deployed -> first.port());
        })
        .compose(port -> {
          proxyPort = port;
          int instances = options.getServer().getInstances() > 0 ? options.getServer().getInstances()
              : VertxOptions.DEFAULT_EVENT_LOOP_POOL_SIZE;
          if (instances <= 1) return Future.succeededFuture();
          // The first instance resolved port 0 to a real port; the others share that listener.
          TollgateOptions samePort = new TollgateOptions(options);
          samePort.getServer().setPort(port);
          return vertx.deployVerticle(() -> new ProxyVerticle(samePort, metrics, this::pipeline),
              new DeploymentOptions().setInstances(instances - 1));
        })
        .map(ignored -> {
          readiness.report("proxy", Readiness.State.UP, null);
          LOG.info("proxy on http://{}:{} -> {}", options.getServer().getHost(), proxyPort, options.getUpstream().getUrl());
          return null;
        });
  }

  private ProxyVerticle proxyVerticle() {
    return new ProxyVerticle(options, metrics, this::pipeline);
  }

  /** The request path of SPEC §2; each capability adds its stage here, in order. */
  private Pipeline pipeline(Forwarder forwarder) {
    List<Stage> stages = new ArrayList<>();
    // Order of SPEC section 2: rate limit (3), bulkhead (4), breaker + retry (5); the learner sits right in
    // front of the upstream so it sees every attempt's 429/503 Retry-After, retries included.
    if (rateLimitStage != null) stages.add(rateLimitStage);
    if (bulkhead != null) stages.add(new BulkheadStage(bulkhead));
    stages.add(new ResilienceStage(vertx, forwarder.origin(), breakers, retryPolicy, retryBudget, metrics.registry()));
    if (rateLimitStage != null) stages.add(rateLimitStage.learner());
    return new Pipeline(stages, forwarder);
  }

  /**
   * Traffic-control parts shared by every proxy verticle of this gateway (thread-safe), built once before
   * the verticles deploy and closed with the gateway.
   */
  private void trafficControl() {
    var rl = options.getRateLimit();
    if (rl.isEnabled()) {
      if (rl.isDistributed() && options.getRedis().getUrl() != null) {
        rateLimitRedis = io.vertx.redis.client.Redis.createClient(vertx,
            new io.vertx.redis.client.RedisOptions().setConnectionString(options.getRedis().getUrl()));
        rateLimiter = RateLimiter.redis(vertx, rateLimitRedis, rl, readiness);
      } else {
        rateLimiter = RateLimiter.local(vertx, rl, System::nanoTime, 1);
        readiness.report("rateLimit", Readiness.State.UP, "local");
      }
      rateLimitStage = new RateLimitStage(vertx, rl, rateLimiter, metrics.registry());
      io.micrometer.core.instrument.Gauge.builder(io.tollgate.metrics.MeterNames.RATELIMIT_FALLBACK, rateLimiter,
          l -> "local-fallback".equals(l.mode()) ? 1 : 0).register(metrics.registry());
    }
    if (options.getBulkhead().isEnabled()) {
      bulkhead = new Bulkhead(vertx, options.getBulkhead(), metrics.registry());
      readiness.report("bulkhead", Readiness.State.UP, null);
    }
    workerPool = new WorkerPool(vertx, "tollgate-worker", options.getBulkhead().getWorkerPoolSize());
    breakers = new Breakers(vertx, options.getBreaker(), metrics.registry(), readiness);
    retryPolicy = new RetryPolicy(options.getRetry(), java.time.Clock.systemUTC());
    retryBudget = new RetryBudget(options.getRetry(), System::nanoTime);
  }

  /** The per-origin circuit breakers. */
  public Breakers breakers() { return breakers; }

  /** The bounded pool for CPU-heavy work (compression, large rewrites). */
  public WorkerPool workerPool() { return workerPool; }

  public int proxyPort() { return proxyPort; }
  public int managementPort() { return managementPort; }
  public Vertx vertx() { return vertx; }
  public TollgateOptions options() { return options; }
  public Readiness readiness() { return readiness; }

  /** Runs {@code hook} after this gateway has closed (the demo closes its simulator this way). */
  public void onClose(java.util.function.Supplier<Future<?>> hook) {
    closeHooks.add(hook);
  }

  private Future<Void> closeTrafficControl() {
    Future<Void> f = Future.succeededFuture();
    if (rateLimiter != null) f = f.eventually(rateLimiter::close);
    if (rateLimitRedis != null) f = f.eventually(rateLimitRedis::close);
    if (breakers != null) f = f.eventually(breakers::close);
    return f.recover(ignored -> Future.succeededFuture());
  }

  /** Drains the proxy (up to server.drainTimeout), then stops everything. */
  public Future<Void> close() {
    readiness.report("proxy", Readiness.State.DOWN, "shutting down");
    Future<Void> closed = vertx.close().eventually(this::closeTrafficControl).onComplete(ar -> metrics.close());
    for (var hook : closeHooks) closed = closed.eventually(hook::get);
    return closed;
  }
}
