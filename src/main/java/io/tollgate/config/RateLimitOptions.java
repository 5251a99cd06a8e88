package io.tollgate.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Stage 3, token-bucket pacing. YAML section {@code rateLimit}. A request passes every {@link Limit} whose
 * path and methods match it; each limit keeps one bucket per key value (tenant, app, route or global).
 * Costs in tokens come from {@link Cost} rules and query modifiers, never below 1.
 */
public final class RateLimitOptions {
  public static final boolean DEFAULT_ENABLED = true;
  /** Longest a request waits for its tokens; one that would wait longer gets 429 at once. */
  public static final Duration DEFAULT_MAX_WAIT = Duration.ofSeconds(30);
  /** Requests waiting for tokens at once, per gateway; more get 429 at once. */
  public static final int DEFAULT_MAX_WAITERS = 10_000;
  public static final boolean DEFAULT_DISTRIBUTED = false;
  /** Gateways sharing the budget; a gateway that lost Redis paces at rate / instances. */
  public static final int DEFAULT_INSTANCES = 1;
  public static final String DEFAULT_KEY_PREFIX = "tollgate:";
  /** A Redis admission slower than this counts as Redis lost (local fallback). */
  public static final Duration DEFAULT_REDIS_TIMEOUT = Duration.ofMillis(250);
  /** Buckets unused this long are dropped; a full bucket loses nothing by being forgotten. */
  public static final Duration DEFAULT_IDLE_BUCKET_TTL = Duration.ofMinutes(10);
  /** Most buckets kept in memory per limiter; the least recently used go first. */
  public static final int DEFAULT_MAX_BUCKETS = 100_000;

  /** Graph's published limits as buckets: see conf/tollgate.yaml for the arithmetic. */
  public static List<Limit> defaultLimits() {
    return List.of(
        new Limit().setName("graph-app").setKey("app").setRate(12_000).setBurst(10_000).setUseCosts(false),
        new Limit().setName("identity-reads").setKey("tenant+app").setRate(750).setBurst(500).setMode(Limit.ESTIMATE)
            .setPaths(List.of("/*/users/**", "/*/groups/**", "/*/me/**", "/*/applications/**", "/*/directoryObjects/**"))
            .setMethods(List.of("GET", "HEAD")),
        new Limit().setName("identity-writes").setKey("tenant+app").setRate(18).setBurst(300).setMode(Limit.ESTIMATE)
            .setPaths(List.of("/*/users/**", "/*/groups/**", "/*/me/**", "/*/applications/**", "/*/directoryObjects/**"))
            .setMethods(List.of("POST", "PUT", "PATCH", "DELETE")),
        new Limit().setName("sharepoint").setKey("tenant+app").setRate(40).setBurst(600).setMode(Limit.ESTIMATE)
            .setPaths(List.of("/*/sites/**", "/*/drives/**", "/*/shares/**")));
  }

  public static List<Cost> defaultCosts() {
    return List.of(
        new Cost().setMethod("GET").setPath("/*/users/**").setCost(2),
        new Cost().setMethod("GET").setPath("/*/applications/**").setCost(2),
        new Cost().setMethod("GET").setPath("/*/groups/*/transitiveMembers/**").setCost(5),
        new Cost().setMethod("GET").setPath("/*/groups/*/members/**").setCost(3),
        new Cost().setMethod("GET").setPath("/*/me/memberOf/**").setCost(2),
        new Cost().setMethod("POST").setPath("/*/directoryObjects/getByIds").setCost(3),
        new Cost().setMethod("GET").setPath("/*/sites/**/permissions/**").setCost(5),
        new Cost().setMethod("GET").setPath("/*/drives/**/permissions/**").setCost(5));
  }

  public static Map<String, Integer> defaultQueryCosts() {
    Map<String, Integer> m = new LinkedHashMap<>();
    m.put("$select", -1);
    m.put("$expand", 1);
    return m;
  }

  private boolean enabled = DEFAULT_ENABLED;
  private Duration maxWait = DEFAULT_MAX_WAIT;
  private int maxWaiters = DEFAULT_MAX_WAITERS;
  private boolean distributed = DEFAULT_DISTRIBUTED;
  private int instances = DEFAULT_INSTANCES;
  private String keyPrefix = DEFAULT_KEY_PREFIX;
  private Duration redisTimeout = DEFAULT_REDIS_TIMEOUT;
  private Duration idleBucketTtl = DEFAULT_IDLE_BUCKET_TTL;
  private int maxBuckets = DEFAULT_MAX_BUCKETS;
  private List<Limit> limits = defaultLimits();
  private List<Cost> costs = defaultCosts();
  private Map<String, Integer> queryCosts = defaultQueryCosts();
  private LaneOptions lanes = new LaneOptions();

