package io.tollgate.cache;

import io.tollgate.config.PathPattern;
import io.tollgate.metrics.Addresses;
import io.tollgate.metrics.TenantEconomics;
import io.tollgate.config.CacheOptions;
import io.tollgate.redis.RedisLink;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.VerticleBase;
import io.tollgate.concurrency.WorkerPool;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import java.time.Clock;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Owns the cache: L1, L2 on the gateway's {@link RedisLink} (entries and the invalidation subscription),
 * statistics. Publishes
 * {@code tollgate.cache.stats} every {@code cache.statsInterval} (with this instance's id, so consumers of a clustered
 * event bus tell gateways apart) and serves the {@code tollgate.cache} request/reply API (get, put, invalidate, clear)
 * for other verticles and the management bridge of this instance only: a local consumer, never reachable from peers.
 */
public final class CacheVerticle extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(CacheVerticle.class);
  /** Failure codes of the {@code tollgate.cache} API. */
  public static final int BAD_REQUEST = 400;
  public static final int FAILED = 500;

  private final CacheOptions options;
  private final RedisLink redis;
  private final MeterRegistry registry;
  private final Clock clock;
  private final String instanceId = UUID.randomUUID().toString();
  private ResponseCache cache;
  private L2Store l2;
  private final WorkerPool workers;
  private final TenantEconomics economics;
  private long statsTimer = -1;
  private MessageConsumer<JsonObject> api;
  private MessageConsumer<CacheKey> hotPath;
  /** Local-only address of the hot-path lookup when {@code cache.hotPath: event-bus}. */
  static final String LOOKUP = Addresses.CACHE + ".lookup";
  private static final ResponseCache.Hit MISS = new ResponseCache.Hit(null, io.tollgate.proxy.XCache.MISS);

  /** The hot-path lookup through the event bus (one request/reply hop per cache lookup). */
  public static java.util.function.Function<CacheKey, Future<ResponseCache.Hit>> eventBusLookup(io.vertx.core.Vertx vertx, long timeoutMs) {
    io.vertx.core.eventbus.DeliveryOptions delivery = new io.vertx.core.eventbus.DeliveryOptions().setLocalOnly(true).setSendTimeout(timeoutMs);
    return key -> vertx.eventBus().<ResponseCache.Hit>request(LOOKUP, key, delivery)
        .map(reply -> reply.body().response() == null ? null : reply.body());
  }

  /**
   * @param redis the gateway's Redis, deployed; null for L1 only
   * @param workers the gateway's pool for CPU-heavy work (L2 compression, L1 evictions and clears)
   * @param economics the per-tenant table the statistics carry, or null
   */
  public CacheVerticle(CacheOptions options, RedisLink redis, MeterRegistry registry, Clock clock, WorkerPool workers,
      TenantEconomics economics) {
    this.workers = workers;
    this.economics = economics;
    this.options = new CacheOptions(options);
    this.redis = redis;
    this.registry = registry;
    this.clock = clock;
  }

  /** The cache, once started: shared with the proxy verticles. */
  public ResponseCache cache() {
    return cache;
  }

  @Override
  public Future<?> start() {
    L1Store l1 = new L1Store(options.getL1MaxWeight(), clock);
    CacheStats stats = new CacheStats(l1, redis == null ? () -> false : redis::connected, economics, instanceId);
    stats.bind(registry);
    Future<Void> l2Ready = Future.succeededFuture();
    if (redis != null) {
      long indexTtl = options.getRoutes().stream().mapToLong(r -> r.ttl().toMillis()
          + Math.max(Math.max(r.staleWhileRevalidate().toMillis(), r.staleIfError().toMillis()),
              r.revalidate() ? r.revalidateFor().toMillis() : 0)).max().orElse(86_400_000L);
      l2 = new L2Store(redis, options.getKeyPrefix(), options.getL2Timeout().toMillis(),
          options.getCompressAbove(), indexTtl, stats, workers, instanceId, this::onRemote);
      l2Ready = l2.start();
      LOG.info("cache: L1 {} bytes, L2 Redis {} prefix '{}'", options.getL1MaxWeight(), redis.maskedUrl(), options.getKeyPrefix());
    } else {
      LOG.info("cache: L1 {} bytes, no L2 (no Redis configured)", options.getL1MaxWeight());
    }
    cache = new ResponseCache(l1, l2, stats, clock, workers);
    long fleetWait = options.getFleetCoalesceWait().toMillis();
    if (l2 != null && fleetWait > 0) cache.fleet(new FleetCoalescer(vertx, l2, cache, fleetWait, instanceId));
    statsTimer = vertx.setPeriodic(options.getStatsInterval().toMillis(), id -> publishStats());
    // Local: with a clustered event bus only statistics and events cross; a peer never reads or writes this cache.
    api = vertx.eventBus().localConsumer(Addresses.CACHE, this::onRequest);
    if (options.getHotPath() == CacheOptions.HotPath.EVENT_BUS) {
      vertx.eventBus().registerDefaultCodec(CacheKey.class, new LocalCodec<>(CacheKey.class));
      vertx.eventBus().registerDefaultCodec(ResponseCache.Hit.class, new LocalCodec<>(ResponseCache.Hit.class));
      hotPath = vertx.eventBus().<CacheKey>localConsumer(LOOKUP, msg -> cache.lookup(msg.body())
          .onComplete(ar -> msg.reply(ar.succeeded() && ar.result() != null ? ar.result() : MISS)));
    }
    return l2Ready.onComplete(ar -> publishStats());
  }

  private void publishStats() {
    vertx.eventBus().publish(Addresses.CACHE_STATS, cache.stats().snapshot().toJson());
  }

  /** From the Redis link's context: applied on this verticle's own. */
  private void onRemote(JsonObject msg) {
    context.runOnContext(v -> {
      switch (msg.getString("action", "")) {
        case "invalidate" -> {
          String pattern = msg.getString("pattern");
          if (PathPattern.valid(pattern)) cache.invalidateLocal(PathPattern.compile(pattern));
        }
        // After an epoch bump every older L2 entry is unreadable; the L1 copies of them go too.
        case "clear", "epoch" -> cache.clearLocal();
        default -> { }
      }
    });
  }

  private void onRequest(Message<JsonObject> msg) {
    JsonObject body = msg.body();
    String action = body == null ? null : body.getString("action");
    if (action == null) {
      msg.fail(BAD_REQUEST, "missing action");
      return;
    }
    switch (action) {
      case "get" -> {
        CacheKey key = keyOf(body);
        cache.lookup(key).onComplete(ar -> {
          if (ar.failed()) msg.fail(FAILED, ar.cause().getMessage());
          else if (ar.result() == null) msg.reply(new JsonObject().put("found", false));
          else msg.reply(new JsonObject().put("found", true).put("level", ar.result().level())
              .put("entry", ar.result().response().toJson()));
        });
      }
      case "put" -> {
        JsonObject entry = body.getJsonObject("entry");
        if (entry == null || !entry.containsKey("status") || !entry.containsKey("ttl")) {
          msg.fail(BAD_REQUEST, "put needs entry.status and entry.ttl (ms)");
          return;
        }
        entry.put("storedAt", entry.getLong("storedAt", clock.millis()));
        cache.store(keyOf(body), CachedResponse.fromJson(entry), System.currentTimeMillis()).onComplete(ar -> msg.reply(new JsonObject().put("stored", true)));
      }
      case "invalidate" -> {
        String pattern = body.getString("pattern");
        if (!PathPattern.valid(pattern)) {
          msg.fail(BAD_REQUEST, "pattern must be a path glob starting with /");
          return;
        }
        cache.invalidate(PathPattern.compile(pattern)).onComplete(ar -> msg.reply(new JsonObject().put("removed", ar.succeeded() ? ar.result() : 0)));
      }
      case "clear" -> cache.clear().onComplete(ar -> msg.reply(new JsonObject().put("removed", ar.succeeded() ? ar.result() : 0)));
      default -> msg.fail(BAD_REQUEST, "unknown action " + action);
    }
  }

  /** The key fields of an API message: method, path, query, partition (a hash, never a token), headers. */
  private CacheKey keyOf(JsonObject body) {
    MultiMap headers = MultiMap.caseInsensitiveMultiMap();
    JsonObject h = body.getJsonObject("headers", new JsonObject());
    h.forEach(e -> headers.add(e.getKey(), String.valueOf(e.getValue())));
    return CacheKey.of(body.getString("method", "GET"), body.getString("path", "/"), body.getString("query"),
        headers, options.getVaryHeaders(), body.getString("partition", "anonymous"));
  }

  @Override
  public Future<?> stop() {
    if (statsTimer >= 0) vertx.cancelTimer(statsTimer);
    Future<Void> consumer = api == null ? Future.succeededFuture() : api.unregister();
    if (hotPath != null) consumer = consumer.eventually(hotPath::unregister);
    if (l2 != null) l2.close();
    return consumer;
  }

}
