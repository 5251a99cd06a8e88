package io.tollgate.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The response cache: which reads are cached and for how long, which writes evict which reads, L1/L2
 * sizing. YAML section {@code cache}. Route rules, not upstream headers, decide what is cached: Graph sends
 * {@code Cache-Control: no-cache} on nearly everything.
 */
public final class CacheOptions {
  public static final long DEFAULT_L1_MAX_WEIGHT = 256L << 20;
  public static final long DEFAULT_MAX_ENTRY_SIZE = 8L << 20;
  public static final Duration DEFAULT_STALE_WHILE_REVALIDATE = Duration.ofSeconds(30);
  public static final Duration DEFAULT_STALE_IF_ERROR = Duration.ofMinutes(10);
  public static final Duration DEFAULT_STATS_INTERVAL = Duration.ofSeconds(5);
  /**
   * How long past its TTL (or an invalidation) an entry of a {@code revalidate} route is kept for revalidation with
   * its ETag; a route may set its own.
   */
  public static final Duration DEFAULT_REVALIDATE_FOR = Duration.ofHours(24);
  public static final String DEFAULT_KEY_PREFIX = "tollgate:";
  public static final Duration DEFAULT_L2_TIMEOUT = Duration.ofMillis(250);
  public static final long DEFAULT_COMPRESS_ABOVE = 4L << 10;
  /**
   * With L2, how long a miss waits for another instance that is already fetching the same key (its lease in
   * Redis) before it fetches for itself; 0 turns fleet-wide coalescing off (per-instance coalescing stays).
   */
  public static final Duration DEFAULT_FLEET_COALESCE_WAIT = Duration.ofSeconds(3);
  /** The longest {@code fleetCoalesceWait} accepted: a follower holds its client this long at most. */
  public static final Duration MAX_FLEET_COALESCE_WAIT = Duration.ofSeconds(60);
  public static final List<String> DEFAULT_IDENTITY_HEADERS = List.of("Authorization");
  public static final List<String> DEFAULT_VARY_HEADERS = List.of("Accept", "ConsistencyLevel", "Prefer", "Accept-Language");

  /** How the proxy reaches L1: directly (thread-safe Caffeine) or through the cache verticle's event-bus API. */
  public enum HotPath { IN_PROCESS, EVENT_BUS }

  /**
   * Who decides what is stored and for how long. {@code GRAPH} (the default): the route rules (Graph sends
   * {@code no-cache} on nearly everything). {@code HTTP}: the upstream's caching headers, as an RFC 9111 shared cache
   * does, for APIs that send them; route rules then only choose the cacheable paths and cap the freshness.
   */
  public enum Semantics { GRAPH, HTTP }

  /**
   * One cacheable read: GET on a path pattern, kept {@code ttl}. With {@code revalidate}, an answer that carries an
   * {@code ETag} is kept past its TTL (and past an invalidation) for {@code revalidateFor} as a stale entry that the
   * next read revalidates with {@code If-None-Match}: a 304 makes it fresh again without a body transfer.
   * {@code deltaFed} ({@code freshness: delta}): its answers are indexed by the directory objects they mention and
   * evicted when Graph's delta feed reports one of them changed, so the TTL may be long.
   */
  public record Route(String name, PathPattern path, Duration ttl, Duration staleWhileRevalidate,
      Duration staleIfError, Duration negativeTtl, boolean revalidate, Duration revalidateFor, boolean deltaFed) {
    /** A rule without ETag revalidation or a delta feed. */
    public Route(String name, PathPattern path, Duration ttl, Duration staleWhileRevalidate, Duration staleIfError,
        Duration negativeTtl) {
      this(name, path, ttl, staleWhileRevalidate, staleIfError, negativeTtl, false, DEFAULT_REVALIDATE_FOR, false);
    }

    /** A rule without ETag revalidation, fed by the delta feed or not. */
    public Route(String name, PathPattern path, Duration ttl, Duration staleWhileRevalidate, Duration staleIfError,
        Duration negativeTtl, boolean deltaFed) {
      this(name, path, ttl, staleWhileRevalidate, staleIfError, negativeTtl, false, DEFAULT_REVALIDATE_FOR, deltaFed);
    }

    JsonObject toJson() {
      JsonObject j = new JsonObject().put("name", name).put("path", path.toString()).put("ttl", Units.formatDuration(ttl))
          .put("staleWhileRevalidate", Units.formatDuration(staleWhileRevalidate))
          .put("staleIfError", Units.formatDuration(staleIfError)).put("negativeTtl", Units.formatDuration(negativeTtl))
          .put("revalidate", revalidate).put("revalidateFor", Units.formatDuration(revalidateFor));
      return deltaFed ? j.put("freshness", "delta") : j;
    }
  }

