package io.tollgate.ratelimit;

import io.tollgate.proxy.Charge;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.tollgate.config.RateLimitOptions;
import io.tollgate.proxy.GatewayException;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;

/**
 * Buckets in a Caffeine cache that forgets idle ones, so millions of distinct tenants cannot exhaust memory.
 * A request reserves on every bucket it must pay; if one refuses, the others get their tokens back.
 *
 * <p>Design note. Threads: called from every proxy event loop at once; it holds no lock of its own. Each
 * {@link TokenBucket} is its own short critical section, and the Caffeine map is thread-safe. A waiter parks
 * nothing: it is a timer on the caller's own event loop ({@link Waiter}), so it resumes on its request's
 * context. Invariants: (1) a request either holds a reservation on every bucket it pays or on none (refund
 * on any refusal); (2) waiting is FIFO per bucket without a queue, because reservations take the tokens
 * in arrival order and later ones wait behind the debt; (3) no wait exceeds {@code maxWait}: a reservation
 * that would is refused at once with a 429, and a pause learned later that pushes a waiter past it refunds
 * and refuses it then; (4) at most {@code maxWaiters} requests wait at a time, counted in {@code waiting}.
 */
final class LocalRateLimiter implements RateLimiter {
  private final Vertx vertx;
  private final Cache<String, Budget> buckets;
  private final LongSupplier nanoTime;
  private final long maxWaitNanos;
  private final int maxWaiters;
  private final int divisor;
  private final AtomicInteger waiting = new AtomicInteger();

  LocalRateLimiter(Vertx vertx, RateLimitOptions options, LongSupplier nanoTime, int divisor) {
    this.vertx = vertx;
    this.nanoTime = nanoTime;
    this.maxWaitNanos = options.getMaxWait().toNanos();
    this.maxWaiters = options.getMaxWaiters();
    this.divisor = Math.max(1, divisor);
    this.buckets = Caffeine.newBuilder()
        .expireAfterAccess(options.getIdleBucketTtl())
        .maximumSize(options.getMaxBuckets())
        .build();
  }

  /** A bucket and the rate it has learned; the bucket refills at that rate / divisor. */
  private static final class Budget {
    final TokenBucket bucket;
    final AdaptiveRate rate;
    /** When this gateway last asked Redis whether the shared rate may grow (distributed mode). */
    final java.util.concurrent.atomic.AtomicLong lastShared = new java.util.concurrent.atomic.AtomicLong(Long.MIN_VALUE);

    Budget(TokenBucket bucket, AdaptiveRate rate) {
      this.bucket = bucket;
      this.rate = rate;
    }

    TokenBucket bucket() { return bucket; }
    AdaptiveRate rate() { return rate; }
  }

  private Budget budget(Charge c) {
    return buckets.get(c.bucketKey(), k -> new Budget(
        new TokenBucket(c.rate() / divisor, Math.max(1, c.burst() / divisor), nanoTime),
        new AdaptiveRate(c.rate(), c.rule().maxRate(), nanoTime.getAsLong())));
  }

  TokenBucket bucket(Charge c) {
    return budget(c).bucket();
  }

  @Override
  public Future<List<RateChange>> learn(List<Charge> charges, double usage, boolean throttled) {
    return Future.succeededFuture(learnNow(charges, usage, throttled));
  }

  List<RateChange> learnNow(List<Charge> charges, double usage, boolean throttled) {
    if (!throttled) clearProbes(charges);
    List<RateChange> changes = null;
    long now = nanoTime.getAsLong();
    for (Charge c : charges) {
      Budget b = budget(c);
      AdaptiveRate.Change change = throttled ? b.rate().throttled(now) : b.rate().answered(now, usage, b.bucket().demand());
      if (change == null) continue;
      b.bucket().clearDemand();
      b.bucket().rate(change.to() / divisor);
      if (changes == null) changes = new ArrayList<>(1);
      changes.add(new RateChange(c, change.from(), change.to(), change.reason().label));
    }
    return changes == null ? List.of() : changes;
  }

  /** Sets a bucket's rate to one learned elsewhere (the shared bucket in Redis), so a fallback starts from it. */
  void adopt(Charge c, double learned) {
    Budget b = budget(c);
    b.rate().adopt(learned);
    b.bucket().rate(learned / divisor);
  }

  /**
   * True at most once per learning step per bucket: whether to ask the shared bucket if it may grow. Growth
   * is decided there at most once a step anyway; this keeps a script call off every answered request.
   */
  boolean dueToShare(Charge c) {
    Budget b = budget(c);
    long now = nanoTime.getAsLong();
    long last = b.lastShared.get();
    return (last == Long.MIN_VALUE || now - last >= AdaptiveRate.STEP_NANOS) && b.lastShared.compareAndSet(last, now);
  }

  @Override
  public void settle(Charge charge, int extra) {
    if (extra == 0) return;
    TokenBucket b = bucket(charge);
    if (extra < 0) b.refund(-extra);
    else b.charge(extra);
  }

  @Override
  public double learnedRate(Charge charge) {
    Budget b = buckets.getIfPresent(charge.bucketKey());
    return b == null ? Double.NaN : b.rate().rate();
  }

  /** Buckets held now (after Caffeine's pending evictions ran). */
  long size() {
    buckets.cleanUp();
    return buckets.estimatedSize();
  }

  @Override
  public Future<Permit> acquire(List<Charge> charges) {
    return acquire(charges, maxWaitNanos);
  }

