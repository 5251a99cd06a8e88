package io.tollgate.config;

import io.vertx.core.json.JsonObject;
import java.time.Duration;

/**
 * Stage 5, one circuit breaker per upstream origin. YAML section {@code breaker}. Failures are connect
 * errors, upstream timeouts ({@code upstream.connectTimeout}/{@code requestTimeout}) and 5xx answers other
 * than 501 and a 503 carrying {@code Retry-After} (that is throttling, which the rate limiter handles).
 */
public final class BreakerOptions {
  public static final boolean DEFAULT_ENABLED = true;
  /** Failures in a row (any success starts the count again) within {@link #DEFAULT_FAILURE_WINDOW} that open it. */
  public static final int DEFAULT_FAILURE_THRESHOLD = 20;
  /** Failures older than this no longer count. */
  public static final Duration DEFAULT_FAILURE_WINDOW = Duration.ofSeconds(60);
  /** How long it stays open before one probe request is let through (half-open). */
  public static final Duration DEFAULT_RESET_TIMEOUT = Duration.ofSeconds(30);

  private boolean enabled = DEFAULT_ENABLED;
  private int failureThreshold = DEFAULT_FAILURE_THRESHOLD;
  private Duration failureWindow = DEFAULT_FAILURE_WINDOW;
  private Duration resetTimeout = DEFAULT_RESET_TIMEOUT;

  public BreakerOptions() {}

  public BreakerOptions(BreakerOptions o) {
    enabled = o.enabled; failureThreshold = o.failureThreshold; failureWindow = o.failureWindow; resetTimeout = o.resetTimeout;
  }

  static BreakerOptions read(ConfigReader r) {
    BreakerOptions o = new BreakerOptions();
    o.enabled = r.bool("enabled", DEFAULT_ENABLED);
    o.failureThreshold = r.integer("failureThreshold", DEFAULT_FAILURE_THRESHOLD, 1, 1_000_000);
    o.failureWindow = r.duration("failureWindow", DEFAULT_FAILURE_WINDOW);
    if (o.failureWindow.compareTo(Duration.ofSeconds(1)) < 0) r.problem("failureWindow", Units.formatDuration(o.failureWindow), "a duration of at least 1s");
    o.resetTimeout = r.duration("resetTimeout", DEFAULT_RESET_TIMEOUT);
    if (o.resetTimeout.compareTo(Duration.ofMillis(10)) < 0) r.problem("resetTimeout", Units.formatDuration(o.resetTimeout), "a duration of at least 10ms");
    r.rejectUnknown();
    return o;
  }

  public JsonObject toJson() {
    return new JsonObject().put("enabled", enabled).put("failureThreshold", failureThreshold)
        .put("failureWindow", Units.formatDuration(failureWindow)).put("resetTimeout", Units.formatDuration(resetTimeout));
  }

  public boolean isEnabled() { return enabled; }
  public BreakerOptions setEnabled(boolean enabled) { this.enabled = enabled; return this; }
  public int getFailureThreshold() { return failureThreshold; }
  public BreakerOptions setFailureThreshold(int n) { this.failureThreshold = n; return this; }
  public Duration getFailureWindow() { return failureWindow; }
  public BreakerOptions setFailureWindow(Duration d) { this.failureWindow = d; return this; }
  public Duration getResetTimeout() { return resetTimeout; }
  public BreakerOptions setResetTimeout(Duration d) { this.resetTimeout = d; return this; }
}