  /** A write (method + path pattern with {captures}) and the read patterns it evicts. */
  public record Invalidation(String name, List<String> methods, PathPattern path, List<PathPattern> evict) {
    JsonObject toJson() {
      return new JsonObject().put("name", name).put("methods", new JsonArray(methods)).put("path", path.toString())
          .put("evict", new JsonArray(evict.stream().map(PathPattern::toString).toList()));
    }
  }

  private boolean enabled = true;
  private long l1MaxWeight = DEFAULT_L1_MAX_WEIGHT;
  private long maxEntrySize = DEFAULT_MAX_ENTRY_SIZE;
  private HotPath hotPath = HotPath.IN_PROCESS;
  private List<String> identityHeaders = DEFAULT_IDENTITY_HEADERS;
  private List<String> varyHeaders = DEFAULT_VARY_HEADERS;
  private Semantics semantics = Semantics.GRAPH;
  private Duration statsInterval = DEFAULT_STATS_INTERVAL;
  private String keyPrefix = DEFAULT_KEY_PREFIX;
  private Duration l2Timeout = DEFAULT_L2_TIMEOUT;
  private long compressAbove = DEFAULT_COMPRESS_ABOVE;
  private Duration fleetCoalesceWait = DEFAULT_FLEET_COALESCE_WAIT;
  private List<Route> routes = List.of();
  private List<Invalidation> invalidations = List.of();

  public CacheOptions() {}

  public CacheOptions(CacheOptions o) {
    enabled = o.enabled; l1MaxWeight = o.l1MaxWeight; maxEntrySize = o.maxEntrySize; hotPath = o.hotPath;
    identityHeaders = o.identityHeaders; varyHeaders = o.varyHeaders; semantics = o.semantics;
    statsInterval = o.statsInterval; keyPrefix = o.keyPrefix; l2Timeout = o.l2Timeout; compressAbove = o.compressAbove;
    fleetCoalesceWait = o.fleetCoalesceWait; routes = o.routes; invalidations = o.invalidations;
  }

