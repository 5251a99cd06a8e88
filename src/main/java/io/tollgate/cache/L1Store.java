package io.tollgate.cache;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.RemovalCause;
import com.github.benmanes.caffeine.cache.Ticker;
import io.tollgate.config.PathPattern;
import java.time.Clock;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * L1: Caffeine bounded by bytes (a weigher over the heap an entry holds: body, headers, key and its share of the
 * index), each entry kept for its own TTL plus its stale window, and a {@link PathIndex} of its entries by path
 * for invalidation. Thread-safe: proxy verticles on every event loop read it directly; invalidations run on the
 * worker pool.
 */
public final class L1Store {
  private static final Logger LOG = LoggerFactory.getLogger(L1Store.class);

  /**
   * An L1 value: the key rides along so invalidation can match on its path. Compared by identity, so the
   * index and conditional removes tell an entry from its successor under the same key.
   */
  static final class Entry {
    final CacheKey key;
    final CachedResponse response;

    Entry(CacheKey key, CachedResponse response) {
      this.key = key;
      this.response = response;
    }

    /**
     * Heap bytes the entry holds in L1: its answer, {@link #ENTRY_BYTES}, and the key's strings: the key itself,
     * its path, its partition, the path case-folded for the index and, when Redis was asked first, its digest.
     */
    int weightBytes() {
      int path = CachedResponse.stringBytes(key.path());
      return response.weightBytes() + ENTRY_BYTES + CachedResponse.stringBytes(key.value()) + 2 * path
          + CachedResponse.stringBytes(key.partition()) + (key.hasDigest() ? DIGEST_BYTES : 0);
    }
  }

  /**
   * Heap bytes of an entry's objects besides its answer and its strings (64-bit JVM, compressed references): the
   * {@link Entry} (24) and {@link CacheKey} (32); Caffeine's node (56), hash-table node (32), table slot and
   * frequency-sketch share (16); in the path index the entry's set node and slot (40) and its path's set (168),
   * map node and slot (40) and sorted-set nodes (36). The path's share is counted for every entry: a sidecar's
   * paths are mostly read by one caller, and counting it once per path would undercount those.
   */
  static final int ENTRY_BYTES = 444;
  /** A 64-character hex SHA-256 string. */
  private static final int DIGEST_BYTES = 24 + 80;

  private final Cache<String, Entry> cache;
  private final PathIndex<Entry> index = new PathIndex<>(e -> e.key.path());
  private final LongAdder evictions = new LongAdder();
  private final LongAdder examined = new LongAdder();

  public L1Store(long maxWeightBytes, Clock clock) {
    Ticker ticker = () -> TimeUnit.MILLISECONDS.toNanos(clock.millis());
    this.cache = Caffeine.newBuilder()
        .maximumWeight(maxWeightBytes)
        .weigher((String k, Entry e) -> e.weightBytes())
        .expireAfter(Expiry.<String, Entry>writing((k, e) -> java.time.Duration.ofMillis(
            Math.max(1, e.response.storedAtMillis() + e.response.retainMillis() - clock.millis()))))
        .ticker(ticker)
        .executor(Runnable::run)
        .evictionListener((String k, Entry e, RemovalCause cause) -> {
          if (cause == RemovalCause.SIZE) evictions.increment();
        })
        // Every way out (replaced, removed, expired, evicted, cleared) leaves the index after the cache.
        .removalListener((String k, Entry e, RemovalCause cause) -> {
          if (e != null) index.remove(e);
        })
        .build();
  }

  public CachedResponse get(CacheKey key) {
    Entry e = cache.getIfPresent(key.value());
    return e == null ? null : e.response;
  }

  public void put(CacheKey key, CachedResponse response) {
    Entry e = new Entry(key, response);
    // Indexed before it can be found, so an invalidation that finds it in the cache finds it in the index.
    index.add(e);
    cache.put(key.value(), e);
  }

  /** Removes the key's entry if it still holds {@code response} (and not a newer answer). */
  void remove(CacheKey key, CachedResponse response) {
    cache.asMap().computeIfPresent(key.value(), (k, e) -> e.response == response ? null : e);
  }

  /**
   * Removes every entry whose path {@code pattern} matches, in all partitions (one kept for ETag revalidation is
   * soft-purged instead: kept, but only to be revalidated), through the path index: it looks
   * at the entries under the pattern's prefixes only, about as many as it evicts. Work proportional to what it
   * evicts, so callers run it on the worker pool, not on an event loop.
   *
   * @return how many entries it removed
   */
  public long invalidate(PathPattern pattern) {
    long[] removed = {0};
    long looked = index.forEachMatching(pattern, e -> {
      if (e.response.purged()) return;
      if (!e.response.revalidatable()) {
        if (cache.asMap().remove(e.key.value(), e)) removed[0]++;
        return;
      }
      // A soft purge: the entry stays, marked, so the next read revalidates it with its ETag instead of
      // fetching the whole body; it is never served as it is again.
      Entry kept = new Entry(e.key, e.response.purge());
      index.add(kept);
      if (cache.asMap().replace(e.key.value(), e, kept)) removed[0]++;
      else index.remove(kept);
    });
    examined.add(looked);
    if (LOG.isDebugEnabled()) LOG.debug("L1 invalidation: {} evicted, {} examined", removed[0], looked);
    return removed[0];
  }

  /** Removes every entry; O(entries), so callers run it on the worker pool. */
  public void clear() {
    cache.invalidateAll();
  }

  public long size() {
    return cache.estimatedSize();
  }

  public long weightBytes() {
    return cache.policy().eviction().map(e -> e.weightedSize().orElse(0L)).orElse(0L);
  }

  long evictions() {
    return evictions.sum();
  }

  /** Entries invalidations have looked at, in all (the index keeps this near the number they evicted). */
  long examined() {
    return examined.sum();
  }

  /** Runs pending maintenance (expiry, eviction) now; tests use it for exact counts. */
  public void cleanUp() {
    cache.cleanUp();
  }
}
