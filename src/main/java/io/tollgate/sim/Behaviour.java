package io.tollgate.sim;

/**
 * The runtime-swappable part of {@link SimulatorOptions}, frozen: the simulator reads one snapshot per request
 * from a volatile field, so {@link GraphSimulator#reconfigure} from any thread is safe and never half-applied.
 */
record Behaviour(long latencyMs, long latencyJitterMs, double throttleRate, int throttleBurst, int throttleStatus,
    String retryAfterSeconds, boolean resourceUnits, double errorRate, double hangRate, int pageSize) {

  static Behaviour of(SimulatorOptions o) {
    long retryMs = o.getRetryAfter().toMillis();
    long retrySeconds = Math.max(1, (retryMs + 999) / 1000);
    return new Behaviour(o.getLatency().toMillis(), o.getLatencyJitter().toMillis(), o.getThrottleRate(),
        o.getThrottleBurst(), o.getThrottleStatus(), String.valueOf(retrySeconds), o.isResourceUnits(),
        o.getErrorRate(), o.getHangRate(), o.getPageSize());
  }
}
