package io.tollgate.cache;

import io.tollgate.config.PathPattern;
import io.tollgate.proxy.RouteTable;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import java.util.List;

/**
 * The cache as another stage that answers on behalf of many reads ({@code $batch}) sees it: look a read up,
 * store an answer, evict what a write changed. Keys, partitions, TTLs and the store rules stay the cache's;
 * freshness is the entry's own ({@link CachedResponse#freshness}).
 */
public interface CacheAccess {
  /**
   * @param read a read's route (its cache rule decides whether it is cached at all)
   * @param requestHeaders the read's own headers (the answer-changing ones are part of the key)
   * @param partition the caller's partition hash
   * @return the entry and the level that had it, or null when the read is not cached or not found
   */
  Future<ResponseCache.Hit> lookup(RouteTable.Route read, MultiMap requestHeaders, String partition);

  /** The cache's clock, in millis: what freshness is measured against. */
  long now();

  /**
   * Stores an answer under the same rules as a single read (cacheable status, TTLs, caching headers).
   *
   * @param fetchBegan wall-clock millis when the upstream read began (a write invalidated since wins)
   */
  void store(RouteTable.Route read, MultiMap requestHeaders, String partition, int status, MultiMap headers, Buffer body,
      long fetchBegan);

  /** Evicts what a successful write changed, on every instance; never fails. */
  Future<Void> invalidate(List<PathPattern> evictions);

  /** Counts an entry served past its TTL (for the statistics). */
  void countStale();
}
