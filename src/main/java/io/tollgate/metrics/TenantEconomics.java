package io.tollgate.metrics;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.config.EconomicsOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import java.util.function.ToDoubleFunction;

/**
 * Upstream economics per tenant and lane (issue 11): reads answered from the cache and from the upstream, RU spent
 * and saved, upstream 429s absorbed, retries and rate-limit wait. One table, three views: the
 * {@code tollgate.tenant.*} meters on {@code /metrics}, and {@link #toJson()} in {@code tollgate.cache.stats} and
 * {@code GET /admin/cache/stats}.
 *
 * <p>Design note. Labels and cardinality. A tenant is the verified {@code tid}; callers not verified yet share the
 * row {@value #UNVERIFIED}. A tenant's label is its configured alias, else the first 8 hex digits of SHA-256 of its
 * id, computed once when it gets a label. Aliased tenants are always labelled. Of the others, the first
 * {@code economics.topTenants} seen get a label and keep it while they stay active: a labelled tenant with no
 * request for {@code economics.idleAfter} gives it up (its series leave {@code /metrics}) and the next newcomer takes
 * it. Every other tenant is counted as {@value #OTHER}, and nothing is kept about it, so memory and the number of
 * series are bounded by the configuration whatever the number of tenants: (aliases + topTenants + 2) x lanes rows.
 * "Top" therefore means "first active", not "largest": a label never moves between tenants while both are busy, so
 * series do not flap; a big tenant that arrives when every label is held by an active tenant stays in {@code other}
 * until one goes idle (raise {@code topTenants} or give it an alias).
 *
 * <p>Hot path: {@link #row} is a map lookup by tenant id (its hash cached in the String) and an array read; the
 * meters are created once per row and read {@link LongAdder}s. Thread-safe: any event loop records; labels are
 * given under this object's lock (once per tenant).
 */
public final class TenantEconomics {
  /** The row of every caller whose token the upstream has not accepted yet (and of anonymous callers). */
  public static final String UNVERIFIED = "unverified";
  /** The row of tenants without a label of their own. */
  public static final String OTHER = "other";

  private final MeterRegistry registry;
  private final String[] lanes;
  private final int topTenants;
  private final long idleAfterNanos;
  private final Map<String, String> aliases;
  private final LongSupplier nanoTime;
  private final ConcurrentHashMap<String, Tenant> labelled = new ConcurrentHashMap<>();
  private final Tenant unverified;
  private final Tenant other;
  private volatile int ranked;
  private volatile long nextSweepNanos;

  /**
   * @param lanes the lane labels, by lane ordinal ({@code interactive}, {@code background})
   * @param nanoTime monotonic time (tests advance a fake one)
   */
  public TenantEconomics(EconomicsOptions options, MeterRegistry registry, List<String> lanes, LongSupplier nanoTime) {
    this.registry = registry;
    this.lanes = lanes.toArray(new String[0]);
    this.topTenants = options.getTopTenants();
    this.idleAfterNanos = options.getIdleAfter().toNanos();
    this.aliases = Map.copyOf(options.getTenantAliases());
    this.nanoTime = nanoTime;
    this.unverified = new Tenant(UNVERIFIED, true);
    this.other = new Tenant(OTHER, true);
    this.nextSweepNanos = nanoTime.getAsLong() + idleAfterNanos;
  }

  /**
   * The row a request's figures go to.
   *
   * @param tenantId the verified tenant id, or null for a caller not verified
   * @param lane the lane's ordinal
   */
  public Row row(String tenantId, int lane) {
    if (tenantId == null) return unverified.row(lane);
    Tenant t = labelled.get(tenantId);
    if (t == null) t = label(tenantId);
    if (!t.pinned) t.lastSeenNanos = nanoTime.getAsLong();
    return t.row(lane);
  }

  /** A tenant without a label yet: its alias, a free label, or {@code other}. */
  private Tenant label(String tenantId) {
    String alias = aliases.get(tenantId);
    if (alias == null && ranked >= topTenants && nanoTime.getAsLong() < nextSweepNanos) return other;
    synchronized (this) {
      Tenant t = labelled.get(tenantId);
      if (t != null) return t;
      if (alias != null) {
        t = new Tenant(alias, true);
      } else {
        if (ranked >= topTenants) sweep();
        if (ranked >= topTenants) return other;
        t = new Tenant(shortHash(tenantId), false);
        t.lastSeenNanos = nanoTime.getAsLong();
        ranked++;
      }
      labelled.put(tenantId, t);
      return t;
    }
  }

  /** Under the lock: labelled tenants idle for idleAfter give their labels (and series) up. */
  private void sweep() {
    long now = nanoTime.getAsLong();
    if (now < nextSweepNanos) return;
    nextSweepNanos = now + Math.max(1_000_000_000L, idleAfterNanos / 4);
    labelled.values().removeIf(t -> {
      if (t.pinned || now - t.lastSeenNanos < idleAfterNanos) return false;
      t.unregister();
      ranked--;
      return true;
    });
  }

  /** {@code [{"tenant":"contoso","lane":"interactive","reads":{"cache":9,"upstream":3,"refused":0},
   *  "ru":{"spent":6,"saved":18},"throttlesAbsorbed":1,"retries":1,"waitMs":250}, ...]}: labelled tenants by
   *  label, then {@code unverified}, then {@code other}; only rows that saw traffic. */
  public JsonArray toJson() {
    List<Tenant> all = new ArrayList<>(labelled.values());
    all.sort(Comparator.comparing(t -> t.label));
    all.add(unverified);
    all.add(other);
    JsonArray out = new JsonArray();
    for (Tenant t : all) {
      for (int lane = 0; lane < lanes.length; lane++) {
        Row r = t.rows.get(lane);
        if (r != null) out.add(r.toJson(t.label, lanes[lane]));
      }
    }
    return out;
  }

