package io.tollgate.ratelimit;

import java.time.Duration;

/** What a rate limiter granted: the tokens a request was charged and how long it waited for them. */
public final class Permit {
  static final Permit FREE = new Permit(0, Duration.ZERO);

  private final int tokens;
  private final Duration waited;

  Permit(int tokens, Duration waited) {
    this.tokens = tokens;
    this.waited = waited;
  }

  /** Largest charge taken from one bucket. */
  public int tokens() { return tokens; }
  public Duration waited() { return waited; }
}
