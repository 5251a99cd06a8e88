package io.tollgate.concurrency;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.config.BulkheadOptions;
import io.tollgate.metrics.MeterNames;
import io.tollgate.proxy.GatewayException;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.ArrayDeque;

/**
 * At most {@code maxInFlight} slots; up to {@code maxQueue} callers wait FIFO, each at most
 * {@code queueTimeout}; anyone beyond gets 503 with {@code Retry-After} at once (load shedding, no unbounded
 * queue). One instance per gateway, shared by the proxy verticles of every event loop: state changes are
 * short critical sections on this object, and a freed slot is handed to the oldest waiter on that waiter's
 * own context ({@code runOnContext}), never on the releasing thread.
 */
public final class Bulkhead {
  /** Held by a caller; {@link #release()} is idempotent. */
  public final class Slot {
    private boolean released;

    private Slot() {}

    public void release() {
      synchronized (Bulkhead.this) {
        if (released) return;
        released = true;
      }
      Bulkhead.this.free();
    }
  }

  private final class Waiter {
    final Promise<Slot> promise = Promise.promise();
    final Context context;
    long timer = -1;
    boolean done;

    Waiter(Context context) {
      this.context = context;
    }
  }

  private final Vertx vertx;
  private final int maxInFlight;
  private final int maxQueue;
  private final long queueTimeoutMs;
  private final GatewayException full;
  private final GatewayException timedOut;
  private final ArrayDeque<Waiter> queue = new ArrayDeque<>();
  private final Counter shedFull;
  private final Counter shedTimeout;
  private int inFlight;

  public Bulkhead(Vertx vertx, BulkheadOptions options, MeterRegistry registry) {
    this.vertx = vertx;
    this.maxInFlight = options.getMaxInFlight();
    this.maxQueue = options.getMaxQueue();
    this.queueTimeoutMs = options.getQueueTimeout().toMillis();
    Duration retryAfter = options.getShedRetryAfter();
    this.full = retryAfter.equals(GatewayException.BULKHEAD_FULL.retryAfter()) ? GatewayException.BULKHEAD_FULL
        : new GatewayException(503, "ServiceUnavailable", GatewayException.BULKHEAD_FULL.getMessage(), retryAfter);
    this.timedOut = retryAfter.equals(GatewayException.BULKHEAD_TIMEOUT.retryAfter()) ? GatewayException.BULKHEAD_TIMEOUT
        : new GatewayException(503, "ServiceUnavailable", GatewayException.BULKHEAD_TIMEOUT.getMessage(), retryAfter);
    Gauge.builder(MeterNames.BULKHEAD_IN_FLIGHT, this, Bulkhead::inFlight).register(registry);
    Gauge.builder(MeterNames.BULKHEAD_QUEUE, this, Bulkhead::queued).register(registry);
    this.shedFull = Counter.builder(MeterNames.BULKHEAD_SHED).tag(MeterNames.TAG_REASON, "full").register(registry);
    this.shedTimeout = Counter.builder(MeterNames.BULKHEAD_SHED).tag(MeterNames.TAG_REASON, "timeout").register(registry);
  }

  /** A slot now, one when freed (on the caller's context), or a 503 failure. */
  public Future<Slot> acquire() {
    Waiter w;
    synchronized (this) {
      if (inFlight < maxInFlight) {
        inFlight++;
        return Future.succeededFuture(new Slot());
      }
      if (queue.size() >= maxQueue || queueTimeoutMs <= 0) {
        w = null;
      } else {
        w = new Waiter(vertx.getOrCreateContext());
        queue.addLast(w);
      }
    }
    if (w == null) {
      shedFull.increment();
      return Future.failedFuture(full);
    }
    long id = vertx.setTimer(queueTimeoutMs, t -> expire(w));
    synchronized (this) {
      if (!w.done) w.timer = id;
    }
    return w.promise.future();
  }

  private void expire(Waiter w) {
    synchronized (this) {
      if (w.done) return;
      w.done = true;
      queue.remove(w);
    }
    shedTimeout.increment();
    w.promise.fail(timedOut);
  }

  private void free() {
    Waiter next;
    synchronized (this) {
      next = queue.pollFirst();
      if (next == null) {
        inFlight--;
        return;
      }
      // The slot passes straight to the waiter: inFlight stays, nobody can overtake the queue.
      next.done = true;
    }
    if (next.timer >= 0) vertx.cancelTimer(next.timer);
    Slot slot = new Slot();
    next.context.runOnContext(v -> next.promise.complete(slot));
  }

  public synchronized int inFlight() {
    return inFlight;
  }

  public synchronized int queued() {
    return queue.size();
  }
}
