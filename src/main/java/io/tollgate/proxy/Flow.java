package io.tollgate.proxy;

/**
 * Whose turn a waiting request is (SPEC 2.3, fair queuing): its {@link Lane}, its flow (the verified tenant
 * and app; every unverified caller shares one flow, so made-up identities buy no extra share) and, when job ids
 * are enabled, the client's job id, which only divides its flow's share. Keys are bounded by the caller of
 * this record; the limiter never sees a raw token.
 */
public record Flow(Lane lane, String flow, String job) {
  /** One flow for callers that are not told apart (tests, benchmarks, limiter-only use). */
  public static final Flow DEFAULT = new Flow(Lane.INTERACTIVE, "-", "-");
  /** The flow every unverified caller shares. */
  public static final String UNVERIFIED = "unverified";

  public Flow {
    if (lane == null) lane = Lane.INTERACTIVE;
    if (flow == null) flow = UNVERIFIED;
    if (job == null) job = "-";
  }
}