  static CacheOptions read(ConfigReader r) {
    CacheOptions o = new CacheOptions();
    o.enabled = r.bool("enabled", true);
    o.l1MaxWeight = r.size("l1MaxWeight", DEFAULT_L1_MAX_WEIGHT);
    o.maxEntrySize = r.size("maxEntrySize", DEFAULT_MAX_ENTRY_SIZE);
    String hot = r.string("hotPath", "in-process");
    switch (hot) {
      case "in-process" -> o.hotPath = HotPath.IN_PROCESS;
      case "event-bus" -> o.hotPath = HotPath.EVENT_BUS;
      default -> r.problem("hotPath", hot, "in-process or event-bus");
    }
    o.identityHeaders = r.strings("identityHeaders", DEFAULT_IDENTITY_HEADERS);
    if (o.identityHeaders.isEmpty()) r.problem("identityHeaders", "[]", "at least one header (callers must never share entries)");
    o.varyHeaders = r.strings("varyHeaders", DEFAULT_VARY_HEADERS);
    // honourUpstreamCacheControl: true is the old name of semantics: http (kept working).
    boolean honour = r.bool("honourUpstreamCacheControl", false);
    String semantics = r.string("semantics", honour ? "http" : "graph");
    switch (semantics) {
      case "graph" -> o.semantics = Semantics.GRAPH;
      case "http" -> o.semantics = Semantics.HTTP;
      default -> r.problem("semantics", semantics, "graph or http");
    }
    if (honour && o.semantics == Semantics.GRAPH) {
      r.problem("honourUpstreamCacheControl", true, "false with semantics: graph (true is the old name of semantics: http)");
    }
    o.statsInterval = r.duration("statsInterval", DEFAULT_STATS_INTERVAL);
    if (o.statsInterval.toMillis() < 100) r.problem("statsInterval", Units.formatDuration(o.statsInterval), "at least 100ms");
    o.fleetCoalesceWait = r.duration("fleetCoalesceWait", DEFAULT_FLEET_COALESCE_WAIT);
    if (o.fleetCoalesceWait.isNegative() || o.fleetCoalesceWait.compareTo(MAX_FLEET_COALESCE_WAIT) > 0) {
      r.problem("fleetCoalesceWait", Units.formatDuration(o.fleetCoalesceWait), "a duration from 0s (off) to 60s");
    }
    Duration swr = r.duration("staleWhileRevalidate", DEFAULT_STALE_WHILE_REVALIDATE);
    Duration sie = r.duration("staleIfError", DEFAULT_STALE_IF_ERROR);
    Duration negative = r.duration("negativeTtl", Duration.ZERO);
    Duration revalidateFor = r.duration("revalidateFor", DEFAULT_REVALIDATE_FOR);
    if (revalidateFor.isNegative()) r.problem("revalidateFor", Units.formatDuration(revalidateFor), "a duration >= 0s");
    ConfigReader l2 = r.section("l2");
    o.keyPrefix = l2.string("keyPrefix", DEFAULT_KEY_PREFIX);
    if (o.keyPrefix.isEmpty() || o.keyPrefix.contains("{") || o.keyPrefix.contains("}") || o.keyPrefix.contains(" ")) {
      l2.problem("keyPrefix", o.keyPrefix, "a non-empty prefix without braces or spaces");
    }
    o.l2Timeout = l2.duration("operationTimeout", DEFAULT_L2_TIMEOUT);
    o.compressAbove = l2.size("compressAbove", DEFAULT_COMPRESS_ABOVE);
    l2.rejectUnknown();
    o.routes = routes(r, swr, sie, negative, revalidateFor);
    o.invalidations = invalidations(r);
    o.defaults = new Duration[] {swr, sie, negative, revalidateFor};
    r.rejectUnknown();
    return o;
  }

  private Duration[] defaults = {DEFAULT_STALE_WHILE_REVALIDATE, DEFAULT_STALE_IF_ERROR, Duration.ZERO, DEFAULT_REVALIDATE_FOR};

