package io.tollgate.proxy;

import io.vertx.core.Future;

/**
 * One step of the request path (SPEC §2): identify, cache, rate limit, bulkhead, breaker/retry, upstream.
 * A stage may answer by itself (a cache hit, a 429) or call {@code next} and work on what comes back
 * (store it, learn from a 429). Stages run on the proxy verticle's event loop and must not block.
 */
@FunctionalInterface
public interface Stage {
  Future<Reply> apply(Exchange exchange, Chain next);

  /** The rest of the pipeline after a stage. */
  @FunctionalInterface
  interface Chain {
    Future<Reply> proceed(Exchange exchange);
  }
}
