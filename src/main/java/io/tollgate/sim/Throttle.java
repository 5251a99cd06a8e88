package io.tollgate.sim;

import java.util.HashMap;
import java.util.Map;

/**
 * One token bucket per caller, like Graph's per app+tenant resource-unit budget.
 *
 * <p>Like Graph, a refused request is still charged: a client retrying before {@code Retry-After} digs itself
 * deeper. The debt is capped at one burst so a client that stops eventually recovers. Not thread-safe: only the
 * simulator's event loop calls it.
 */
final class Throttle {
  /** Forget every bucket past this many callers rather than grow without bound. */
  private static final int MAX_CALLERS = 100_000;

  private final Map<String, Bucket> buckets = new HashMap<>();

  private static final class Bucket {
    double tokens;
    long lastNanos;
  }

  /**
   * Charges {@code cost} tokens to the caller's bucket.
   *
   * @return the tokens left after an admitted request (0 or more), or a negative number when refused
   */
  double take(String caller, int cost, double ratePerSecond, int burst, long nowNanos) {
    Bucket b = buckets.get(caller);
    if (b == null) {
      if (buckets.size() >= MAX_CALLERS) buckets.clear();
      b = new Bucket();
      b.tokens = burst;
      b.lastNanos = nowNanos;
      buckets.put(caller, b);
    }
    double refill = (nowNanos - b.lastNanos) / 1e9 * ratePerSecond;
    b.tokens = Math.min(burst, b.tokens + refill);
    b.lastNanos = nowNanos;
    if (b.tokens >= cost) {
      b.tokens -= cost;
      return b.tokens;
    }
    b.tokens = Math.max(b.tokens - cost, -burst);
    return -1;
  }
}
