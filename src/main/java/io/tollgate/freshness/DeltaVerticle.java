package io.tollgate.freshness;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.cache.ResponseCache;
import io.tollgate.config.CacheOptions;
import io.tollgate.config.DeltaOptions;
import io.tollgate.config.PathPattern;
import io.tollgate.metrics.Addresses;
import io.tollgate.metrics.MeterNames;
import io.tollgate.proxy.Offload;
import io.tollgate.redis.RedisLink;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delta-fed invalidation (SPEC §2.6, issue 13 item 1): follows Graph's {@code /users/delta} and
 * {@code /groups/delta} with the sidecar's own app token and evicts every cached answer of a
 * {@code freshness: delta} route that mentions a changed or removed object, in every partition and on every
 * instance ({@link ResponseCache#invalidate}, which reaches the others through Redis pub/sub).
 *
 * <p>Design note. Two halves. (1) Indexing: every stored answer of a delta-fed route is parsed on the worker
 * pool and its path recorded under the ids it mentions ({@link Mentions}, {@link ContentIndex}; in Redis when
 * configured, so the polling instance sees what every instance cached). (2) Polling: one feed per tenant and
 * resource; each poll takes or renews the feed's lease ({@link CursorStore}; always held without Redis), reads
 * the cursor, follows {@code @odata.nextLink}s to the {@code @odata.deltaLink} (at most {@code maxPages}; the
 * rest next time), evicts, then saves the new cursor (only while still holding the lease). Eviction comes
 * before the save, so a crash in between replays changes, which is harmless: evicting twice is a no-op. No
 * cursor (first start, or lost) or a 410 → a new initial sync, then every delta-fed route is evicted (its
 * answers may predate changes the new cursor will never report) and a {@code freshness} event is published.
 *
 * <p>What a change evicts: a user → the answers mentioning it and {@code /users/{id}}; a group → the answers
 * mentioning it and everything under {@code /groups/{id}}; a group whose members alone changed (it comes as its
 * id and {@code members@delta}) → everything under {@code /groups/{id}} and the {@code transitive*} answers
 * mentioning it (answers that merely list it stay); a member added or removed → its own {@code memberOf} and
 * {@code transitiveMemberOf}, and for a nested group the {@code transitive*} answers mentioning it.
 * Delta bodies are read to evict, never stored or served. Polls never overlap (the next is scheduled when
 * one ends); everything here runs on this verticle's context, parsing on the worker pool.
 *
 * <p>Change notifications ({@link NotificationVerticle}) reach it on {@link Addresses#FRESHNESS_DELTA}: the ids
 * they name are evicted as changed objects are, then the feed is read at once (right after a poll under way, never
 * overlapping it); the asker is answered when that read ended. An instance that does not hold the feed's lease
 * asks the holder to read now through Redis ({@code <prefix>{fresh}:poll}, the feed's key as the message).
 */
public final class DeltaVerticle extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(DeltaVerticle.class);
  private static final PathPattern USER = PathPattern.compile("/v1.0|beta/users/{id}");
  /** A member's own memberships: {@code memberOf}, {@code transitiveMemberOf} (and what lies below them). */
  private static final PathPattern MEMBER_OF = PathPattern.compile("/v1.0|beta/users|groups/{id}/*memberOf/**");
  private static final PathPattern GROUP = PathPattern.compile("/v1.0|beta/groups/{id}/**");

  private final DeltaOptions options;
  private final String upstreamOrigin;
  private final String upstreamUrl;
  private final RedisLink redis;
  private final String keyPrefix;
  private final long redisTimeoutMs;
  private final ResponseCache cache;
  private final List<CacheOptions.Route> deltaRoutes;
  private final Offload offload;
  private final MeterRegistry registry;
  private final String owner = UUID.randomUUID().toString();
  private final List<Feed> feeds = new ArrayList<>();
  private WebClient client;
  private TokenClient tokens;
  private ContentIndex index;
  private CursorStore cursors;
  private boolean stopping;
  private long renewTimer = -1;
  private MessageConsumer<JsonObject> notified;
  private Counter storesIndexed;

  /** One followed feed: a tenant's users or groups. Touched on this verticle's context only. */
  private final class Feed {
    final String resource;
    final String key;
    final Counter ok;
    final Counter gone;
    final Counter failed;
    final Counter standby;
    final Counter changed;
    final Counter evicted;
    final Counter resyncs;
    volatile long syncedAtMillis;
    /** Holds the lease (as of its last take or renewal, until {@link #leaseUntilMillis}). */
    volatile boolean leader;
    volatile long leaseUntilMillis;
    boolean lost;
    boolean everSynced;
    /** When this instance last evicted every delta-fed route because the feed was lost (0: not while lost). */
    long lostEvictionAtMillis;
    final long startedAtMillis = System.currentTimeMillis();
    long timer = -1;
    /** A poll is queued or under way (so a poll asked for now waits for the next one instead of overlapping it). */
    boolean running;
    /** Counts schedules: only the latest one runs. */
    long scheduled;
    /** Askers of a poll now ({@link Addresses#FRESHNESS_DELTA}): answered when the next poll to start ends. */
    List<Promise<Boolean>> waiting = new ArrayList<>();

    Feed(String resource) {
      this.resource = resource;
      this.key = options.getTenantId() + ":" + resource;
      ok = polls("ok");
      gone = polls("gone");
      failed = polls("error");
      standby = polls("standby");
      changed = Counter.builder(MeterNames.FRESHNESS_DELTA_CHANGES).tag("feed", resource).register(registry);
      evicted = Counter.builder(MeterNames.FRESHNESS_DELTA_EVICTIONS).tag("feed", resource).register(registry);
      resyncs = Counter.builder(MeterNames.FRESHNESS_DELTA_RESYNCS).tag("feed", resource).register(registry);
      Gauge.builder(MeterNames.FRESHNESS_DELTA_LAG, this, f -> f.syncedAtMillis == 0 ? 0
          : Math.max(0, System.currentTimeMillis() - f.syncedAtMillis) / 1000.0).tag("feed", resource).baseUnit("seconds")
          .description("time since the feed last reached its deltaLink").register(registry);
    }

    private Counter polls(String outcome) {
      return Counter.builder(MeterNames.FRESHNESS_DELTA_POLLS).tag("feed", resource).tag("outcome", outcome).register(registry);
    }

    String initialUrl() {
      return upstreamUrl + "/v1.0/" + resource + "/delta";
    }
  }

  /** What one poll's pages reported. */
  private static final class Changes {
    final Set<String> objects = new LinkedHashSet<>();
    final Set<String> users = new LinkedHashSet<>();
    final Set<String> groups = new LinkedHashSet<>();
    final Set<String> memberUsers = new LinkedHashSet<>();
    final Set<String> memberGroups = new LinkedHashSet<>();
    /** Groups whose members alone changed. */
    final Set<String> membershipOnly = new LinkedHashSet<>();
    long reported;
  }

  /** Where a read of pages ended: the link to resume from and whether it is a deltaLink; or gone (410). */
  private record Pages(String link, boolean atDelta, boolean gone) {}

  /**
   * @param upstreamUrl the configured upstream ({@code upstream.url}); delta links elsewhere are not followed
   * @param redis the gateway's Redis, or null (cursor and index in memory)
   * @param deltaRoutes the cache routes with {@code freshness: delta}
   * @param offload the worker pool (delta pages and stored answers are parsed there)
   */
  public DeltaVerticle(DeltaOptions options, String upstreamUrl, RedisLink redis, String keyPrefix, long redisTimeoutMs,
      ResponseCache cache, List<CacheOptions.Route> deltaRoutes, Offload offload, MeterRegistry registry) {
    this.options = new DeltaOptions(options);
    URI u = URI.create(upstreamUrl);
    this.upstreamOrigin = u.getScheme() + "://" + u.getRawAuthority();
    this.upstreamUrl = upstreamUrl.endsWith("/") ? upstreamUrl.substring(0, upstreamUrl.length() - 1) : upstreamUrl;
    this.redis = redis;
    this.keyPrefix = keyPrefix;
    this.redisTimeoutMs = Math.max(redisTimeoutMs, 1000);
    this.cache = cache;
    this.deltaRoutes = List.copyOf(deltaRoutes);
    this.offload = offload;
    this.registry = registry;
  }

  @Override
  public Future<?> start() {
    client = WebClient.create(vertx, new WebClientOptions().setConnectTimeout(10_000)
        .setUserAgent("Tollgate-delta"));
    tokens = new TokenClient(client, options, System::currentTimeMillis);
    long maxRetain = deltaRoutes.stream().mapToLong(r -> r.ttl().toMillis()
        + Math.max(r.staleWhileRevalidate().toMillis(), r.staleIfError().toMillis())).max().orElse(86_400_000L);
    if (redis != null) {
      index = ContentIndex.redis(redis, keyPrefix, redisTimeoutMs);
      cursors = CursorStore.redis(redis, keyPrefix, redisTimeoutMs);
    } else {
      index = ContentIndex.local(Duration.ofMillis(maxRetain));
      cursors = CursorStore.local();
    }
    storesIndexed = Counter.builder(MeterNames.FRESHNESS_DELTA_INDEXED).register(registry);
    cache.observeStores(this::onStored);
    for (String resource : options.getResources()) feeds.add(new Feed(resource));
    for (Feed f : feeds) schedule(f, 0);
    notified = vertx.eventBus().localConsumer(Addresses.FRESHNESS_DELTA, this::onNotified);
    if (redis != null) redis.subscribe(pollChannel(), feed -> context.runOnContext(v -> onPollAsked(feed.toString())));
    if (redis != null) {
      // A slow poll (a long initial sync) must not let the lease lapse and pass to another instance mid-way.
      renewTimer = vertx.setPeriodic(Math.max(50, options.effectiveLease().toMillis() / 3), id -> {
        for (Feed f : feeds) {
          if (f.leader) lease(f).onSuccess(held -> f.leader = held && f.leader);
        }
      });
    }
    LOG.info("freshness: following {} delta for tenant {} every {} ms via {} (token from {}), cursor {}", options.getResources(),
        options.getTenantId(), options.getPollInterval().toMillis(), upstreamOrigin, options.getTokenOrigin(),
        redis == null ? "in memory" : "in Redis with a lease of " + options.effectiveLease().toMillis() + " ms");
    return Future.succeededFuture();
  }

  @Override
  public Future<?> stop() {
    stopping = true;
    cache.observeStores(null);
    if (renewTimer >= 0) vertx.cancelTimer(renewTimer);
    if (notified != null) notified.unregister();
    if (redis != null) redis.unsubscribe(pollChannel());
    List<Future<Void>> released = new ArrayList<>();
    for (Feed f : feeds) {
      if (f.timer >= 0) vertx.cancelTimer(f.timer);
      if (f.leader && redis != null) released.add(cursors.release(f.key, owner).otherwiseEmpty());
    }
    return Future.join(released).eventually(() -> {
      client.close();
      return Future.succeededFuture();
    });
  }

  /**
   * Stops polling and renewing at once, releasing nothing: what a crashed instance leaves behind (its lease
   * lapses on its own). For tests of the takeover; call on this verticle's context or before it polls again.
   */
  void halt() {
    context.runOnContext(v -> {
      stopping = true;
      if (renewTimer >= 0) vertx.cancelTimer(renewTimer);
      for (Feed f : feeds) {
        if (f.timer >= 0) vertx.cancelTimer(f.timer);
        f.leader = false;
      }
      feeds.clear();
    });
  }

  /** Feeds whose lease this instance holds now (tests, admin). */
  public List<String> leading() {
    long now = System.currentTimeMillis();
    return feeds.stream().filter(f -> f.leader && now < f.leaseUntilMillis).map(f -> f.resource).toList();
  }

  // ---- indexing (any event loop) ----

  private void onStored(String path, Buffer body, long retainMillis, long fetchBeganMillis) {
    offload.run(() -> Mentions.of(path, body)).onSuccess(ids -> record(new Unindexed(path, ids, retainMillis, fetchBeganMillis)));
  }

  /** A stored answer whose mentions could not be recorded yet (Redis away): retried before each poll. */
  private record Unindexed(String path, Set<String> ids, long retainMillis, long fetchBeganMillis) {}

  /** At most this many answers wait for their index; past it every delta-fed route is evicted instead. */
  private static final int MAX_UNINDEXED = 10_000;
  private final java.util.concurrent.ConcurrentLinkedQueue<Unindexed> unindexed = new java.util.concurrent.ConcurrentLinkedQueue<>();
  private final java.util.concurrent.atomic.AtomicInteger unindexedCount = new java.util.concurrent.atomic.AtomicInteger();
  private volatile boolean unindexedOverflow;

  /** Records an answer's mentions; evicts it when one changed since its read; keeps it for a retry on failure. */
  private Future<Void> record(Unindexed u) {
    return index.record(u.path(), u.ids(), u.retainMillis(), u.fetchBeganMillis())
        .compose(stale -> stale ? cache.invalidate(PathPattern.literal(u.path())).mapEmpty() : Future.succeededFuture())
        .<Void>map(v -> {
          storesIndexed.increment();
          return null;
        })
        .recover(e -> {
          // An answer the feed cannot find would outlive its changes: retried, and past the bound the feed
          // evicts every delta-fed route instead of keeping answers it cannot vouch for.
          if (unindexedCount.incrementAndGet() > MAX_UNINDEXED) {
            unindexedCount.decrementAndGet();
            unindexedOverflow = true;
          } else {
            unindexed.add(u);
          }
          return Future.succeededFuture();
        });
  }

  /** Retries the answers whose index failed; an overflow meanwhile evicts every delta-fed route once. */
  private Future<Void> retryUnindexed() {
    List<Future<Void>> retried = new ArrayList<>();
    for (Unindexed u; (u = unindexed.poll()) != null; ) {
      unindexedCount.decrementAndGet();
      retried.add(record(u));
    }
    Future<Void> all = Future.join(retried).mapEmpty();
    if (!unindexedOverflow) return all.otherwiseEmpty();
    unindexedOverflow = false;
    return all.otherwiseEmpty().compose(v -> evictAll()).map(n -> {
      LOG.warn("freshness: more than {} stored answers could not be indexed: {} delta-fed entries evicted", MAX_UNINDEXED, n);
      return null;
    });
  }

  // ---- polling (this context) ----

  private void schedule(Feed f, long delayMs) {
    if (stopping) return;
    long seq = ++f.scheduled;
    Runnable run = () -> {
      // A timer cancelled too late (its run already queued) must not start a second, overlapping poll.
      if (seq != f.scheduled) return;
      f.running = true;
      List<Promise<Boolean>> askers = f.waiting;
      f.waiting = new ArrayList<>();
      poll(f).onComplete(ar -> {
        f.running = false;
        for (Promise<Boolean> p : askers) p.tryComplete(f.leader);
        schedule(f, f.waiting.isEmpty() ? options.getPollInterval().toMillis() : 0);
      });
    };
    if (delayMs <= 0) {
      f.timer = -1;
      f.running = true;
      context.runOnContext(v -> run.run());
    } else {
      f.timer = vertx.setTimer(delayMs, id -> run.run());
    }
  }

  /** Askers waiting for one feed's next poll at most; beyond, an asker is answered at once (that poll comes anyway). */
  private static final int MAX_WAITING = 64;

  /**
   * A change notification ({@link Addresses#FRESHNESS_DELTA}): evicts what mentions the ids as the feed would for a
   * changed object, then reads the feed now (or right after the poll under way). On this context.
   */
  private void onNotified(Message<JsonObject> m) {
    JsonObject body = m.body();
    if (stopping) {
      m.fail(503, "stopping");
      return;
    }
    if (body == null || !"notified".equals(body.getString("action")) || !(body.getValue("ids") instanceof JsonArray ids)
        || !DeltaOptions.RESOURCES.contains(body.getString("resource", ""))) {
      m.fail(400, "expected {\"action\":\"notified\",\"resource\":\"users|groups\",\"ids\":[...]}");
      return;
    }
    String resource = body.getString("resource");
    Changes c = new Changes();
    for (Object id : ids) {
      if (!(id instanceof String s) || s.isEmpty()) continue;
      c.objects.add(s);
      (resource.equals("users") ? c.users : c.groups).add(s);
    }
    Feed feed = null;
    for (Feed f : feeds) if (f.resource.equals(resource)) feed = f;
    Feed f = feed;
    evict(null, c).compose(evicted -> pollNow(f).compose(polled -> {
      JsonObject reply = new JsonObject().put("evicted", evicted).put("polled", polled);
      if (polled || f == null || redis == null) return Future.succeededFuture(reply);
      // Another instance holds the feed's lease: it is asked to read now (through Redis), not waited for.
      return redis.send(Request.cmd(Command.PUBLISH).arg(pollChannel()).arg(f.key),
          redisTimeoutMs).map(r -> reply.put("relayed", true)).otherwise(reply);
    }))
        .onSuccess(m::reply)
        .onFailure(e -> m.fail(500, String.valueOf(e.getMessage())));
  }

  /** The Redis channel on which an instance that got a notification asks the feed's lease holder to read now. */
  private String pollChannel() {
    return keyPrefix + "{fresh}:poll";
  }

  /** Another instance got a notification for {@code key}'s feed: read it now if this instance holds its lease. */
  private void onPollAsked(String key) {
    for (Feed f : feeds) {
      if (f.key.equals(key) && f.leader && !stopping) pollNow(f);
    }
  }

  /** Reads the feed now, or after the poll under way; true when this instance read it (held its lease). */
  private Future<Boolean> pollNow(Feed f) {
    if (f == null || stopping) return Future.succeededFuture(false);
    if (f.waiting.size() >= MAX_WAITING) return Future.succeededFuture(f.leader);
    Promise<Boolean> done = Promise.promise();
    f.waiting.add(done);
    if (!f.running) {
      if (f.timer >= 0) vertx.cancelTimer(f.timer);
      schedule(f, 0);
    }
    return done.future();
  }

  /** Takes or renews the feed's lease; true while held (its end noted from before the ask, so never late). */
  private Future<Boolean> lease(Feed f) {
    long asked = System.currentTimeMillis();
    return cursors.lease(f.key, owner, options.effectiveLease()).map(holder -> {
      if (holder) f.leaseUntilMillis = asked + options.effectiveLease().toMillis();
      return holder;
    });
  }

  private Future<Void> poll(Feed f) {
    return retryUnindexed().compose(v -> lease(f)).compose(holder -> {
      if (!holder) {
        if (f.leader) event(f, "standby", "another instance holds the lease", 0);
        f.leader = false;
        f.standby.increment();
        // The holder's progress, for the lag gauge.
        return cursors.cursor(f.key).map(c -> {
          if (c != null && c.advancedAtMillis() > 0) f.syncedAtMillis = c.advancedAtMillis();
          return null;
        });
      }
      if (!f.leader) {
        f.leader = true;
        if (redis != null) event(f, "leader", "this instance polls", 0);
      }
      return cursors.cursor(f.key).compose(c -> c == null
          ? resync(f, f.everSynced || redis != null ? "no cursor" : "first sync")
          : follow(f, c));
    }).<Void>mapEmpty().recover(e -> {
      f.failed.increment();
      if (!f.lost) {
        f.lost = true;
        LOG.warn("freshness: {} delta feed failing: {}", f.resource, e.getMessage());
        event(f, "lost", e.getMessage(), 0);
      }
      return evictIfTooLate(f);
    });
  }

  private Future<Void> follow(Feed f, CursorStore.Cursor cursor) {
    Changes changes = new Changes();
    return pages(f, cursor.link(), options.getMaxPages(), changes).compose(p -> {
      if (p.gone()) {
        f.gone.increment();
        return resync(f, "410: delta token expired or unknown");
      }
      f.changed.increment(changes.reported);
      long at = p.atDelta() ? System.currentTimeMillis() : cursor.advancedAtMillis();
      return evict(f, changes).compose(n -> cursors.save(f.key, owner, new CursorStore.Cursor(p.link(), at))).map(saved -> {
        if (!saved) f.leader = false;
        f.ok.increment();
        if (p.atDelta()) {
          f.syncedAtMillis = at;
          f.lostEvictionAtMillis = 0;
        }
        recovered(f);
        return null;
      });
    });
  }

  /** A new initial sync to a deltaLink, then every delta-fed route evicted. */
  private Future<Void> resync(Feed f, String reason) {
    return pages(f, f.initialUrl(), Integer.MAX_VALUE, null).compose(p -> {
      if (p.gone()) return Future.failedFuture(new IllegalStateException("initial delta sync answered 410"));
      return evictAll().compose(n -> {
        long now = System.currentTimeMillis();
        return cursors.save(f.key, owner, new CursorStore.Cursor(p.link(), now)).map(saved -> {
          if (!saved) {
            // The lease passed to another instance meanwhile: its cursor stands, this sync is wasted but harmless.
            f.leader = false;
            return null;
          }
          f.ok.increment();
          f.syncedAtMillis = now;
          f.lostEvictionAtMillis = 0;
          boolean first = !f.everSynced && reason.equals("first sync");
          f.everSynced = true;
          f.lost = false;
          if (!first) {
            f.resyncs.increment();
            f.evicted.increment(n);
            LOG.info("freshness: {} delta feed resynced ({}), {} delta-fed entries evicted", f.resource, reason, n);
          }
          event(f, first ? "synced" : "resynced", reason, n);
          return null;
        });
      });
    });
  }

  /**
   * A feed lost for longer than {@code maxLag} (since it last reached its deltaLink, or since start) cannot vouch
   * for long-lived entries: every delta-fed route is evicted, and again every maxLag while it stays lost.
   */
  private Future<Void> evictIfTooLate(Feed f) {
    long now = System.currentTimeMillis();
    long maxLag = options.getMaxLag().toMillis();
    long since = Math.max(f.syncedAtMillis == 0 ? f.startedAtMillis : f.syncedAtMillis, f.lostEvictionAtMillis);
    if (now - since < maxLag) return Future.succeededFuture();
    f.lostEvictionAtMillis = now;
    return evictAll().map(n -> {
      f.evicted.increment(n);
      LOG.warn("freshness: {} delta feed lost for over {} ms: {} delta-fed entries evicted", f.resource, maxLag, n);
      event(f, "lost", "no deltaLink reached for over " + maxLag + " ms: every delta-fed route evicted", n);
      return null;
    });
  }

  private void recovered(Feed f) {
    if (!f.lost) return;
    f.lost = false;
    LOG.warn("freshness: {} delta feed back", f.resource);
    event(f, "synced", "feed back", 0);
  }

  /**
   * Reads pages from {@code link}, collecting changes (null: an initial sync, nothing collected), until a
   * deltaLink or {@code maxPages}.
   */
  private Future<Pages> pages(Feed f, String link, int maxPages, Changes into) {
    if (!link.startsWith(upstreamOrigin + "/")) {
      return Future.failedFuture(new IllegalStateException("a delta link outside the configured upstream origin: not followed"));
    }
    return tokens.token().compose(t -> client.getAbs(link).putHeader("Authorization", "Bearer " + t).timeout(60_000).send())
        .compose(r -> {
          if (r.statusCode() == 410) return Future.succeededFuture(new Pages(null, false, true));
          if (r.statusCode() == 401) tokens.invalidate();
          if (r.statusCode() != 200) return Future.failedFuture(new IllegalStateException("delta page answered " + r.statusCode()));
          Buffer body = r.body();
          return offload.run(() -> read(body, f.resource, into)).compose(next -> {
            if (next.atDelta() || maxPages <= 1) return Future.succeededFuture(next);
            return pages(f, next.link(), maxPages - 1, into);
          });
        });
  }

  /** Parses one page (worker pool): its changes into {@code into}, and where it leads. */
  private static Pages read(Buffer body, String resource, Changes into) {
    JsonObject page = body.toJsonObject();
    if (into != null && page.getValue("value") instanceof JsonArray value) {
      boolean users = resource.equals("users");
      synchronized (into) {
        for (Object item : value) {
          if (!(item instanceof JsonObject o) || !(o.getValue("id") instanceof String id)) continue;
          into.reported++;
          into.objects.add(id);
          if (users) into.users.add(id);
          else if (bareMembershipChange(o)) into.membershipOnly.add(id);
          else into.groups.add(id);
          if (o.getValue("members@delta") instanceof JsonArray members) {
            for (Object m : members) {
              if (!(m instanceof JsonObject mo) || !(mo.getValue("id") instanceof String mid)) continue;
              String type = mo.getString("@odata.type", "");
              (type.toLowerCase(Locale.ROOT).contains("group") ? into.memberGroups : into.memberUsers).add(mid);
            }
          }
        }
      }
    }
    String delta = page.getString("@odata.deltaLink");
    if (delta != null) return new Pages(delta, true, false);
    String next = page.getString("@odata.nextLink");
    if (next == null) throw new IllegalStateException("a delta page with neither nextLink nor deltaLink");
    return new Pages(next, false, false);
  }

  /**
   * A group that came as its id and {@code members@delta} alone: its members changed, its properties did not
   * (Graph returns an updated object with at least its changed properties), so the answers that merely list
   * the group as an object stay; its own routes and the transitive lists through it go.
   */
  private static boolean bareMembershipChange(JsonObject o) {
    if (!o.containsKey("members@delta") || o.containsKey("@removed")) return false;
    for (String name : o.fieldNames()) {
      if (!name.equals("id") && !name.equals("members@delta") && !name.startsWith("@odata.")) return false;
    }
    return true;
  }

  /** Evicts what the changes touch; completes with the number of entries evicted ({@code f} null: for a notification). */
  private Future<Long> evict(Feed f, Changes c) {
    if (c.objects.isEmpty()) return Future.succeededFuture(0L);
    Set<String> forgotten = new LinkedHashSet<>(c.users);
    forgotten.addAll(c.groups);
    Set<String> throughGroups = new LinkedHashSet<>(c.memberGroups);
    throughGroups.addAll(c.membershipOnly);
    return index.changed(forgotten, true).compose(mentioning -> index.changed(throughGroups, false).map(nested -> {
      // Object-wide patterns first; a mentioned path one of them already covers is not evicted twice.
      List<PathPattern> globs = new ArrayList<>();
      for (String u : c.users) globs.add(USER.bind(Map.of("id", u)));
      for (String g : c.groups) globs.add(GROUP.bind(Map.of("id", g)));
      for (String g : c.membershipOnly) globs.add(GROUP.bind(Map.of("id", g)));
      for (String u : c.memberUsers) globs.add(MEMBER_OF.bind(Map.of("id", u)));
      for (String g : c.memberGroups) globs.add(MEMBER_OF.bind(Map.of("id", g)));
      Map<String, PathPattern> targets = new java.util.LinkedHashMap<>();
      for (PathPattern p : globs) targets.putIfAbsent(p.toString(), p);
      List<String> paths = new ArrayList<>(mentioning);
      for (String path : nested) if (path.toLowerCase(Locale.ROOT).contains("/transitive")) paths.add(path);
      for (String path : paths) {
        boolean covered = false;
        for (PathPattern p : globs) if (covered = p.matches(path)) break;
        if (!covered) {
          try {
            PathPattern literal = PathPattern.literal(path);
            targets.putIfAbsent(literal.toString(), literal);
          } catch (IllegalArgumentException unusual) {
            // Cannot be written as a pattern (never seen: cached paths are normalised): the object-wide patterns still apply.
            LOG.debug("freshness: an indexed path cannot be evicted by pattern: {}", unusual.getMessage());
          }
        }
      }
      return new ArrayList<>(targets.values());
    })).compose(this::invalidateAll).onSuccess(n -> {
      if (f == null) {
        LOG.debug("freshness: notified of {} changed objects, {} entries evicted", c.objects.size(), n);
        return;
      }
      f.evicted.increment(n);
      LOG.debug("freshness: {} delta: {} objects changed, {} entries evicted", f.resource, c.objects.size(), n);
    });
  }

  /** Every delta-fed route, in every partition, on every instance (the fallback of a resync). */
  private Future<Long> evictAll() {
    List<PathPattern> targets = new ArrayList<>();
    for (CacheOptions.Route r : deltaRoutes) targets.add(r.path());
    return invalidateAll(targets);
  }

  /** Invalidations in flight at once: a burst of changes must not flood Redis (its client's wait queue is bounded). */
  private static final int PARALLEL = 8;

  /** Evicts every target, {@link #PARALLEL} at a time; completes with the number of entries evicted, never fails. */
  private Future<Long> invalidateAll(List<PathPattern> targets) {
    // The cache completes on whichever context its last part ran on: the shared counters are atomic.
    java.util.concurrent.atomic.AtomicLong evicted = new java.util.concurrent.atomic.AtomicLong();
    java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
    List<Future<Void>> lanes = new ArrayList<>();
    for (int i = 0; i < Math.min(PARALLEL, targets.size()); i++) lanes.add(lane(targets, next, evicted));
    return Future.join(lanes).map(v -> evicted.get()).otherwise(v -> evicted.get());
  }

  /** Takes the next target until none is left. */
  private Future<Void> lane(List<PathPattern> targets, java.util.concurrent.atomic.AtomicInteger next,
      java.util.concurrent.atomic.AtomicLong evicted) {
    int i = next.getAndIncrement();
    if (i >= targets.size()) return Future.succeededFuture();
    return cache.invalidate(targets.get(i)).otherwise(0L).compose(n -> {
      evicted.addAndGet(n);
      return lane(targets, next, evicted);
    });
  }

  private void event(Feed f, String state, String reason, long evicted) {
    vertx.eventBus().publish(Addresses.EVENTS, new JsonObject().put("type", "freshness").put("feed", f.resource)
        .put("tenant", options.getTenantId()).put("state", state).put("reason", reason).put("evicted", evicted)
        .put("at", Instant.now().toString()));
  }
}