  private static List<Route> routes(ConfigReader r, Duration swr, Duration sie, Duration negative, Duration revalidateFor) {
    JsonArray a = r.array("routes");
    if (a == null) return List.of();
    List<Route> out = new ArrayList<>();
    for (int i = 0; i < a.size(); i++) {
      String at = "routes[" + i + "]";
      if (!(a.getValue(i) instanceof JsonObject json)) {
        r.problem(at, a.getValue(i), "a mapping with name, path and ttl");
        continue;
      }
      ConfigReader rr = new ConfigReader(json, r.key(at), r.problems());
      String name = rr.string("name", null);
      if (name == null || !name.matches("[a-zA-Z0-9_.-]+")) rr.problem("name", name, "a name of letters, digits, - _ .");
      PathPattern path = pattern(rr, "path");
      Duration ttl = rr.duration("ttl", null);
      if (ttl == null || ttl.isZero()) rr.problem("ttl", rr.raw("ttl"), "a duration above 0");
      String freshness = rr.string("freshness", "ttl");
      if (!freshness.equals("ttl") && !freshness.equals("delta")) rr.problem("freshness", freshness, "ttl (the default) or delta");
      Duration routeRevalidateFor = rr.duration("revalidateFor", revalidateFor);
      if (routeRevalidateFor.isNegative()) rr.problem("revalidateFor", Units.formatDuration(routeRevalidateFor), "a duration >= 0s");
      Route route = new Route(name, path, ttl, rr.duration("staleWhileRevalidate", swr), rr.duration("staleIfError", sie),
          rr.duration("negativeTtl", negative), rr.bool("revalidate", false), routeRevalidateFor, freshness.equals("delta"));
      rr.rejectUnknown();
      if (name != null && path != null && ttl != null) out.add(route);
    }
    return List.copyOf(out);
  }

  private static List<Invalidation> invalidations(ConfigReader r) {
    JsonArray a = r.array("invalidate");
    if (a == null) return List.of();
    List<Invalidation> out = new ArrayList<>();
    for (int i = 0; i < a.size(); i++) {
      String at = "invalidate[" + i + "]";
      if (!(a.getValue(i) instanceof JsonObject json)) {
        r.problem(at, a.getValue(i), "a mapping with name, methods, path and evict");
        continue;
      }
      ConfigReader rr = new ConfigReader(json, r.key(at), r.problems());
      String name = rr.string("name", "rule" + i);
      List<String> methods = rr.strings("methods", List.of("POST", "PUT", "PATCH", "DELETE"));
      for (String m : methods) {
        if (!List.of("POST", "PUT", "PATCH", "DELETE").contains(m)) rr.problem("methods", m, "POST, PUT, PATCH or DELETE");
      }
      PathPattern path = pattern(rr, "path");
      List<String> evictText = rr.strings("evict", List.of());
      if (evictText.isEmpty()) rr.problem("evict", null, "at least one read pattern to evict");
      List<PathPattern> evict = new ArrayList<>();
      for (String e : evictText) {
        try {
          PathPattern target = PathPattern.compile(e);
          if (path != null) {
            java.util.Map<String, String> sample = new java.util.HashMap<>();
            for (String n : path.captureNames()) sample.put(n, "x");
            target.bind(sample);
          }
          evict.add(target);
        } catch (IllegalArgumentException ex) {
          rr.problem("evict", e, ex.getMessage() + " whose {names} the rule's path captures (such as /v1.0/groups/{id}/**)");
        }
      }
      rr.rejectUnknown();
      if (path != null && evict.size() == evictText.size()) out.add(new Invalidation(name, methods, path, List.copyOf(evict)));
    }
    return List.copyOf(out);
  }

  private static PathPattern pattern(ConfigReader r, String name) {
    String p = r.string("path", null);
    try {
      return PathPattern.compile(p);
    } catch (IllegalArgumentException e) {
      r.problem(name, p, e.getMessage());
      return null;
    }
  }

  public JsonObject toJson() {
    JsonArray rs = new JsonArray();
    routes.forEach(x -> rs.add(x.toJson()));
    JsonArray inv = new JsonArray();
    invalidations.forEach(x -> inv.add(x.toJson()));
    return new JsonObject().put("enabled", enabled).put("l1MaxWeight", Units.formatSize(l1MaxWeight))
        .put("maxEntrySize", Units.formatSize(maxEntrySize))
        .put("hotPath", hotPath == HotPath.IN_PROCESS ? "in-process" : "event-bus")
        .put("identityHeaders", new JsonArray(identityHeaders)).put("varyHeaders", new JsonArray(varyHeaders))
        .put("semantics", semantics == Semantics.HTTP ? "http" : "graph")
        .put("statsInterval", Units.formatDuration(statsInterval))
        .put("fleetCoalesceWait", Units.formatDuration(fleetCoalesceWait))
        .put("staleWhileRevalidate", Units.formatDuration(defaults[0]))
        .put("staleIfError", Units.formatDuration(defaults[1]))
        .put("negativeTtl", Units.formatDuration(defaults[2]))
        .put("revalidateFor", Units.formatDuration(defaults[3]))
        .put("l2", new JsonObject().put("keyPrefix", keyPrefix).put("operationTimeout", Units.formatDuration(l2Timeout))
            .put("compressAbove", Units.formatSize(compressAbove)))
        .put("routes", rs).put("invalidate", inv);
  }

