package io.tollgate.cache;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.metrics.MeterNames;
import io.tollgate.metrics.TenantEconomics;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;
import java.util.function.ToDoubleFunction;

/**
 * The cache's counters, written from any event loop ({@link LongAdder}s; L1's size and Redis' state are read
 * where they live). Readers take a {@link Snapshot}: one consistent-enough copy from which the SPEC §4
 * statistics message and {@code /admin/cache/stats} are built. The accessors here read the current values
 * (the Prometheus meters and tests poll them).
 */
public final class CacheStats {
  final LongAdder l1Hits = new LongAdder();
  final LongAdder l1Misses = new LongAdder();
  final LongAdder l2Hits = new LongAdder();
  final LongAdder l2Misses = new LongAdder();
  final LongAdder l2Errors = new LongAdder();
  final LongAdder coalesced = new LongAdder();
  final LongAdder staleServed = new LongAdder();
  final LongAdder bypassed = new LongAdder();
  /** ETag revalidations sent upstream, by outcome. */
  final LongAdder revalidatedNotModified = new LongAdder();
  final LongAdder revalidatedChanged = new LongAdder();
  final LongAdder revalidationFailed = new LongAdder();
  /** 304s answered from the cache to a client's own matching If-None-Match. */
  final LongAdder notModifiedServed = new LongAdder();
  /** Misses answered from the entry another instance's flight stored, after waiting for it. */
  final LongAdder fleetFollowed = new LongAdder();
  /** Of those, answered from the entry its leader's message carried, without a Redis round trip of their own. */
  final LongAdder fleetCarried = new LongAdder();
  /** Flights that took a lease over after waiting (its leader died, failed, or its answer was refused). */
  final LongAdder fleetTakeovers = new LongAdder();
  private final L1Store l1;
  private final BooleanSupplier l2Connected;
  private final TenantEconomics economics;
  private final String instance;

  /**
   * @param l2Connected whether L2 is in use right now (false without Redis)
   * @param economics the per-tenant table the statistics carry as {@code tenants}, or null
   * @param instance the owning gateway's id, carried as {@code instance}
   */
  CacheStats(L1Store l1, BooleanSupplier l2Connected, TenantEconomics economics, String instance) {
    this.instance = instance;
    this.l1 = l1;
    this.l2Connected = l2Connected;
    this.economics = economics;
  }

  public long l1Hits() { return l1Hits.sum(); }
  public long l1Misses() { return l1Misses.sum(); }
  public long l2Hits() { return l2Hits.sum(); }
  public long l2Misses() { return l2Misses.sum(); }
  public long l2Errors() { return l2Errors.sum(); }
  public long coalesced() { return coalesced.sum(); }
  public long staleServed() { return staleServed.sum(); }
  public long fleetFollowed() { return fleetFollowed.sum(); }
  public long fleetCarried() { return fleetCarried.sum(); }
  public long fleetTakeovers() { return fleetTakeovers.sum(); }
  /** Revalidations the upstream answered 304: entries made fresh without a body transfer. */
  public long revalidatedNotModified() { return revalidatedNotModified.sum(); }
  /** Revalidations the upstream answered with a new answer (the entry had changed). */
  public long revalidatedChanged() { return revalidatedChanged.sum(); }
  /** Revalidations that ended otherwise (an error status, a failed call). */
  public long revalidationFailed() { return revalidationFailed.sum(); }
  /** 304s answered from the cache to clients' own matching If-None-Match. */
  public long notModifiedServed() { return notModifiedServed.sum(); }
  public long evictions() { return l1.evictions(); }
  public boolean l2Connected() { return l2Connected.getAsBoolean(); }

  /** The counters now, as one immutable value. */
  public Snapshot snapshot() {
    return new Snapshot(l1Hits(), l1Misses(), l1.size(), l1.weightBytes(), evictions(), l2Hits(), l2Misses(), l2Errors(),
        l2Connected(), coalesced(), staleServed(), bypassed.sum(), revalidatedNotModified(), revalidatedChanged(),
        revalidationFailed(), notModifiedServed(), economics == null ? new JsonArray() : economics.toJson(),
        instance, Instant.now());
  }

