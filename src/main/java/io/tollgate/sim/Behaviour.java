package io.tollgate.sim;

/**
 * The runtime-swappable part of {@link SimulatorOptions}, frozen: the simulator reads one snapshot per request
 * from a volatile field, so {@link GraphSimulator#reconfigure} from any thread is safe and never half-applied.
 *
 * @param throttleCapacity the budget's capacity in units (Graph: 10 s of the rate)
 * @param fixedRetryAfterSeconds a fixed {@code Retry-After}, or 0 for Graph's: the time to refill the cost
 */
record Behaviour(long latencyMs, long latencyJitterMs, double throttleRate, int throttleCapacity,
    double sharepointRate, int sharepointCapacity, int throttleStatus,
    long fixedRetryAfterSeconds, boolean resourceUnits, boolean usageHeaders, boolean sharepoint,
    double errorRate, double hangRate, int pageSize) {

  static Behaviour of(SimulatorOptions o) {
    long retryMs = o.getRetryAfter().toMillis();
    long fixed = retryMs > 0 ? Math.max(1, (retryMs + 999) / 1000)
        : o.isSharepoint() ? SimulatorOptions.SHAREPOINT_RETRY_AFTER.toSeconds() : 0;
    int capacity = o.getThrottleBurst() > 0 ? o.getThrottleBurst() : (int) Math.max(1, Math.ceil(10 * o.getThrottleRate()));
    double spRate = o.getSharepointRate() > 0 ? o.getSharepointRate() : o.getThrottleRate();
    int spCapacity = o.getSharepointRate() > 0 && o.getThrottleBurst() == 0 ? (int) Math.max(1, Math.ceil(10 * spRate)) : capacity;
    return new Behaviour(o.getLatency().toMillis(), o.getLatencyJitter().toMillis(), o.getThrottleRate(),
        capacity, spRate, spCapacity, o.getThrottleStatus(), fixed, o.isResourceUnits(), o.isUsageHeaders(), o.isSharepoint(),
        o.getErrorRate(), o.getHangRate(), o.getPageSize());
  }

  /** {@code Retry-After} of an injected error: the fixed one, else a second. */
  String errorRetryAfter() {
    return String.valueOf(fixedRetryAfterSeconds > 0 ? fixedRetryAfterSeconds : 1);
  }
}
