package io.tollgate.config;

import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;

/**
 * The whole configuration, one options object per component. Built by {@link ConfigLoader} from
 * built-in defaults &lt; file &lt; environment &lt; flags; components copy the part they need.
 */
public final class TollgateOptions {
  private ServerOptions server = new ServerOptions();
  private UpstreamOptions upstream = new UpstreamOptions();
  private ProxyOptions proxy = new ProxyOptions();
  private ManagementOptions management = new ManagementOptions();
  private RedisConnectionOptions redis = new RedisConnectionOptions();
  private CacheOptions cache = new CacheOptions();
  private RateLimitOptions rateLimit = new RateLimitOptions();
  private BulkheadOptions bulkhead = new BulkheadOptions();
  private BreakerOptions breaker = new BreakerOptions();
  private RetryOptions retry = new RetryOptions();
  private IdentityOptions identity = new IdentityOptions();
  private EconomicsOptions economics = new EconomicsOptions();
  private AccessLogOptions accessLog = new AccessLogOptions();
  private ClusterOptions cluster = new ClusterOptions();
  private FreshnessOptions freshness = new FreshnessOptions();

  public TollgateOptions() {}

  public TollgateOptions(TollgateOptions o) {
    server = new ServerOptions(o.server);
    upstream = new UpstreamOptions(o.upstream);
    proxy = new ProxyOptions(o.proxy);
    management = new ManagementOptions(o.management);
    redis = new RedisConnectionOptions(o.redis);
    cache = new CacheOptions(o.cache);
    rateLimit = new RateLimitOptions(o.rateLimit);
    bulkhead = new BulkheadOptions(o.bulkhead);
    breaker = new BreakerOptions(o.breaker);
    retry = new RetryOptions(o.retry);
    identity = new IdentityOptions(o.identity);
    economics = new EconomicsOptions(o.economics);
    accessLog = new AccessLogOptions(o.accessLog);
    cluster = new ClusterOptions(o.cluster);
    freshness = new FreshnessOptions(o.freshness);
  }

  /**
   * Reads a merged configuration document.
   *
   * @throws ConfigException with every problem found
   */
  public static TollgateOptions fromJson(JsonObject json) {
    return fromJson(json, System.getenv());
  }

  /**
   * @param env the environment that {@code *Env} keys (such as {@code freshness.delta.clientSecretEnv}) name
   * @throws ConfigException with every problem found
   */
  public static TollgateOptions fromJson(JsonObject json, java.util.Map<String, String> env) {
    List<ConfigProblem> problems = new ArrayList<>();
    ConfigReader root = new ConfigReader(json, "", problems);
    TollgateOptions o = new TollgateOptions();
    o.server = ServerOptions.read(root.section("server"));
    o.upstream = UpstreamOptions.read(root.section("upstream"));
    o.proxy = ProxyOptions.read(root.section("proxy"));
    o.management = ManagementOptions.read(root.section("management"));
    o.redis = RedisConnectionOptions.read(root.section("redis"));
    o.cache = CacheOptions.read(root.section("cache"));
    o.rateLimit = RateLimitOptions.read(root.section("rateLimit"));
    o.bulkhead = BulkheadOptions.read(root.section("bulkhead"));
    o.breaker = BreakerOptions.read(root.section("breaker"));
    o.retry = RetryOptions.read(root.section("retry"));
    o.identity = IdentityOptions.read(root.section("identity"));
    o.economics = EconomicsOptions.read(root.section("economics"));
    o.accessLog = AccessLogOptions.read(root.section("accessLog"));
    o.cluster = ClusterOptions.read(root.section("cluster"));
    o.freshness = FreshnessOptions.read(root.section("freshness"), env);
    root.rejectUnknown();
    if (o.freshness.getDelta().isEnabled() && !o.cache.isEnabled()) {
      problems.add(new ConfigProblem("freshness.delta.enabled", true, "false, or cache.enabled: true (the feed evicts cached answers)"));
    }
    if (!o.freshness.getDelta().isEnabled()) {
      List<CacheOptions.Route> routes = o.cache.getRoutes();
      for (int i = 0; i < routes.size(); i++) {
        if (routes.get(i).deltaFed()) {
          problems.add(new ConfigProblem("cache.routes[" + i + "].freshness", "delta", "none, or freshness.delta.enabled: true"));
        }
      }
    }
    if (o.server.getPort() != 0 && o.server.getPort() == o.management.getPort()) {
      problems.add(new ConfigProblem("management.port", o.management.getPort(), "a port other than server.port"));
    }
    if (o.rateLimit.isEnabled() && o.rateLimit.isDistributed() && o.redis.getUrl() == null) {
      problems.add(new ConfigProblem("rateLimit.distributed", true, "false, or a redis.url to share the budget through"));
    }
    if (!problems.isEmpty()) throw new ConfigException(problems);
    return o;
  }

