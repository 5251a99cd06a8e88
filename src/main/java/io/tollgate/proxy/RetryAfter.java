package io.tollgate.proxy;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;

/**
 * The one reader of {@code Retry-After}: whole seconds, decimal seconds ({@code 0.249}, which Graph sends
 * inside {@code $batch} sub-responses) or an HTTP date. The limiter's learner, the retry policy and the
 * {@code $batch} stage all read it here, so they cannot disagree about what a value means.
 */
public final class RetryAfter {
  /** The longest wait Tollgate ever asks for: the Graph SDKs' retry handlers cap theirs at 180 s. */
  public static final long MAX_SECONDS = 180;

  private RetryAfter() {}

  /**
   * The one writer of {@code Retry-After}: whole seconds, rounded up, between 1 and {@link #MAX_SECONDS}.
   * Kiota's retry handler reads only an integer or an HTTP date; a decimal breaks it.
   */
  public static String header(Duration wait) {
    long millis = wait == null ? 0 : Math.max(0, wait.toMillis());
    long seconds = (millis + 999) / 1000;
    return Long.toString(Math.max(1, Math.min(MAX_SECONDS, seconds)));
  }

  /** An upstream's {@code Retry-After} as Tollgate passes it on (see {@link #header}); an unreadable one becomes 1. */
  public static String normalise(String upstreamValue, Clock clock) {
    return header(parse(upstreamValue, clock));
  }

  /**
   * @return the wait a {@code Retry-After} value asks for (never negative), or null when absent or unreadable
   */
  public static Duration parse(String value, Clock clock) {
    if (value == null) return null;
    String v = value.trim();
    if (v.isEmpty()) return null;
    char first = v.charAt(0);
    if (first >= '0' && first <= '9' || first == '.') {
      try {
        double seconds = Double.parseDouble(v);
        if (!(seconds >= 0) || Double.isInfinite(seconds)) return null;
        return Duration.ofNanos((long) Math.min(Long.MAX_VALUE / 2.0, Math.ceil(seconds * 1_000.0) * 1_000_000.0));
      } catch (NumberFormatException e) {
        return null;
      }
    }
    try {
      Instant at = ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
      Duration d = Duration.between(clock.instant(), at);
      return d.isNegative() ? Duration.ZERO : d;
    } catch (DateTimeParseException e) {
      return null;
    }
  }
}