  public RateLimitOptions() {}

  public RateLimitOptions(RateLimitOptions o) {
    enabled = o.enabled; maxWait = o.maxWait; maxWaiters = o.maxWaiters; distributed = o.distributed;
    instances = o.instances; keyPrefix = o.keyPrefix; redisTimeout = o.redisTimeout; idleBucketTtl = o.idleBucketTtl;
    maxBuckets = o.maxBuckets;
    limits = o.limits.stream().map(Limit::new).toList();
    costs = o.costs.stream().map(Cost::new).toList();
    queryCosts = new LinkedHashMap<>(o.queryCosts);
    lanes = new LaneOptions(o.lanes);
  }

  static RateLimitOptions read(ConfigReader r) {
    RateLimitOptions o = new RateLimitOptions();
    o.enabled = r.bool("enabled", DEFAULT_ENABLED);
    o.maxWait = r.duration("maxWait", DEFAULT_MAX_WAIT);
    o.maxWaiters = r.integer("maxWaiters", DEFAULT_MAX_WAITERS, 0, 10_000_000);
    o.distributed = r.bool("distributed", DEFAULT_DISTRIBUTED);
    o.instances = r.integer("instances", DEFAULT_INSTANCES, 1, 10_000);
    o.keyPrefix = r.string("keyPrefix", DEFAULT_KEY_PREFIX);
    o.redisTimeout = r.duration("redisTimeout", DEFAULT_REDIS_TIMEOUT);
    if (o.redisTimeout.isZero()) r.problem("redisTimeout", "0s", "a duration above 0");
    o.idleBucketTtl = r.duration("idleBucketTtl", DEFAULT_IDLE_BUCKET_TTL);
    if (o.idleBucketTtl.compareTo(Duration.ofSeconds(1)) < 0) r.problem("idleBucketTtl", Units.formatDuration(o.idleBucketTtl), "a duration of at least 1s");
    o.maxBuckets = r.integer("maxBuckets", DEFAULT_MAX_BUCKETS, 1, 100_000_000);
    JsonArray limits = r.array("limits");
    if (limits != null) {
      List<Limit> list = new ArrayList<>();
      Set<String> names = new HashSet<>();
      for (int i = 0; i < limits.size(); i++) {
        String at = r.key("limits") + "[" + i + "]";
        if (!(limits.getValue(i) instanceof JsonObject item)) {
          r.problems().add(new ConfigProblem(at, limits.getValue(i), "a mapping with name, key, rate and burst"));
          continue;
        }
        Limit l = Limit.read(new ConfigReader(item, at, r.problems()));
        if (l.name != null && !names.add(l.name)) r.problems().add(new ConfigProblem(at + ".name", l.name, "a name not used by another limit"));
        list.add(l);
      }
      o.limits = List.copyOf(list);
    }
    JsonArray costs = r.array("costs");
    if (costs != null) {
      List<Cost> list = new ArrayList<>();
      for (int i = 0; i < costs.size(); i++) {
        String at = r.key("costs") + "[" + i + "]";
        if (!(costs.getValue(i) instanceof JsonObject item)) {
          r.problems().add(new ConfigProblem(at, costs.getValue(i), "a mapping with path and cost"));
          continue;
        }
        list.add(Cost.read(new ConfigReader(item, at, r.problems())));
      }
      o.costs = List.copyOf(list);
    }
    if (r.has("queryCosts")) {
      ConfigReader q = r.section("queryCosts");
      Map<String, Integer> m = new LinkedHashMap<>();
      Object raw = r.raw("queryCosts");
      if (raw instanceof JsonObject json) {
        for (String name : json.fieldNames()) m.put(name, q.integer(name, 0, -1000, 1000));
      }
      o.queryCosts = m;
    }
    if (r.has("lanes")) o.lanes = LaneOptions.read(r.section("lanes"));
    r.rejectUnknown();
    return o;
  }

  public JsonObject toJson() {
    JsonArray l = new JsonArray();
    limits.forEach(x -> l.add(x.toJson()));
    JsonArray c = new JsonArray();
    costs.forEach(x -> c.add(x.toJson()));
    JsonObject q = new JsonObject();
    queryCosts.forEach(q::put);
    return new JsonObject().put("enabled", enabled).put("maxWait", Units.formatDuration(maxWait))
        .put("maxWaiters", maxWaiters).put("distributed", distributed).put("instances", instances)
        .put("keyPrefix", keyPrefix).put("redisTimeout", Units.formatDuration(redisTimeout))
        .put("idleBucketTtl", Units.formatDuration(idleBucketTtl)).put("maxBuckets", maxBuckets)
        .put("limits", l).put("costs", c).put("queryCosts", q).put("lanes", lanes.toJson());
  }

