package io.tollgate.resilience;

import io.tollgate.config.RetryOptions;
import io.tollgate.proxy.UpstreamOutcome;
import io.vertx.core.http.HttpMethod;
import java.time.Clock;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Which outcomes are retried and after how long. Only GET, HEAD, OPTIONS, PUT and DELETE without a request
 * body (a streamed body cannot be replayed); POST and PATCH never, since they may have reached the upstream.
 * Causes: connect errors (the Forwarder's 502), upstream timeouts (504), and answers 429, 502, 503, 504.
 * The wait is the upstream's {@code Retry-After} when it sent one, otherwise exponential backoff with full
 * jitter. Immutable; safe from any thread.
 */
public final class RetryPolicy {
  private static final Set<HttpMethod> IDEMPOTENT = Set.of(HttpMethod.GET, HttpMethod.HEAD, HttpMethod.OPTIONS,
      HttpMethod.PUT, HttpMethod.DELETE);

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

  /** True when a request may be sent more than once. */
  public boolean replayable(HttpMethod method, boolean hasBody) {
    return options.isEnabled() && !hasBody && IDEMPOTENT.contains(method);
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
