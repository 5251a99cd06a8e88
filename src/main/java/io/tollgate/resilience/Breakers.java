package io.tollgate.resilience;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.metrics.Addresses;
import io.tollgate.metrics.Readiness;
import io.tollgate.config.BreakerOptions;
import io.tollgate.metrics.MeterNames;
import io.tollgate.proxy.GatewayException;
import io.tollgate.proxy.Reply;
import io.tollgate.proxy.UpstreamOutcome;
import io.vertx.circuitbreaker.CircuitBreaker;
import io.vertx.circuitbreaker.CircuitBreakerOptions;
import io.vertx.circuitbreaker.CircuitBreakerState;
import io.vertx.circuitbreaker.OpenCircuitException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Vert.x circuit breaker per upstream origin, shared by all proxy verticles (the Vert.x breaker is
 * thread-safe). What counts as a failure is decided here, once:
 * <ul>
 *   <li>connect errors and upstream timeouts (the Forwarder's 502/504) count;</li>
 *   <li>5xx answers count, except 501 (a missing feature, not an outage) and a 503 with
 *       {@code Retry-After} (throttling from a healthy upstream; the rate limiter handles it);</li>
 *   <li>429, other 4xx, shed requests and a client that went away do not.</li>
 * </ul>
 * Vert.x semantics: {@code failureThreshold} failures in a row within {@code failureWindow} open it; after
 * {@code resetTimeout} one probe goes through (half-open); its success closes it, its failure reopens it.
 * Transitions are logged, counted, published on {@code tollgate.events} and shown on readiness ({@code breaker}).
 *
 * <p>Time: the open → half-open wait is the Vert.x breaker's own {@code vertx.setTimer(resetTimeout)} and its
 * failure window reads {@code System.currentTimeMillis()}; the library (5.0) takes no clock and has no public
 * way into half-open, so no clock is injected here. Tests set a short {@code resetTimeout} and wait on
 * {@link #state(String)}.
 */
public final class Breakers {
  private static final Logger LOG = LoggerFactory.getLogger(Breakers.class);
  static final String COMPONENT = "breaker";

  /** Marks a failure that says nothing about the upstream (the client left): not a breaker failure. */
  static final GatewayException CLIENT_GONE = new GatewayException(499, "ClientClosedRequest", "The client went away.", null);

  private final Vertx vertx;
  private final BreakerOptions options;
  private final MeterRegistry registry;
  private final Readiness readiness;
  private final GatewayException open;
  private final Map<String, CircuitBreaker> byOrigin = new ConcurrentHashMap<>();

  public Breakers(Vertx vertx, BreakerOptions options, MeterRegistry registry, Readiness readiness) {
    this.vertx = vertx;
    this.options = new BreakerOptions(options);
    this.registry = registry;
    this.readiness = readiness;
    this.open = options.getResetTimeout().equals(GatewayException.CIRCUIT_OPEN.retryAfter()) ? GatewayException.CIRCUIT_OPEN
        : new GatewayException(503, "ServiceUnavailable", GatewayException.CIRCUIT_OPEN.getMessage(), options.getResetTimeout());
    readiness.report(COMPONENT, Readiness.State.UP, null);
  }

  /**
   * Runs one upstream attempt through the origin's breaker.
   *
   * @return the attempt's outcome, or a failed {@link GatewayException#CIRCUIT_OPEN} without running it
   */
  public Future<Reply> call(String origin, Supplier<Future<Reply>> attempt) {
    if (!options.isEnabled()) return attempt.get();
    // The breaker counts failed futures only, so a failing answer travels through it as a failure and a
    // failure that says nothing about the upstream travels as a success; both are unwrapped afterwards.
    CircuitBreaker breaker = breaker(origin);
    // A half-open breaker lets one probe through to learn whether the upstream is back. A probe whose client
    // left first taught nothing: it must not close the breaker (a hanging upstream would never be isolated
    // while clients time out before it), so it counts as a failure and the breaker opens again.
    boolean probe = breaker.state() == CircuitBreakerState.HALF_OPEN;
    return breaker.<Object>execute(() -> attempt.get().transform(ar -> {
      if (ar.succeeded()) return isFailure(ar.result()) ? Future.failedFuture(new FailingReply(ar.result())) : Future.succeededFuture(ar.result());
      boolean counted = counts(ar.cause()) || (probe && ar.cause() == CLIENT_GONE);
      return counted ? Future.failedFuture(ar.cause()) : Future.succeededFuture(new NotCounted(ar.cause()));
    })).transform(ar -> {
      if (ar.succeeded()) {
        return ar.result() instanceof NotCounted n ? Future.failedFuture(n.failure) : Future.succeededFuture((Reply) ar.result());
      }
      Throwable t = ar.cause();
      if (t instanceof FailingReply f) return Future.succeededFuture(f.reply);
      return Future.failedFuture(t instanceof OpenCircuitException ? open : t);
    });
  }

  private record NotCounted(Throwable failure) {}

  /** An upstream answer the breaker counts as a failure; the client still gets the answer itself. */
  private static final class FailingReply extends RuntimeException {
    final Reply reply;

    FailingReply(Reply reply) {
      super(null, null, false, false);
      this.reply = reply;
    }
  }

  /** State of an origin's breaker; CLOSED for one never used. */
  public CircuitBreakerState state(String origin) {
    CircuitBreaker b = byOrigin.get(origin);
    return b == null ? CircuitBreakerState.CLOSED : b.state();
  }

  private CircuitBreaker breaker(String origin) {
    CircuitBreaker b = byOrigin.get(origin);
    return b != null ? b : byOrigin.computeIfAbsent(origin, this::create);
  }

  private CircuitBreaker create(String origin) {
    CircuitBreakerOptions o = new CircuitBreakerOptions()
        .setMaxFailures(options.getFailureThreshold())
        .setFailuresRollingWindow(options.getFailureWindow().toMillis())
        .setResetTimeout(options.getResetTimeout().toMillis())
        // Upstream timeouts are the Forwarder's (connect/request timeout) and count as failures; a second
        // timer here would abandon a call whose answer still arrives and holds a connection.
        .setTimeout(-1)
        .setMaxRetries(0)
        .setNotificationAddress(null);
    CircuitBreaker b = CircuitBreaker.create("upstream " + origin, vertx, o);
    Counter toOpen = transitions(origin, "open");
    Counter toHalfOpen = transitions(origin, "half-open");
    Counter toClosed = transitions(origin, "closed");
    Gauge.builder(MeterNames.BREAKER_STATE, b, x -> switch (x.state()) {
      case CLOSED -> 0;
      case HALF_OPEN -> 1;
      case OPEN -> 2;
    }).tag(MeterNames.TAG_ORIGIN, origin).register(registry);
    b.openHandler(v -> {
      toOpen.increment();
      LOG.warn("circuit for {} opened after {} failures; failing fast for {}", origin, options.getFailureThreshold(), options.getResetTimeout());
      readiness.report(COMPONENT, Readiness.State.DEGRADED, "open: " + origin);
      publish(origin, "open");
    });
    b.halfOpenHandler(v -> {
      toHalfOpen.increment();
      LOG.info("circuit for {} half-open: one probe goes through", origin);
      publish(origin, "half-open");
    });
    b.closeHandler(v -> {
      toClosed.increment();
      LOG.warn("circuit for {} closed: upstream answering again", origin);
      boolean anyOpen = byOrigin.values().stream().anyMatch(x -> x != null && x != b && x.state() != CircuitBreakerState.CLOSED);
      if (!anyOpen) readiness.report(COMPONENT, Readiness.State.UP, null);
      publish(origin, "closed");
    });
    return b;
  }

  private Counter transitions(String origin, String state) {
    return Counter.builder(MeterNames.BREAKER_TRANSITIONS).tag(MeterNames.TAG_ORIGIN, origin).tag(MeterNames.TAG_STATE, state)
        .register(registry);
  }

  private void publish(String origin, String state) {
    vertx.eventBus().publish(Addresses.EVENTS, new JsonObject().put("type", "circuit").put("origin", origin)
        .put("state", state).put("at", Instant.now().toString()));
  }

  /** The failure policy documented on the class: which failed attempts count. */
  static boolean counts(Throwable t) {
    return UpstreamOutcome.of(t, t == CLIENT_GONE).countsAgainstUpstream();
  }

  /** The failure policy documented on the class: which answers count. */
  static boolean isFailure(Reply r) {
    if (r.status() < 500) return false;
    return UpstreamOutcome.of(r, java.time.Clock.systemUTC()).countsAgainstUpstream();
  }

  public Future<Void> close() {
    byOrigin.values().forEach(CircuitBreaker::close);
    return Future.succeededFuture();
  }
}
