package io.tollgate.resilience;

import io.tollgate.config.RetryOptions;
import io.tollgate.proxy.UpstreamOutcome;
import io.tollgate.proxy.Exchange;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Which outcomes are retried and after how long. Only GET, HEAD, OPTIONS, PUT and DELETE without a request
 * body (a streamed body cannot be replayed); POST and PATCH never, since they may have reached the upstream.
 * Causes: connect errors (the Forwarder's 502), upstream timeouts (504), and answers 429, 502, 503, 504.
 * The wait is the upstream's {@code Retry-After} when it sent one, otherwise exponential backoff with full
 * jitter. Immutable; safe from any thread.
 */
public final class RetryPolicy {
  private final RetryOptions options;
  private final Clock clock;

  public RetryPolicy(RetryOptions options, Clock clock) {
    this.options = new RetryOptions(options);
    this.clock = clock;
  }

  public int maxAttempts() {
    return options.isEnabled() ? options.getMaxAttempts() : 1;
  }

  public Duration deadline() {
    return options.getDeadline();
  }

  /** True when a request may be sent more than once: retries are on and {@link Exchange#replayable()}. */
  public boolean replayable(Exchange ex) {
    return options.isEnabled() && ex.replayable();
  }

  /**
   * @param attempt the attempt that just failed, from 1
   * @param outcome what that attempt said (its {@code Retry-After} wins over backoff)
   * @return how long to wait before the next attempt, or null when the upstream's Retry-After is beyond
   *     {@code maxRetryAfter} (the client gets the answer and its Retry-After instead)
   */
  public Duration delay(int attempt, UpstreamOutcome outcome) {
    Duration retryAfter = outcome.retryAfter();
    if (retryAfter != null) return retryAfter.compareTo(options.getMaxRetryAfter()) > 0 ? null : retryAfter;
    long capMs = options.getInitialBackoff().toMillis() << Math.min(20, attempt - 1);
    capMs = Math.min(capMs, options.getMaxBackoff().toMillis());
    return Duration.ofMillis(capMs <= 0 ? 0 : ThreadLocalRandom.current().nextLong(capMs + 1));
  }
}
