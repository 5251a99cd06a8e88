package io.tollgate.ratelimit;

import io.tollgate.proxy.Charge;
import io.tollgate.proxy.Flow;
import io.tollgate.proxy.GatewayException;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;

/**
 * The door of one bucket: decides who gets its tokens next when they are short (SPEC 2.3, fair queuing).
 *
 * <p>While the bucket keeps up, requests take their tokens straight away and nothing queues. Once one has to
 * wait, it holds the door: requests arriving meanwhile queue in a {@link FairQueue}, and each time the door is
 * free again the queue's choice (lane, then flow, then job, by cost) reserves its tokens, waits for them and
 * goes. Only one reservation at a time is made from the queue, so the choice is made as late as possible and a
 * newly arrived interactive request or light flow waits at most one token interval behind a flood. Tokens come
 * from a {@link Tokens} source: the local {@link TokenBucket} or the shared bucket in Redis.
 *
 * <p>Threads: called from every proxy event loop; every state change is a short critical section on the gate.
 * A waiter is completed on the context it came from; nothing blocks. Bounds: a waiter leaves by its deadline
 * at the latest (429); a request that cannot go before its deadline even if served next is refused at once;
 * {@code waiting} (shared by all gates of a limiter) caps waiters, and when it is full a newcomer from a lighter
 * flow takes the place of the newest waiter of the heaviest flow.
 */
final class FairGate {
  /** Where the tokens come from. */
  interface Tokens {
    /**
     * Takes the charge's tokens now or as a reservation.
     *
     * @return nanoseconds to wait before going; fails with a 429 {@link GatewayException} (nothing taken) when
     *     that would exceed {@code maxWaitNanos}
     */
    Future<Long> reserve(Charge c, long maxWaitNanos);

    /** Gives back a reservation that will not be used. */
    void refund(Charge c);

    /** The local bucket that pauses push back: its {@link TokenBucket#shift()} and pause. */
    TokenBucket twin();

    /**
     * Least nanoseconds until {@code cost} more tokens than {@code ahead} are there, or -1 when unknown (a
     * shared bucket): a waiter that cannot make its deadline even then is refused at once.
     */
    long leastWait(int cost, long ahead);
  }

  private final Vertx vertx;
  private final FairQueue<Ticket> queue;
  private final AtomicInteger waiting;
  private final int maxWaiters;
  private final LongSupplier nanoTime;
  /** {@link Ticket#deadlineTimer} once the ticket left the queue to make its reservation. */
  private static final long DISPATCHED = -2;
  /** Reservations made with a wait that have not gone yet (direct ones and the queue's). */
  private int holders;

  FairGate(Vertx vertx, FairQueue<Ticket> queue, AtomicInteger waiting, int maxWaiters, LongSupplier nanoTime) {
    this.vertx = vertx;
    this.queue = queue;
    this.waiting = waiting;
    this.maxWaiters = maxWaiters;
    this.nanoTime = nanoTime;
  }

  /**
   * Passes the door with the charge's tokens.
   *
   * @param maxWaitNanos the longest this request may wait here
   * @return nanoseconds waited, once the request may go; a 429 {@link GatewayException} when it may not
   */
  Future<Long> pass(Charge c, Flow flow, long maxWaitNanos, Tokens tokens) {
    boolean direct;
    synchronized (this) {
      direct = queue.isEmpty() && holders == 0;
      if (direct) holders++;
    }
    if (direct) return direct(c, maxWaitNanos, tokens);
    return enqueue(c, flow, maxWaitNanos, tokens);
  }

  /** Nothing waits: take the tokens; when they must be waited for, this request holds the door meanwhile. */
  private Future<Long> direct(Charge c, long maxWaitNanos, Tokens tokens) {
    long start = nanoTime.getAsLong();
    Future<Long> reserved = tokens.reserve(c, maxWaitNanos);
    if (reserved.succeeded() && reserved.result() == 0) {
      release();
      return Future.succeededFuture(0L);
    }
    Context ctx = vertx.getOrCreateContext();
    Promise<Long> done = Promise.promise();
    reserved.onComplete(r -> {
      if (r.failed()) {
        release();
        done.fail(r.cause());
        return;
      }
      if (r.result() == 0) {
        release();
        done.complete(0L);
        return;
      }
      if (waiting.incrementAndGet() > maxWaiters) {
        waiting.decrementAndGet();
        tokens.refund(c);
        release();
        done.fail(LocalRateLimiter.tooMany(c, 0, r.result(), c.burst()));
        return;
      }
      sleep(c, tokens, r.result(), maxWaitNanos, start, ctx, done);
    });
    return done.future();
  }

