package io.tollgate.cache;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;
import java.util.function.ToDoubleFunction;

/** Cache counters, bumped from any event loop; one method builds the SPEC §4 statistics message. */
public final class CacheStats {
  final LongAdder l1Hits = new LongAdder();
  final LongAdder l1Misses = new LongAdder();
  final LongAdder l2Hits = new LongAdder();
  final LongAdder l2Misses = new LongAdder();
  final LongAdder l2Errors = new LongAdder();
  final LongAdder coalesced = new LongAdder();
  final LongAdder staleServed = new LongAdder();
  final LongAdder bypassed = new LongAdder();
  private final L1Store l1;
  private final BooleanSupplier l2Connected;

  /** @param l2Connected whether L2 is in use right now (false without Redis) */
  CacheStats(L1Store l1, BooleanSupplier l2Connected) {
    this.l1 = l1;
    this.l2Connected = l2Connected;
  }

  public long l1Hits() { return l1Hits.sum(); }
  public long l1Misses() { return l1Misses.sum(); }
  public long l2Hits() { return l2Hits.sum(); }
  public long l2Misses() { return l2Misses.sum(); }
  public long l2Errors() { return l2Errors.sum(); }
  public long coalesced() { return coalesced.sum(); }
  public long staleServed() { return staleServed.sum(); }
  public long evictions() { return l1.evictions(); }
  public boolean l2Connected() { return l2Connected.getAsBoolean(); }

  public double hitRate() {
    long hits = l1Hits.sum();
    long total = hits + l1Misses.sum();
    return total == 0 ? 0.0 : (double) hits / total;
  }

  /** {"l1":{hits,misses,hitRate,size,weightBytes,evictions},"l2":{hits,misses,errors,connected},"coalesced":n,"at":iso} */
  public JsonObject toJson() {
    return new JsonObject()
        .put("l1", new JsonObject().put("hits", l1Hits()).put("misses", l1Misses()).put("hitRate", hitRate())
            .put("size", l1.size()).put("weightBytes", l1.weightBytes()).put("evictions", evictions()))
        .put("l2", new JsonObject().put("hits", l2Hits()).put("misses", l2Misses()).put("errors", l2Errors())
            .put("connected", l2Connected()))
        .put("coalesced", coalesced()).put("staleServed", staleServed())
        .put("at", Instant.now().toString());
  }

  void bind(MeterRegistry registry) {
    counter(registry, "tollgate.cache.hits", "level", "l1", s -> s.l1Hits.sum());
    counter(registry, "tollgate.cache.hits", "level", "l2", s -> s.l2Hits.sum());
    counter(registry, "tollgate.cache.misses", "level", "l1", s -> s.l1Misses.sum());
    counter(registry, "tollgate.cache.misses", "level", "l2", s -> s.l2Misses.sum());
    counter(registry, "tollgate.cache.coalesced", null, null, s -> s.coalesced.sum());
    counter(registry, "tollgate.cache.stale.served", null, null, s -> s.staleServed.sum());
    counter(registry, "tollgate.cache.evictions", "level", "l1", s -> s.l1.evictions());
    counter(registry, "tollgate.cache.bypassed", null, null, s -> s.bypassed.sum());
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
