package io.tollgate.cache;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Fleet-wide single flight: with L2, concurrent misses of one key on several instances make one upstream call.
 *
 * <p>Design note. A flight runs inside the local {@link Coalescer}'s leader, so an instance has at most one flight
 * per key talking to Redis, and its local followers wait on that flight as before. The flight first claims the key
 * ({@link L2Store#claim}, one script on the key's slot, one round trip): the entry if Redis has it by now, else a
 * short lease on the key (SET NX PX), a key beside the entry's under the same hash tag and epoch. The key is the
 * full cache key (its digest), partition included: callers never share a flight they could not share an entry of.
 * <ul>
 *   <li><b>Leader</b> (took the lease): fetches and stores as without a fleet, renews the lease every third of its
 *   life until its store is done, then releases it and publishes {@code landed} (stored, unstored or failed) on the
 *   cache's invalidation channel, the one subscription every instance already has. When the answer is stored in
 *   L2, the store's own script releases and, if a follower marked the key, publishes the entry itself (up to
 *   {@link L2Store#LANDED_ENTRY_MAX} stored bytes), atomically with the write: followers then serve it without a
 *   round trip of their own, and a miss nobody else waits for publishes nothing.</li>
 *   <li><b>Follower</b> (lease held elsewhere; its claim marks the key): waits for a {@code landed} of its key or
 *   for the lease's end, whichever comes first, then serves the entry the message carried or claims again: the
 *   entry (either way served only through the recent-invalidation check of any L2 read, counted from when the
 *   flight began, so a write heard meanwhile sends it upstream instead), the lease (the leader died or failed:
 *   this flight takes over), or a lease still held (it waits again).</li>
 *   <li><b>Alone</b>: past {@code cache.fleetCoalesceWait}, when the leader's answer was not stored (too large, an
 *   error), when Redis is away or fails, or when the entry cannot be served, the flight fetches for itself without
 *   a lease: never worse than per-instance coalescing, and no request fails because of Redis.</li>
 * </ul>
 * A follower registers before it claims, so a {@code landed} that arrives between the claim and the wait is not
 * lost; one lost anyway (Redis away) costs the rest of the lease, not the answer.
 *
 * <p>Threads: shared by every proxy event loop. Waiters live in a ConcurrentHashMap by key digest (bounded by
 * {@link #MAX_WAITING} keys; past it a flight fetches alone) and each is resumed on its own context; messages
 * arrive on the Redis link's context. Nothing blocks; the only Redis call on a miss is the claim.
 */
public final class FleetCoalescer {
  /**
   * How long a lease lives unless renewed (every third of it): how long a killed leader holds its followers up at
   * most, and how long a leader's event loop may stall before another instance takes over.
   */
  static final long LEASE_MS = 2000;
  /** A follower claims again this long after the lease it saw should have ended. */
  static final long EXPIRY_MARGIN_MS = 20;
  /** Keys with waiting flights, at most; past it a flight fetches alone. */
  static final int MAX_WAITING = 10_000;
  static final String STORED = "stored";
  static final String UNSTORED = "unstored";
  static final String FAILED = "failed";
  private static final String EXPIRED = "expired";

  /** A leader's answer, and when its store is done (true when the answer was stored): then the fleet is told. */
  public record Led<T>(T answer, Future<Boolean> stored) {}

  private final Vertx vertx;
  private final L2Store l2;
  private final ResponseCache cache;
  private final CacheStats stats;
  private final long waitMs;
  private final String instanceId;
  private final AtomicLong flights = new AtomicLong();
  private final ConcurrentHashMap<String, List<Waiter>> waiting = new ConcurrentHashMap<>();

  /** How the flight a waiter waited for ended: its outcome, and the entry when the leader's message carried it. */
  private record Woken(String outcome, CachedResponse entry) {}

  /** A flight waiting for another instance's; woken on its own context. */
  private static final class Waiter {
    private final Context context;
    private final Promise<Woken> woken = Promise.promise();

    Waiter(Context context) {
      this.context = context;
    }

    void wake(Woken how) {
      context.runOnContext(v -> woken.tryComplete(how));
    }
  }

  /** @param waitMs the longest a flight waits for other instances' flights ({@code cache.fleetCoalesceWait}) */
  FleetCoalescer(Vertx vertx, L2Store l2, ResponseCache cache, long waitMs, String instanceId) {
    this.vertx = vertx;
    this.l2 = l2;
    this.cache = cache;
    this.stats = cache.stats();
    this.waitMs = waitMs;
    this.instanceId = instanceId;
    l2.onLanded(this::landed);
  }

  /** {@code cache.fleetCoalesceWait} in millis: what this adds at most to a miss's wait before its own fetch. */
  public long waitMs() {
    return waitMs;
  }

  /**
   * Answers a miss of {@code key} once for the fleet: as leader ({@code fetch}, on the caller's context, then the
   * fleet is told) or from the entry another instance's leader stored ({@code fromEntry}).
   *
   * @param fetch the upstream call and store, as without a fleet
   * @param fromEntry the answer made of an entry found in L2
   */
  public <T> Future<T> run(CacheKey key, Supplier<Future<Led<T>>> fetch, Function<CachedResponse, T> fromEntry) {
    long began = System.currentTimeMillis();
    return attempt(key, fetch, fromEntry, began, began + waitMs, false);
  }

  private <T> Future<T> attempt(CacheKey key, Supplier<Future<Led<T>>> fetch, Function<CachedResponse, T> fromEntry,
      long began, long giveUpAt, boolean waited) {
    if (waiting.size() >= MAX_WAITING) return lead(key, fetch, null);
    String token = instanceId + ":" + flights.incrementAndGet();
    Waiter waiter = new Waiter(vertx.getOrCreateContext());
    register(key.digest(), waiter);
    return l2.claim(key, token, LEASE_MS).compose(claim -> {
      switch (claim.kind()) {
        case ENTRY -> {
          unregister(key.digest(), waiter);
          CachedResponse entry = claim.entry();
          if (servable(key, entry, began)) {
            if (waited) stats.fleetFollowed.increment();
            return Future.succeededFuture(fromEntry.apply(entry));
          }
          return lead(key, fetch, null);
        }
        case LEASED -> {
          unregister(key.digest(), waiter);
          if (waited) stats.fleetTakeovers.increment();
          return lead(key, fetch, token);
        }
        case HELD -> {
          long left = giveUpAt - System.currentTimeMillis();
          if (left <= 0) {
            unregister(key.digest(), waiter);
            return lead(key, fetch, null);
          }
          long timer = vertx.setTimer(Math.max(1, Math.min(left, claim.heldMs() + EXPIRY_MARGIN_MS)), id -> waiter.wake(new Woken(EXPIRED, null)));
          return waiter.woken.future().compose(how -> {
            vertx.cancelTimer(timer);
            unregister(key.digest(), waiter);
            if (UNSTORED.equals(how.outcome())) return lead(key, fetch, null);
            // The leader's message carried its entry: served under the same checks as a claimed one, no round trip.
            if (how.entry() != null && servable(key, how.entry(), began)) {
              stats.fleetFollowed.increment();
              stats.fleetCarried.increment();
              return Future.succeededFuture(fromEntry.apply(how.entry()));
            }
            return attempt(key, fetch, fromEntry, began, giveUpAt, true);
          });
        }
        default -> {
          unregister(key.digest(), waiter);
          return lead(key, fetch, null);
        }
      }
    });
  }

  /**
   * An entry another instance stored is served only fresh and through the recent-invalidation check of any L2
   * read, counted from when this flight began: an answer that a write heard meanwhile may predate is not served.
   */
  private boolean servable(CacheKey key, CachedResponse entry, long began) {
    return entry.freshness(cache.clock().millis()) == CachedResponse.Freshness.FRESH && cache.admit(key, entry, began);
  }

  /** Fetches; with a lease, keeps it until the store is done, then releases it and tells the fleet. */
  private <T> Future<T> lead(CacheKey key, Supplier<Future<Led<T>>> fetch, String token) {
    long renewer = -1;
    if (token != null) {
      l2.holding(key, token);
      renewer = vertx.setPeriodic(LEASE_MS / 3, id -> l2.renew(key, token, LEASE_MS));
    }
    long renewing = renewer;
    Future<Led<T>> led;
    try {
      led = fetch.get();
    } catch (RuntimeException e) {
      led = Future.failedFuture(e);
    }
    if (token != null) {
      led.onComplete(ar -> {
        if (ar.failed()) {
          land(key, token, renewing, FAILED);
        } else {
          ar.result().stored().onComplete(s -> land(key, token, renewing, s.succeeded() && Boolean.TRUE.equals(s.result()) ? STORED : UNSTORED));
        }
      });
    }
    return led.map(Led::answer);
  }

  private void land(CacheKey key, String token, long renewer, String outcome) {
    vertx.cancelTimer(renewer);
    // This instance's own flights of the key (one begun after an invalidation) hear it here, not from Redis.
    landed(key.digest(), new L2Store.Landing(outcome, null));
    // Unless the store's own script already ended the lease and told the fleet (the usual case).
    if (l2.landing(key, token)) l2.release(key, token, outcome);
  }

  /**
   * A flight of the key with this digest is over (here or on another instance): its followers serve the entry the
   * message carried, or claim again. The entry is decoded once for all of them, and only if some wait.
   */
  private void landed(String digest, L2Store.Landing landing) {
    List<Waiter> woken = waiting.remove(digest);
    if (woken == null) return;
    Future<CachedResponse> entry = landing.entry() == null ? Future.succeededFuture() : landing.entry().get();
    entry.onComplete(ar -> {
      Woken how = new Woken(landing.outcome(), ar.succeeded() ? ar.result() : null);
      for (Waiter w : woken) w.wake(how);
    });
  }

  private void register(String digest, Waiter w) {
    waiting.compute(digest, (k, list) -> {
      List<Waiter> l = list == null ? new ArrayList<>(1) : list;
      l.add(w);
      return l;
    });
  }

  private void unregister(String digest, Waiter w) {
    waiting.computeIfPresent(digest, (k, list) -> {
      list.remove(w);
      return list.isEmpty() ? null : list;
    });
  }

  /** Keys with flights waiting for another instance right now. */
  public int waiting() {
    return waiting.size();
  }
}
