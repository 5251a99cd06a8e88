package io.tollgate.config;

import io.vertx.core.json.JsonObject;
import java.time.Duration;

/**
 * Stage 5, retries of idempotent bodiless requests (GET, HEAD, OPTIONS, PUT, DELETE) on connect errors,
 * 429, 502, 503 and 504. YAML section {@code retry}.
 */
public final class RetryOptions {
  public static final boolean DEFAULT_ENABLED = true;
  /** Attempts in all, the first included. */
  public static final int DEFAULT_MAX_ATTEMPTS = 3;
  /** First backoff cap when the upstream sent no Retry-After; doubles per attempt, full jitter. */
  public static final Duration DEFAULT_INITIAL_BACKOFF = Duration.ofMillis(500);
  public static final Duration DEFAULT_MAX_BACKOFF = Duration.ofSeconds(30);
  /** A longer Retry-After is not waited out here: the answer goes to the client (the Graph SDKs cap at 180 s). */
  public static final Duration DEFAULT_MAX_RETRY_AFTER = Duration.ofSeconds(180);
  /** From the stage's start; no retry starts that would wait past it. */
  public static final Duration DEFAULT_DEADLINE = Duration.ofSeconds(60);
  /** Retries may add at most this fraction of the requests seen over {@link #DEFAULT_BUDGET_WINDOW}. */
  public static final double DEFAULT_BUDGET_RATIO = 0.2;
  public static final Duration DEFAULT_BUDGET_WINDOW = Duration.ofSeconds(10);
  /** Retries allowed per second regardless of the ratio, so a quiet gateway can still retry. */
  public static final int DEFAULT_MIN_RETRIES_PER_SECOND = 5;

  private boolean enabled = DEFAULT_ENABLED;
  private int maxAttempts = DEFAULT_MAX_ATTEMPTS;
  private Duration initialBackoff = DEFAULT_INITIAL_BACKOFF;
  private Duration maxBackoff = DEFAULT_MAX_BACKOFF;
  private Duration maxRetryAfter = DEFAULT_MAX_RETRY_AFTER;
  private Duration deadline = DEFAULT_DEADLINE;
  private double budgetRatio = DEFAULT_BUDGET_RATIO;
  private Duration budgetWindow = DEFAULT_BUDGET_WINDOW;
  private int minRetriesPerSecond = DEFAULT_MIN_RETRIES_PER_SECOND;

  public RetryOptions() {}

  public RetryOptions(RetryOptions o) {
    enabled = o.enabled; maxAttempts = o.maxAttempts; initialBackoff = o.initialBackoff; maxBackoff = o.maxBackoff;
    maxRetryAfter = o.maxRetryAfter; deadline = o.deadline; budgetRatio = o.budgetRatio; budgetWindow = o.budgetWindow;
    minRetriesPerSecond = o.minRetriesPerSecond;
  }

  static RetryOptions read(ConfigReader r) {
    RetryOptions o = new RetryOptions();
    o.enabled = r.bool("enabled", DEFAULT_ENABLED);
    o.maxAttempts = r.integer("maxAttempts", DEFAULT_MAX_ATTEMPTS, 1, 100);
    o.initialBackoff = r.duration("initialBackoff", DEFAULT_INITIAL_BACKOFF);
    o.maxBackoff = r.duration("maxBackoff", DEFAULT_MAX_BACKOFF);
    if (o.maxBackoff.compareTo(o.initialBackoff) < 0) r.problem("maxBackoff", Units.formatDuration(o.maxBackoff), "a duration >= retry.initialBackoff");
    o.maxRetryAfter = r.duration("maxRetryAfter", DEFAULT_MAX_RETRY_AFTER);
    o.deadline = r.duration("deadline", DEFAULT_DEADLINE);
    if (o.deadline.isZero()) r.problem("deadline", "0s", "a duration above 0");
    o.budgetRatio = r.decimal("budgetRatio", DEFAULT_BUDGET_RATIO, 0, 10);
    o.budgetWindow = r.duration("budgetWindow", DEFAULT_BUDGET_WINDOW);
    if (o.budgetWindow.compareTo(Duration.ofSeconds(1)) < 0) r.problem("budgetWindow", Units.formatDuration(o.budgetWindow), "a duration of at least 1s");
    o.minRetriesPerSecond = r.integer("minRetriesPerSecond", DEFAULT_MIN_RETRIES_PER_SECOND, 0, 1_000_000);
    r.rejectUnknown();
    return o;
  }

  public JsonObject toJson() {
    return new JsonObject().put("enabled", enabled).put("maxAttempts", maxAttempts)
        .put("initialBackoff", Units.formatDuration(initialBackoff)).put("maxBackoff", Units.formatDuration(maxBackoff))
        .put("maxRetryAfter", Units.formatDuration(maxRetryAfter)).put("deadline", Units.formatDuration(deadline))
        .put("budgetRatio", budgetRatio).put("budgetWindow", Units.formatDuration(budgetWindow))
        .put("minRetriesPerSecond", minRetriesPerSecond);
  }

  public boolean isEnabled() { return enabled; }
  public RetryOptions setEnabled(boolean enabled) { this.enabled = enabled; return this; }
  public int getMaxAttempts() { return maxAttempts; }
  public RetryOptions setMaxAttempts(int n) { this.maxAttempts = n; return this; }
  public Duration getInitialBackoff() { return initialBackoff; }
  public RetryOptions setInitialBackoff(Duration d) { this.initialBackoff = d; return this; }
  public Duration getMaxBackoff() { return maxBackoff; }
  public RetryOptions setMaxBackoff(Duration d) { this.maxBackoff = d; return this; }
  public Duration getMaxRetryAfter() { return maxRetryAfter; }
  public RetryOptions setMaxRetryAfter(Duration d) { this.maxRetryAfter = d; return this; }
  public Duration getDeadline() { return deadline; }
  public RetryOptions setDeadline(Duration d) { this.deadline = d; return this; }
  public double getBudgetRatio() { return budgetRatio; }
  public RetryOptions setBudgetRatio(double r) { this.budgetRatio = r; return this; }
  public Duration getBudgetWindow() { return budgetWindow; }
  public RetryOptions setBudgetWindow(Duration d) { this.budgetWindow = d; return this; }
  public int getMinRetriesPerSecond() { return minRetriesPerSecond; }
  public RetryOptions setMinRetriesPerSecond(int n) { this.minRetriesPerSecond = n; return this; }
}
