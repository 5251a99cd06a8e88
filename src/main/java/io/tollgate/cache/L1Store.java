package io.tollgate.cache;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.RemovalCause;
import com.github.benmanes.caffeine.cache.Ticker;
import java.time.Clock;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Predicate;

/**
 * L1: Caffeine bounded by bytes (a weigher over body and headers), each entry kept for its own TTL plus its
 * stale window. Thread-safe: proxy verticles on every event loop read it directly.
 */
public final class L1Store {
  /** An L1 value: the key rides along so pattern invalidation can match on its path. */
  record Entry(CacheKey key, CachedResponse response) {}

  private final Cache<String, Entry> cache;
  private final LongAdder evictions = new LongAdder();

  public L1Store(long maxWeightBytes, Clock clock) {
    Ticker ticker = () -> TimeUnit.MILLISECONDS.toNanos(clock.millis());
    this.cache = Caffeine.newBuilder()
        .maximumWeight(maxWeightBytes)
        .weigher((String k, Entry e) -> e.response().weightBytes() + 2 * k.length())
        .expireAfter(Expiry.<String, Entry>writing((k, e) -> java.time.Duration.ofMillis(
            Math.max(1, e.response().storedAtMillis() + e.response().retainMillis() - clock.millis()))))
        .ticker(ticker)
        .executor(Runnable::run)
        .evictionListener((String k, Entry e, RemovalCause cause) -> {
          if (cause == RemovalCause.SIZE) evictions.increment();
        })
        .build();
  }

  public CachedResponse get(CacheKey key) {
    Entry e = cache.getIfPresent(key.value());
    return e == null ? null : e.response();
  }

  public void put(CacheKey key, CachedResponse response) {
    cache.put(key.value(), new Entry(key, response));
  }

  /** Removes every entry whose path matches; returns how many. O(entries): invalidation is rare, reads are not. */
  public long removeIf(Predicate<String> pathMatches) {
    long[] removed = {0};
    cache.asMap().values().removeIf(e -> {
      boolean hit = pathMatches.test(e.key().path());
      if (hit) removed[0]++;
      return hit;
    });
    return removed[0];
  }

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

  /** Runs pending maintenance (expiry, eviction) now; tests use it for exact counts. */
  public void cleanUp() {
    cache.cleanUp();
  }
}
