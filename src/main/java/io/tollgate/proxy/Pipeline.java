package io.tollgate.proxy;

import io.vertx.core.Future;
import java.util.List;

/**
 * The ordered stages of SPEC §2 ending in the upstream call. The chain is composed once at construction,
 * so a request walks a fixed list of closures: no per-request allocation for routing between stages.
 * Stages not built yet are simply absent; each capability slots in by adding its stage here.
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