  /** The cache statistics at one instant; {@link #toJson()} is the SPEC §4 message. */
  public record Snapshot(long l1Hits, long l1Misses, long l1Size, long l1WeightBytes, long l1Evictions, long l2Hits,
      long l2Misses, long l2Errors, boolean l2Connected, long coalesced, long staleServed, long bypassed,
      long revalidatedNotModified, long revalidatedChanged, long revalidationFailed, long notModifiedServed, JsonArray tenants,
      String instance, Instant at) {

    /** L1 hits over L1 lookups; 0 before the first lookup. */
    public double hitRate() {
      long total = l1Hits + l1Misses;
      return total == 0 ? 0.0 : (double) l1Hits / total;
    }

    /**
     * {"l1":{hits,misses,hitRate,size,weightBytes,evictions},"l2":{hits,misses,errors,connected},"coalesced":n,
     * "staleServed":n,"revalidations":{"notModified":n,"changed":n,"failed":n,"clientNotModified":n},"tenants":[{tenant,lane,reads:{cache,upstream,refused},ru:{spent,saved},throttlesAbsorbed,
     * retries,waitMs}],"instance":id,"at":iso} (tenants: {@link TenantEconomics#toJson()}; instance: this gateway's
     * random id for its lifetime, which tells gateways apart on a clustered event bus)
     */
    public JsonObject toJson() {
      return new JsonObject()
          .put("l1", new JsonObject().put("hits", l1Hits).put("misses", l1Misses).put("hitRate", hitRate())
              .put("size", l1Size).put("weightBytes", l1WeightBytes).put("evictions", l1Evictions))
          .put("l2", new JsonObject().put("hits", l2Hits).put("misses", l2Misses).put("errors", l2Errors)
              .put("connected", l2Connected))
          .put("coalesced", coalesced).put("staleServed", staleServed)
          .put("revalidations", new JsonObject().put("notModified", revalidatedNotModified).put("changed", revalidatedChanged)
              .put("failed", revalidationFailed).put("clientNotModified", notModifiedServed))
          .put("tenants", tenants.copy())
          .put("instance", instance)
          .put("at", at.toString());
    }
  }

  void bind(MeterRegistry registry) {
    counter(registry, "tollgate.cache.hits", "level", "l1", s -> s.l1Hits.sum());
    counter(registry, "tollgate.cache.hits", "level", "l2", s -> s.l2Hits.sum());
    counter(registry, "tollgate.cache.misses", "level", "l1", s -> s.l1Misses.sum());
    counter(registry, "tollgate.cache.misses", "level", "l2", s -> s.l2Misses.sum());
    counter(registry, "tollgate.cache.coalesced", null, null, s -> s.coalesced.sum());
    counter(registry, "tollgate.cache.fleet.followed", null, null, s -> s.fleetFollowed.sum());
    counter(registry, "tollgate.cache.fleet.carried", null, null, s -> s.fleetCarried.sum());
    counter(registry, "tollgate.cache.fleet.takeovers", null, null, s -> s.fleetTakeovers.sum());
    counter(registry, "tollgate.cache.stale.served", null, null, s -> s.staleServed.sum());
    counter(registry, "tollgate.cache.evictions", "level", "l1", s -> s.l1.evictions());
    counter(registry, "tollgate.cache.invalidation.examined", "level", "l1", s -> s.l1.examined());
    counter(registry, "tollgate.cache.bypassed", null, null, s -> s.bypassed.sum());
    counter(registry, MeterNames.CACHE_REVALIDATIONS, MeterNames.TAG_OUTCOME, "not-modified", s -> s.revalidatedNotModified.sum());
    counter(registry, MeterNames.CACHE_REVALIDATIONS, MeterNames.TAG_OUTCOME, "changed", s -> s.revalidatedChanged.sum());
    counter(registry, MeterNames.CACHE_REVALIDATIONS, MeterNames.TAG_OUTCOME, "failed", s -> s.revalidationFailed.sum());
    counter(registry, MeterNames.CACHE_NOT_MODIFIED, null, null, s -> s.notModifiedServed.sum());
    counter(registry, "tollgate.cache.l2.errors", null, null, s -> s.l2Errors.sum());
    Gauge.builder("tollgate.cache.l1.size", this, s -> s.l1.size()).description("entries in L1").register(registry);
    Gauge.builder("tollgate.cache.l1.weight", this, s -> s.l1.weightBytes()).baseUnit("bytes").register(registry);
    Gauge.builder("tollgate.cache.l2.connected", this, s -> s.l2Connected() ? 1 : 0).description("1 when Redis answers").register(registry);
  }

  private void counter(MeterRegistry registry, String name, String tag, String value, ToDoubleFunction<CacheStats> f) {
    FunctionCounter.Builder<CacheStats> b = FunctionCounter.builder(name, this, f);
    if (tag != null) b.tag(tag, value);
    b.register(registry);
  }
}
