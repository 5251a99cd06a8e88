package io.tollgate.cache;

import io.tollgate.config.PathPattern;
import io.tollgate.metrics.Addresses;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisClientType;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * L2: entries in Redis, shared by every sidecar on that Redis.
 *
 * <p>Layout (prefix {@code p}, path hash {@code h}): entry hash {@code p{h}:e:<key digest>} with fields
 * {@code meta}, {@code body}, {@code gz}; the set {@code p{h}:keys} of entry digests for that path; and the
 * sorted set {@code p{paths}} of paths scored by expiry, which pattern invalidation walks with ZSCAN MATCH
 * (never KEYS). An entry and its path index share the hash tag {@code {h}}, so they live on one cluster slot
 * and are written in one MULTI.
 *
 * <p>Degradation: every operation has a timeout; the first failure marks L2 disconnected (published on
 * {@code tollgate.events}), after which operations are skipped until a PING with backoff succeeds again.
 * Requests never fail because of Redis.
 */
public final class L2Store {
  private static final Logger LOG = LoggerFactory.getLogger(L2Store.class);
  private static final long MIN_BACKOFF_MS = 250;
  private static final long MAX_BACKOFF_MS = 10_000;

  private final Vertx vertx;
  private final RedisOptions redisOptions;
  private final Redis redis;
  private final boolean cluster;
  private final String prefix;
  private final long timeoutMs;
  private final long compressAbove;
  private final long indexTtlMs;
  private final CacheStats stats;
  private final WorkerExecutor codec;
  private final String instanceId;
  private final Consumer<JsonObject> onRemoteInvalidation;
  private volatile boolean connected = true;
  private volatile boolean closed;
  private long backoffMs = MIN_BACKOFF_MS;
  /** A client of its own for the subscription: a field, because an unreachable client may be closed mid-call. */
  private final Redis subscriberClient;
  private RedisConnection subscriber;
  /** Cluster mode: one client per master endpoint, for the per-node SCAN of {@link #clear()}. */
  private final java.util.Map<String, Redis> nodeClients = new java.util.HashMap<>();

  /**
   * @param indexTtlMs lifetime of path indexes: the longest retain time of any route, so an index never
   *     expires before an entry it lists
   * @param onRemoteInvalidation called (on the cache verticle's context) with invalidations from other instances
   */
  public L2Store(Vertx vertx, RedisOptions redisOptions, String prefix, long timeoutMs, long compressAbove,
      long indexTtlMs, CacheStats stats, WorkerExecutor codec, String instanceId, Consumer<JsonObject> onRemoteInvalidation) {
    this.vertx = vertx;
    this.redisOptions = redisOptions;
    this.redis = Redis.createClient(vertx, redisOptions);
    this.subscriberClient = Redis.createClient(vertx, new RedisOptions(redisOptions).setMaxPoolSize(2));
    this.cluster = redisOptions.getType() == RedisClientType.CLUSTER;
    this.prefix = prefix;
    this.timeoutMs = timeoutMs;
    this.compressAbove = compressAbove;
    this.indexTtlMs = indexTtlMs;
    this.stats = stats;
    this.codec = codec;
    this.instanceId = instanceId;
    this.onRemoteInvalidation = onRemoteInvalidation;
    stats.l2Connected = true;
  }

  /** Checks the connection and subscribes to invalidations; never fails (a dead Redis means degraded). */
  public Future<Void> start() {
    // The first command also opens the first connection (and, with Sentinel, asks where the primary is):
    // it gets the probe's longer timeout so a slow start-up is not mistaken for a dead Redis.
    return redis.send(Request.cmd(Command.PING)).timeout(timeoutMs * 4, TimeUnit.MILLISECONDS).onFailure(this::markDown)
        .<Void>mapEmpty().eventually(this::subscribe).otherwiseEmpty();
  }

  public boolean connected() {
    return connected;
  }

