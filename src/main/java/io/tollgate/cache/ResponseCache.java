package io.tollgate.cache;

import io.tollgate.config.PathPattern;
import io.tollgate.proxy.Offload;
import io.tollgate.proxy.XCache;
import io.vertx.core.Future;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * The two cache levels behind one face: L1 read in-process, L2 (when Redis is configured) behind it, L2 hits
 * promoted to L1. Owned by {@link CacheVerticle}; proxy verticles call it from their own event loops (L1 is
 * Caffeine, thread-safe; the Redis client dispatches to its own context). Work that grows with L1 (evicting
 * what an invalidation covers, clearing) runs on the worker pool, never on an event loop.
 */
public final class ResponseCache {
  /** A found entry and the level that had it. */
  public record Hit(CachedResponse response, XCache source) {
    /** "L1" or "L2", as the event-bus API names the level. */
    public String level() {
      return source == XCache.HIT_L2 ? "L2" : "L1";
    }
  }

  /** What a clear invalidates: every path. */
  private static final PathPattern EVERYTHING = PathPattern.compile("/**");

  private final L1Store l1;
  private final L2Store l2;
  private final CacheStats stats;
  private final Clock clock;
  private final Offload offload;
  private final RecentInvalidations recent = new RecentInvalidations();
  private final List<Consumer<PathPattern>> listeners = new CopyOnWriteArrayList<>();
  /** Told of every stored answer of a delta-fed route (the freshness package's index); null when none. */
  private volatile StoreObserver storeObserver;
  /** Set once by the cache verticle before any proxy starts; null without L2 or with fleet coalescing off. */
  private volatile FleetCoalescer fleet;

  /** @param offload where L1 evictions and clears run (the worker pool) */
  ResponseCache(L1Store l1, L2Store l2, CacheStats stats, Clock clock, Offload offload) {
    this.l1 = l1;
    this.l2 = l2;
    this.stats = stats;
    this.clock = clock;
    this.offload = offload;
  }

  public Clock clock() { return clock; }
  public CacheStats stats() { return stats; }
  public L1Store l1() { return l1; }
  public boolean hasL2() { return l2 != null; }
  /** Fleet-wide single flight over L2, or null (no Redis configured, or {@code cache.fleetCoalesceWait: 0s}). */
  public FleetCoalescer fleet() { return fleet; }

  void fleet(FleetCoalescer fleet) {
    this.fleet = fleet;
  }

  /** Told of the answers stored for routes whose entries a content-based freshness source evicts. */
  @FunctionalInterface
  public interface StoreObserver {
    /**
     * Called on the storing event loop; must not block (parse on the worker pool).
     *
     * @param path the cached path (every partition and query of it is evicted together)
     * @param body the stored body (identity-coded)
     * @param retainMillis how long the entry may be kept, staleness included
     * @param fetchBeganMillis when the upstream read of this answer began
     */
    void stored(String path, io.vertx.core.buffer.Buffer body, long retainMillis, long fetchBeganMillis);
  }

  /** Sets the observer of delta-fed stores (one; null to stop). */
  public void observeStores(StoreObserver observer) {
    this.storeObserver = observer;
  }

  /** Hands a delta-fed route's stored answer to the observer, if any. */
  void mentioned(String path, io.vertx.core.buffer.Buffer body, long retainMillis, long fetchBeganMillis) {
    StoreObserver o = storeObserver;
    if (o != null) o.stored(path, body, retainMillis, fetchBeganMillis);
  }

  /** @return the hit, or null when neither level has the key */
  public Future<Hit> lookup(CacheKey key) {
    CachedResponse local = l1.get(key);
    if (local != null) {
      stats.l1Hits.increment();
      return Future.succeededFuture(new Hit(local, XCache.HIT_L1));
    }
    stats.l1Misses.increment();
    if (l2 == null || !l2.connected()) return Future.succeededFuture();
    long began = System.currentTimeMillis();
    return l2.get(key).map(remote -> {
      // An invalidation since the read began may have deleted this very answer from Redis after it was read.
      if (remote == null || !putLocal(key, remote, began)) {
        stats.l2Misses.increment();
        return null;
      }
      stats.l2Hits.increment();
      return new Hit(remote, XCache.HIT_L2);
    });
  }

