package io.tollgate.proxy;

import java.time.Clock;
import java.time.Duration;

/**
 * What one upstream attempt says about the upstream, decided once: the breaker, the retry policy and the
 * limiter's learner all read this instead of classifying statuses and exceptions each on its own.
 *
 * @param kind what happened
 * @param status the upstream's status, or 0 when no answer arrived
 * @param retryAfter the wait the upstream asked for ({@code Retry-After}), or null
 */
public record UpstreamOutcome(Kind kind, int status, Duration retryAfter) {
  public enum Kind {
    /** An answer from a healthy upstream: 1xx–4xx except 429, and 501 (a missing feature, not an outage). */
    ANSWERED,
    /** The upstream asks to slow down: 429, or 503 with {@code Retry-After}. */
    THROTTLED,
    /** A 5xx that means trouble upstream (500, 502, 503 without {@code Retry-After}, 504...). */
    FAILED_ANSWER,
    /** No answer: the connection could not be made or broke (Tollgate's 502). */
    CONNECT_FAILED,
    /** No answer in time (Tollgate's 504). */
    TIMED_OUT,
    /** The client went away first: nothing is known about the upstream. */
    CLIENT_GONE,
    /** Tollgate refused before or instead of the call (shed, open circuit, body too large): says nothing. */
    LOCAL
  }

  /** The common case, preallocated: a healthy answer with no Retry-After, by status (hot path, no allocation). */
  private static final UpstreamOutcome[] ANSWERED_BY_STATUS = new UpstreamOutcome[600];

  static {
    for (int s = 100; s < 600; s++) ANSWERED_BY_STATUS[s] = new UpstreamOutcome(Kind.ANSWERED, s, null);
  }

  /** Classifies an answer, once: the breaker, the retry policy, the limiter and its learner all ask. */
  public static UpstreamOutcome of(Reply reply, Clock clock) {
    if (reply.outcome == null) reply.outcome = classify(reply, clock);
    return reply.outcome;
  }

  private static UpstreamOutcome classify(Reply reply, Clock clock) {
    int s = reply.status();
    if (s >= 100 && s < 429) return ANSWERED_BY_STATUS[s];
    String header = reply.headers().get("Retry-After");
    Duration retryAfter = header == null ? null : RetryAfter.parse(header, clock);
    Kind kind;
    if (s == 429 || (s == 503 && header != null)) kind = Kind.THROTTLED;
    else if (s >= 500 && s != 501) kind = Kind.FAILED_ANSWER;
    else kind = Kind.ANSWERED;
    return new UpstreamOutcome(kind, s, retryAfter);
  }

  /** Classifies a failed attempt (the forwarder's failures are already {@link GatewayException}s). */
  public static UpstreamOutcome of(Throwable failure, boolean clientGone) {
    if (clientGone) return new UpstreamOutcome(Kind.CLIENT_GONE, 0, null);
    if (failure == GatewayException.BAD_GATEWAY) return new UpstreamOutcome(Kind.CONNECT_FAILED, 0, null);
    if (failure == GatewayException.UPSTREAM_TIMEOUT) return new UpstreamOutcome(Kind.TIMED_OUT, 0, null);
    if (failure instanceof GatewayException) return new UpstreamOutcome(Kind.LOCAL, 0, null);
    // Anything else is a failure we did not foresee on the way to the upstream: count it as one.
    return new UpstreamOutcome(Kind.CONNECT_FAILED, 0, null);
  }

  /** True when the breaker counts this attempt as a failure of the upstream. */
  public boolean countsAgainstUpstream() {
    return kind == Kind.FAILED_ANSWER || kind == Kind.CONNECT_FAILED || kind == Kind.TIMED_OUT;
  }

  /** @return why a replayable request may be sent again ("connect", "timeout", "429", "502"...), or null */
  public String retryCause() {
    return switch (kind) {
      case CONNECT_FAILED -> "connect";
      case TIMED_OUT -> "timeout";
      case THROTTLED, FAILED_ANSWER -> status == 429 || status == 502 || status == 503 || status == 504 ? Integer.toString(status) : null;
      default -> null;
    };
  }
}
