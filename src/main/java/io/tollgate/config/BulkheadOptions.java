package io.tollgate.config;

import io.vertx.core.json.JsonObject;
import java.time.Duration;

/** Stage 4, bounded upstream concurrency and load shedding, plus the CPU worker pool. YAML section {@code bulkhead}. */
public final class BulkheadOptions {
  public static final boolean DEFAULT_ENABLED = true;
  /** Upstream calls in flight at once, per gateway (all proxy verticles together). */
  public static final int DEFAULT_MAX_IN_FLIGHT = 64;
  /** Requests waiting for a slot; one more is shed at once with 503. */
  public static final int DEFAULT_MAX_QUEUE = 1024;
  /** Longest a request waits for a slot before it is shed with 503. */
  public static final Duration DEFAULT_QUEUE_TIMEOUT = Duration.ofSeconds(10);
  /** {@code Retry-After} sent with a shed request. */
  public static final Duration DEFAULT_SHED_RETRY_AFTER = Duration.ofSeconds(1);
  /** Threads of the worker pool for CPU-heavy work (compression, large rewrites). */
  public static final int DEFAULT_WORKER_POOL_SIZE = 4;

  private boolean enabled = DEFAULT_ENABLED;
  private int maxInFlight = DEFAULT_MAX_IN_FLIGHT;
  private int maxQueue = DEFAULT_MAX_QUEUE;
  private Duration queueTimeout = DEFAULT_QUEUE_TIMEOUT;
  private Duration shedRetryAfter = DEFAULT_SHED_RETRY_AFTER;
  private int workerPoolSize = DEFAULT_WORKER_POOL_SIZE;

  public BulkheadOptions() {}

  public BulkheadOptions(BulkheadOptions o) {
    enabled = o.enabled; maxInFlight = o.maxInFlight; maxQueue = o.maxQueue; queueTimeout = o.queueTimeout;
    shedRetryAfter = o.shedRetryAfter; workerPoolSize = o.workerPoolSize;
  }

  static BulkheadOptions read(ConfigReader r) {
    BulkheadOptions o = new BulkheadOptions();
    o.enabled = r.bool("enabled", DEFAULT_ENABLED);
    o.maxInFlight = r.integer("maxInFlight", DEFAULT_MAX_IN_FLIGHT, 1, 1_000_000);
    o.maxQueue = r.integer("maxQueue", DEFAULT_MAX_QUEUE, 0, 10_000_000);
    o.queueTimeout = r.duration("queueTimeout", DEFAULT_QUEUE_TIMEOUT);
    o.shedRetryAfter = r.duration("shedRetryAfter", DEFAULT_SHED_RETRY_AFTER);
    if (o.shedRetryAfter.compareTo(Duration.ofSeconds(1)) < 0) r.problem("shedRetryAfter", Units.formatDuration(o.shedRetryAfter), "a duration of at least 1s");
    o.workerPoolSize = r.integer("workerPoolSize", DEFAULT_WORKER_POOL_SIZE, 1, 1024);
    r.rejectUnknown();
    return o;
  }

  public JsonObject toJson() {
    return new JsonObject().put("enabled", enabled).put("maxInFlight", maxInFlight).put("maxQueue", maxQueue)
        .put("queueTimeout", Units.formatDuration(queueTimeout)).put("shedRetryAfter", Units.formatDuration(shedRetryAfter))
        .put("workerPoolSize", workerPoolSize);
  }

  public boolean isEnabled() { return enabled; }
  public BulkheadOptions setEnabled(boolean enabled) { this.enabled = enabled; return this; }
  public int getMaxInFlight() { return maxInFlight; }
  public BulkheadOptions setMaxInFlight(int n) { this.maxInFlight = n; return this; }
  public int getMaxQueue() { return maxQueue; }
  public BulkheadOptions setMaxQueue(int n) { this.maxQueue = n; return this; }
  public Duration getQueueTimeout() { return queueTimeout; }
  public BulkheadOptions setQueueTimeout(Duration d) { this.queueTimeout = d; return this; }
  public Duration getShedRetryAfter() { return shedRetryAfter; }
  public BulkheadOptions setShedRetryAfter(Duration d) { this.shedRetryAfter = d; return this; }
  public int getWorkerPoolSize() { return workerPoolSize; }
  public BulkheadOptions setWorkerPoolSize(int n) { this.workerPoolSize = n; return this; }
}
