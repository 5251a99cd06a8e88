package io.tollgate.concurrency;

import io.tollgate.proxy.Exchange;
import io.tollgate.proxy.Reply;
import io.tollgate.proxy.Stage;
import io.vertx.core.Future;

/**
 * Stage 4: a request holds a bulkhead slot from before its upstream call until the upstream's answer is in
 * Tollgate's hands (or failed), retries and their waits included: the slot is the request's share of upstream
 * concurrency. An answer whose body fits in {@code proxy.bufferSize} arrives here read whole (the forwarder read it
 * at the upstream's pace), so the slot is free at once, however slowly the client then reads; a larger body
 * streams, still occupies an upstream connection, and keeps the slot until it has been read to the end.
 */
public final class BulkheadStage implements Stage {
  private final Bulkhead bulkhead;

  public BulkheadStage(Bulkhead bulkhead) {
    this.bulkhead = bulkhead;
  }

  @Override
  public Future<Reply> apply(Exchange ex, Chain next) {
    return bulkhead.acquire().compose(slot -> {
      if (ex.cancelled()) {
        slot.release();
        return Future.failedFuture(io.tollgate.proxy.GatewayException.BAD_GATEWAY);
      }
      Future<Reply> reply;
      try {
        reply = next.proceed(ex);
      } catch (RuntimeException e) {
        slot.release();
        throw e;
      }
      return reply.andThen(ar -> {
        if (ar.failed() || !ar.result().isStreaming()) {
          slot.release();
          return;
        }
        try {
          ar.result().stream().end().onComplete(done -> slot.release());
        } catch (IllegalStateException alreadyEnded) {
          // Vert.x refuses end() once the whole response has arrived: nothing left to wait for.
          slot.release();
        }
      });
    });
  }
}
