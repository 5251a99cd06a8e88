package io.tollgate.ratelimit;

import io.tollgate.proxy.Charge;
import io.tollgate.proxy.Flow;
import io.tollgate.metrics.Readiness;
import io.tollgate.config.RateLimitOptions;
import io.tollgate.redis.RedisLink;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * Admits requests against token buckets: in this process ({@link #local}) or in Redis, shared by every
 * gateway on it ({@link #redis}). Waiting is on a timer, bounded by {@code maxWait} and {@code maxWaiters}, in
 * the order of each bucket's {@link FairGate} (lanes, then fair shares of flows and jobs by cost); a waiter
 * resumes on the context that asked. Safe to share across event loops.
 */
public interface RateLimiter {

  /**
   * @param nanoTime the buckets' clock ({@code System::nanoTime}; tests pass a hand-moved one)
   * @param divisor rates are divided by this (a gateway that lost Redis takes its share of the budget)
   */
  static RateLimiter local(Vertx vertx, RateLimitOptions options, LongSupplier nanoTime, int divisor) {
    return new LocalRateLimiter(vertx, options, nanoTime, divisor);
  }

  /**
   * Buckets in Redis, one atomic script per bucket admission; while Redis does not answer (the link is
   * down), local buckets at {@code rate / instances}, reported DEGRADED as component {@code rateLimit} of
   * {@code readiness}.
   *
   * @param redis the gateway's Redis, already deployed; shared with the cache, not closed by the limiter
   */
  static RateLimiter redis(Vertx vertx, RedisLink redis, RateLimitOptions options, Readiness readiness) {
    return new RedisRateLimiter(vertx, redis, options, readiness);
  }

  /**
   * Takes every charge, waiting if needed. Fails with a 429 {@code GatewayException} (with {@code Retry-After}
   * and {@code RateLimit-*} headers) when a bucket could not admit within {@code maxWait} or too many wait.
   */
  Future<Permit> acquire(List<Charge> charges);

  /** Like {@link #acquire(List)}, waiting at most {@code maxWait} (what is left of a request's own deadline). */
  default Future<Permit> acquire(List<Charge> charges, Duration maxWait) {
    return acquire(charges, maxWait, Flow.DEFAULT);
  }

  /**
   * Like {@link #acquire(List, Duration)}; while a bucket is short, its waiters are served by lane, then fairly
   * over flows and jobs by cost ({@link FairQueue}), not in arrival order.
   */
  Future<Permit> acquire(List<Charge> charges, Duration maxWait, Flow flow);

  /**
   * Pauses the charges' buckets for {@code retryAfter}: waiting and new requests go no earlier.
   *
   * @return the charges whose bucket was not paused before (a throttling episode begins)
   */
  List<Charge> pause(List<Charge> charges, Duration retryAfter);

  /**
   * For a request with a stale answer at hand (SPEC 2.3, stale while throttled): true to serve it instead of
   * going upstream, while any of the charges' buckets is paused or another request is out as the probe of its
   * pause. False: go; when a pause awaited its probe, this request is it, and must call {@link #probed}.
   */
  boolean holdForProbe(List<Charge> charges);

  /** The probe {@link #holdForProbe} let through has its answer (or failed): the next may probe. */
  void probed(List<Charge> charges);

  /**
   * Feeds what an upstream answer said back into the charges' learned rates ({@link AdaptiveRate}).
   *
   * @param usage the share of its budget the upstream says is spent, NaN when it did not say
   * @param throttled the answer was a 429 (or a 503 with {@code Retry-After}) for these charges' scope
   * @return the rates that changed
   */
  Future<List<RateChange>> learn(List<Charge> charges, double usage, boolean throttled);

  /**
   * Takes {@code extra} more tokens from the charge's bucket (gives them back when negative): the upstream
   * said what the call really cost ({@code x-ms-resource-unit}) and the estimate was off by that much.
   */
  void settle(Charge charge, int extra);

  /** The rate a bucket has learned (tokens per second), or NaN when this limiter holds no such bucket. */
  double learnedRate(Charge charge);

  /** Requests waiting for tokens now in this gateway (queued, or sleeping on a reservation). */
  int waiting();

  /** "local", "redis" or "local-fallback" (Redis lost). */
  String mode();

  Future<Void> close();
}
