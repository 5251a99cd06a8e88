package io.tollgate.freshness;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.tollgate.redis.RedisLink;
import io.vertx.core.Future;
import io.vertx.redis.client.Response;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Cached paths by the directory object ids their answers mention ({@link Mentions}), so that a changed object
 * evicts exactly the answers that show it. Paths, not keys: an eviction covers every partition and query of a
 * path, and no caller identity is ever written here.
 *
 * <p>Design note. A store and a change can cross: an answer read before a change may be recorded after the
 * feed looked the changed id up. So each side writes before it reads: {@link #record} adds the path, then asks
 * whether any of its ids changed since the answer's upstream read began (then the caller evicts it at once);
 * {@link #changed} marks the ids changed, then reads their paths. Whichever runs second sees the other's write
 * (one Redis script each, or one map operation per id in memory). Marks are kept {@link #CHANGE_WINDOW}, far
 * longer than an upstream read. Sets live as long as the longest entry they may outlive (retain time), so the
 * index holds at least every cached delta-fed path (a stale member costs one needless eviction, never a missed one).
 */
interface ContentIndex {
  Duration CHANGE_WINDOW = Duration.ofMinutes(10);

  /**
   * Records that {@code path}'s answer mentions {@code ids}.
   *
   * @return true when one of them changed after {@code fetchBeganMillis}: the answer may be stale, evict it
   */
  Future<Boolean> record(String path, Collection<String> ids, long retainMillis, long fetchBeganMillis);

  /**
   * Marks {@code ids} changed now and returns the paths whose answers mention them; with {@code forget} the
   * paths are dropped from those ids' sets (they are about to be evicted; a new answer records itself again).
   */
  Future<Set<String>> changed(Collection<String> ids, boolean forget);

  /** In this process: one instance without Redis. Thread-safe. */
  static ContentIndex local(Duration maxRetain) {
    return new Local(maxRetain);
  }

  /** In Redis sets ({@code <prefix>{fresh}:ix:<id>}), shared by every instance on that Redis. */
  static ContentIndex redis(RedisLink redis, String keyPrefix, long timeoutMs) {
    return new Redis(redis, keyPrefix, timeoutMs);
  }

  final class Local implements ContentIndex {
    private final Cache<String, Set<String>> paths;
    private final Cache<String, Long> changedAt = Caffeine.newBuilder().expireAfterWrite(CHANGE_WINDOW).maximumSize(1_000_000).build();

    Local(Duration maxRetain) {
      paths = Caffeine.newBuilder().expireAfterWrite(maxRetain.plusMinutes(1)).maximumSize(2_000_000).build();
    }

    @Override
    public Future<Boolean> record(String path, Collection<String> ids, long retainMillis, long fetchBeganMillis) {
      boolean stale = false;
      for (String id : ids) {
        paths.asMap().compute(id, (k, set) -> {
          Set<String> s = set == null ? ConcurrentHashMap.newKeySet() : set;
          s.add(path);
          return s;
        });
        Long at = changedAt.getIfPresent(id);
        if (at != null && at >= fetchBeganMillis) stale = true;
      }
      return Future.succeededFuture(stale);
    }

    @Override
    public Future<Set<String>> changed(Collection<String> ids, boolean forget) {
      long now = System.currentTimeMillis();
      Set<String> out = new LinkedHashSet<>();
      for (String id : ids) {
        changedAt.put(id, now);
        if (forget) {
          Set<String> s = paths.asMap().remove(id);
          if (s != null) out.addAll(s);
        } else {
          Set<String> s = paths.getIfPresent(id);
          if (s != null) out.addAll(s);
        }
      }
      return Future.succeededFuture(out);
    }
  }

  final class Redis implements ContentIndex {
    /** KEYS: index set, change mark, per id. ARGV: path, retain ms, fetch began (ms). Returns 1 when an id changed since. */
    private static final RedisLink.Script RECORD = new RedisLink.Script("""
        local stale = 0
        for i = 1, #KEYS, 2 do
          redis.call('SADD', KEYS[i], ARGV[1])
          if redis.call('PTTL', KEYS[i]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
          local at = redis.call('GET', KEYS[i + 1])
          if at and tonumber(at) >= tonumber(ARGV[3]) then stale = 1 end
        end
        return stale""");
    /** KEYS: index set, change mark, per id. ARGV: now ms, window ms, forget (1|0). Returns the paths. */
    private static final RedisLink.Script CHANGED = new RedisLink.Script("""
        local out = {}
        for i = 1, #KEYS, 2 do
          redis.call('SET', KEYS[i + 1], ARGV[1], 'PX', ARGV[2])
          for _, p in ipairs(redis.call('SMEMBERS', KEYS[i])) do out[#out + 1] = p end
          if ARGV[3] == '1' then redis.call('DEL', KEYS[i]) end
        end
        return out""");
    /** Ids per script call: bounds one script's run time. */
    private static final int CHUNK = 500;

    private final RedisLink redis;
    private final String prefix;
    private final long timeoutMs;

    Redis(RedisLink redis, String keyPrefix, long timeoutMs) {
      this.redis = redis;
      // One hash tag: every key of the index in one cluster slot, so a script may touch several.
      this.prefix = keyPrefix + "{fresh}:";
      this.timeoutMs = timeoutMs;
    }

    private List<String> keys(Collection<String> ids) {
      List<String> keys = new ArrayList<>(ids.size() * 2);
      for (String id : ids) {
        keys.add(prefix + "ix:" + id);
        keys.add(prefix + "chg:" + id);
      }
      return keys;
    }

    @Override
    public Future<Boolean> record(String path, Collection<String> ids, long retainMillis, long fetchBeganMillis) {
      if (ids.isEmpty()) return Future.succeededFuture(false);
      List<Future<Response>> parts = new ArrayList<>();
      for (List<String> chunk : chunks(ids)) {
        parts.add(redis.eval(RECORD, keys(chunk), List.of(path, String.valueOf(Math.max(1000, retainMillis + 60_000)),
            String.valueOf(fetchBeganMillis)), timeoutMs));
      }
      return Future.all(parts).map(all -> {
        for (Future<Response> f : parts) if (f.result() != null && f.result().toLong() == 1) return true;
        return false;
      });
    }

    @Override
    public Future<Set<String>> changed(Collection<String> ids, boolean forget) {
      if (ids.isEmpty()) return Future.succeededFuture(Set.of());
      List<Future<Response>> parts = new ArrayList<>();
      String now = String.valueOf(System.currentTimeMillis());
      for (List<String> chunk : chunks(ids)) {
        parts.add(redis.eval(CHANGED, keys(chunk), List.of(now, String.valueOf(CHANGE_WINDOW.toMillis()), forget ? "1" : "0"), timeoutMs));
      }
      return Future.all(parts).map(all -> {
        Set<String> out = new LinkedHashSet<>();
        for (Future<Response> f : parts) {
          if (f.result() != null) for (Response r : f.result()) out.add(r.toString());
        }
        return out;
      });
    }

    private static List<List<String>> chunks(Collection<String> ids) {
      List<String> all = new ArrayList<>(ids);
      List<List<String>> out = new ArrayList<>();
      for (int i = 0; i < all.size(); i += CHUNK) out.add(all.subList(i, Math.min(all.size(), i + CHUNK)));
      return out;
    }
  }
}
