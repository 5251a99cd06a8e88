package io.tollgate.ratelimit;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.metrics.Addresses;
import io.tollgate.metrics.MeterNames;
import io.tollgate.proxy.Exchange;
import io.tollgate.proxy.Reply;
import io.tollgate.proxy.RetryAfter;
import io.tollgate.proxy.Stage;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
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
  private final RateLimitStage limits;
  private final RateLimiter limiter;
  private final MeterRegistry registry;
  private final Counter pauses;
  private final ConcurrentHashMap<String, Counter> throttledByRoute = new ConcurrentHashMap<>();
  private final Clock clock;

  RetryAfterLearner(Vertx vertx, RateLimitStage limits, RateLimiter limiter, MeterRegistry registry, Clock clock) {
    this.vertx = vertx;
    this.limits = limits;
    this.limiter = limiter;
    this.registry = registry;
    this.clock = clock;
    this.pauses = Counter.builder(MeterNames.RATELIMIT_PAUSES).description("bucket pauses learned from upstream Retry-After")
        .register(registry);
  }

  @Override
  public Future<Reply> apply(Exchange ex, Chain next) {
    return next.proceed(ex).onSuccess(reply -> {
      int status = reply.status();
      if (status != 429 && status != 503) return;
      String header = reply.headers().get("Retry-After");
      if (status == 429 || header != null) {
        throttledByRoute.computeIfAbsent(ex.route() + '|' + status, k -> Counter.builder(MeterNames.UPSTREAM_THROTTLED)
            .tag(MeterNames.TAG_ROUTE, ex.route()).tag(MeterNames.TAG_STATUS, Integer.toString(status)).register(registry))
            .increment();
      }
      Duration retryAfter = RetryAfter.parse(header, clock);
      if (retryAfter == null || retryAfter.isZero()) return;
      List<Charge> began = limiter.pause(limits.charges(ex), retryAfter);
      if (began.isEmpty()) return;
      pauses.increment(began.size());
      String at = Instant.now(clock).toString();
      for (Charge c : began) {
        LOG.warn("upstream throttling: pausing '{}' bucket {} for {} ms", c.limit(), shortHash(c.id()), retryAfter.toMillis());
        vertx.eventBus().publish(Addresses.EVENTS, new JsonObject().put("type", "throttled").put("scope", c.limit())
            .put("bucket", shortHash(c.id())).put("route", ex.route()).put("status", status)
            .put("retryAfterMs", retryAfter.toMillis()).put("at", at));
      }
    });
  }

  /** Bucket ids may carry a tenant id: events and logs get its first 8 hex of SHA-256. */
  static String shortHash(String id) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(id.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d, 0, 4);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
