package io.tollgate.ratelimit;

import io.micrometer.core.instrument.Counter;
import java.util.Locale;
import io.tollgate.proxy.RetryAfter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.metrics.Addresses;
import io.tollgate.metrics.MeterNames;
import io.tollgate.proxy.Charge;
import io.tollgate.proxy.Exchange;
import io.tollgate.proxy.Reply;
import io.tollgate.proxy.RouteTable;
import io.tollgate.proxy.Sha256;
import io.tollgate.proxy.Stage;
import io.tollgate.proxy.UpstreamOutcome;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Learns the upstream's real budget from every attempt's answer. It sits right in front of the upstream call,
 * so it sees retries too:
 * <ul>
 *   <li>a 429, or a 503 with {@code Retry-After}, pauses the buckets of the throttled scope for that long
 *       ({@code throttled} on {@code tollgate.events} when an episode begins) and cuts their learned rate;</li>
 *   <li>any other answer feeds the upstream's usage headers to the learned rate (growth while there is room,
 *       decrease when the budget is nearly spent) and settles the charge with {@code x-ms-resource-unit}.</li>
 * </ul>
 * {@code x-ms-throttle-scope} picks which of the request's buckets a throttle concerns: by scope kind
 * ({@code Tenant_Application}, {@code Tenant}, {@code Application}) and side ({@code Read}/{@code Write}).
 * Every learned-rate change is a {@code learned} event and moves the {@code learned_rate} gauge.
 */
public final class BudgetLearner implements Stage {
  private static final Logger LOG = LoggerFactory.getLogger(BudgetLearner.class);
  /** Gauges are per bucket, which can mean per tenant: at most this many, the first buckets that learned. */
  static final int MAX_RATE_GAUGES = 200;

  private final Vertx vertx;
  private final RateLimiter limiter;
  private final MeterRegistry registry;
  private final Counter pauses;
  private final Counter settled;
  private final ConcurrentHashMap<String, Counter> throttledByRoute = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Counter> changes = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, double[]> gauges = new ConcurrentHashMap<>();
  private final AtomicInteger gaugeCount = new AtomicInteger();
  private final Clock clock;

  BudgetLearner(Vertx vertx, RateLimiter limiter, MeterRegistry registry, Clock clock) {
    this.vertx = vertx;
    this.limiter = limiter;
    this.registry = registry;
    this.clock = clock;
    this.pauses = Counter.builder(MeterNames.RATELIMIT_PAUSES).description("bucket pauses learned from upstream Retry-After")
        .register(registry);
    this.settled = Counter.builder(MeterNames.RATELIMIT_SETTLED_TOKENS)
        .description("tokens taken because the upstream's x-ms-resource-unit exceeded the estimate (given back: not counted)")
        .register(registry);
  }

  @Override
  public Future<Reply> apply(Exchange ex, Chain next) {
    // A $batch chunk's envelope says little; each sub-response says what a single call would have.
    if (ex.batchSteps() != null) ex.onStepAnswers(answers -> stepsAnswered(ex, answers));
    return next.proceed(ex).onSuccess(reply -> {
      List<Charge> charges = ex.charges();
      UpstreamOutcome outcome = UpstreamOutcome.of(reply, clock);
      if (outcome.kind() == UpstreamOutcome.Kind.THROTTLED) {
        throttled(ex, outcome.status(), outcome.retryAfter(), charges, UpstreamSignals.of(reply.headers()));
        return;
      }
      // A chunk's envelope says nothing of its steps' budget: their answers do (stepsAnswered).
      if (charges.isEmpty() || outcome.kind() != UpstreamOutcome.Kind.ANSWERED || ex.batchSteps() != null) return;
      UpstreamSignals said = UpstreamSignals.of(reply.headers());
      if (said.resourceUnits() > 0) settle(charges, said.resourceUnits());
      answered(charges, said);
    });
  }

