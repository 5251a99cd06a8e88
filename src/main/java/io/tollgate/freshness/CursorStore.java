package io.tollgate.freshness;

import io.tollgate.redis.RedisLink;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Where a delta feed's cursor (the link to call next, and when it was advanced) and its poller's lease live.
 * In memory, every instance is its feed's poller. In Redis ({@code <prefix>{fresh}:lease:<feed>},
 * {@code <prefix>{fresh}:cursor:<feed>}), one instance of a fleet holds each feed's lease: it takes a free
 * lease, renews it on every poll, and may save the cursor only while it holds the lease (one script, so a
 * holder whose lease lapsed cannot overwrite its successor's cursor). When the holder dies its lease lapses and
 * another instance takes it over, with the cursor. The cursor's link holds a delta token (sync state, not a
 * credential); no access token is ever stored.
 */
interface CursorStore {
  /** A cursor: the link to call next and when it was last advanced (epoch ms). */
  record Cursor(String link, long advancedAtMillis) {}

  /** Takes or renews the lease of {@code feed}; true when {@code owner} holds it now. */
  Future<Boolean> lease(String feed, String owner, Duration ttl);

  /** The saved cursor, or null when there is none (first start, or lost). */
  Future<Cursor> cursor(String feed);

  /** Saves the cursor if {@code owner} still holds the lease; false when it did not (nothing saved). */
  Future<Boolean> save(String feed, String owner, Cursor cursor);

  /** Gives the lease up (a clean stop), so another instance takes over at once. */
  Future<Void> release(String feed, String owner);

  static CursorStore local() {
    return new Local();
  }

  static CursorStore redis(RedisLink redis, String keyPrefix, long timeoutMs) {
    return new Redis(redis, keyPrefix, timeoutMs);
  }

  /** Only the owning verticle's context touches it. */
  final class Local implements CursorStore {
    private final Map<String, Cursor> cursors = new HashMap<>();

    @Override
    public Future<Boolean> lease(String feed, String owner, Duration ttl) {
      return Future.succeededFuture(true);
    }

    @Override
    public Future<Cursor> cursor(String feed) {
      return Future.succeededFuture(cursors.get(feed));
    }

    @Override
    public Future<Boolean> save(String feed, String owner, Cursor cursor) {
      if (cursor == null) cursors.remove(feed);
      else cursors.put(feed, cursor);
      return Future.succeededFuture(true);
    }

    @Override
    public Future<Void> release(String feed, String owner) {
      return Future.succeededFuture();
    }
  }

  final class Redis implements CursorStore {
    /** How long a cursor is kept without being advanced: about a directory delta token's life. */
    static final Duration CURSOR_LIFE = Duration.ofDays(7);
    /** KEYS: lease. ARGV: owner, ttl ms. 1 when owner holds it now. */
    private static final RedisLink.Script LEASE = new RedisLink.Script("""
        local holder = redis.call('GET', KEYS[1])
        if not holder then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
        if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
        return 0""");
    /** KEYS: lease, cursor. ARGV: owner, cursor JSON ('' deletes), life ms. */
    private static final RedisLink.Script SAVE = new RedisLink.Script("""
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
        if ARGV[2] == '' then redis.call('DEL', KEYS[2]) else redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3]) end
        return 1""");
    /** KEYS: lease. ARGV: owner. */
    private static final RedisLink.Script RELEASE = new RedisLink.Script("""
        if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
        return 0""");

    private final RedisLink redis;
    private final String prefix;
    private final long timeoutMs;

    Redis(RedisLink redis, String keyPrefix, long timeoutMs) {
      this.redis = redis;
      this.prefix = keyPrefix + "{fresh}:";
      this.timeoutMs = timeoutMs;
    }

    @Override
    public Future<Boolean> lease(String feed, String owner, Duration ttl) {
      return redis.eval(LEASE, List.of(prefix + "lease:" + feed), List.of(owner, String.valueOf(ttl.toMillis())), timeoutMs)
          .map(r -> r != null && r.toLong() == 1);
    }

    @Override
    public Future<Cursor> cursor(String feed) {
      return redis.send(Request.cmd(Command.GET).arg(prefix + "cursor:" + feed), timeoutMs).map(r -> {
        if (r == null) return null;
        JsonObject j = new JsonObject(r.toString());
        return new Cursor(j.getString("link"), j.getLong("at", 0L));
      });
    }

    @Override
    public Future<Boolean> save(String feed, String owner, Cursor cursor) {
      String value = cursor == null ? "" : new JsonObject().put("link", cursor.link()).put("at", cursor.advancedAtMillis()).encode();
      return redis.eval(SAVE, List.of(prefix + "lease:" + feed, prefix + "cursor:" + feed),
          List.of(owner, value, String.valueOf(CURSOR_LIFE.toMillis())), timeoutMs).map(r -> r != null && r.toLong() == 1);
    }

    @Override
    public Future<Void> release(String feed, String owner) {
      return redis.eval(RELEASE, List.of(prefix + "lease:" + feed), List.of(owner), timeoutMs).mapEmpty();
    }
  }
}
