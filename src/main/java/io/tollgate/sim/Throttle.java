package io.tollgate.sim;

import java.util.HashMap;
import java.util.Map;

/**
 * Graph's resource-unit budget: one token bucket per app+tenant ({@link Caller#budget()}), refilled at a rate
 * the gateway is not told, holding {@code capacity} units (Graph: 10 s of the rate).
 *
 * <p>Like Graph, a refused request is still charged: a client retrying before {@code Retry-After} digs itself
 * deeper. The debt is capped at one capacity so a client that stops eventually recovers. Not thread-safe: only
 * the simulator's event loop calls it.
 */
final class Throttle {
  /** Forget every bucket past this many budgets rather than grow without bound. */
  private static final int MAX_BUDGETS = 100_000;

  private final Map<String, Bucket> buckets = new HashMap<>();

  private static final class Bucket {
    double tokens;
    long lastNanos;
  }

  /**
   * What the bucket said of one request.
   *
   * @param admitted false: throttled
   * @param left units left after the charge (negative: debt)
   * @param used share of the capacity spent, 0..2 (Graph's {@code x-ms-throttle-limit-percentage})
   * @param refillSeconds for a refused request, how long until its cost is back in the bucket
   */
  record Verdict(boolean admitted, double left, double used, double refillSeconds) {}

  Verdict take(String budget, int cost, double ratePerSecond, int capacity, long nowNanos) {
    Bucket b = buckets.get(budget);
    if (b == null) {
      if (buckets.size() >= MAX_BUDGETS) buckets.clear();
      b = new Bucket();
      b.tokens = capacity;
      b.lastNanos = nowNanos;
      buckets.put(budget, b);
    }
    double refill = (nowNanos - b.lastNanos) / 1e9 * ratePerSecond;
    b.tokens = Math.min(capacity, b.tokens + refill);
    b.lastNanos = nowNanos;
    if (b.tokens >= cost) {
      b.tokens -= cost;
      return new Verdict(true, b.tokens, 1 - b.tokens / capacity, 0);
    }
    b.tokens = Math.max(b.tokens - cost, -capacity);
    return new Verdict(false, b.tokens, 1 - b.tokens / capacity, (cost - b.tokens) / ratePerSecond);
  }
}