  /**
   * A chunk's steps, taken together as one answer: throttled when any step was (for the longest pause any
   * step was told), else the fullest usage any step reported. Taken one by one, a step answered before the
   * budget ran low would grow the rate that the steps after it had just found spent.
   */
  private void stepsAnswered(Exchange chunk, List<Exchange.StepAnswer> answers) {
    List<Charge> charges = chunk.charges();
    if (charges.isEmpty()) return;
    Exchange.StepAnswer throttle = null;
    Duration longest = null;
    double usage = Double.NaN;
    for (Exchange.StepAnswer a : answers) {
      String header = a.headers().get("Retry-After");
      if (a.status() == 429 || (a.status() == 503 && header != null)) {
        Duration d = header == null ? null : RetryAfter.parse(header, clock);
        if (throttle == null || (d != null && (longest == null || d.compareTo(longest) > 0))) {
          throttle = a;
          longest = d;
        }
      } else if (a.status() < 500) {
        double u = UpstreamSignals.of(a.headers()).usage();
        if (!Double.isNaN(u) && (Double.isNaN(usage) || u > usage)) usage = u;
      }
    }
    if (throttle != null) {
      throttled(chunk, throttle.status(), longest, charges, UpstreamSignals.of(throttle.headers()));
    } else {
      answered(charges, Double.isNaN(usage) ? UpstreamSignals.NONE : new UpstreamSignals(usage, -1, null, null));
    }
  }

  /**
   * Usage headers speak of the resource-unit budget (Graph's percentage, SharePoint's RateLimit-*): they move
   * the limits that count costs, not request-count limits such as the per-app 130,000 per 10 s.
   */
  private void answered(List<Charge> charges, UpstreamSignals said) {
    List<Charge> told = charges;
    if (!Double.isNaN(said.usage())) {
      told = new ArrayList<>(charges.size());
      for (Charge c : charges) if (c.rule().useCosts()) told.add(c);
      if (told.isEmpty()) told = charges;
    }
    limiter.learn(told, said.usage(), false).onSuccess(this::announce);
  }

  private void throttled(Exchange ex, int status, Duration said429, List<Charge> charges, UpstreamSignals said) {
    String route = ex.routeName();
    throttledByRoute.computeIfAbsent(route + '|' + status, k -> Counter.builder(MeterNames.UPSTREAM_THROTTLED)
        .tag(MeterNames.TAG_ROUTE, route).tag(MeterNames.TAG_STATUS, Integer.toString(status)).register(registry))
        .increment();
    if (charges.isEmpty()) return;
    List<Charge> scoped = scoped(charges, said);
    // A 429 without Retry-After still means "slower": hold the buckets a second rather than resend at once.
    Duration retryAfter = said429 != null ? said429 : status == 429 ? Duration.ofSeconds(1) : null;
    limiter.learn(scoped, Double.NaN, true).onSuccess(this::announce);
    if (retryAfter == null || retryAfter.isZero()) return;
    List<Charge> began = limiter.pause(scoped, retryAfter);
    if (began.isEmpty()) return;
    pauses.increment(began.size());
    Instant now = Instant.now(clock);
    String at = now.toString();
    boolean pastMidnight = !LocalDate.ofInstant(now.plus(retryAfter), ZoneOffset.UTC).equals(LocalDate.ofInstant(now, ZoneOffset.UTC));
    for (Charge c : began) {
      LOG.warn("upstream throttling: pausing '{}' bucket {} for {} ms", c.limit(), shortHash(c.id()), retryAfter.toMillis());
      JsonObject event = new JsonObject().put("type", "throttled").put("scope", c.limit())
          .put("bucket", shortHash(c.id())).put("route", route).put("status", status)
          .put("retryAfterMs", retryAfter.toMillis()).put("at", at);
      if (said.scope() != null) event.put("upstreamScope", said.scope() + (said.side() == null ? "" : "/" + said.side()));
      // SharePoint blocks an app that spent its daily quota until midnight UTC: worth an operator's attention.
      if (pastMidnight) event.put("dailyQuota", true);
      vertx.eventBus().publish(Addresses.EVENTS, event);
    }
  }