  public boolean isEnabled() { return enabled; }
  public CacheOptions setEnabled(boolean enabled) { this.enabled = enabled; return this; }
  public long getL1MaxWeight() { return l1MaxWeight; }
  public CacheOptions setL1MaxWeight(long bytes) { this.l1MaxWeight = bytes; return this; }
  /** Responses larger than this pass through uncached (and are streamed, never buffered). */
  public long getMaxEntrySize() { return maxEntrySize; }
  public CacheOptions setMaxEntrySize(long bytes) { this.maxEntrySize = bytes; return this; }
  public HotPath getHotPath() { return hotPath; }
  public CacheOptions setHotPath(HotPath hotPath) { this.hotPath = hotPath; return this; }
  public List<String> getIdentityHeaders() { return identityHeaders; }
  public CacheOptions setIdentityHeaders(List<String> headers) { this.identityHeaders = List.copyOf(headers); return this; }
  public List<String> getVaryHeaders() { return varyHeaders; }
  public CacheOptions setVaryHeaders(List<String> headers) { this.varyHeaders = List.copyOf(headers); return this; }
  public Semantics getSemantics() { return semantics; }
  public CacheOptions setSemantics(Semantics s) { this.semantics = s; return this; }
  /** True in HTTP-semantics mode ({@code semantics: http}, or its old name {@code honourUpstreamCacheControl: true}). */
  public boolean isHttpSemantics() { return semantics == Semantics.HTTP; }
  /** The old name of {@link #setSemantics}: true is {@code HTTP}, false {@code GRAPH}. */
  public CacheOptions setHonourUpstreamCacheControl(boolean b) { this.semantics = b ? Semantics.HTTP : Semantics.GRAPH; return this; }
  public Duration getStatsInterval() { return statsInterval; }
  public CacheOptions setStatsInterval(Duration d) { this.statsInterval = d; return this; }
  public String getKeyPrefix() { return keyPrefix; }
  public CacheOptions setKeyPrefix(String prefix) { this.keyPrefix = prefix; return this; }
  /** Per-operation Redis timeout; past it the request goes on without L2. */
  public Duration getL2Timeout() { return l2Timeout; }
  public CacheOptions setL2Timeout(Duration d) { this.l2Timeout = d; return this; }
  /** L2 bodies above this size are gzip-compressed (on a worker thread). */
  public long getCompressAbove() { return compressAbove; }
  public CacheOptions setCompressAbove(long bytes) { this.compressAbove = bytes; return this; }
  /**
   * With L2, how long a miss waits for the instance holding the key's lease (its completion message, or the
   * lease's end) before fetching for itself; zero: no fleet-wide coalescing.
   */
  public Duration getFleetCoalesceWait() { return fleetCoalesceWait; }
  public CacheOptions setFleetCoalesceWait(Duration d) { this.fleetCoalesceWait = d; return this; }
  public List<Route> getRoutes() { return routes; }
  public CacheOptions setRoutes(List<Route> routes) { this.routes = List.copyOf(routes); return this; }
  public List<Invalidation> getInvalidations() { return invalidations; }
  public CacheOptions setInvalidations(List<Invalidation> rules) { this.invalidations = List.copyOf(rules); return this; }
}