  /** Secrets masked. */
  public JsonObject toJson() {
    return new JsonObject().put("server", server.toJson()).put("upstream", upstream.toJson()).put("proxy", proxy.toJson())
        .put("management", management.toJson()).put("redis", redis.toJson())
        .put("cache", cache.toJson())
        .put("rateLimit", rateLimit.toJson()).put("bulkhead", bulkhead.toJson())
        .put("breaker", breaker.toJson()).put("retry", retry.toJson()).put("identity", identity.toJson())
        .put("economics", economics.toJson()).put("accessLog", accessLog.toJson())
        .put("cluster", cluster.toJson())
        .put("freshness", freshness.toJson());
  }

  @Override
  public String toString() {
    return toJson().encode();
  }

  public ServerOptions getServer() { return server; }
  public TollgateOptions setServer(ServerOptions server) { this.server = server; return this; }
  public UpstreamOptions getUpstream() { return upstream; }
  public TollgateOptions setUpstream(UpstreamOptions upstream) { this.upstream = upstream; return this; }
  public ProxyOptions getProxy() { return proxy; }
  public TollgateOptions setProxy(ProxyOptions proxy) { this.proxy = proxy; return this; }
  public ManagementOptions getManagement() { return management; }
  public TollgateOptions setManagement(ManagementOptions management) { this.management = management; return this; }
  public CacheOptions getCache() { return cache; }
  public TollgateOptions setCache(CacheOptions cache) { this.cache = cache; return this; }
  public RateLimitOptions getRateLimit() { return rateLimit; }
  public TollgateOptions setRateLimit(RateLimitOptions rateLimit) { this.rateLimit = rateLimit; return this; }
  public BulkheadOptions getBulkhead() { return bulkhead; }
  public TollgateOptions setBulkhead(BulkheadOptions bulkhead) { this.bulkhead = bulkhead; return this; }
  public IdentityOptions getIdentity() { return identity; }
  public TollgateOptions setIdentity(IdentityOptions identity) { this.identity = identity; return this; }
  public AccessLogOptions getAccessLog() { return accessLog; }
  public TollgateOptions setAccessLog(AccessLogOptions accessLog) { this.accessLog = accessLog; return this; }
  public ClusterOptions getCluster() { return cluster; }
  public TollgateOptions setCluster(ClusterOptions cluster) { this.cluster = cluster; return this; }
  public EconomicsOptions getEconomics() { return economics; }
  public TollgateOptions setEconomics(EconomicsOptions economics) { this.economics = economics; return this; }
  public BreakerOptions getBreaker() { return breaker; }
  public TollgateOptions setBreaker(BreakerOptions breaker) { this.breaker = breaker; return this; }
  public RetryOptions getRetry() { return retry; }
  public TollgateOptions setRetry(RetryOptions retry) { this.retry = retry; return this; }
  public FreshnessOptions getFreshness() { return freshness; }
  public TollgateOptions setFreshness(FreshnessOptions freshness) { this.freshness = freshness; return this; }
  public RedisConnectionOptions getRedis() { return redis; }
  public TollgateOptions setRedis(RedisConnectionOptions redis) { this.redis = redis; return this; }
}
