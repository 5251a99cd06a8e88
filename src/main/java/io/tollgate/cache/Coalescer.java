package io.tollgate.cache;

import io.tollgate.config.PathPattern;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Collapses concurrent misses on one key into ONE upstream call.
 *
 * <p>The first caller (leader) runs the fetch; callers arriving while it runs (followers) wait for its
 * outcome, each bounded by its own deadline, and get the same answer or the same failure — a failed leader
 * releases its followers, never leaves them hanging. An invalidation of the fetch's path (a write here, or
 * one heard from another instance) stops it taking followers: whoever comes after the write starts a fetch of
 * its own, rather than wait for an answer the upstream may have given before the write. Shared across event
 * loops: the in-flight map is a ConcurrentHashMap, and each follower is resumed on its own context so
 * verticle state stays single-threaded.
 */
public final class Coalescer<T> {
  private final ConcurrentHashMap<String, InFlight<T>> inFlight = new ConcurrentHashMap<>();
  private final Vertx vertx;
  private final CacheStats stats;

  /** A fetch under way, by identity (a later fetch of the same key is another). */
  private record InFlight<T>(String path, Future<T> future) {
    @Override public boolean equals(Object o) { return this == o; }
    @Override public int hashCode() { return System.identityHashCode(this); }
  }

  /** Coalesces misses of {@code cache}'s keys; its invalidations stop the fetches they cover from taking followers. */
  public Coalescer(Vertx vertx, ResponseCache cache) {
    this.vertx = vertx;
    this.stats = cache.stats();
    cache.onInvalidation(this::forget);
  }

  /**
   * @param fetch started only by the leader, on the leader's context
   * @param followerTimeoutMs longest a follower waits for the leader
   */
  public Future<T> run(CacheKey key, Supplier<Future<T>> fetch, long followerTimeoutMs) {
    Promise<T> mine = Promise.promise();
    InFlight<T> entry = new InFlight<>(key.path(), mine.future());
    InFlight<T> existing = inFlight.putIfAbsent(key.value(), entry);
    if (existing != null) {
      stats.coalesced.increment();
      Context ctx = vertx.getOrCreateContext();
      Promise<T> follower = Promise.promise();
      existing.future().onComplete(ar -> ctx.runOnContext(v -> follower.handle(ar)));
      return follower.future().timeout(followerTimeoutMs, TimeUnit.MILLISECONDS);
    }
    Future<T> result;
    try {
      result = fetch.get();
    } catch (RuntimeException e) {
      result = Future.failedFuture(e);
    }
    result.onComplete(ar -> {
      inFlight.remove(key.value(), entry);
      mine.handle(ar);
    });
    return result;
  }

  /** The fetches under paths {@code pattern} matches take no more followers. O(fetches in flight); any thread. */
  void forget(PathPattern pattern) {
    inFlight.values().removeIf(f -> pattern.matches(f.path()));
  }

  /** Keys being fetched right now. */
  public int inFlight() {
    return inFlight.size();
  }
}