  public boolean isEnabled() { return enabled; }
  public RateLimitOptions setEnabled(boolean enabled) { this.enabled = enabled; return this; }
  public Duration getMaxWait() { return maxWait; }
  public RateLimitOptions setMaxWait(Duration maxWait) { this.maxWait = maxWait; return this; }
  public int getMaxWaiters() { return maxWaiters; }
  public RateLimitOptions setMaxWaiters(int maxWaiters) { this.maxWaiters = maxWaiters; return this; }
  public boolean isDistributed() { return distributed; }
  public RateLimitOptions setDistributed(boolean distributed) { this.distributed = distributed; return this; }
  public int getInstances() { return instances; }
  public RateLimitOptions setInstances(int instances) { this.instances = instances; return this; }
  public String getKeyPrefix() { return keyPrefix; }
  public RateLimitOptions setKeyPrefix(String keyPrefix) { this.keyPrefix = keyPrefix; return this; }
  public Duration getRedisTimeout() { return redisTimeout; }
  public RateLimitOptions setRedisTimeout(Duration redisTimeout) { this.redisTimeout = redisTimeout; return this; }
  public Duration getIdleBucketTtl() { return idleBucketTtl; }
  public RateLimitOptions setIdleBucketTtl(Duration idleBucketTtl) { this.idleBucketTtl = idleBucketTtl; return this; }
  public int getMaxBuckets() { return maxBuckets; }
  public RateLimitOptions setMaxBuckets(int maxBuckets) { this.maxBuckets = maxBuckets; return this; }
  public List<Limit> getLimits() { return limits; }
  public RateLimitOptions setLimits(List<Limit> limits) { this.limits = List.copyOf(limits); return this; }
  public List<Cost> getCosts() { return costs; }
  public RateLimitOptions setCosts(List<Cost> costs) { this.costs = List.copyOf(costs); return this; }
  /** Added to a request's cost when its query has the parameter (e.g. {@code $select}: -1). */
  public Map<String, Integer> getQueryCosts() { return queryCosts; }
  public RateLimitOptions setQueryCosts(Map<String, Integer> queryCosts) { this.queryCosts = new LinkedHashMap<>(queryCosts); return this; }

  public LaneOptions getLanes() { return lanes; }
  public RateLimitOptions setLanes(LaneOptions lanes) { this.lanes = new LaneOptions(lanes); return this; }

  /** One budget: a token bucket per value of {@link #getKey()}. */
  public static final class Limit {
    static final Set<String> KEY_PARTS = Set.of("global", "tenant", "app", "route");
    /** A starting rate Tollgate raises while the upstream shows room and lowers on throttling. */
    public static final String ESTIMATE = "estimate";
    /** A rate never exceeded; Tollgate learns only below it. What an operator writes, by default. */
    public static final String CEILING = "ceiling";
    private String name;
    private String key = "global";
    private double rate;
    private int burst;
    private List<String> paths = List.of();
    private List<String> methods = List.of();
    private boolean useCosts = true;
    private String mode = CEILING;
    private double maxGrowth;

    public Limit() {}

    public Limit(Limit o) {
      name = o.name; key = o.key; rate = o.rate; burst = o.burst; paths = o.paths; methods = o.methods; useCosts = o.useCosts;
      mode = o.mode; maxGrowth = o.maxGrowth;
    }

    static Limit read(ConfigReader r) {
      Limit l = new Limit();
      l.name = r.string("name", null);
      if (l.name == null || !l.name.matches("[A-Za-z0-9_.-]{1,64}")) r.problem("name", l.name, "a name of letters, digits, '-', '_' or '.'");
      l.key = r.string("key", "global");
      for (String part : l.key.split("\\+")) {
        if (!KEY_PARTS.contains(part)) {
          r.problem("key", l.key, "global, tenant, app or route, or several joined by '+' (tenant+app)");
          break;
        }
      }
      if (!r.has("rate")) {
        r.problem("rate", null, "tokens per second above 0");
      } else {
        l.rate = r.decimal("rate", 0, 0, 1e9);
        if (l.rate <= 0) r.problem("rate", r.raw("rate"), "tokens per second above 0");
      }
      l.burst = r.integer("burst", 0, Integer.MIN_VALUE, Integer.MAX_VALUE);
      if (l.burst < 1) r.problem("burst", r.has("burst") ? r.raw("burst") : null, "an integer >= 1 (tokens a bucket holds)");
      l.paths = r.strings("paths", List.of());
      for (String p : l.paths) {
        try {
          PathPattern.compile(p);
        } catch (IllegalArgumentException e) {
          r.problem("paths", p, e.getMessage());
        }
      }
      l.methods = r.strings("methods", List.of()).stream().map(m -> m.toUpperCase(Locale.ROOT)).toList();
      for (String m : l.methods) if (!m.matches("[A-Z]+")) r.problem("methods", m, "HTTP method names");
      l.useCosts = r.bool("useCosts", true);
      l.mode = r.string("mode", CEILING);
      if (!ESTIMATE.equals(l.mode) && !CEILING.equals(l.mode)) r.problem("mode", l.mode, "estimate or ceiling");
      l.maxGrowth = r.decimal("maxGrowth", 0, 0, 1e6);
      if (r.has("maxGrowth") && l.maxGrowth < 1) r.problem("maxGrowth", r.raw("maxGrowth"), "a factor >= 1 (the learned rate stays below rate x maxGrowth)");
      if (r.has("maxGrowth") && CEILING.equals(l.mode)) r.problem("maxGrowth", r.raw("maxGrowth"), "absent: a ceiling never grows (set mode: estimate)");
      r.rejectUnknown();
      return l;
    }