  /** Someone holds the door: queue fairly, or refuse now when even being next would miss the deadline. */
  private Future<Long> enqueue(Charge c, Flow flow, long maxWaitNanos, Tokens tokens) {
    Context ctx = vertx.getOrCreateContext();
    Ticket t = new Ticket(c, flow, tokens, nanoTime.getAsLong(), maxWaitNanos, ctx);
    Ticket evicted = null;
    GatewayException refused = null;
    synchronized (this) {
      if (queue.isEmpty() && holders == 0) {
        // The door came free between the two looks: go direct after all.
        holders++;
        t = null;
      } else {
        if (waiting.incrementAndGet() > maxWaiters) {
          evicted = queue.newestOfLargestFlow(queue.waiting(flow) + 1);
          if (evicted == null) {
            waiting.decrementAndGet();
            long least = tokens.leastWait(c.tokens(), 0);
            refused = LocalRateLimiter.tooMany(c, 0, Math.max(least, TimeUnit.SECONDS.toNanos(1)), c.burst());
          } else {
            queue.remove(evicted);
            waiting.decrementAndGet();
            if (evicted.deadlineTimer >= 0) vertx.cancelTimer(evicted.deadlineTimer);
          }
        }
        if (refused == null) {
          long ahead = queue.add(t);
          long bound = tokens.leastWait(c.tokens(), ahead);
          if (bound > maxWaitNanos) {
            queue.remove(t);
            waiting.decrementAndGet();
            refused = LocalRateLimiter.tooMany(c, 0, bound, c.burst());
          }
        }
      }
    }
    if (t == null) return direct(c, maxWaitNanos, tokens);
    if (evicted != null) evicted.refuse(TimeUnit.SECONDS.toNanos(1));
    if (refused != null) return Future.failedFuture(refused);
    t.armDeadline();
    return t.promise.future();
  }

  /** A waiter whose reservation is made: wait it out; a pause learned meanwhile pushes it back (or refuses it). */
  private void sleep(Charge c, Tokens tokens, long nanos, long maxWaitNanos, long start, Context ctx, Promise<Long> done) {
    if (nanos <= 0) {
      // Goes at once; the next waiter is let in from a fresh stack (a burst may free thousands in a row).
      waiting.decrementAndGet();
      ctx.runOnContext(v -> {
        done.complete(nanoTime.getAsLong() - start);
        release();
      });
      return;
    }
    TokenBucket twin = tokens.twin();
    long shift = twin.shift();
    vertx.setTimer(Math.max(1, TimeUnit.NANOSECONDS.toMillis(nanos + 999_999)), id -> {
      long extra = twin.shift() - shift;
      long waited = nanoTime.getAsLong() - start;
      if (extra > 0) {
        if (waited + extra > maxWaitNanos) {
          tokens.refund(c);
          waiting.decrementAndGet();
          release();
          ctx.runOnContext(v -> done.fail(LocalRateLimiter.tooMany(c, 0, extra, c.burst())));
          return;
        }
        sleep(c, tokens, extra, maxWaitNanos, start, ctx, done);
        return;
      }
      waiting.decrementAndGet();
      release();
      ctx.runOnContext(v -> done.complete(waited));
    });
  }

  /** A holder went: when none is left, the queue's next waiter makes its reservation. */
  private void release() {
    Ticket next;
    long timer;
    synchronized (this) {
      holders--;
      if (holders > 0) return;
      next = queue.poll(nanoTime.getAsLong());
      if (next == null) return;
      holders++;
      // Its deadline no longer applies as a queued waiter's: from here on the reservation keeps to it.
      timer = next.deadlineTimer;
      next.deadlineTimer = DISPATCHED;
    }
    if (timer >= 0) vertx.cancelTimer(timer);
    next.dispatch();
  }

  /** A queued request. */
  final class Ticket extends FairQueue.Waiter {
    final Charge charge;
    final Flow flow;
    final Tokens tokens;
    final long arrived;
    final long maxWaitNanos;
    final Context ctx;
    final Promise<Long> promise = Promise.promise();
    long deadlineTimer = -1;

    Ticket(Charge charge, Flow flow, Tokens tokens, long arrived, long maxWaitNanos, Context ctx) {
      this.charge = charge;
      this.flow = flow;
      this.tokens = tokens;
      this.arrived = arrived;
      this.maxWaitNanos = maxWaitNanos;
      this.ctx = ctx;
    }

    @Override int cost() { return charge.tokens(); }
    @Override Flow flow() { return flow; }

    /** Sets the timer of its deadline, unless it has left the queue already (then the reservation keeps to it). */
    void armDeadline() {
      long ms = Math.max(1, TimeUnit.NANOSECONDS.toMillis(maxWaitNanos));
      long id = vertx.setTimer(ms, x -> expire());
      boolean late;
      synchronized (FairGate.this) {
        late = deadlineTimer == DISPATCHED || dead();
        if (!late) deadlineTimer = id;
      }
      if (late) vertx.cancelTimer(id);
    }

    /** Its deadline came while it was still queued: it leaves with a 429. */
    private void expire() {
      synchronized (FairGate.this) {
        if (dead() || deadlineTimer == DISPATCHED) return;
        queue.remove(this);
      }
      waiting.decrementAndGet();
      refuse(TimeUnit.SECONDS.toNanos(1));
    }

    void refuse(long retryNanos) {
      ctx.runOnContext(v -> promise.fail(LocalRateLimiter.tooMany(charge, 0, retryNanos, charge.burst())));
    }

    /** Its turn: make the reservation (within what is left of its wait) and wait it out. */
    void dispatch() {
      long left = maxWaitNanos - (nanoTime.getAsLong() - arrived);
      if (left < 0) {
        waiting.decrementAndGet();
        refuse(TimeUnit.SECONDS.toNanos(1));
        release();
        return;
      }
      tokens.reserve(charge, left).onComplete(r -> {
        if (r.failed()) {
          waiting.decrementAndGet();
          release();
          ctx.runOnContext(v -> promise.fail(r.cause()));
        } else {
          // Counted in waiting since it queued; sleep() counts it down when it goes.
          sleep(charge, tokens, r.result(), maxWaitNanos, arrived, ctx, promise);
        }
      });
    }
  }
}
