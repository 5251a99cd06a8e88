package io.tollgate.proxy;

import io.tollgate.config.CacheOptions;
import io.tollgate.config.PathPattern;
import io.tollgate.config.RateLimitOptions;
import io.vertx.core.http.HttpMethod;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Every rule that applies to a request, decided once: compiled at start from the cache routes, the
 * invalidation rules and the rate limits and costs, then asked once per request ({@link #match}). The
 * answer, a {@link Route}, travels on the {@link Exchange}; the cache, the limiter, {@code $batch} and the
 * metrics read it instead of matching paths again.
 *
 * <p>Immutable after construction, so one table serves every event loop. A {@link Route} is per request and
 * works out its costlier parts (limits, cost, evictions) on first use, on the request's own event loop: an
 * L1 hit never pays for the limiter's matching.
 */
public final class RouteTable {
  /** The route name of requests no cache rule covers. */
  public static final String PASSTHROUGH = "passthrough";
  /** The route name of {@code POST /v1.0|beta/$batch}. */
  public static final String BATCH = "batch";
  private static final PathPattern BATCH_PATH = PathPattern.compile("/v1.0|beta/$batch");

  /** A rate limit compiled for matching: which bucket key parts it uses, and where it applies. */
  public record Limit(String name, double rate, int burst, boolean useCosts, boolean byTenant, boolean byApp,
      boolean byRoute, List<PathPattern> paths, Set<String> methods, boolean estimate, double maxRate) {
    private static final Set<String> READS = Set.of("GET", "HEAD", "OPTIONS");

    /** A global, fixed-rate limit on every path (tests and benchmarks). */
    public static Limit of(String name, double rate, int burst) {
      return new Limit(name, rate, burst, true, false, false, false, List.of(), Set.of(), false, rate);
    }

    /** True when every method it applies to is a read; false for writes only or for both. */
    public boolean readsOnly() {
      return !methods.isEmpty() && READS.containsAll(methods);
    }

    /** True when every method it applies to is a write. */
    public boolean writesOnly() {
      if (methods.isEmpty()) return false;
      for (String m : methods) if (READS.contains(m)) return false;
      return true;
    }

    /** True when choosing the bucket needs the caller's tenant or app. */
    public boolean needsClaims() {
      return byTenant || byApp;
    }

    /** @return the pattern that matched ("*" for a limit on every path), or null when it does not apply */
    String match(String method, String path) {
      if (!methods.isEmpty() && !methods.contains(method)) return null;
      if (paths.isEmpty()) return "*";
      for (PathPattern p : paths) if (p.matches(path)) return p.toString();
      return null;
    }
  }

  /** A limit a request falls under, and the pattern it matched by (the bucket of a route-keyed limit). */
  public record AppliedLimit(Limit limit, String matched) {}

  private record CostRule(String method, PathPattern path, int cost) {}

  private final List<CacheOptions.Route> cacheRoutes;
  private final List<CacheOptions.Invalidation> invalidations;
  private final List<Limit> limits;
  private final List<CostRule> costs;
  private final Map<String, Integer> queryCosts;

  private RouteTable(List<CacheOptions.Route> cacheRoutes, List<CacheOptions.Invalidation> invalidations, List<Limit> limits,
      List<CostRule> costs, Map<String, Integer> queryCosts) {
    this.cacheRoutes = cacheRoutes;
    this.invalidations = invalidations;
    this.limits = limits;
    this.costs = costs;
    this.queryCosts = queryCosts;
  }

  /** Compiles the rules of the enabled components (a disabled cache or limiter contributes none). */
  public static RouteTable compile(CacheOptions cache, RateLimitOptions rateLimit) {
    boolean caching = cache != null && cache.isEnabled();
    boolean limiting = rateLimit != null && rateLimit.isEnabled();
    return new RouteTable(
        caching ? List.copyOf(cache.getRoutes()) : List.of(),
        caching ? List.copyOf(cache.getInvalidations()) : List.of(),
        limiting ? rateLimit.getLimits().stream().map(RouteTable::limit).toList() : List.of(),
        limiting ? rateLimit.getCosts().stream().map(c -> new CostRule(c.getMethod(), PathPattern.compile(c.getPath()), c.getCost())).toList() : List.of(),
        limiting ? Map.copyOf(rateLimit.getQueryCosts()) : Map.of());
  }

  private static Limit limit(RateLimitOptions.Limit l) {
    Set<String> parts = Set.of(l.getKey().split("\\+"));
    return new Limit(l.getName(), l.getRate(), l.getBurst(), l.isUseCosts(), parts.contains("tenant"), parts.contains("app"),
        parts.contains("route"), l.getPaths().stream().map(PathPattern::compile).toList(),
        l.getMethods().stream().map(m -> m.toUpperCase(Locale.ROOT)).collect(Collectors.toUnmodifiableSet()),
        l.isEstimate(), l.maxRate());
  }

  /**
   * @param path the request path (normalised here)
   * @param query the raw query, or null
   */
  public Route match(HttpMethod method, String path, String query) {
    String normalised = RequestPath.normalise(path);
    CacheOptions.Route cacheRule = null;
    if (method == HttpMethod.GET) {
      for (CacheOptions.Route r : cacheRoutes) {
        if (r.path().matches(normalised)) {
          cacheRule = r;
          break;
        }
      }
    }
    String name = cacheRule != null ? cacheRule.name()
        : method == HttpMethod.POST && BATCH_PATH.matches(normalised) ? BATCH : PASSTHROUGH;
    return new Route(this, method, normalised, query, name, cacheRule);
  }

  /** What applies to one request. Per request, used on its event loop only. */
  public static final class Route {
    private final RouteTable table;
    private final HttpMethod method;
    private final String path;
    private final String query;
    private final String name;
    private final CacheOptions.Route cacheRule;
    private List<AppliedLimit> applied;
    private int cost = -1;
    private List<PathPattern> evictions;

    private Route(RouteTable table, HttpMethod method, String path, String query, String name, CacheOptions.Route cacheRule) {
      this.table = table;
      this.method = method;
      this.path = path;
      this.query = query;
      this.name = name;
      this.cacheRule = cacheRule;
    }

    /** Rule name for metrics and logs: a cache route's name, {@code batch} or {@code passthrough}; never a raw path. */
    public String name() { return name; }
    /** The normalised path the rules were matched against. */
    public String path() { return path; }
    public HttpMethod method() { return method; }
    public String query() { return query; }

    /** The cache rule of a cacheable read, or null. */
    public CacheOptions.Route cacheRule() { return cacheRule; }

    /** Every rate limit the request falls under, in configuration order. */
    public List<AppliedLimit> limits() {
      if (applied == null) {
        List<AppliedLimit> out = null;
        String m = method.name();
        for (Limit l : table.limits) {
          String matched = l.match(m, path);
          if (matched == null) continue;
          if (out == null) out = new ArrayList<>(table.limits.size());
          out.add(new AppliedLimit(l, matched));
        }
        applied = out == null ? List.of() : out;
      }
      return applied;
    }

    /** Price in tokens (Graph's resource units): the first matching cost rule (else 1) plus query modifiers, at least 1. */
    public int cost() {
      if (cost < 0) cost = table.cost(method.name(), path, query);
      return cost;
    }

    /**
     * The read patterns a successful write here evicts, captures bound; empty for reads and for writes no
     * invalidation rule covers.
     */
    public List<PathPattern> evictions() {
      if (evictions == null) {
        List<PathPattern> out = new ArrayList<>();
        if (method == HttpMethod.POST || method == HttpMethod.PUT || method == HttpMethod.PATCH || method == HttpMethod.DELETE) {
          for (CacheOptions.Invalidation rule : table.invalidations) {
            if (!rule.methods().contains(method.name())) continue;
            Map<String, String> captures = rule.path().capture(path);
            if (captures == null) continue;
            for (PathPattern target : rule.evict()) {
              try {
                out.add(target.bind(captures));
              } catch (IllegalArgumentException unboundable) {
                // A captured value that cannot stand as one literal segment: evict by the unbound template
                // instead (wider, never narrower).
                out.add(target);
              }
            }
          }
        }
        evictions = List.copyOf(out);
      }
      return evictions;
    }
  }

  int cost(String method, String path, String query) {
    int cost = 1;
    for (CostRule c : costs) {
      if ((c.method == null || c.method.equalsIgnoreCase(method)) && c.path.matches(path)) {
        cost = c.cost;
        break;
      }
    }
    if (query != null && !queryCosts.isEmpty()) {
      int start = 0;
      while (start <= query.length()) {
        int amp = query.indexOf('&', start);
        int end = amp < 0 ? query.length() : amp;
        int eq = query.indexOf('=', start);
        String param = query.substring(start, eq >= 0 && eq < end ? eq : end);
        if (param.indexOf('%') >= 0) param = decode(param);
        Integer delta = queryCosts.get(param);
        if (delta != null) cost += delta;
        if (amp < 0) break;
        start = amp + 1;
      }
    }
    return Math.max(1, cost);
  }

  private static String decode(String s) {
    try {
      return URLDecoder.decode(s, StandardCharsets.UTF_8);
    } catch (IllegalArgumentException malformed) {
      return s;
    }
  }
}