    public JsonObject toJson() {
      JsonObject j = new JsonObject().put("name", name).put("key", key).put("rate", rate).put("burst", burst);
      if (!paths.isEmpty()) j.put("paths", new JsonArray(paths));
      if (!methods.isEmpty()) j.put("methods", new JsonArray(methods));
      j.put("useCosts", useCosts).put("mode", mode);
      if (maxGrowth > 0) j.put("maxGrowth", maxGrowth);
      return j;
    }

    public String getName() { return name; }
    public Limit setName(String name) { this.name = name; return this; }
    /** {@code global}, {@code tenant}, {@code app}, {@code route} or a '+' join of them. */
    public String getKey() { return key; }
    public Limit setKey(String key) { this.key = key; return this; }
    /** Tokens added per second. */
    public double getRate() { return rate; }
    public Limit setRate(double rate) { this.rate = rate; return this; }
    /** Tokens a full bucket holds: the largest burst admitted at once. */
    public int getBurst() { return burst; }
    public Limit setBurst(int burst) { this.burst = burst; return this; }
    /** Path globs the limit applies to ({@code *} one segment, {@code **} any); empty = every path. */
    public List<String> getPaths() { return paths; }
    public Limit setPaths(List<String> paths) { this.paths = List.copyOf(paths); return this; }
    /** Methods the limit applies to; empty = all. */
    public List<String> getMethods() { return methods; }
    public Limit setMethods(List<String> methods) { this.methods = List.copyOf(methods); return this; }
    /** True: a request takes its cost in tokens; false: one token (request-count limits). */
    public boolean isUseCosts() { return useCosts; }
    public Limit setUseCosts(boolean useCosts) { this.useCosts = useCosts; return this; }
    /** {@link #ESTIMATE} or {@link #CEILING} (the default). */
    public String getMode() { return mode; }
    public Limit setMode(String mode) { this.mode = mode; return this; }
    /** For an estimate: the learned rate stays at most {@code rate x maxGrowth}; 0 (the default) = no cap. */
    public double getMaxGrowth() { return maxGrowth; }
    public Limit setMaxGrowth(double maxGrowth) { this.maxGrowth = maxGrowth; return this; }
    public boolean isEstimate() { return ESTIMATE.equals(mode); }
    /** The highest rate this limit may learn. */
    public double maxRate() {
      if (!isEstimate()) return rate;
      return maxGrowth > 0 ? rate * maxGrowth : Double.POSITIVE_INFINITY;
    }
  }

  /** A request's price in tokens: the first rule matching method and path wins; unmatched requests cost 1. */
  public static final class Cost {
    private String method;
    private String path;
    private int cost = 1;

    public Cost() {}

    public Cost(Cost o) {
      method = o.method; path = o.path; cost = o.cost;
    }

    static Cost read(ConfigReader r) {
      Cost c = new Cost();
      c.method = r.string("method", null);
      if (c.method != null) c.method = c.method.toUpperCase(Locale.ROOT);
      c.path = r.string("path", null);
      if (!PathPattern.valid(c.path)) r.problem("path", c.path, "a path pattern starting with / (such as /*/users/**)");
      c.cost = r.integer("cost", 1, 1, 1_000_000);
      r.rejectUnknown();
      return c;
    }

    public JsonObject toJson() {
      JsonObject j = new JsonObject();
      if (method != null) j.put("method", method);
      return j.put("path", path).put("cost", cost);
    }

    /** Null = any method. */
    public String getMethod() { return method; }
    public Cost setMethod(String method) { this.method = method; return this; }
    public String getPath() { return path; }
    public Cost setPath(String path) { this.path = path; return this; }
    public int getCost() { return cost; }
    public Cost setCost(int cost) { this.cost = cost; return this; }
  }


}