  private String tag(String path) {
    return tag(prefix, path);
  }

  /** {@code prefix{hash of path}}: the hash tag shared by a path's entries and its index. */
  static String tag(String prefix, String path) {
    return prefix + "{" + sha1(path) + "}";
  }

  private String entryKey(CacheKey key) {
    return tag(key.path()) + ":e:" + key.digest();
  }

  private String pathsKey() {
    return prefix + "{paths}";
  }

  private String channel() {
    return prefix + "invalidations";
  }

  /** @return the entry, or null on a miss, on error or while disconnected */
  public Future<CachedResponse> get(CacheKey key) {
    if (!connected) return Future.succeededFuture();
    return send(Request.cmd(Command.HMGET).arg(entryKey(key)).arg("meta").arg("body").arg("gz"))
        .compose(r -> {
          if (r == null || r.size() < 2 || r.get(0) == null || r.get(1) == null) return Future.succeededFuture();
          JsonObject meta = new JsonObject(r.get(0).toString());
          Buffer body = r.get(1).toBuffer();
          boolean gz = r.get(2) != null && "1".equals(r.get(2).toString());
          if (!gz) return Future.succeededFuture(CachedResponse.fromMeta(meta, body));
          return codec.executeBlocking(() -> CachedResponse.fromMeta(meta, gunzip(body)), false);
        })
        .otherwiseEmpty();
  }

  /** Stores an entry with Redis expiry = its retain time; failures are counted, not raised. */
  public Future<Void> put(CacheKey key, CachedResponse response) {
    if (!connected) return Future.succeededFuture();
    boolean compress = response.body().length() > compressAbove;
    Future<Buffer> body = compress
        ? codec.executeBlocking(() -> gzip(response.body()), false)
        : Future.succeededFuture(response.body());
    return body.compose(b -> {
      String entry = entryKey(key);
      String index = tag(key.path()) + ":keys";
      long retain = response.retainMillis();
      List<Request> writes = new ArrayList<>();
      if (!cluster) writes.add(Request.cmd(Command.MULTI));
      writes.add(Request.cmd(Command.HSET).arg(entry).arg("meta").arg(response.meta().encode()).arg("body").arg(b)
          .arg("gz").arg(compress ? "1" : "0"));
      writes.add(Request.cmd(Command.PEXPIRE).arg(entry).arg(retain));
      writes.add(Request.cmd(Command.SADD).arg(index).arg(key.digest()));
      writes.add(Request.cmd(Command.PEXPIRE).arg(index).arg(indexTtlMs));
      if (!cluster) writes.add(Request.cmd(Command.EXEC));
      return batch(writes)
          .compose(ignored -> send(Request.cmd(Command.ZADD).arg(pathsKey()).arg("GT")
              .arg(System.currentTimeMillis() + indexTtlMs).arg(key.path())));
    }).<Void>mapEmpty().otherwiseEmpty();
  }

  /**
   * Deletes every entry under paths matching the glob, in all partitions, then tells the other instances.
   *
   * @return how many entries were deleted from Redis
   */
  public Future<Long> invalidate(PathPattern glob) {
    if (!connected) return Future.succeededFuture(0L);
    return scanPaths("0", glob, 0L)
        .compose(n -> publish(new JsonObject().put("action", "invalidate").put("pattern", glob.toString())).map(n))
        .otherwise(0L);
  }

  /** ZSCAN with a MATCH superset of the pattern; each candidate is then matched exactly (case-insensitively). */
  private Future<Long> scanPaths(String cursor, PathPattern pattern, long deleted) {
    return send(Request.cmd(Command.ZSCAN).arg(pathsKey()).arg(cursor).arg("MATCH").arg(pattern.redisGlob()).arg("COUNT").arg(500))
        .compose(r -> {
          String next = r.get(0).toString();
          Response items = r.get(1);
          List<String> paths = new ArrayList<>();
          for (int i = 0; i < items.size(); i += 2) {
            String path = items.get(i).toString();
            if (pattern.matches(path)) paths.add(path);
          }
          Future<Long> chain = Future.succeededFuture(deleted);
          for (String path : paths) chain = chain.compose(d -> deletePath(path).map(x -> d + x));
          return chain.compose(d -> "0".equals(next) ? Future.succeededFuture(d) : scanPaths(next, pattern, d));
        });
  }

