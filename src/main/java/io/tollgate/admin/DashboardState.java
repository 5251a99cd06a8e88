package io.tollgate.admin;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.tollgate.metrics.MeterNames;
import io.tollgate.metrics.Readiness;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * The one document the dashboard draws: the last {@code tollgate.cache.stats} message as it is, with what only the
 * meters and readiness know beside it. Every figure comes from a source an operator can also read directly:
 * <ul>
 *   <li>{@code stats}: the statistics message (L1/L2 hits, coalesced, stale, the per-tenant table), or null before
 *       the first one;</li>
 *   <li>{@code upstream}: calls made and avoided, RU spent and saved, 429s absorbed and wait, summed over the
 *       {@code tenants} rows of that message;</li>
 *   <li>{@code routes}: requests per route rule by {@code X-Cache} ({@code tollgate.requests});</li>
 *   <li>{@code limiter} and {@code budgets}: the {@code tollgate.ratelimit.*} meters, each configured limit with its
 *       tokens admitted and the rates its buckets learned;</li>
 *   <li>{@code breakers}, {@code bulkhead} and {@code readiness}: the breaker and bulkhead meters and
 *       {@code /health/ready};</li>
 *   <li>{@code events}: recent {@code tollgate.events} messages, newest first (when the caller passes them).</li>
 * </ul>
 * Rates are tokens per second, as configured; {@code waitSeconds} and {@code waitMs} say their unit.
 * No token, caller or tenant id appears: tenants are labels already ({@code TenantEconomics}), bucket scopes are
 * hashes. Reading the registry walks a few hundred meters: done once per statistics message, not per viewer.
 */
final class DashboardState {
  /** Learned-rate buckets listed per limit; the rest are only counted. */
  static final int MAX_BUCKETS_SHOWN = 8;
  private static final String[] CACHE_KINDS = {"HIT-L1", "HIT-L2", "STALE", "REVALIDATED", "MISS", "BYPASS"};

  private final MeterRegistry registry;
  private final Readiness readiness;
  private final JsonObject rateLimitConfig;

  /** @param effectiveConfig the gateway's effective configuration (secrets masked); only its rate limits are read */
  DashboardState(MeterRegistry registry, Readiness readiness, JsonObject effectiveConfig) {
    this.registry = registry;
    this.readiness = readiness;
    JsonObject rl = effectiveConfig.getJsonObject("rateLimit");
    this.rateLimitConfig = rl == null ? new JsonObject() : rl.copy();
  }

  /**
   * @param stats the last statistics message, or null
   * @param events recent {@code tollgate.events}, newest first
   */
  JsonObject build(JsonObject stats, List<JsonObject> events) {
    JsonObject state = new JsonObject()
        .put("at", Instant.now().toString())
        .put("stats", stats)
        .put("upstream", upstream(stats))
        .put("routes", routes())
        .put("limiter", limiter())
        .put("budgets", budgets())
        .put("breakers", breakers())
        .put("bulkhead", bulkhead())
        .put("readiness", readiness.toJson());
    JsonArray recent = new JsonArray();
    events.forEach(recent::add);
    return state.put("events", recent);
  }

  private static JsonObject upstream(JsonObject stats) {
    long made = 0, avoided = 0, refused = 0, ruSpent = 0, ruSaved = 0, absorbed = 0, retries = 0, waitMs = 0;
    JsonArray tenants = stats == null ? null : stats.getJsonArray("tenants");
    if (tenants != null) {
      for (int i = 0; i < tenants.size(); i++) {
        JsonObject t = tenants.getJsonObject(i);
        JsonObject reads = t.getJsonObject("reads", new JsonObject());
        JsonObject ru = t.getJsonObject("ru", new JsonObject());
        made += reads.getLong("upstream", 0L);
        avoided += reads.getLong("cache", 0L);
        refused += reads.getLong("refused", 0L);
        ruSpent += ru.getLong("spent", 0L);
        ruSaved += ru.getLong("saved", 0L);
        absorbed += t.getLong("throttlesAbsorbed", 0L);
        retries += t.getLong("retries", 0L);
        waitMs += t.getLong("waitMs", 0L);
      }
    }
    return new JsonObject().put("made", made).put("avoided", avoided).put("refused", refused)
        .put("ruSpent", ruSpent).put("ruSaved", ruSaved).put("throttlesAbsorbed", absorbed).put("retries", retries)
        .put("waitMs", waitMs);
  }

  /** Per route rule: requests by X-Cache value and the share the cache answered (of the cacheable ones). */
  private JsonArray routes() {
    Map<String, long[]> byRoute = new TreeMap<>();
    for (Timer t : registry.find(MeterNames.REQUESTS).timers()) {
      String route = t.getId().getTag(MeterNames.TAG_ROUTE);
      String cache = t.getId().getTag(MeterNames.TAG_CACHE);
      if (route == null) continue;
      long[] counts = byRoute.computeIfAbsent(route, r -> new long[CACHE_KINDS.length + 1]);
      int kind = CACHE_KINDS.length;
      for (int i = 0; i < CACHE_KINDS.length; i++) if (CACHE_KINDS[i].equals(cache)) kind = i;
      counts[kind] += t.count();
    }
    JsonArray out = new JsonArray();
    byRoute.forEach((route, c) -> {
      long total = 0;
      for (long n : c) total += n;
      long hits = c[0] + c[1] + c[2] + c[3];
      long cacheable = total - c[5] - c[6];
      out.add(new JsonObject().put("route", route).put("requests", total).put("hitL1", c[0]).put("hitL2", c[1])
          .put("stale", c[2]).put("revalidated", c[3]).put("miss", c[4]).put("bypass", c[5])
          .put("hitRate", cacheable <= 0 ? null : (double) hits / cacheable));
    });
    return out;
  }

