package io.tollgate.resilience;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.metrics.MeterNames;
import io.tollgate.proxy.Exchange;
import io.tollgate.proxy.Reply;
import io.tollgate.proxy.Stage;
import io.tollgate.proxy.Timers;
import io.tollgate.proxy.UpstreamOutcome;
import java.time.Clock;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Stage 5: every upstream attempt goes through the origin's breaker; a replayable request whose attempt
 * failed in a retryable way is sent again after the upstream's {@code Retry-After} or a jittered backoff,
 * while attempts, the per-request deadline and the shared {@link RetryBudget} allow. A reply retried past
 * is drained (read and discarded) so its connection goes back to the pool. An open circuit is never retried.
 */
public final class ResilienceStage implements Stage {
  private final Vertx vertx;
  private final String origin;
  private final Breakers breakers;
  private final RetryPolicy policy;
  private final RetryBudget budget;
  private final MeterRegistry registry;
  private final ConcurrentHashMap<String, Counter> retries = new ConcurrentHashMap<>();
  private final Counter budgetExhausted;
  private final Clock clock = Clock.systemUTC();

  public ResilienceStage(Vertx vertx, String origin, Breakers breakers, RetryPolicy policy, RetryBudget budget, MeterRegistry registry) {
    this.vertx = vertx;
    this.origin = origin;
    this.breakers = breakers;
    this.policy = policy;
    this.budget = budget;
    this.registry = registry;
    this.budgetExhausted = Counter.builder(MeterNames.RETRY_BUDGET_EXHAUSTED).register(registry);
  }

  @Override
  public Future<Reply> apply(Exchange ex, Chain next) {
    budget.request();
    boolean replayable = policy.replayable(ex);
    long deadline = System.nanoTime() + policy.deadline().toNanos();
    return attempt(ex, next, 1, replayable, deadline);
  }

  private Future<Reply> attempt(Exchange ex, Chain next, int n, boolean replayable, long deadline) {
    Future<Reply> outcome = breakers.call(origin, () -> next.proceed(ex)
        .recover(failure -> Future.failedFuture(ex.cancelled() ? Breakers.CLIENT_GONE : failure)));
    if (!replayable || n >= policy.maxAttempts()) return outcome;
    return outcome.transform(ar -> {
      Reply reply = ar.succeeded() ? ar.result() : null;
      UpstreamOutcome said = reply != null ? UpstreamOutcome.of(reply, clock) : UpstreamOutcome.of(ar.cause(), ex.cancelled());
      // A throttled request the limiter paid for goes back into the limiter's queue behind the pause (the
      // rate-limit stage outside does that); retrying it here would skip the queue and over-drive the upstream.
      boolean limiterOwnsIt = said.status() == 429 && !ex.charges().isEmpty();
      String cause = ex.cancelled() || limiterOwnsIt ? null : said.retryCause();
      Future<Reply> asIs = ar.succeeded() ? Future.succeededFuture(reply) : Future.failedFuture(ar.cause());
      if (cause == null) return asIs;
      Duration delay = policy.delay(n, said);
      if (delay == null || System.nanoTime() + delay.toNanos() > deadline) return asIs;
      if (!budget.tryRetry()) {
        budgetExhausted.increment();
        return asIs;
      }
      retries.computeIfAbsent(cause, c -> Counter.builder(MeterNames.RETRIES).tag(MeterNames.TAG_CAUSE, c).register(registry))
          .increment();
      ex.tally().retried(said.kind() == UpstreamOutcome.Kind.THROTTLED);
      if (reply != null) reply.discard();
      return sleep(delay).compose(v -> ex.cancelled() ? Future.failedFuture(Breakers.CLIENT_GONE)
          : attempt(ex, next, n + 1, true, deadline));
    });
  }



  private Future<Void> sleep(Duration d) {
    return Timers.delay(vertx, d);
  }
}
