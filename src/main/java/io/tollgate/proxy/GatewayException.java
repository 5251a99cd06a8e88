package io.tollgate.proxy;

import java.time.Duration;

/**
 * An outcome Tollgate answers itself (timeout, shed load, open circuit...), carried as a failed future.
 * Stackless: these are expected, frequent under load, and their stack says nothing.
 */
public final class GatewayException extends RuntimeException {
  public static final GatewayException BAD_GATEWAY = new GatewayException(502, "BadGateway", "The upstream could not be reached.", null);
  public static final GatewayException UPSTREAM_TIMEOUT = new GatewayException(504, "GatewayTimeout", "The upstream did not answer in time.", null);
  public static final GatewayException BODY_TOO_LARGE = new GatewayException(413, "RequestEntityTooLarge", "The request body exceeds the configured limit.", null);
  /** The upstream's circuit breaker is open: fail fast instead of piling onto a failing upstream. */
  /**
   * The upstream asked this request's budget to pause (a learned Retry-After) and a stale answer can stand
   * in: answering it now beats waiting out the pause. Never reaches a client (the cache serves the stale).
   */
  public static final GatewayException UPSTREAM_PAUSED = new GatewayException(429, "TooManyRequests", "The upstream asked to slow down.", Duration.ofSeconds(1));
  public static final GatewayException CIRCUIT_OPEN = new GatewayException(503, "ServiceUnavailable", "The upstream is failing; the gateway's circuit breaker is open.", Duration.ofSeconds(30));
  /** Every upstream slot is busy and the bulkhead's queue is full: shed at once. */
  public static final GatewayException BULKHEAD_FULL = new GatewayException(503, "ServiceUnavailable", "Too many requests in flight to the upstream; the gateway is shedding load.", Duration.ofSeconds(1));
  /** No upstream slot freed up within bulkhead.queueTimeout. */
  public static final GatewayException BULKHEAD_TIMEOUT = new GatewayException(503, "ServiceUnavailable", "No upstream slot became free in time; the gateway is shedding load.", Duration.ofSeconds(1));
  public static final GatewayException SHUTTING_DOWN = new GatewayException(503, "ServiceUnavailable", "The gateway is shutting down.", Duration.ofSeconds(1));

  private final int status;
  private final String code;
  private final Duration retryAfter;
  private final java.util.Map<String, String> headers;

  public GatewayException(int status, String code, String message, Duration retryAfter) {
    this(status, code, message, retryAfter, java.util.Map.of());
  }

  /** @param headers extra response headers, e.g. {@code RateLimit-*} on a 429 */
  public GatewayException(int status, String code, String message, Duration retryAfter, java.util.Map<String, String> headers) {
    super(message, null, false, false);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
    this.headers = java.util.Map.copyOf(headers);
  }

  /** Extra headers for the error response. */
  public java.util.Map<String, String> headers() { return headers; }

  public int status() { return status; }
  public String code() { return code; }
  /** @return how long the client should wait, or null */
  public Duration retryAfter() { return retryAfter; }
}