  /** First 8 hex digits of SHA-256 of the id: stable across gateways and restarts, not reversible in practice. */
  static String shortHash(String tenantId) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(tenantId.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d, 0, 4);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private final class Tenant {
    final String label;
    /** Aliased, unverified and other: never give their label up. */
    final boolean pinned;
    final AtomicReferenceArray<Row> rows = new AtomicReferenceArray<>(lanes.length);
    volatile long lastSeenNanos;

    Tenant(String label, boolean pinned) {
      this.label = label;
      this.pinned = pinned;
    }

    Row row(int lane) {
      Row r = rows.get(lane);
      if (r != null) return r;
      synchronized (this) {
        r = rows.get(lane);
        if (r == null) {
          r = new Row(label, lanes[lane]);
          rows.set(lane, r);
        }
        return r;
      }
    }

    void unregister() {
      for (int i = 0; i < lanes.length; i++) {
        Row r = rows.get(i);
        if (r != null) r.meters.forEach(registry::remove);
      }
    }
  }

  /** One tenant's figures in one lane. {@link #add} from any thread. */
  public final class Row {
    private final LongAdder cacheReads = new LongAdder();
    private final LongAdder upstreamReads = new LongAdder();
    private final LongAdder refusedReads = new LongAdder();
    private final LongAdder ruSpent = new LongAdder();
    private final LongAdder ruSaved = new LongAdder();
    private final LongAdder absorbed = new LongAdder();
    private final LongAdder retries = new LongAdder();
    private final LongAdder waitNanos = new LongAdder();
    private final List<Meter> meters = new ArrayList<>(8);

    private Row(String tenant, String lane) {
      meter(MeterNames.TENANT_READS, tenant, lane, MeterNames.TAG_SOURCE, "cache", cacheReads, 1);
      meter(MeterNames.TENANT_READS, tenant, lane, MeterNames.TAG_SOURCE, "upstream", upstreamReads, 1);
      meter(MeterNames.TENANT_READS, tenant, lane, MeterNames.TAG_SOURCE, "refused", refusedReads, 1);
      meter(MeterNames.TENANT_RU, tenant, lane, MeterNames.TAG_KIND, "spent", ruSpent, 1);
      meter(MeterNames.TENANT_RU, tenant, lane, MeterNames.TAG_KIND, "saved", ruSaved, 1);
      meter(MeterNames.TENANT_THROTTLES_ABSORBED, tenant, lane, null, null, absorbed, 1);
      meter(MeterNames.TENANT_RETRIES, tenant, lane, null, null, retries, 1);
      meter(MeterNames.TENANT_WAIT, tenant, lane, null, null, waitNanos, 1e-9);
    }

    private void meter(String name, String tenant, String lane, String tag, String value, LongAdder adder, double scale) {
      ToDoubleFunction<LongAdder> read = a -> a.sum() * scale;
      FunctionCounter.Builder<LongAdder> b = FunctionCounter.builder(name, adder, read)
          .tag(MeterNames.TAG_TENANT, tenant).tag(MeterNames.TAG_LANE, lane);
      if (tag != null) b.tag(tag, value);
      if (name.equals(MeterNames.TENANT_WAIT)) b.baseUnit("seconds");
      meters.add(b.register(registry));
    }

    /**
     * One request's figures (zeros are skipped).
     *
     * @param cacheReads reads answered from a cache entry (or by another request's upstream call: coalesced)
     * @param upstreamReads reads answered by the upstream
     * @param refusedReads reads the client must send again: a 429/503, or an error Tollgate answered itself
     * @param ruSpent resource units of the upstream calls made
     * @param ruSaved resource units of the reads the cache answered
     * @param absorbed upstream 429s (and 503s with Retry-After) the client never saw
     * @param retries upstream calls made again for the same read or write
     * @param waitNanos time waited for rate-limit tokens
     */
    public void add(long cacheReads, long upstreamReads, long refusedReads, long ruSpent, long ruSaved, long absorbed,
        long retries, long waitNanos) {
      if (cacheReads != 0) this.cacheReads.add(cacheReads);
      if (upstreamReads != 0) this.upstreamReads.add(upstreamReads);
      if (refusedReads != 0) this.refusedReads.add(refusedReads);
      if (ruSpent != 0) this.ruSpent.add(ruSpent);
      if (ruSaved != 0) this.ruSaved.add(ruSaved);
      if (absorbed != 0) this.absorbed.add(absorbed);
      if (retries != 0) this.retries.add(retries);
      if (waitNanos != 0) this.waitNanos.add(waitNanos);
    }

    JsonObject toJson(String tenant, String lane) {
      return new JsonObject().put("tenant", tenant).put("lane", lane)
          .put("reads", new JsonObject().put("cache", cacheReads.sum()).put("upstream", upstreamReads.sum())
              .put("refused", refusedReads.sum()))
          .put("ru", new JsonObject().put("spent", ruSpent.sum()).put("saved", ruSaved.sum()))
          .put("throttlesAbsorbed", absorbed.sum()).put("retries", retries.sum())
          .put("waitMs", waitNanos.sum() / 1_000_000);
    }
  }
}
