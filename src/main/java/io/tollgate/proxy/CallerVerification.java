package io.tollgate.proxy;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Keeps "at most one request per unverified token in flight": the first request of a token that the
 * upstream has not yet accepted goes on; later ones with the same token wait until it has an answer. Then:
 * verified, they all go; refused (401), the next one goes alone and the rest wait again, so a forged or
 * revoked token is served one request at a time; no verdict (the upstream failed or timed out without
 * judging the token), they all go, so an outage is not made worse by queueing behind it. A process that
 * invents tokens therefore gets one request per token at a time, and a forged token never spends another
 * tenant's budget: until verified it is its own tenant. Waits are bounded by {@code waitLimitMs}.
 *
 * <p>Two faces: this stage (outer, before the cache) holds the slot; {@link #observer()} (innermost, right
 * before the upstream) tells {@link CallerIdentity} what the upstream answered each attempt.
 */
public final class CallerVerification implements Stage {
  private final Vertx vertx;
  private final CallerIdentity identity;
  private final long waitLimitMs;
  /** Waiters per token hash, completed when the slot holder finishes. */
  private final ConcurrentHashMap<Object, Promise<Boolean>> released = new ConcurrentHashMap<>();

  public CallerVerification(Vertx vertx, CallerIdentity identity, long waitLimitMs) {
    this.vertx = vertx;
    this.identity = identity;
    this.waitLimitMs = waitLimitMs;
  }

  @Override
  public Future<Reply> apply(Exchange ex, Chain next) {
    Caller caller = ex.caller();
    if (caller.anonymous() || caller.verified()) return next.proceed(ex);
    return admit(ex.caller(), System.nanoTime() + waitLimitMs * 1_000_000).compose(holder -> {
      if (holder == null) return next.proceed(ex);
      Future<Reply> answered;
      try {
        answered = next.proceed(ex);
      } catch (RuntimeException e) {
        // The slot must never outlive its request, or every later request with this token would wait.
        release(ex.caller(), holder);
        throw e;
      }
      return answered.andThen(ar -> release(ex.caller(), holder));
    });
  }

  /** @return the slot this request holds (release it when done), or null when it holds none */
  private Future<Object> admit(Caller caller, long deadlineNanos) {
    if (caller.anonymous() || caller.verified()) return Future.succeededFuture(null);
    Object mine = new Object();
    // Visible before the claim, so a waiter that finds this holder always finds what to wait on.
    released.put(mine, Promise.promise());
    Object holder = identity.claimVerification(caller, mine);
    if (holder == null) {
      if (caller.verified()) {
        release(caller, mine);
        return Future.succeededFuture(null);
      }
      return Future.succeededFuture(mine);
    }
    released.remove(mine);
    long leftMs = (deadlineNanos - System.nanoTime()) / 1_000_000;
    Promise<Boolean> done = released.get(holder);
    if (leftMs <= 0) return Future.succeededFuture(null);
    if (done == null) return admit(caller, deadlineNanos);
    // Resume on this request's own event loop, whichever loop the holder finishes on.
    Context ctx = vertx.getOrCreateContext();
    Promise<Boolean> woken = Promise.promise();
    long timer = vertx.setTimer(leftMs, id -> woken.tryComplete(false));
    done.future().onComplete(ar -> ctx.runOnContext(v -> {
      vertx.cancelTimer(timer);
      woken.tryComplete(ar.succeeded() && ar.result());
    }));
    // Queue again only behind a refusal; after a verification, or no verdict, or the wait limit: go.
    return woken.future().compose(refused -> refused ? admit(caller, deadlineNanos) : Future.succeededFuture(null));
  }

  private void release(Caller caller, Object holder) {
    identity.releaseVerification(caller, holder);
    Promise<Boolean> done = released.remove(holder);
    if (done != null) done.tryComplete(caller.refused());
  }

  /** The innermost face: records every upstream answer's verdict on the caller's token. */
  public Stage observer() {
    return (ex, next) -> next.proceed(ex).onSuccess(reply -> identity.observe(ex.caller(), reply.status(), System.currentTimeMillis()));
  }
}
