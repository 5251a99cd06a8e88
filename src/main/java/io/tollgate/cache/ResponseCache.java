package io.tollgate.cache;

import io.tollgate.config.PathPattern;
import io.tollgate.proxy.XCache;
import io.vertx.core.Future;
import java.time.Clock;

/**
 * The two cache levels behind one face: L1 read in-process, L2 (when Redis is configured) behind it, L2 hits
 * promoted to L1. Owned by {@link CacheVerticle}; proxy verticles call it from their own event loops (L1 is
 * Caffeine, thread-safe; the Redis client dispatches to its own context).
 */
public final class ResponseCache {
  /** A found entry and the level that had it. */
  public record Hit(CachedResponse response, XCache source) {
    /** "L1" or "L2", as the event-bus API names the level. */
    public String level() {
      return source == XCache.HIT_L2 ? "L2" : "L1";
    }
  }

  private final L1Store l1;
  private final L2Store l2;
  private final CacheStats stats;
  private final Clock clock;
  private final RecentInvalidations recent = new RecentInvalidations();

  ResponseCache(L1Store l1, L2Store l2, CacheStats stats, Clock clock) {
    this.l1 = l1;
    this.l2 = l2;
    this.stats = stats;
    this.clock = clock;
  }

  public Clock clock() { return clock; }
  public CacheStats stats() { return stats; }
  public L1Store l1() { return l1; }
  public boolean hasL2() { return l2 != null; }

  /** @return the hit, or null when neither level has the key */
  public Future<Hit> lookup(CacheKey key) {
    CachedResponse local = l1.get(key);
    if (local != null) {
      stats.l1Hits.increment();
      return Future.succeededFuture(new Hit(local, XCache.HIT_L1));
    }
    stats.l1Misses.increment();
    if (l2 == null || !l2.connected()) return Future.succeededFuture();
    return l2.get(key).map(remote -> {
      if (remote == null) {
        stats.l2Misses.increment();
        return null;
      }
      stats.l2Hits.increment();
      l1.put(key, remote);
      return new Hit(remote, XCache.HIT_L2);
    });
  }

  /**
   * Stores in L1 at once and in L2 in the background; Redis trouble never reaches the caller. An answer
   * whose upstream read began before an invalidation that covers it is not stored: it may predate the write.
   *
   * @param fetchBeganMillis wall-clock time the upstream read for this answer began
   */
  public Future<Void> store(CacheKey key, CachedResponse response, long fetchBeganMillis) {
    if (recent.invalidatedSince(fetchBeganMillis, key.path())) return Future.succeededFuture();
    l1.put(key, response);
    return l2 == null ? Future.succeededFuture() : l2.put(key, response, fetchBeganMillis);
  }

  /** Evicts matching paths in all partitions: here, in Redis, and (through pub/sub) on every other instance. */
  public Future<Long> invalidate(PathPattern glob) {
    recent.add(glob);
    long local = l1.removeIf(glob::matches);
    if (l2 == null) return Future.succeededFuture(local);
    return l2.invalidate(glob).map(remote -> Math.max(local, remote));
  }

  /** An invalidation that another instance already applied to Redis: only this L1 is left. */
  long invalidateLocal(PathPattern glob) {
    recent.add(glob);
    return l1.removeIf(glob::matches);
  }

  /** Invalidations this instance acknowledged but could not yet bring to Redis (0 without L2). */
  public int pendingInvalidations() {
    return l2 == null ? 0 : l2.pendingInvalidations();
  }

  public Future<Long> clear() {
    long local = l1.size();
    l1.clear();
    if (l2 == null) return Future.succeededFuture(local);
    return l2.clear().map(remote -> Math.max(local, remote));
  }
}