  /**
   * An entry a fleet flight found in L2: promoted to L1 like a lookup's L2 hit, unless an invalidation applied
   * here since {@code sinceMillis} (when the flight began) covers its path: it may predate the write.
   *
   * @return false when the entry must not be served
   */
  boolean admit(CacheKey key, CachedResponse remote, long sinceMillis) {
    return putLocal(key, remote, sinceMillis);
  }

  /**
   * Stores in L1 at once and in L2 in the background; Redis trouble never reaches the caller. An answer
   * whose upstream read began before an invalidation that covers it is not stored: it may predate the write.
   *
   * @param fetchBeganMillis wall-clock time the upstream read for this answer began
   */
  public Future<Void> store(CacheKey key, CachedResponse response, long fetchBeganMillis) {
    if (!putLocal(key, response, fetchBeganMillis)) return Future.succeededFuture();
    return l2 == null ? Future.succeededFuture() : l2.put(key, response, fetchBeganMillis);
  }

  /**
   * Puts in L1 unless an invalidation since {@code sinceMillis} covers the path. Checked again after the put:
   * an invalidation that began between the first check and the put (its eviction may have passed this key
   * already) takes the entry out again. Either the invalidation is recorded before the second check, or its
   * eviction starts after the put and finds the entry.
   *
   * @return false when the entry was not kept
   */
  private boolean putLocal(CacheKey key, CachedResponse response, long sinceMillis) {
    if (recent.invalidatedSince(sinceMillis, key.path())) return false;
    l1.put(key, response);
    if (!recent.invalidatedSince(sinceMillis, key.path())) return true;
    l1.remove(key, response);
    return false;
  }

  /**
   * Forgets this instance's L1 entry of {@code key} if it still holds {@code response} (a revalidation found the
   * resource gone); an L2 copy runs out with its retention.
   */
  void forget(CacheKey key, CachedResponse response) {
    l1.remove(key, response);
  }

  /**
   * Evicts matching paths in all partitions: here, in Redis, and (through pub/sub) on every other instance. The
   * L1 part runs on the worker pool; the future completes when both parts are done.
   */
  public Future<Long> invalidate(PathPattern glob) {
    Future<Long> local = invalidateLocal(glob);
    if (l2 == null) return local;
    // Until Redis has deleted, an L2 read (one that began after the record above, so not refused by it) may
    // read the old entry and promote it to L1 after this L1's eviction has passed. So once Redis has deleted,
    // the invalidation is recorded again (a promotion still on its way is refused) and this L1 evicted again
    // (one already made is undone), before the write is answered (found by ChaosSoakTest and
    // ReadAfterAcknowledgedWriteTest).
    Future<Long> remote = l2.invalidate(glob);
    Future<Long> again = remote.compose(n -> evictLocal(glob));
    return Future.join(local, again).map(v -> Math.max(local.result() + again.result(), remote.result()));
  }

  /** Evicts from this L1 only (an invalidation that another instance already applied to Redis), on the worker pool. */
  Future<Long> invalidateLocal(PathPattern glob) {
    recent.add(glob);
    return offload.run(() -> {
      for (Consumer<PathPattern> l : listeners) l.accept(glob);
      return l1.invalidate(glob);
    });
  }

  /**
   * Records the invalidation and evicts this L1 again, on the worker pool, once Redis has deleted. Either a
   * promotion of an entry read before the delete records its put before this eviction passes its key (and is
   * evicted), or it checks after this record (and drops itself): see {@link #putLocal}.
   */
  private Future<Long> evictLocal(PathPattern glob) {
    recent.add(glob);
    return offload.run(() -> l1.invalidate(glob));
  }

  /**
   * Also tells {@code listener} of every invalidation applied here (own, other instances', clears as
   * {@code /**}), on the worker pool, before the invalidation completes.
   */
  void onInvalidation(Consumer<PathPattern> listener) {
    listeners.add(listener);
  }

  /** Invalidations this instance acknowledged but could not yet bring to Redis (0 without L2). */
  public int pendingInvalidations() {
    return l2 == null ? 0 : l2.pendingInvalidations();
  }

  public Future<Long> clear() {
    Future<Long> local = clearLocal();
    if (l2 == null) return local;
    return local.compose(n -> l2.clear().map(remote -> Math.max(n, remote)));
  }

  /** Empties this L1 (every path counts as invalidated now), on the worker pool. */
  Future<Long> clearLocal() {
    recent.add(EVERYTHING);
    return offload.run(() -> {
      for (Consumer<PathPattern> l : listeners) l.accept(EVERYTHING);
      long n = l1.size();
      l1.clear();
      return n;
    });
  }
}
