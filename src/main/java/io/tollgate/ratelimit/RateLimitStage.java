package io.tollgate.ratelimit;

import io.tollgate.proxy.Charge;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.tollgate.config.PathPattern;
import io.tollgate.config.RateLimitOptions;
import io.tollgate.metrics.MeterNames;
import io.tollgate.proxy.Caller;
import io.tollgate.proxy.Exchange;
import io.tollgate.proxy.Reply;
import io.tollgate.proxy.RouteTable;
import io.tollgate.proxy.Stage;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.json.JsonObject;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Stage 3: every configured limit whose paths and methods match a request charges one of its buckets
 * (chosen by tenant, app, route or global), and all must admit before the request goes on. Costs come from
 * the configured table. Cache hits never get here (the cache stage answers first). Shared by all proxy
 * verticles; holds only immutable compiled rules, a claims cache and meters.
 *
 * <p>Tenant and app come from the caller's claims ({@code tid}, {@code appid}/{@code azp}) once the upstream has
 * accepted its token ({@link Caller#tenant()}); until then, and for opaque tokens, a caller is its own
 * tenant and app (its token hash), so a forged token never spends another tenant's budget.
 */
public final class RateLimitStage implements Stage {
  private final RateLimiter limiter;
  private final Counter waits;
  private final Counter tokensWaited;
  private final Timer waitTime;
  private final Counter rejected;
  private final RetryAfterLearner learner;

  public RateLimitStage(Vertx vertx, RateLimitOptions options, RateLimiter limiter, MeterRegistry registry) {
    this(vertx, options, limiter, registry, Clock.systemUTC());
  }

  public RateLimitStage(Vertx vertx, RateLimitOptions options, RateLimiter limiter, MeterRegistry registry, Clock clock) {
    this.limiter = limiter;
    this.waits = Counter.builder(MeterNames.RATELIMIT_WAITS).description("requests that waited for tokens").register(registry);
    this.tokensWaited = Counter.builder(MeterNames.RATELIMIT_TOKENS_WAITED).description("tokens waited for").register(registry);
    this.waitTime = Timer.builder(MeterNames.RATELIMIT_WAIT).description("time waited for tokens")
        .publishPercentileHistogram().register(registry);
    this.rejected = Counter.builder(MeterNames.RATELIMIT_REJECTED).description("429s produced by the rate limiter").register(registry);
    this.learner = new RetryAfterLearner(vertx, limiter, registry, clock);
  }

  /** The stage that learns from upstream 429/503 Retry-After; put it last, right before the upstream. */
  public Stage learner() {
    return learner;
  }

  @Override
  public Future<Reply> apply(Exchange ex, Chain next) {
    List<Charge> charges = charges(ex);
    if (charges.isEmpty()) return next.proceed(ex);
    ex.charges(charges);
    return limiter.acquire(charges)
        .onFailure(failure -> rejected.increment())
        .compose(permit -> {
          if (!permit.waited().isZero()) {
            waits.increment();
            tokensWaited.increment(permit.tokens());
            waitTime.record(permit.waited().toNanos(), TimeUnit.NANOSECONDS);
          }
          return next.proceed(ex);
        });
  }

  /** The buckets a request pays, with their price: one per limit its route falls under. */
  List<Charge> charges(Exchange ex) {
    RouteTable.Route route = ex.route();
    List<RouteTable.AppliedLimit> applied = route.limits();
    if (applied.isEmpty()) return List.of();
    List<Charge> out = new ArrayList<>(applied.size());
    Caller who = ex.caller();
    for (RouteTable.AppliedLimit a : applied) {
      RouteTable.Limit l = a.limit();
      // A $batch chunk carries its sub-request count: each sub-request pays like a single call.
      out.add(new Charge(l.name(), bucketId(l, who, a.matched()), l.rate(), l.burst(), (l.useCosts() ? route.cost() : 1) * ex.cost()));
    }
    return out;
  }

  private static String bucketId(RouteTable.Limit l, Caller who, String matched) {
    if (!l.byTenant() && !l.byApp() && !l.byRoute()) return "global";
    StringBuilder sb = new StringBuilder();
    if (l.byTenant()) sb.append("t=").append(who.tenant()).append('|');
    if (l.byApp()) sb.append("a=").append(who.app()).append('|');
    if (l.byRoute()) sb.append("r=").append(matched).append('|');
    return sb.toString();
  }
}
