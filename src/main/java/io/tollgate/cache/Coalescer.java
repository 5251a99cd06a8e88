package io.tollgate.cache;

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
 * releases its followers, never leaves them hanging. Shared across event loops: the in-flight map is a
 * ConcurrentHashMap, and each follower is resumed on its own context so verticle state stays single-threaded.
 */
public final class Coalescer<T> {
  private final ConcurrentHashMap<String, Future<T>> inFlight = new ConcurrentHashMap<>();
  private final Vertx vertx;
  private final CacheStats stats;

  public Coalescer(Vertx vertx, CacheStats stats) {
    this.vertx = vertx;
    this.stats = stats;
  }

  /**
   * @param fetch started only by the leader, on the leader's context
   * @param followerTimeoutMs longest a follower waits for the leader
   */
  public Future<T> run(String key, Supplier<Future<T>> fetch, long followerTimeoutMs) {
    Promise<T> mine = Promise.promise();
    Future<T> existing = inFlight.putIfAbsent(key, mine.future());
    if (existing != null) {
      stats.coalesced.increment();
      Context ctx = vertx.getOrCreateContext();
      Promise<T> follower = Promise.promise();
      existing.onComplete(ar -> ctx.runOnContext(v -> follower.handle(ar)));
      return follower.future().timeout(followerTimeoutMs, TimeUnit.MILLISECONDS);
    }
    Future<T> result;
    try {
      result = fetch.get();
    } catch (RuntimeException e) {
      result = Future.failedFuture(e);
    }
    result.onComplete(ar -> {
      inFlight.remove(key, mine.future());
      mine.handle(ar);
    });
    return result;
  }

  /** Keys being fetched right now. */
  public int inFlight() {
    return inFlight.size();
  }
}
