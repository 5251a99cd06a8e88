package io.tollgate.ratelimit;

import io.tollgate.proxy.Charge;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.tollgate.config.RateLimitOptions;
import io.tollgate.metrics.MeterNames;
import io.tollgate.proxy.Caller;
import io.tollgate.proxy.Exchange;
import io.tollgate.proxy.GatewayException;
import io.tollgate.proxy.Reply;
import io.tollgate.proxy.UpstreamOutcome;
import io.tollgate.proxy.RouteTable;
import io.tollgate.proxy.Stage;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

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
  private final Counter requeued;
  private final Counter staleWhileThrottled;
  /** Tokens admitted per limit name, one counter each, created at the limit's first admission. */
  private final java.util.concurrent.ConcurrentHashMap<String, Counter> tokensAdmitted = new java.util.concurrent.ConcurrentHashMap<>();
  private final MeterRegistry registry;
  private final BudgetLearner learner;
  private final FlowClassifier classifier;
  private final Duration maxWait;
  private final Clock clock;

  public RateLimitStage(Vertx vertx, RateLimitOptions options, RateLimiter limiter, MeterRegistry registry) {
    this(vertx, options, limiter, registry, Clock.systemUTC());
  }

  public RateLimitStage(Vertx vertx, RateLimitOptions options, RateLimiter limiter, MeterRegistry registry, Clock clock) {
    this.limiter = limiter;
    this.registry = registry;
    this.waits = Counter.builder(MeterNames.RATELIMIT_WAITS).description("requests that waited for tokens").register(registry);
    this.tokensWaited = Counter.builder(MeterNames.RATELIMIT_TOKENS_WAITED).description("tokens waited for").register(registry);
    this.waitTime = Timer.builder(MeterNames.RATELIMIT_WAIT).description("time waited for tokens")
        .publishPercentileHistogram().register(registry);
    this.rejected = Counter.builder(MeterNames.RATELIMIT_REJECTED).description("429s produced by the rate limiter").register(registry);
    this.requeued = Counter.builder(MeterNames.RATELIMIT_REQUEUED)
        .description("upstream 429s absorbed by waiting in the bucket's queue again").register(registry);
    this.staleWhileThrottled = Counter.builder(MeterNames.RATELIMIT_STALE_WHILE_THROTTLED)
        .description("requests answered from a stale entry instead of waiting out an upstream pause").register(registry);
    this.learner = new BudgetLearner(vertx, limiter, registry, clock);
    this.classifier = new FlowClassifier(options.getLanes());
    this.maxWait = options.getMaxWait();
    this.clock = clock;
  }

  /** The stage that picks each request's lane, flow and job; put it first, before the cache. */
  public Stage classifier() {
    return classifier;
  }

  /** The stage that learns from upstream 429/503 Retry-After; put it last, right before the upstream. */
  public Stage learner() {
    return learner;
  }

  @Override
  public Future<Reply> apply(Exchange ex, Chain next) {
    classifier.hint(ex);
    List<Charge> charges = charges(ex);
    if (charges.isEmpty()) return next.proceed(ex);
    ex.charges(charges);
    ex.flow(FlowClassifier.refreshed(ex));
    return admitAndSend(ex, next, charges, System.nanoTime() + maxWait.toNanos(), maxWait);
  }

  /**
   * Waits for the charges, sends, and when the upstream answers 429 (the learner has paused the buckets by
   * now) puts a replayable request back into its buckets' queue behind the pause, while its deadline
   * ({@code maxWait} from arrival) allows. Waiting is not amplification: nothing is sent before the pause
   * ends, and the queue releases requests at the bucket's rate. A pause longer than what is left of the
   * deadline passes the 429 on at once (its {@code Retry-After} normalised) instead of holding the client.
   */
  private Future<Reply> admitAndSend(Exchange ex, Chain next, List<Charge> charges, long deadlineNanos, Duration budget) {
    // Stale while throttled: with a stale answer at hand, a paused budget is not waited out. Nothing goes
    // upstream for it meanwhile; after the pause one request goes as the probe, and until it has its answer
    // the others keep the stale one: one probe per paused scope per Retry-After window.
    if (ex.staleFallback()) {
      if (limiter.holdForProbe(charges)) {
        staleWhileThrottled.increment();
        ex.tally().absorbed();
        return Future.failedFuture(GatewayException.UPSTREAM_PAUSED);
      }
      return send(ex, next, charges, deadlineNanos, budget).onComplete(done -> limiter.probed(charges));
    }
    return send(ex, next, charges, deadlineNanos, budget);
  }

  private Future<Reply> send(Exchange ex, Chain next, List<Charge> charges, long deadlineNanos, Duration budget) {
    return limiter.acquire(charges, budget, ex.flow())
        .onFailure(failure -> rejected.increment())
        .compose(permit -> {
          for (int i = 0; i < charges.size(); i++) admitted(charges.get(i));
          if (!permit.waited().isZero()) {
            waits.increment();
            tokensWaited.increment(permit.tokens());
            waitTime.record(permit.waited().toNanos(), TimeUnit.NANOSECONDS);
            ex.tally().waited(permit.waited());
          }
          return next.proceed(ex);
        })
        .compose(reply -> {
          if (!ex.replayable() || ex.cancelled()) return Future.succeededFuture(reply);
          UpstreamOutcome said = UpstreamOutcome.of(reply, clock);
          // Only a 429 says "you, slower": a 503 may be an outage, which the breaker and retries handle.
          if (said.status() != 429) return Future.succeededFuture(reply);
          // A probe that finds the budget still spent answers from its stale entry, like those that held back.
          if (ex.staleFallback()) {
            staleWhileThrottled.increment();
            ex.tally().absorbed();
            reply.discard();
            return Future.failedFuture(GatewayException.UPSTREAM_PAUSED);
          }
          long left = deadlineNanos - System.nanoTime();
          Duration pause = said.retryAfter() == null ? Duration.ofSeconds(1) : said.retryAfter();
          if (left <= 0 || pause.toNanos() >= left) return Future.succeededFuture(reply);
          requeued.increment();
          ex.tally().retried(true);
          reply.discard();
          return admitAndSend(ex, next, charges, deadlineNanos, Duration.ofNanos(left));
        });
  }



  private void admitted(Charge c) {
    Counter counter = tokensAdmitted.get(c.limit());
    if (counter == null) {
      counter = tokensAdmitted.computeIfAbsent(c.limit(), name -> Counter.builder(MeterNames.RATELIMIT_TOKENS)
          .description("tokens admitted by the limit").tag(MeterNames.TAG_LIMIT, name).register(registry));
    }
    counter.increment(c.tokens());
  }

  /**
   * The buckets a request pays, with their price: one per limit its route falls under. A $batch chunk pays
   * for each sub-request against that sub-request's own limits, at its own cost, in the caller's scope, as
   * if each had been sent alone (the chunk's own route, {@code POST /$batch}, pays nothing by itself).
   */
  List<Charge> charges(Exchange ex) {
    List<RouteTable.Route> steps = ex.batchSteps();
    if (steps == null) return charges(ex.route(), ex.caller());
    java.util.Map<String, Charge> merged = new java.util.LinkedHashMap<>();
    for (RouteTable.Route step : steps) {
      for (Charge c : charges(step, ex.caller())) {
        merged.merge(c.bucketKey(), c, (a, b) -> a.plus(b.tokens()));
      }
    }
    return List.copyOf(merged.values());
  }

  private static List<Charge> charges(RouteTable.Route route, Caller who) {
    List<RouteTable.AppliedLimit> applied = route.limits();
    if (applied.isEmpty()) return List.of();
    List<Charge> out = new ArrayList<>(applied.size());
    for (RouteTable.AppliedLimit a : applied) {
      RouteTable.Limit l = a.limit();
      out.add(new Charge(l, bucketId(l, who, a.matched()), l.useCosts() ? route.cost() : 1));
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