  private JsonObject limiter() {
    Timer wait = registry.find(MeterNames.RATELIMIT_WAIT).timer();
    Gauge waiting = registry.find(MeterNames.RATELIMIT_WAITING).gauge();
    Gauge fallback = registry.find(MeterNames.RATELIMIT_FALLBACK).gauge();
    String mode = !rateLimitConfig.getBoolean("enabled", false) ? "off"
        : fallback != null && fallback.value() > 0 ? "local-fallback"
        : rateLimitConfig.getBoolean("distributed", false) ? "distributed" : "local";
    return new JsonObject()
        .put("mode", mode)
        .put("waits", counted(MeterNames.RATELIMIT_WAITS))
        .put("waitSeconds", wait == null ? 0.0 : wait.totalTime(TimeUnit.SECONDS))
        .put("waiting", waiting == null ? 0 : (long) waiting.value())
        .put("rejected", counted(MeterNames.RATELIMIT_REJECTED))
        .put("requeued", counted(MeterNames.RATELIMIT_REQUEUED))
        .put("pauses", counted(MeterNames.RATELIMIT_PAUSES))
        .put("staleWhileThrottled", counted(MeterNames.RATELIMIT_STALE_WHILE_THROTTLED))
        .put("upstreamThrottled", counted(MeterNames.UPSTREAM_THROTTLED));
  }

  /** Each configured limit: its rule, tokens admitted so far, and the rates its buckets learned. */
  private JsonArray budgets() {
    JsonArray limits = rateLimitConfig.getJsonArray("limits", new JsonArray());
    JsonArray out = new JsonArray();
    for (int i = 0; i < limits.size(); i++) {
      JsonObject limit = limits.getJsonObject(i);
      String name = limit.getString("name");
      Counter tokens = registry.find(MeterNames.RATELIMIT_TOKENS).tag(MeterNames.TAG_LIMIT, name).counter();
      List<JsonObject> buckets = new ArrayList<>();
      double min = Double.NaN, max = Double.NaN;
      for (Gauge g : registry.find(MeterNames.RATELIMIT_LEARNED_RATE).tag(MeterNames.TAG_LIMIT, name).gauges()) {
        double rate = g.value();
        if (Double.isNaN(rate)) continue;
        min = Double.isNaN(min) ? rate : Math.min(min, rate);
        max = Double.isNaN(max) ? rate : Math.max(max, rate);
        buckets.add(new JsonObject().put("scope", g.getId().getTag(MeterNames.TAG_SCOPE)).put("rate", round(rate)));
      }
      buckets.sort((a, b) -> a.getString("scope", "").compareTo(b.getString("scope", "")));
      JsonArray shown = new JsonArray();
      buckets.stream().limit(MAX_BUCKETS_SHOWN).forEach(shown::add);
      out.add(new JsonObject().put("name", name).put("key", limit.getString("key")).put("mode", limit.getString("mode"))
          .put("rate", limit.getValue("rate")).put("burst", limit.getValue("burst"))
          .put("tokens", tokens == null ? 0L : (long) tokens.count())
          .put("learnedBuckets", buckets.size())
          .put("learnedMin", Double.isNaN(min) ? null : round(min))
          .put("learnedMax", Double.isNaN(max) ? null : round(max))
          .put("learned", shown));
    }
    return out;
  }

  private JsonArray breakers() {
    JsonArray out = new JsonArray();
    Map<String, String> byOrigin = new TreeMap<>();
    for (Gauge g : registry.find(MeterNames.BREAKER_STATE).gauges()) {
      double v = g.value();
      byOrigin.put(String.valueOf(g.getId().getTag(MeterNames.TAG_ORIGIN)), v >= 2 ? "open" : v >= 1 ? "half-open" : "closed");
    }
    byOrigin.forEach((origin, state) -> out.add(new JsonObject().put("origin", origin).put("state", state)));
    return out;
  }

  private JsonObject bulkhead() {
    Gauge inFlight = registry.find(MeterNames.BULKHEAD_IN_FLIGHT).gauge();
    Gauge queue = registry.find(MeterNames.BULKHEAD_QUEUE).gauge();
    return new JsonObject().put("inFlight", inFlight == null ? 0 : (long) inFlight.value())
        .put("queue", queue == null ? 0 : (long) queue.value()).put("shed", counted(MeterNames.BULKHEAD_SHED));
  }

  /** The sum of every counter (plain or function) of that name, whatever its tags. */
  private long counted(String name) {
    double sum = 0;
    for (Counter c : registry.find(name).counters()) sum += c.count();
    for (FunctionCounter c : registry.find(name).functionCounters()) sum += c.count();
    return (long) sum;
  }

  private static double round(double rate) {
    return Math.round(rate * 100) / 100.0;
  }
}
