package io.tollgate;

import io.tollgate.admin.AdminRoutes;
import io.tollgate.admin.ManagementVerticle;
import io.tollgate.cache.CacheStage;
import io.tollgate.cache.CacheVerticle;
import io.tollgate.cache.Coalescer;
import io.tollgate.metrics.Readiness;
import io.tollgate.concurrency.Bulkhead;
import io.tollgate.concurrency.BulkheadStage;
import io.tollgate.concurrency.WorkerPool;
import io.tollgate.freshness.DeltaVerticle;
import io.tollgate.config.IdentityOptions;
import io.tollgate.freshness.NotificationVerticle;
import io.tollgate.config.TollgateOptions;
import io.tollgate.graph.BatchStage;
import io.tollgate.graph.LinkRewriteStage;
import io.tollgate.graph.LinkRewriter;
import io.tollgate.ratelimit.RateLimitStage;
import io.tollgate.ratelimit.RateLimiter;
import io.tollgate.redis.RedisLink;
import io.tollgate.resilience.Breakers;
import io.tollgate.resilience.ResilienceStage;
import io.tollgate.resilience.RetryBudget;
import io.tollgate.resilience.RetryPolicy;
import io.tollgate.metrics.TenantEconomics;
import io.tollgate.metrics.TollgateMetrics;
import io.tollgate.proxy.Lane;
import io.tollgate.proxy.UpstreamSpend;
import io.tollgate.proxy.CallerIdentity;
import io.tollgate.proxy.CallerVerification;
import io.tollgate.proxy.AccessLog;
import io.tollgate.proxy.ContentEncodingStage;
import io.tollgate.proxy.Forwarder;
import io.tollgate.proxy.Pipeline;
import io.tollgate.proxy.ProxyCertificate;
import io.tollgate.proxy.ProxyVerticle;
import io.tollgate.proxy.RouteTable;
import io.tollgate.proxy.Stage;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.ext.web.Router;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MetricsDomain;
import io.vertx.micrometer.MicrometerMetricsOptions;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running Tollgate: its own Vert.x instance (with Micrometer metrics), the management verticle and the
 * proxy verticles. Tests start several in one JVM as if they were separate sidecars.
 *
 * <p>Design note, the wiring order of {@link #deploy()}: (1) readiness says "starting" until the proxy
 * listens; (2) the {@link RouteTable} is compiled from the cache and rate-limit rules, once; (3) traffic
 * control (limiter, bulkhead, the one {@link WorkerPool}, breakers, retry policy and budget) is built,
 * shared by every proxy verticle and thread-safe; (4) the cache verticle deploys and owns L1/L2; (5) the
 * management port starts (health, metrics, admin); (6) one proxy verticle per event loop deploys, each
 * building its {@link Pipeline} around its own {@link Forwarder} (see {@code Pipeline} for the stage order);
 * (7) readiness turns UP. A failure at any step closes what was started, and the start future fails.
 * This class is the only place that names every package: everything below it imports downwards only.
 */
public final class Gateway {
  private static final Logger LOG = LoggerFactory.getLogger(Gateway.class);

  private final Vertx vertx;
  private final TollgateOptions options;
  private final TollgateMetrics metrics;
  private final TenantEconomics economics;
  private final AccessLog accessLog;
  private final Readiness readiness = new Readiness();
  private final List<java.util.function.Supplier<Future<?>>> closeHooks = new java.util.concurrent.CopyOnWriteArrayList<>();
  private final Clock clock;
  private CacheVerticle cacheVerticle;
  private DeltaVerticle deltaFeeds;
  private NotificationVerticle notifications;
  private Coalescer<CacheStage.Captured> coalescer;
  private RedisLink redis;
  private RateLimiter rateLimiter;
  private RateLimitStage rateLimitStage;
  private Bulkhead bulkhead;
  private WorkerPool workerPool;
  private Breakers breakers;
  private RetryPolicy retryPolicy;
  private RetryBudget retryBudget;
  private RouteTable routes;
  private CallerIdentity identity;
  private CallerVerification verification;
  private int proxyPort;
  private ProxyCertificate proxyCertificate;
  private volatile String proxyDeployment;
  private int managementPort;

  private Gateway(Vertx vertx, TollgateOptions options, TollgateMetrics metrics, Clock clock) {
    this.clock = clock;
    this.vertx = vertx;
    this.options = options;
    this.metrics = metrics;
    this.economics = new TenantEconomics(options.getEconomics(), metrics.registry(),
        java.util.Arrays.stream(Lane.values()).map(Lane::label).toList(), System::nanoTime);
    this.accessLog = AccessLog.open(options.getAccessLog());
  }

  /** Starts a gateway; the returned future fails (and everything started is closed) if any part fails. */
  public static Future<Gateway> start(TollgateOptions options) {
    return start(options, Clock.systemUTC());
  }

  /** @param clock cache time (tests advance a fake clock instead of sleeping) */
  public static Future<Gateway> start(TollgateOptions options, Clock clock) {
    TollgateMetrics metrics = new TollgateMetrics();
    // Native epoll where Netty can load it (fewer copies and syscalls than NIO); NIO elsewhere.
    VertxOptions vertxOptions = new VertxOptions().setPreferNativeTransport(true)
        // Requests are timed by Tollgate's own meters (tollgate.requests, tollgate.responses, tollgate.upstream.requests,
        // made once and kept): Vert.x's HTTP metrics built their tags and looked their meters up on every request,
        // ~4 % of pass-through's CPU for the client side and ~6 % of an L1 hit's for the server side in a profile.
        .setMetricsOptions(new MicrometerMetricsOptions().setEnabled(true)
            .addDisabledMetricsCategory(MetricsDomain.HTTP_CLIENT).addDisabledMetricsCategory(MetricsDomain.HTTP_SERVER));
    var builder = Vertx.builder().withMetrics(new MicrometerMetricsFactory(metrics.registry()));
    // Context-free: futures from this Vert.x belong to its event loops, and after a failed start closes them
    // nobody would deliver the failure.
    io.vertx.core.Promise<Gateway> started = io.vertx.core.Promise.promise();
    Future<Vertx> created = options.getCluster().isEnabled()
        ? Cluster.join(builder, vertxOptions, options.getCluster())
        : Future.succeededFuture(builder.with(vertxOptions).build());
    created.onComplete(made -> {
      if (made.failed()) {
        metrics.close();
        started.fail(made.cause());
        return;
      }
      Gateway gateway = new Gateway(made.result(), new TollgateOptions(options), metrics, clock);
      gateway.deploy().onComplete(ar -> {
        if (ar.succeeded()) started.complete(gateway);
        else gateway.close().onComplete(closed -> started.fail(ar.cause()));
      });
    });
    return started.future();
  }

  private Future<Void> deploy() {
    // Not ready until the proxy listens, whatever other components report first (Redis may answer sooner).
    readiness.report("proxy", Readiness.State.DOWN, "starting");
    routes = RouteTable.compile(options.getCache(), options.getRateLimit());
    // An RFC 9111 shared cache serves requests without credentials from one shared (anonymous) partition.
    IdentityOptions identityOptions = options.getCache().isHttpSemantics()
        ? new IdentityOptions(options.getIdentity()).setCacheAnonymous(true) : options.getIdentity();
    identity = new CallerIdentity(options.getCache().getIdentityHeaders(), identityOptions);
    verification = new CallerVerification(vertx, identity,
        options.getUpstream().getRequestTimeout().toMillis() + options.getUpstream().getConnectTimeout().toMillis());
    List<Consumer<Router>> adminRoutes = new ArrayList<>();
    return prepareTls()
        .compose(ignored -> connectRedis())
        .compose(ignored -> {
          trafficControl();
          if (!options.getCache().isEnabled()) return Future.succeededFuture();
          cacheVerticle = new CacheVerticle(options.getCache(), redis, metrics.registry(), clock, workerPool, economics);
          return vertx.deployVerticle(cacheVerticle).onSuccess(id -> {
            coalescer = new Coalescer<>(vertx, cacheVerticle.cache());
            adminRoutes.add(new AdminRoutes(cacheVerticle.cache()));
          });
        })
        .compose(ignored -> deployDeltaFeeds())
        .compose(ignored -> {
          ManagementVerticle management = new ManagementVerticle(options.getManagement(), metrics, readiness, options.toJson(), adminRoutes);
          return vertx.deployVerticle(management).map(id -> management);
        })
        .compose(management -> {
          managementPort = management.port();
          int instances = options.getServer().getInstances() > 0 ? options.getServer().getInstances()
              : Runtime.getRuntime().availableProcessors();
          // Port 0 would give each instance its own random port; Vert.x shares one random port among
          // servers that ask for the same negative port.
          TollgateOptions proxyOptions = new TollgateOptions(options);
          if (proxyOptions.getServer().getPort() == 0) proxyOptions.getServer().setPort(-1);
          if (proxyCertificate != null) {
            proxyOptions.getServer().getTls().setCertFile(proxyCertificate.certFile().toString())
                .setKeyFile(proxyCertificate.keyFile().toString());
          }
          List<ProxyVerticle> deployed = new java.util.concurrent.CopyOnWriteArrayList<>();
          return vertx.deployVerticle(() -> {
            ProxyVerticle v = new ProxyVerticle(proxyOptions, metrics, economics, accessLog, routes, identity, this::pipeline);
            deployed.add(v);
            return v;
          }, new DeploymentOptions().setInstances(instances)).map(id -> {
            proxyDeployment = id;
            return deployed.get(0).port();
          });
        })
        .map(port -> {
          proxyPort = port;
          return port;
        })
        .map(ignored -> {
          readiness.report("proxy", Readiness.State.UP, null);
          LOG.info("proxy on {}://{}:{} -> {} ({} transport)", proxyCertificate == null ? "http" : "https",
              options.getServer().getHost(), proxyPort, options.getUpstream().getUrl(),
              vertx.isNativeTransportEnabled() ? "native epoll" : "NIO");
          if (proxyCertificate != null) {
            LOG.info("proxy TLS certificate for applications to trust: {} (SHA-256 {}, valid until {})",
                proxyCertificate.certFile().toAbsolutePath(), proxyCertificate.fingerprint(),
                proxyCertificate.certificate().getNotAfter().toInstant());
          }
          return null;
        });
  }

  /**
   * With {@code freshness.delta.enabled}: the delta feeds that evict what changed in the directory, after the
   * cache (they index its stores and evict through it) and before the proxy takes traffic.
   */
  private Future<?> deployDeltaFeeds() {
    var delta = options.getFreshness().getDelta();
    if (!delta.isEnabled() || cacheVerticle == null) return Future.succeededFuture();
    var cacheOptions = options.getCache();
    deltaFeeds = new DeltaVerticle(delta, options.getUpstream().getUrl(), redis, cacheOptions.getKeyPrefix(),
        cacheOptions.getL2Timeout().toMillis(), cacheVerticle.cache(),
        cacheOptions.getRoutes().stream().filter(io.tollgate.config.CacheOptions.Route::deltaFed).toList(), workerPool,
        metrics.registry());
    return vertx.deployVerticle(deltaFeeds).compose(id -> deployNotifications());
  }

  /** With {@code freshness.notifications.enabled} (which needs the delta feeds): the notification listener. */
  private Future<?> deployNotifications() {
    var n = options.getFreshness().getNotifications();
    if (!n.isEnabled() || deltaFeeds == null) return Future.succeededFuture();
    notifications = new NotificationVerticle(n, options.getFreshness().getDelta(), options.getUpstream().getUrl(), redis,
        options.getCache().getKeyPrefix(), options.getCache().getL2Timeout().toMillis(), metrics.registry());
    return vertx.deployVerticle(notifications);
  }

  /** The change-notification listener, or null when {@code freshness.notifications} is off. */
  public NotificationVerticle notifications() { return notifications; }

  /** The delta feeds, or null when {@code freshness.delta} is off. */
  public DeltaVerticle deltaFeeds() { return deltaFeeds; }

  /**
   * With {@code server.tls} on: checks the configured certificate and key, or reuses or generates the self-signed pair,
   * on a worker thread (files, key generation) before anything listens. A bad file fails the start with a
   * {@link io.tollgate.config.ConfigException} (exit 2).
   */
  private Future<?> prepareTls() {
    if (!options.getServer().getTls().isEnabled()) return Future.succeededFuture();
    return vertx.executeBlocking(() -> ProxyCertificate.load(vertx, options.getServer().getTls(), Clock.systemUTC()))
        .onSuccess(certificate -> proxyCertificate = certificate);
  }

  /**
   * The one Redis owner, deployed first (its users need it started) when {@code redis.url} is set and the
   * cache (L2) or the distributed limiter uses it. Vert.x undeploys it last when the gateway closes.
   */
  private Future<?> connectRedis() {
    var rl = options.getRateLimit();
    boolean l2 = options.getCache().isEnabled();
    boolean limiter = rl.isEnabled() && rl.isDistributed();
    if (options.getRedis().getUrl() == null || !(l2 || limiter)) return Future.succeededFuture();
    Duration l2Timeout = l2 ? options.getCache().getL2Timeout() : Duration.ZERO;
    Duration limiterTimeout = limiter ? rl.getRedisTimeout() : Duration.ZERO;
    // While Redis is away the limiter splits the budget by instances: it probes at least every second.
    Duration maxBackoff = limiter ? Duration.ofSeconds(1) : RedisLink.DEFAULT_MAX_BACKOFF;
    redis = new RedisLink(options.getRedis(), readiness,
        l2Timeout.compareTo(limiterTimeout) >= 0 ? l2Timeout : limiterTimeout, maxBackoff);
    return vertx.deployVerticle(redis);
  }

  /** The request path of SPEC §2; each capability adds its stage here, in order. */
  private Pipeline pipeline(Forwarder forwarder) {
    List<Stage> stages = new ArrayList<>();
    long deadline = options.getUpstream().getRequestTimeout().toMillis() + options.getUpstream().getConnectTimeout().toMillis();
    CacheStage cacheStage = null;
    if (cacheVerticle != null) {
      var cacheOptions = options.getCache();
      var lookup = cacheOptions.getHotPath() == io.tollgate.config.CacheOptions.HotPath.EVENT_BUS
          ? CacheVerticle.eventBusLookup(vertx, deadline)
          : (java.util.function.Function<io.tollgate.cache.CacheKey, Future<io.tollgate.cache.ResponseCache.Hit>>) cacheVerticle.cache()::lookup;
      cacheStage = new CacheStage(cacheOptions, cacheVerticle.cache(), lookup, coalescer, deadline, LinkRewriter::mayContainLinks,
          workerPool);
    }
    // Lane, flow and job first, so that the cache counts hits in their lane too (SPEC 2.3).
    if (rateLimitStage != null) stages.add(rateLimitStage.classifier());
    stages.add(new LinkRewriteStage(forwarder.origin(), options.getServer().getPublicUrl(),
        options.getServer().getTrustedProxies(), workerPool));
    // Right inside the link rewriter: what it reads arrives decoded, the rest leaves as coded as the client accepts.
    stages.add(new ContentEncodingStage(workerPool, LinkRewriteStage::readsBody));
    stages.add(verification);
    stages.add(new BatchStage(vertx, cacheStage, routes, workerPool, deadline));
    if (cacheStage != null) stages.add(cacheStage);
    // Order of SPEC section 2: rate limit (3), bulkhead (4), breaker + retry (5); the learner sits right in
    // front of the upstream so it sees every attempt's 429/503 Retry-After, retries included.
    if (rateLimitStage != null) stages.add(rateLimitStage);
    if (bulkhead != null) stages.add(new BulkheadStage(bulkhead));
    stages.add(new ResilienceStage(vertx, forwarder.origin(), breakers, retryPolicy, retryBudget, metrics.registry()));
    if (rateLimitStage != null) stages.add(rateLimitStage.learner());
    stages.add(verification.observer());
    // Innermost: each upstream answer's cost goes on the request's tally (retries and re-queued attempts included).
    stages.add(UpstreamSpend.STAGE);
    return new Pipeline(stages, forwarder);
  }

  /**
   * Traffic-control parts shared by every proxy verticle of this gateway (thread-safe), built once before
   * the verticles deploy and closed with the gateway.
   */
  private void trafficControl() {
    var rl = options.getRateLimit();
    if (rl.isEnabled()) {
      if (rl.isDistributed() && redis != null) {
        rateLimiter = RateLimiter.redis(vertx, redis, rl, readiness);
      } else {
        rateLimiter = RateLimiter.local(vertx, rl, System::nanoTime, 1);
        readiness.report("rateLimit", Readiness.State.UP, "local");
      }
      rateLimitStage = new RateLimitStage(vertx, rl, rateLimiter, metrics.registry());
      io.micrometer.core.instrument.Gauge.builder(io.tollgate.metrics.MeterNames.RATELIMIT_FALLBACK, rateLimiter,
          l -> "local-fallback".equals(l.mode()) ? 1 : 0).register(metrics.registry());
      io.micrometer.core.instrument.Gauge.builder(io.tollgate.metrics.MeterNames.RATELIMIT_WAITING, rateLimiter, RateLimiter::waiting)
          .description("requests waiting for rate-limit tokens now").register(metrics.registry());
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
  /** The proxy port's TLS certificate, or null when it speaks plain HTTP. */
  public ProxyCertificate proxyCertificate() { return proxyCertificate; }
  public int managementPort() { return managementPort; }
  public Vertx vertx() { return vertx; }
  public TollgateOptions options() { return options; }
  public Readiness readiness() { return readiness; }
  /** Per-tenant upstream economics (the table behind the tollgate.tenant.* meters and the stats' "tenants"). */
  public TenantEconomics economics() { return economics; }
  /** The response cache, or null when caching is disabled. */
  public io.tollgate.cache.ResponseCache cache() { return cacheVerticle == null ? null : cacheVerticle.cache(); }

  /** Runs {@code hook} after this gateway has closed (the demo closes its simulator this way). */
  public void onClose(java.util.function.Supplier<Future<?>> hook) {
    closeHooks.add(hook);
  }

  private Future<Void> closeTrafficControl() {
    Future<Void> f = Future.succeededFuture();
    if (rateLimiter != null) f = f.eventually(rateLimiter::close);
    if (breakers != null) f = f.eventually(breakers::close);
    return f.recover(ignored -> Future.succeededFuture());
  }

  /** Drains the proxy (up to server.drainTimeout), then stops everything. */
  public Future<Void> close() {
    readiness.report("proxy", Readiness.State.DOWN, "shutting down");
    io.vertx.core.Promise<Void> done = io.vertx.core.Promise.promise();
    // The proxies drain first, on their own: requests still in flight need the worker pool (decoding, $batch
    // assembly), which closing Vert.x would shut down before its verticles have stopped. Vert.x is then closed
    // from a plain thread with a context-free promise: a close started on one of its own event loops (a failed
    // start, or the end of the drain) would report its completion to a loop that no longer runs.
    drainProxies().onComplete(drained -> new Thread(() -> {
      Future<Void> closed = vertx.close().eventually(this::closeTrafficControl).onComplete(ar -> {
        metrics.close();
        if (accessLog != null) accessLog.close();
      });
      for (var hook : closeHooks) closed = closed.eventually(hook::get);
      closed.onComplete(done);
    }, "tollgate-close").start());
    return done.future();
  }

  /** Undeploys the proxy verticles, each draining up to server.drainTimeout; never fails. */
  private Future<Void> drainProxies() {
    String proxies = proxyDeployment;
    return proxies == null ? Future.succeededFuture() : vertx.undeploy(proxies).otherwiseEmpty();
  }

}