  /**
   * The charges a throttle concerns: those whose limit is keyed like the upstream's scope and covers its side.
   * With no scope said, all. When none matches the side, those matching the kind (a limit for both sides is
   * paused rather than none); when none matches the kind either, all.
   */
  static List<Charge> scoped(List<Charge> charges, UpstreamSignals said) {
    if (said.scope() == null && said.side() == null) return charges;
    List<Charge> ofKind = new ArrayList<>(charges.size());
    for (Charge c : charges) if (said.scope() == null || kindMatches(said.scope(), c.rule())) ofKind.add(c);
    if (ofKind.isEmpty()) ofKind = charges;
    if (said.side() == null || said.side().equalsIgnoreCase("ReadWrite")) return ofKind;
    boolean writes = said.side().equalsIgnoreCase("Write");
    List<Charge> ofSide = new ArrayList<>(ofKind.size());
    for (Charge c : ofKind) if (writes ? c.rule().writesOnly() : c.rule().readsOnly()) ofSide.add(c);
    return ofSide.isEmpty() ? ofKind : ofSide;
  }

  private static boolean kindMatches(String scope, RouteTable.Limit l) {
    return switch (scope.toLowerCase(Locale.ROOT)) {
      case "tenant_application" -> l.byTenant() && l.byApp();
      case "tenant" -> l.byTenant() && !l.byApp();
      case "application" -> l.byApp() && !l.byTenant();
      default -> true;
    };
  }

  /** The upstream said what the call cost: take the difference from (or give it back to) each costed bucket. */
  private void settle(List<Charge> charges, int resourceUnits) {
    for (Charge c : charges) {
      if (!c.rule().useCosts()) continue;
      int extra = resourceUnits - c.tokens();
      if (extra == 0) continue;
      limiter.settle(c, extra);
      if (extra > 0) settled.increment(extra);
    }
  }

  private void announce(List<RateChange> changed) {
    if (changed.isEmpty()) return;
    String at = Instant.now(clock).toString();
    for (RateChange change : changed) {
      Charge c = change.charge();
      String scope = shortHash(c.id());
      String mode = c.rule().estimate() ? "estimate" : "ceiling";
      changes.computeIfAbsent(c.limit() + '|' + change.reason(), k -> Counter.builder(MeterNames.RATELIMIT_RATE_CHANGES)
          .tag(MeterNames.TAG_LIMIT, c.limit()).tag(MeterNames.TAG_REASON, change.reason()).register(registry)).increment();
      double[] value = gauges.get(c.bucketKey());
      if (value == null && gaugeCount.get() < MAX_RATE_GAUGES) {
        value = gauges.computeIfAbsent(c.bucketKey(), k -> {
          double[] holder = {change.to()};
          gaugeCount.incrementAndGet();
          Gauge.builder(MeterNames.RATELIMIT_LEARNED_RATE, holder, h -> h[0]).description("rate learned by a bucket, tokens/s")
              .tag(MeterNames.TAG_LIMIT, c.limit()).tag(MeterNames.TAG_SCOPE, scope).tag(MeterNames.TAG_MODE, mode)
              .register(registry);
          return holder;
        });
      }
      if (value != null) value[0] = change.to();
      if (change.reason().equals("throttled") || change.reason().equals("usage")) {
        LOG.info("learned rate of '{}' bucket {} lowered {} -> {} /s ({})", c.limit(), scope, round(change.from()),
            round(change.to()), change.reason());
      }
      vertx.eventBus().publish(Addresses.EVENTS, new JsonObject().put("type", "learned").put("limit", c.limit())
          .put("scope", scope).put("mode", mode).put("rate", round(change.to())).put("previous", round(change.from()))
          .put("configured", c.rate()).put("reason", change.reason()).put("at", at));
    }
  }

  private static double round(double rate) {
    return Math.round(rate * 100) / 100.0;
  }

  /** Bucket ids may carry a tenant id: events, logs and metrics get its first 8 hex of SHA-256. */
  static String shortHash(String id) {
    return Sha256.shortHex(id, 4);
  }
}
