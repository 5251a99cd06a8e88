package io.tollgate.ratelimit;

import io.tollgate.proxy.Charge;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.tollgate.config.LaneOptions;
import io.tollgate.config.RateLimitOptions;
import io.tollgate.proxy.GatewayException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.LongSupplier;
import io.tollgate.proxy.Flow;

/**
 * Buckets in a Caffeine cache that forgets idle ones, so millions of distinct tenants cannot exhaust memory.
 * A request reserves on every bucket it must pay; if one refuses, the others get their tokens back.
 *
 * <p>Design note. Threads: called from every proxy event loop at once; it holds no lock of its own. Each
 * {@link TokenBucket} and each bucket's {@link FairGate} is its own short critical section, and the Caffeine map
 * is thread-safe. A waiter parks nothing: it is a timer on the caller's own event loop, so it resumes on its
 * request's context. Invariants: (1) a request either holds a reservation on every bucket it pays or on none
 * (refund on any refusal); (2) while a bucket is short, its waiters get its tokens in the order of its gate's
 * fair queue, one reservation from the queue at a time; (3) no wait exceeds {@code maxWait}: a waiter that
 * cannot make it even if served next is refused at once, one still queued at its deadline leaves with a 429,
 * and a pause learned later that pushes a reservation past it refunds and refuses it then; (4) at most
 * {@code maxWaiters} requests wait at a time, counted in {@code waiting}.
 */
final class LocalRateLimiter implements RateLimiter {
  private final Vertx vertx;
  private final Cache<String, Budget> buckets;
  private final LongSupplier nanoTime;
  private final long maxWaitNanos;
  private final int maxWaiters;
  private final int divisor;
  private final LaneOptions lanes;
  private final AtomicInteger waiting = new AtomicInteger();

  LocalRateLimiter(Vertx vertx, RateLimitOptions options, LongSupplier nanoTime, int divisor) {
    this.vertx = vertx;
    this.nanoTime = nanoTime;
    this.maxWaitNanos = options.getMaxWait().toNanos();
    this.maxWaiters = options.getMaxWaiters();
    this.divisor = Math.max(1, divisor);
    this.lanes = options.getLanes();
    this.buckets = Caffeine.newBuilder()
        .executor(Runnable::run)   // maintenance on the reading thread, not a common-pool wake-up (profile.sh)
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

    /** Who waits for this bucket, and in which order. */
    final FairGate gate;

    Budget(TokenBucket bucket, AdaptiveRate rate, FairGate gate) {
      this.bucket = bucket;
      this.rate = rate;
      this.gate = gate;
    }

    TokenBucket bucket() { return bucket; }
    AdaptiveRate rate() { return rate; }
  }

  private Budget budget(Charge c) {
    return buckets.get(c.bucketKey(), k -> new Budget(
        new TokenBucket(c.rate() / divisor, Math.max(1, c.burst() / divisor), nanoTime),
        new AdaptiveRate(c.rate(), c.rule().maxRate(), nanoTime.getAsLong()),
        new FairGate(vertx, new FairQueue<>(lanes.getInteractiveShare(), lanes.getQuantum(), lanes.getMaxFlows()),
            waiting, maxWaiters, nanoTime)));
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
  public Future<Permit> acquire(List<Charge> charges, Duration maxWait, Flow flow) {
    return acquire(charges, Math.min(maxWaitNanos, Math.max(0, maxWait.toNanos())), flow, this::tokens);
  }

  private Future<Permit> acquire(List<Charge> charges, long maxWaitNanos) {
    return acquire(charges, maxWaitNanos, Flow.DEFAULT, this::tokens);
  }

  /**
   * Passes the gate of each charge's bucket in turn, taking tokens from {@code source}; when one refuses, the
   * ones already passed get their tokens back. Shared with the Redis limiter, whose tokens come from Redis
   * while the gates (the fair queues) stay in this gateway.
   */
  Future<Permit> acquire(List<Charge> charges, long maxWaitNanos, Flow flow, Function<Charge, FairGate.Tokens> source) {
    if (charges.isEmpty()) return Future.succeededFuture(Permit.FREE);
    int tokens = 0;
    for (Charge c : charges) tokens = Math.max(tokens, c.tokens());
    return pass(charges, 0, maxWaitNanos, 0, tokens, flow, source);
  }

  private Future<Permit> pass(List<Charge> charges, int i, long left, long waited, int tokens, Flow flow,
      Function<Charge, FairGate.Tokens> source) {
    if (i == charges.size()) {
      return Future.succeededFuture(waited == 0 ? new Permit(tokens, Duration.ZERO) : new Permit(tokens, Duration.ofNanos(waited)));
    }
    Charge c = charges.get(i);
    FairGate.Tokens from = source.apply(c);
    Future<Long> passed = budget(c).gate.pass(c, flow, left, from);
    if (passed.succeeded() && passed.result() == 0) return pass(charges, i + 1, left, waited, tokens, flow, source);
    return passed.transform(r -> {
      if (r.failed()) {
        for (int k = 0; k < i; k++) source.apply(charges.get(k)).refund(charges.get(k));
        return Future.failedFuture(r.cause());
      }
      long w = r.result();
      return pass(charges, i + 1, Math.max(0, left - w), waited + w, tokens, flow, source);
    });
  }

  /** This gateway's own bucket for the charge, as a token source for its gate. */
  FairGate.Tokens tokens(Charge c) {
    TokenBucket b = bucket(c);
    return new FairGate.Tokens() {
      @Override public Future<Long> reserve(Charge charge, long maxWait) {
        long w = b.reserve(charge.tokens(), maxWait);
        return w >= 0 ? Future.succeededFuture(w) : Future.failedFuture(tooMany(charge, b.available(), -w, b.burst()));
      }
      @Override public void refund(Charge charge) { b.refund(charge.tokens()); }
      @Override public TokenBucket twin() { return b; }
      @Override public long leastWait(int cost, long ahead) { return b.leastWait(cost, ahead); }
    };
  }

  @Override
  public List<Charge> pause(List<Charge> charges, Duration retryAfter) {
    long until = nanoTime.getAsLong() + retryAfter.toNanos();
    List<Charge> began = new ArrayList<>(1);
    for (Charge c : charges) if (bucket(c).pauseUntil(until)) began.add(c);
    return began;
  }

  @Override
  public int waiting() {
    return waiting.get();
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