  @Override
  public boolean holdForProbe(List<Charge> charges) {
    for (Charge c : charges) {
      Budget b = buckets.getIfPresent(c.bucketKey());
      if (b != null && b.bucket().holdForProbe()) return true;
    }
    return false;
  }

  @Override
  public void probed(List<Charge> charges) {
    for (Charge c : charges) {
      Budget b = buckets.getIfPresent(c.bucketKey());
      if (b != null) b.bucket().probeDone();
    }
  }

  /** An answer that was not a throttle came through these buckets: their pauses have been probed. */
  void clearProbes(List<Charge> charges) {
    for (Charge c : charges) {
      Budget b = buckets.getIfPresent(c.bucketKey());
      if (b != null) b.bucket().clearProbe();
    }
  }

  @Override
  public Future<Permit> acquire(List<Charge> charges, Duration maxWait) {
    return acquire(charges, Math.min(maxWaitNanos, Math.max(0, maxWait.toNanos())));
  }

  private Future<Permit> acquire(List<Charge> charges, long maxWaitNanos) {
    if (charges.isEmpty()) return Future.succeededFuture(Permit.FREE);
    TokenBucket[] taken = new TokenBucket[charges.size()];
    long wait = 0;
    int tokens = 0;
    for (int i = 0; i < charges.size(); i++) {
      Charge c = charges.get(i);
      TokenBucket b = bucket(c);
      long w = b.reserve(c.tokens(), maxWaitNanos);
      if (w < 0) {
        refund(charges, taken, i);
        return Future.failedFuture(tooMany(c, b.available(), -w, b.burst()));
      }
      taken[i] = b;
      wait = Math.max(wait, w);
      tokens = Math.max(tokens, c.tokens());
    }
    if (wait == 0) return Future.succeededFuture(new Permit(tokens, Duration.ZERO));
    if (waiting.incrementAndGet() > maxWaiters) {
      waiting.decrementAndGet();
      refund(charges, taken, taken.length);
      Charge c = charges.get(0);
      return Future.failedFuture(tooMany(c, 0, wait, taken[0].burst()));
    }
    Promise<Permit> promise = Promise.promise();
    new Waiter(charges, taken, tokens, promise, maxWaitNanos).sleep(wait);
    return promise.future();
  }

  /** Waits out its reservation; before going it checks that no pause pushed its buckets back meanwhile. */
  private final class Waiter {
    final List<Charge> charges;
    final TokenBucket[] buckets;
    final long[] shifts;
    final int tokens;
    final Promise<Permit> promise;
    final long start = System.nanoTime();
    final long maxWaitNanos;
    long planned;

    Waiter(List<Charge> charges, TokenBucket[] buckets, int tokens, Promise<Permit> promise, long maxWaitNanos) {
      this.maxWaitNanos = maxWaitNanos;
      this.charges = charges;
      this.buckets = buckets;
      this.tokens = tokens;
      this.promise = promise;
      this.shifts = new long[buckets.length];
      for (int i = 0; i < buckets.length; i++) shifts[i] = buckets[i].shift();
    }

    void sleep(long nanos) {
      planned += nanos;
      // setTimer on the caller's event loop: the waiter resumes on its own context, no thread is held.
      vertx.setTimer(Math.max(1, TimeUnit.NANOSECONDS.toMillis(nanos + 999_999)), id -> wake());
    }

    void wake() {
      long extra = 0;
      for (int i = 0; i < buckets.length; i++) {
        long s = buckets[i].shift();
        extra = Math.max(extra, s - shifts[i]);
        shifts[i] = s;
      }
      if (extra > 0) {
        if (planned + extra > maxWaitNanos) {
          waiting.decrementAndGet();
          refund(charges, buckets, buckets.length);
          promise.fail(tooMany(charges.get(0), buckets[0].available(), extra, buckets[0].burst()));
          return;
        }
        sleep(extra);
        return;
      }
      waiting.decrementAndGet();
      promise.complete(new Permit(tokens, Duration.ofNanos(System.nanoTime() - start)));
    }
  }

  private static void refund(List<Charge> charges, TokenBucket[] taken, int upTo) {
    for (int i = 0; i < upTo; i++) if (taken[i] != null) taken[i].refund(charges.get(i).tokens());
  }

  @Override
  public List<Charge> pause(List<Charge> charges, Duration retryAfter) {
    long until = nanoTime.getAsLong() + retryAfter.toNanos();
    List<Charge> began = new ArrayList<>(1);
    for (Charge c : charges) if (bucket(c).pauseUntil(until)) began.add(c);
    return began;
  }

  @Override
  public String mode() {
    return "local";
  }

  @Override
  public Future<Void> close() {
    buckets.invalidateAll();
    return Future.succeededFuture();
  }

  /** The 429 a client gets: Graph's shape, Retry-After and the RateLimit-* headers of the refusing bucket. */
  static GatewayException tooMany(Charge c, double available, long waitNanos, int burst) {
    long seconds = Math.max(1, (waitNanos + 999_999_999L) / 1_000_000_000L);
    return new GatewayException(429, "TooManyRequests",
        "Too many requests for the '" + c.limit() + "' budget; retry after " + seconds + " s.",
        Duration.ofSeconds(seconds),
        Map.of("RateLimit-Limit", Integer.toString(burst),
            "RateLimit-Remaining", Long.toString(Math.max(0, (long) Math.floor(available))),
            "RateLimit-Reset", Long.toString(seconds)));
  }
}