  private Future<Long> deletePath(String path) {
    String index = tag(path) + ":keys";
    return send(Request.cmd(Command.SMEMBERS).arg(index)).compose(members -> {
      // The entries and their index share a slot and go in one DEL; the path list lives on another slot
      // ({paths}), so in a cluster it cannot join them in one batch.
      Request del = Request.cmd(Command.DEL).arg(index);
      for (Response m : members) del.arg(tag(path) + ":e:" + m.toString());
      long n = members.size();
      return send(del).compose(d -> send(Request.cmd(Command.ZREM).arg(pathsKey()).arg(path))).map(n);
    });
  }

  /** Deletes every key under this instance's prefix (SCAN, never KEYS) and tells the other instances. */
  public Future<Long> clear() {
    if (!connected) return Future.succeededFuture(0L);
    Future<Long> cleared = cluster
        ? masters().compose(nodes -> {
            Future<Long> chain = Future.succeededFuture(0L);
            for (Redis node : nodes) chain = chain.compose(d -> clearFrom(node, "0", d));
            return chain;
          })
        : clearFrom(redis, "0", 0L);
    return cleared
        .compose(n -> publish(new JsonObject().put("action", "clear")).map(n))
        .otherwise(0L);
  }

  /**
   * SCAN on one server. A cluster client would send SCAN to one arbitrary node, so in cluster mode each
   * master is scanned through a client of its own; the keys found live on that master and are deleted there.
   */
  private Future<Long> clearFrom(Redis node, String cursor, long deleted) {
    return node.send(Request.cmd(Command.SCAN).arg(cursor).arg("MATCH").arg(prefix + "*").arg("COUNT").arg(1000))
        .timeout(timeoutMs, TimeUnit.MILLISECONDS).onFailure(this::markDown)
        .compose(r -> {
          String next = r.get(0).toString();
          Response keys = r.get(1);
          Future<Long> step = Future.succeededFuture(deleted);
          if (keys.size() > 0) {
            List<Request> dels = new ArrayList<>();
            for (Response k : keys) dels.add(Request.cmd(Command.DEL).arg(k.toString()));
            step = node.batch(dels).timeout(timeoutMs, TimeUnit.MILLISECONDS).onFailure(this::markDown).map(deleted + keys.size());
          }
          return step.compose(d -> "0".equals(next) ? Future.succeededFuture(d) : clearFrom(node, next, d));
        });
  }

  /** The cluster's masters (from CLUSTER SLOTS), each with a standalone client kept for later clears. */
  private Future<List<Redis>> masters() {
    return send(Request.cmd(Command.CLUSTER).arg("SLOTS")).map(slots -> {
      List<Redis> out = new ArrayList<>();
      java.util.Set<String> seen = new java.util.HashSet<>();
      for (Response range : slots) {
        Response master = range.get(2);
        String endpoint = master.get(0).toString() + ":" + master.get(1).toInteger();
        if (!seen.add(endpoint)) continue;
        out.add(nodeClients.computeIfAbsent(endpoint, e -> Redis.createClient(vertx,
            new RedisOptions().setConnectionString("redis://" + e).setPassword(redisOptions.getPassword()).setMaxPoolSize(2))));
      }
      return out;
    });
  }

  private Future<Void> publish(JsonObject message) {
    message.put("origin", instanceId);
    return send(Request.cmd(Command.PUBLISH).arg(channel()).arg(message.encode())).mapEmpty();
  }

