package io.tollgate.ratelimit;

import io.tollgate.proxy.Charge;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.metrics.Addresses;
import io.tollgate.metrics.MeterNames;
import io.tollgate.proxy.Exchange;
import io.tollgate.proxy.Reply;
import io.tollgate.proxy.Sha256;
import io.tollgate.proxy.UpstreamOutcome;
import io.tollgate.proxy.Stage;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Learns the upstream's real limit: sits right in front of the upstream call, so it sees every attempt
 * (retries included), and on a 429 or 503 with {@code Retry-After} pauses the buckets the request paid for,
 * then publishes {@code throttled} on {@code tollgate.events} when that begins a throttling episode.
 */
public final class RetryAfterLearner implements Stage {
  private static final Logger LOG = LoggerFactory.getLogger(RetryAfterLearner.class);

  private final Vertx vertx;
  private final RateLimiter limiter;
  private final MeterRegistry registry;
  private final Counter pauses;
  private final ConcurrentHashMap<String, Counter> throttledByRoute = new ConcurrentHashMap<>();
  private final Clock clock;

  RetryAfterLearner(Vertx vertx, RateLimiter limiter, MeterRegistry registry, Clock clock) {
    this.vertx = vertx;
    this.limiter = limiter;
    this.registry = registry;
    this.clock = clock;
    this.pauses = Counter.builder(MeterNames.RATELIMIT_PAUSES).description("bucket pauses learned from upstream Retry-After")
        .register(registry);
  }

  @Override
  public Future<Reply> apply(Exchange ex, Chain next) {
    return next.proceed(ex).onSuccess(reply -> {
      UpstreamOutcome outcome = UpstreamOutcome.of(reply, clock);
      if (outcome.kind() != UpstreamOutcome.Kind.THROTTLED) return;
      int status = outcome.status();
      String route = ex.routeName();
      throttledByRoute.computeIfAbsent(route + '|' + status, k -> Counter.builder(MeterNames.UPSTREAM_THROTTLED)
          .tag(MeterNames.TAG_ROUTE, route).tag(MeterNames.TAG_STATUS, Integer.toString(status)).register(registry))
          .increment();
      // A 429 without Retry-After still means "slower": hold the buckets a second rather than resend at once.
      Duration retryAfter = outcome.retryAfter() != null ? outcome.retryAfter() : status == 429 ? Duration.ofSeconds(1) : null;
      if (retryAfter == null || retryAfter.isZero() || ex.charges().isEmpty()) return;
      List<Charge> began = limiter.pause(ex.charges(), retryAfter);
      if (began.isEmpty()) return;
      pauses.increment(began.size());
      String at = Instant.now(clock).toString();
      for (Charge c : began) {
        LOG.warn("upstream throttling: pausing '{}' bucket {} for {} ms", c.limit(), shortHash(c.id()), retryAfter.toMillis());
        vertx.eventBus().publish(Addresses.EVENTS, new JsonObject().put("type", "throttled").put("scope", c.limit())
            .put("bucket", shortHash(c.id())).put("route", route).put("status", status)
            .put("retryAfterMs", retryAfter.toMillis()).put("at", at));
      }
    });
  }

  /** Bucket ids may carry a tenant id: events and logs get its first 8 hex of SHA-256. */
  static String shortHash(String id) {
    return Sha256.shortHex(id, 4);
  }
}
