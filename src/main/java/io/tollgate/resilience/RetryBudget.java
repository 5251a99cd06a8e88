package io.tollgate.resilience;

import io.tollgate.config.RetryOptions;
import java.util.function.LongSupplier;

/**
 * Caps retries at a fraction of the requests seen over a sliding window (one-second slots), plus a small
 * allowance per second so a quiet gateway can still retry: when the upstream fails everything, the load it
 * sees grows by at most {@code budgetRatio}, not by {@code maxAttempts}. Shared by all event loops; each
 * call is a short critical section. Time is injected (tests move it by hand).
 */
public final class RetryBudget {
  private static final long SECOND = 1_000_000_000L;

  private final double ratio;
  private final int minPerSecond;
  private final LongSupplier nanoTime;
  private final long[] requests;
  private final long[] retries;
  private final long[] slotSecond;

  public RetryBudget(RetryOptions options, LongSupplier nanoTime) {
    this.ratio = options.getBudgetRatio();
    this.minPerSecond = options.getMinRetriesPerSecond();
    this.nanoTime = nanoTime;
    int slots = (int) Math.max(1, options.getBudgetWindow().toSeconds());
    this.requests = new long[slots];
    this.retries = new long[slots];
    this.slotSecond = new long[slots];
    java.util.Arrays.fill(slotSecond, Long.MIN_VALUE);
  }

  /** Counts a first attempt. */
  public synchronized void request() {
    requests[slot(nanoTime.getAsLong() / SECOND)]++;
  }

  /** Takes one retry from the budget if there is one left. */
  public synchronized boolean tryRetry() {
    long second = nanoTime.getAsLong() / SECOND;
    int now = slot(second);
    long reqs = 0;
    long rets = 0;
    for (int i = 0; i < requests.length; i++) {
      if (slotSecond[i] > second - requests.length) {
        reqs += requests[i];
        rets += retries[i];
      }
    }
    boolean allowed = rets + 1 <= ratio * reqs || retries[now] < minPerSecond;
    if (allowed) retries[now]++;
    return allowed;
  }

  private int slot(long second) {
    int i = (int) Math.floorMod(second, (long) requests.length);
    if (slotSecond[i] != second) {
      slotSecond[i] = second;
      requests[i] = 0;
      retries[i] = 0;
    }
    return i;
  }
}