  /** A dedicated connection for SUBSCRIBE; re-established after Redis comes back. */
  private Future<Void> subscribe() {
    if (closed) return Future.succeededFuture();
    return subscriberClient.connect()
        .compose(conn -> {
          subscriber = conn;
          conn.handler(this::onPush);
          conn.exceptionHandler(t -> { });
          // Only the current subscription counts: the one replaced after a reconnect ends on purpose.
          conn.endHandler(v -> {
            if (!closed && subscriber == conn) markDown(new IllegalStateException("subscription connection closed"));
          });
          return conn.send(Request.cmd(Command.SUBSCRIBE).arg(channel())).mapEmpty();
        })
        .<Void>mapEmpty()
        .onFailure(this::markDown)
        .otherwiseEmpty();
  }

  private void onPush(Response push) {
    if (push.size() < 3 || !"message".equalsIgnoreCase(push.get(0).toString())) return;
    try {
      JsonObject msg = new JsonObject(push.get(2).toString());
      if (!instanceId.equals(msg.getString("origin"))) onRemoteInvalidation.accept(msg);
    } catch (RuntimeException e) {
      LOG.debug("ignoring malformed invalidation message");
    }
  }

  private Future<Response> send(Request request) {
    return redis.send(request).timeout(timeoutMs, TimeUnit.MILLISECONDS).onFailure(this::markDown);
  }

  private Future<List<Response>> batch(List<Request> requests) {
    return redis.batch(requests).timeout(timeoutMs, TimeUnit.MILLISECONDS).onFailure(this::markDown);
  }

  private void markDown(Throwable cause) {
    stats.l2Errors.increment();
    if (closed || !connected) return;
    synchronized (this) {
      if (!connected) return;
      connected = false;
      stats.l2Connected = false;
    }
    LOG.warn("L2 (Redis) unavailable, serving from L1 and upstream: {}", cause.toString());
    event(false);
    scheduleProbe();
  }

  private void scheduleProbe() {
    if (closed) return;
    long delay = backoffMs;
    backoffMs = Math.min(MAX_BACKOFF_MS, backoffMs * 2);
    vertx.setTimer(delay, id -> redis.send(Request.cmd(Command.PING)).timeout(timeoutMs * 4, TimeUnit.MILLISECONDS)
        .onSuccess(pong -> {
          backoffMs = MIN_BACKOFF_MS;
          connected = true;
          stats.l2Connected = true;
          LOG.warn("L2 (Redis) reconnected");
          event(true);
          RedisConnection previous = subscriber;
          subscriber = null;
          if (previous != null) previous.close();
          // Invalidations published while the subscription was away were missed: this L1 may hold entries
          // other instances evicted, so it starts again from L2 rather than serve them until their TTL.
          subscribe().onSuccess(v -> onRemoteInvalidation.accept(new JsonObject().put("action", "clear")));
        })
        .onFailure(t -> scheduleProbe()));
  }

  private void event(boolean up) {
    vertx.eventBus().publish(Addresses.EVENTS, new JsonObject().put("type", "l2").put("connected", up)
        .put("at", Instant.now().toString()));
  }

  public Future<Void> close() {
    closed = true;
    Future<Void> sub = subscriber == null ? Future.succeededFuture() : subscriber.close().otherwiseEmpty();
    for (Redis node : nodeClients.values()) node.close();
    return sub.eventually(subscriberClient::close).eventually(redis::close);
  }

  private static Buffer gzip(Buffer plain) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(plain.length() / 4 + 64);
    try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
      gz.write(plain.getBytes());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return Buffer.buffer(out.toByteArray());
  }

  private static Buffer gunzip(Buffer packed) {
    try (GZIPInputStream in = new GZIPInputStream(new java.io.ByteArrayInputStream(packed.getBytes()))) {
      return Buffer.buffer(in.readAllBytes());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String sha1(String s) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-1").digest(s.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d, 0, 8);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

}
