package io.tollgate.ratelimit;

/**
 * The rate one bucket has learned the upstream sustains, by additive increase and multiplicative decrease,
 * as TCP learns a path: fast at first (slow start: x1.5 a second), then by a fixed step (a twentieth of the
 * rate at the last decrease) a second; x0.7 on a throttle, x0.9 when the upstream says its budget is nearly spent, and
 * no growth while it says the budget is past 80 %. The first such signal ends slow start with a halving (as
 * TCP's first loss does): by the time an upstream that holds 10 s of its rate says anything, slow start has
 * overshot it by more than any later step could.
 *
 * <p>It grows only while demand is there: a step needs a request that had to wait for this bucket since the
 * last step, or an idle bucket would climb without limit and then flood the upstream when demand returns.
 * At most one growth and one decrease of each kind per {@link #STEP_NANOS}: the answers of requests already in
 * flight when a throttle began say the same thing again and must not cut the rate twice.
 *
 * <p>An {@code estimate} starts at the configured rate and may grow up to {@code max} (unbounded unless
 * {@code maxGrowth} says); a {@code ceiling} starts at its rate and never exceeds it, learning only below.
 * The Redis limiter runs the same rules in Lua ({@link RedisRateLimiter#LEARN}) so that every gateway on one
 * Redis shares the learned rate. Thread-safe: answers arrive on every event loop.
 */
final class AdaptiveRate {
  static final long STEP_NANOS = 1_000_000_000L;
  /**
   * Slow start's step. Measured (src/bench/hidden-budget.sh, $batch of 20): at 250 ms, x5 a second, upstream
   * 429s rose from 1.9 % to 3.0 % with usage headers and from 3.8 % to 6.1 % without, and some reached clients;
   * the audit at 20x the estimate gained nothing (it is bound by its own concurrency there).
   */
  static final long SLOW_START_STEP_NANOS = STEP_NANOS;
  static final double SLOW_START = 1.5;
  static final double ADDITIVE_SHARE = 0.05;
  static final double THROTTLE_DECREASE = 0.7;
  static final double USAGE_DECREASE = 0.9;
  /** The first throttle or high usage in slow start. */
  static final double SLOW_START_EXIT = 0.5;
  /** Past this share of its budget the upstream is near throttling: hold, and leave slow start. */
  static final double HIGH_USAGE = 0.8;
  /** Past this share: slow down before the 429s begin. */
  static final double CRITICAL_USAGE = 0.95;
  /** Never below this share of the configured rate: a probe must still get through eventually. */
  static final double MIN_SHARE = 0.01;

  /** Why the rate changed; the name is what {@code learned} events and logs say. */
  enum Reason {
    SLOW_START("slow-start"), INCREASE("increase"), USAGE("usage"), THROTTLED("throttled");

    final String label;

    Reason(String label) {
      this.label = label;
    }
  }

  /** A change of the learned rate, tokens per second. */
  record Change(double from, double to, Reason reason) {}

  private final double max;
  private final double min;
  private double rate;
  private double threshold = Double.POSITIVE_INFINITY;
  private double step;
  private long lastGrowth;
  private long lastUsageCut;
  private long lastThrottleCut;

  /**
   * @param start the configured rate
   * @param max the highest rate it may learn ({@code start} for a ceiling)
   */
  AdaptiveRate(double start, double max, long nowNanos) {
    this.rate = start;
    this.max = Math.max(start, max);
    this.min = start * MIN_SHARE;
    this.step = start * ADDITIVE_SHARE;
    this.lastGrowth = nowNanos;
    this.lastUsageCut = nowNanos - STEP_NANOS;
    this.lastThrottleCut = nowNanos - STEP_NANOS;
    // A ceiling starts at its cap: there is no slow start above it to do.
    if (this.max == start) threshold = start;
  }

  synchronized double rate() {
    return rate;
  }

  /**
   * An answer that was not a throttle.
   *
   * @param usage the share of its budget the upstream says is spent, NaN when it did not say
   * @param demand a request waited for this bucket since the last growth
   * @return the change, or null
   */
  synchronized Change answered(long now, double usage, boolean demand) {
    if (usage >= HIGH_USAGE && threshold == Double.POSITIVE_INFINITY) {
      lastUsageCut = now;
      return cut(now, SLOW_START_EXIT, Reason.USAGE);
    }
    if (usage >= CRITICAL_USAGE) {
      if (now - lastUsageCut < STEP_NANOS) return null;
      lastUsageCut = now;
      return cut(now, USAGE_DECREASE, Reason.USAGE);
    }
    if (usage >= HIGH_USAGE) {
      threshold = Math.min(threshold, rate);
      return null;
    }
    boolean slowStart = rate < threshold;
    if (!demand || rate >= max || now - lastGrowth < (slowStart ? SLOW_START_STEP_NANOS : STEP_NANOS)
        || now - Math.max(lastUsageCut, lastThrottleCut) < STEP_NANOS) {
      return null;
    }
    lastGrowth = now;
    double from = rate;
    Reason reason;
    if (slowStart) {
      rate = Math.min(rate * SLOW_START, threshold);
      reason = Reason.SLOW_START;
    } else {
      rate += step;
      reason = Reason.INCREASE;
    }
    rate = Math.min(rate, max);
    return new Change(from, rate, reason);
  }

  /** Takes a rate learned elsewhere (the shared bucket in Redis) as its own. */
  synchronized void adopt(double learned) {
    rate = Math.min(max, Math.max(min, learned));
  }

  /** A 429 (or 503 with {@code Retry-After}) for this bucket's scope. */
  synchronized Change throttled(long now) {
    if (now - lastThrottleCut < STEP_NANOS) return null;
    lastThrottleCut = now;
    return cut(now, threshold == Double.POSITIVE_INFINITY ? SLOW_START_EXIT : THROTTLE_DECREASE, Reason.THROTTLED);
  }

  private Change cut(long now, double factor, Reason reason) {
    double from = rate;
    rate = Math.max(min, rate * factor);
    threshold = rate;
    step = rate * ADDITIVE_SHARE;
    lastGrowth = now;
    return from == rate ? null : new Change(from, rate, reason);
  }
}
