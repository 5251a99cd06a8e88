package io.tollgate.proxy;

import io.vertx.core.Future;
import java.util.List;

/**
 * The ordered stages of SPEC §2 ending in the upstream call: an onion. Each stage gets the exchange on the
 * way in and may answer by itself (a cache hit, a 429, a {@code $batch} assembled from the cache) or call
 * the rest and work on what comes back (store it, rewrite its links, learn from a 429).
 *
 * <p>Design note. The order, outermost first, as {@code Gateway} assembles it, and why:
 * <ol>
 *   <li>{@code graph.LinkRewriteStage} — outermost so every answer (hit, miss, {@code $batch}, Tollgate's own)
 *       leaves with links pointing at the gateway, while the cache keeps the upstream's bytes;</li>
 *   <li>{@link ContentEncodingStage} — decodes a gzip answer (every upstream call asks for gzip) where the
 *       link rewriter must read it or the client did not accept gzip; anything else leaves as it came;</li>
 *   <li>{@link CallerVerification} — one request per unverified token in flight, before anything spends a
 *       budget or reads a partition on its behalf;</li>
 *   <li>{@code graph.BatchStage} — splits a {@code $batch} and sends its misses back through the stages below
 *       as derived exchanges, so they are cached, limited and shielded like single calls;</li>
 *   <li>{@code cache.CacheStage} — before the limiter: a hit spends no budget and never waits;</li>
 *   <li>{@code ratelimit.RateLimitStage} — paces what the cache could not answer;</li>
 *   <li>{@code concurrency.BulkheadStage} — bounds concurrent upstream calls after pacing, so a waiting
 *       request holds no upstream slot;</li>
 *   <li>{@code resilience.ResilienceStage} — breaker and retries around each attempt;</li>
 *   <li>the limiter's learner — so it sees every attempt's 429/503, retries included;</li>
 *   <li>{@link CallerVerification#observer()} — innermost: each upstream answer verifies (2xx) or refuses
 *       (401) the caller's token;</li>
 *   <li>{@link UpstreamSpend} — notes each upstream answer and its resource units on the request's {@link Tally}
 *       (per-tenant economics), retries included;</li>
 *   <li>{@link Forwarder} — the upstream call itself.</li>
 * </ol>
 * The chain is composed once at construction, so a request walks a fixed list of closures: no per-request
 * allocation for routing between stages. This package names no stage: the wiring lives in {@code Gateway}.
 * Runs on the proxy verticle's event loop; stages must not block.
 */
public final class Pipeline {
  private final Stage.Chain head;

  public Pipeline(List<Stage> stages, Stage.Chain upstream) {
    Stage.Chain chain = upstream;
    for (int i = stages.size() - 1; i >= 0; i--) {
      Stage stage = stages.get(i);
      Stage.Chain next = chain;
      chain = ex -> stage.apply(ex, next);
    }
    this.head = chain;
  }

  public Future<Reply> run(Exchange exchange) {
    try {
      return head.proceed(exchange);
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
  }
}
