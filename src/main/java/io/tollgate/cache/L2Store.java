package io.tollgate.cache;

import io.tollgate.concurrency.WorkerPool;
import io.tollgate.config.PathPattern;
import io.tollgate.proxy.Gzip;
import io.tollgate.proxy.Sha256;
import io.tollgate.redis.RedisLink;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * L2: entries in Redis, shared by every sidecar on that Redis.
 *
 * <p>Layout (keyspace {@code p}, path hash {@code h}): entry hash {@code p{h}:e:<epoch>:<key digest>} with
 * fields {@code meta}, {@code body}, {@code gz}; the set {@code p{h}:keys} of that path's entries
 * ({@code <epoch>:<key digest>}); the current epoch {@code p{paths}:epoch} (see {@link #bumpEpoch}); and the
 * path index: each cached path as the member {@code <case-folded path>\0<path>} of {@code p{paths}} (all
 * scores 0, so sorted by folded path) and of {@code p{paths}:exp} (scored by the expiry of the path's last
 * entry, on Redis's clock). A pattern invalidation reads the index only under its pattern's folded prefixes
 * (ZRANGEBYLEX), so a write costs the paths it changes, not every path cached; every script that touches
 * the index prunes paths whose entries have all expired, so the index holds live paths only. An entry and
 * its path's entry set share the hash tag {@code {h}}, so they live on one cluster slot and are written in
 * one MULTI. Beside an entry, {@code p{h}:l:<epoch>:<key digest>} is the key's fleet lease while one instance
 * fetches it ({@link FleetCoalescer}); {@link #claim} reads the entry and takes the lease in one script.
 *
 * <p>Pub/sub: one channel, {@code p invalidations}, carries {@code invalidate}, {@code clear}, {@code epoch} and
 * the fleet's {@code landed} messages, each with the sending instance's {@code origin} (its own are skipped).
 *
 * <p>Degradation: every operation has a timeout ({@code cache.l2.operationTimeout}); a failure is counted and
 * marks the gateway's {@link RedisLink} down, after which operations are skipped until the link's probe finds
 * Redis again. This store announces the loss and the return ({@code l2} on {@code tollgate.events}) and,
 * after a return, clears L1: invalidations published meanwhile were missed. Requests never fail because of
 * Redis.
 */
public final class L2Store {
  private static final Logger LOG = LoggerFactory.getLogger(L2Store.class);
  /**
   * How long invalidations are remembered for late stores: far longer than any upstream read may take. A
   * store whose read began before that is not stored at all.
   */
  static final long INVALIDATION_WINDOW_MS = 10 * 60_000;
  /** Lua: {@code now}, Redis's own clock in millis (one clock for every sidecar's index entries). */
  private static final String NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) ";
  /** Paths whose entries have all expired, at most this many per script call, leave the index. */
  static final int PRUNE_PER_CALL = 100;
  /**
   * In Redis Cluster, a path stays in the index this long past its entries' expiry: the index lives on the
   * {@code {paths}} slot and an entry on its path's, two nodes whose clocks may differ (by far less than this
   * when they are NTP-synchronised). On one server (or a Sentinel-managed primary) both are on one clock and
   * the index keeps a path exactly as long as its entries.
   */
  static final long CLUSTER_CLOCK_MARGIN_MS = 5_000;
  /** ZRANGEBYLEX page size when an invalidation reads the paths under a prefix. */
  static final int RANGE_PAGE = 1000;
  /**
   * KEYS: paths, expiries, log, epoch. ARGV: index member, retain ms, fetch start, clock margin ms. Prunes,
   * indexes the path until its entry expires (Redis's clock, plus the margin), and returns {@code {expireAt,
   * invalidations logged since the fetch began, epoch}}: the entry is stored to expire at {@code expireAt}, so
   * never after its path leaves the index, and only if the epoch is still the one the store began in.
   */
  private static final String INDEX_PATH = NOW + prune("KEYS[1]", "KEYS[2]")
      + "local expireAt = now + tonumber(ARGV[2]) "
      + "redis.call('ZADD', KEYS[2], 'GT', expireAt + tonumber(ARGV[4]), ARGV[1]) "
      + "redis.call('ZADD', KEYS[1], 0, ARGV[1]) "
      + "return {expireAt, redis.call('ZRANGEBYSCORE', KEYS[3], ARGV[3], '+inf'), tonumber(redis.call('GET', KEYS[4]) or '0')}";
  /** Lua: returns 0 (nothing stored) when the path's tombstone {@code tomb} is at or after {@code fetchStart}. */
  private static String refusedByTomb(String tomb, String fetchStart) {
    return "local tomb = redis.call('GET', " + tomb + ") if tomb and tonumber(tomb) >= tonumber(" + fetchStart + ") then return 0 end ";
  }

  /** Lua: writes the entry hash to expire at {@code expireAt} and lists it ({@code member}) in its path's entry set. */
  private static String writeEntry(String entry, String meta, String body, String gz, String expireAt, String set, String member,
      String setTtl) {
    return "redis.call('HSET', " + entry + ", 'meta', " + meta + ", 'body', " + body + ", 'gz', " + gz + ") "
        + "redis.call('PEXPIREAT', " + entry + ", " + expireAt + ") redis.call('SADD', " + set + ", " + member + ") "
        + "redis.call('PEXPIRE', " + set + ", " + setTtl + ") ";
  }

  /**
   * Lua, after the entry is written under a fleet lease: ends the lease if this flight still holds it and, only if
   * another instance's flight waits for it (the mark its claim left), tells the fleet in the same step: the entry
   * itself ({@code frameHead .. body}, see {@link #landedFrame}) when it is small enough to carry (the head is
   * empty otherwise), else the {@code landed} message. Followers served from the frame need no round trip.
   */
  private static String land(String lease, String token, String mark, String channel, String message, String frameHead, String body) {
    return "if redis.call('GET', " + lease + ") == " + token + " then redis.call('DEL', " + lease + ") end "
        + "if redis.call('DEL', " + mark + ") == 1 then "
        + "if " + frameHead + " ~= '' then redis.call('PUBLISH', " + channel + ", " + frameHead + " .. " + body + ") "
        + "else redis.call('PUBLISH', " + channel + ", " + message + ") end end ";
  }

  /**
   * The entry step of a two-step store (Redis Cluster, or after invalidations since the fetch began). KEYS: entry,
   * its path's entry set, tomb, [lease, followers' mark]. ARGV: fetch start, meta, body, gz, expire at (ms), entry set
   * member, entry set ttl ms, [flight token, channel, landed message, landed frame head]. Returns 0 when the tombstone
   * refused the entry (nothing released or published), 1 when stored, 2 when stored under the lease and landed.
   */
  private static final String STORE_ENTRY = refusedByTomb("KEYS[3]", "ARGV[1]")
      + writeEntry("KEYS[1]", "ARGV[2]", "ARGV[3]", "ARGV[4]", "ARGV[5]", "KEYS[2]", "ARGV[6]", "ARGV[7]")
      + "if #KEYS == 3 then return 1 end "
      + land("KEYS[4]", "ARGV[8]", "KEYS[5]", "ARGV[9]", "ARGV[10]", "ARGV[11]", "ARGV[3]")
      + "return 2";
  /**
   * The whole store in one step, on one server (not Redis Cluster, where the index and the entry live on different
   * slots): {@link #INDEX_PATH} and {@link #STORE_ENTRY} together, one round trip instead of two, for the common case
   * that nothing was invalidated since the fetch began. KEYS: paths, expiries, log, epoch, entry, its path's entry
   * set, tomb, [lease, followers' mark]. ARGV: index member, retain ms, fetch start, epoch the store began in, meta,
   * body, gz, entry set member, entry set ttl ms, [flight token, channel, landed message, landed frame head]. Returns
   * -1 when the epoch changed (nothing stored), -2 when any invalidation was logged since the fetch began (nothing
   * done: the two-step store, which can tell whether it covers the path, decides), else as {@link #STORE_ENTRY}.
   */
  private static final String STORE_IN_ONE_STEP = "if tonumber(redis.call('GET', KEYS[4]) or '0') ~= tonumber(ARGV[4]) then return -1 end "
      + "if #redis.call('ZRANGEBYSCORE', KEYS[3], ARGV[3], '+inf', 'LIMIT', 0, 1) > 0 then return -2 end "
      + refusedByTomb("KEYS[7]", "ARGV[3]")
      + NOW + prune("KEYS[1]", "KEYS[2]")
      + "local expireAt = now + tonumber(ARGV[2]) "
      + "redis.call('ZADD', KEYS[2], 'GT', expireAt, ARGV[1]) "
      + "redis.call('ZADD', KEYS[1], 0, ARGV[1]) "
      + writeEntry("KEYS[5]", "ARGV[5]", "ARGV[6]", "ARGV[7]", "expireAt", "KEYS[6]", "ARGV[8]", "ARGV[9]")
      + "if #KEYS == 7 then return 1 end "
      + land("KEYS[8]", "ARGV[10]", "KEYS[9]", "ARGV[11]", "ARGV[12]", "ARGV[13]", "ARGV[6]")
      + "return 2";
  /** Entries up to this many stored bytes travel in a leader's landed message; larger ones are claimed from L2. */
  static final int LANDED_ENTRY_MAX = 64 * 1024;
  /** First byte of a landed frame: {@code L<head json>\n<stored body bytes>}; JSON messages begin with '{'. */
  private static final byte FRAME = 'L';
  /**
   * KEYS: log, epoch. ARGV: time, member ({@code time:/**}), forget before, window ms. Logs an invalidation of
   * everything and, in the same atomic step, starts a new epoch; returns it. A store that indexes its path
   * after this sees the invalidation (if its read began before) or the new epoch (if it began in the old one).
   */
  private static final String BUMP_EPOCH = "redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2]) "
      + "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3]) redis.call('PEXPIRE', KEYS[1], ARGV[4]) "
      + "return redis.call('INCR', KEYS[2])";
  /**
   * KEYS: a path's entry index, its tombstone. ARGV: invalidation time, window ms, entry key prefix. Raises the
   * tombstone to the time, then deletes every indexed entry and the index; returns how many. The entry keys are
   * built from the index (same hash tag, so the same slot).
   */
  private static final String DELETE_PATH = "local t = redis.call('GET', KEYS[2]) "
      + "if not t or tonumber(t) < tonumber(ARGV[1]) then redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2]) end "
      + "local members = redis.call('SMEMBERS', KEYS[1]) "
      + "for _, m in ipairs(members) do redis.call('DEL', ARGV[3] .. m) end "
      + "redis.call('DEL', KEYS[1]) return #members";
  /** KEYS: log, paths, expiries. ARGV: time, member, forget before, window ms. Logs an invalidation and prunes. */
  private static final String LOG_INVALIDATION = "redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2]) "
      + "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3]) redis.call('PEXPIRE', KEYS[1], ARGV[4]) "
      + NOW + prune("KEYS[2]", "KEYS[3]") + "return 1";

  /**
   * KEYS: entry, lease, followers' mark (one hash tag, so one slot). ARGV: flight token, lease ms. A miss's one
   * round trip for fleet-wide single flight: the entry if Redis has it ({@code {1, meta, body, gz}}); else the
   * lease, taken now ({@code {2}}, SET NX PX) or held by another flight ({@code {3, its remaining ms}}), which
   * then also finds the mark that tells it to publish its entry when it lands (the mark outlives two leases: a
   * follower that outwaits a renewed lease claims again and marks again).
   */
  private static final RedisLink.Script CLAIM = new RedisLink.Script(
      "local e = redis.call('HMGET', KEYS[1], 'meta', 'body', 'gz') "
      + "if e[1] and e[2] then return {1, e[1], e[2], e[3] or '0'} end "
      + "if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2} end "
      + "redis.call('SET', KEYS[3], '1', 'PX', 2 * tonumber(ARGV[2])) "
      + "return {3, redis.call('PTTL', KEYS[2])}");
  /** KEYS: lease. ARGV: flight token, lease ms. Extends the lease while this flight still holds it. */
  private static final RedisLink.Script RENEW = new RedisLink.Script(
      "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0");
  /** KEYS: lease. ARGV: flight token. Ends the lease if this flight still holds it. */
  private static final RedisLink.Script RELEASE = new RedisLink.Script(
      "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0");

  /**
   * Lua: removes up to {@link #PRUNE_PER_CALL} paths whose entries have all expired from the path index (the
   * sorted-by-path set {@code lex} and the by-expiry set {@code exp}); needs {@code now}.
   */
  private static String prune(String lex, String exp) {
    return "local old = redis.call('ZRANGEBYSCORE', " + exp + ", '-inf', '(' .. now, 'LIMIT', 0, " + PRUNE_PER_CALL + ") "
        + "if #old > 0 then redis.call('ZREM', " + lex + ", unpack(old)) redis.call('ZREM', " + exp + ", unpack(old)) end ";
  }

  private final RedisLink redis;
  private final boolean cluster;
  private final String prefix;
  private final long timeoutMs;
  private final long compressAbove;
  private final long indexTtlMs;
  private final CacheStats stats;
  private final WorkerPool codec;
  private final String instanceId;
  private final Consumer<JsonObject> onRemoteInvalidation;
  private final RedisLink.Watcher transitions = new Transitions();
  /**
   * Fleet leases this instance's flights hold, by full cache key: a store of such a key ends the lease and tells
   * the fleet in its own script ({@link #STORE_ENTRY}), and takes it out of here when it did.
   */
  private final ConcurrentHashMap<String, String> leases = new ConcurrentHashMap<>();
  /** Told of other instances' {@code landed} messages (key digest, outcome), on the link's context; set once. */
  private volatile BiConsumer<String, Landing> onLanded = (digest, landing) -> { };
  /**
   * Invalidations that could not reach Redis (lost or stalled), replayed and published as soon as it answers
   * again. Until then L2 reads and stores of the paths they cover are skipped: Redis may still hold the old
   * answer. Bounded: past the bound an invalidation is dropped (counted by {@link #droppedUpTo}), every L2 read
   * and store is skipped, and on return one epoch bump stands for all of them.
   */
  private final ConcurrentLinkedDeque<Kept> outbox = new ConcurrentLinkedDeque<>();
  private final AtomicInteger outboxSize = new AtomicInteger();
  static final int OUTBOX_MAX = 10_000;
  /** Numbers the invalidations kept or dropped, in the order they were acknowledged. */
  private final AtomicLong keptSeq = new AtomicLong();
  /** The number of the last invalidation dropped for want of room (0: none). */
  private final AtomicLong droppedUpTo = new AtomicLong();
  /** Every invalidation numbered up to this is covered by an epoch bump. */
  private volatile long bumpedUpTo;
  /**
   * The epoch this instance reads and stores in, part of every entry's key ({@code p{h}:e:<epoch>:<digest>});
   * -1 while unknown (at start and after a loss of Redis, until read again), and then L2 is not used. Learned
   * from Redis ({@code p{paths}:epoch}) at start and at every return, and from the {@code epoch} message an
   * instance publishes after it bumped it; only ever raised while known.
   */
  private final AtomicLong epoch = new AtomicLong(-1);

  private record Kept(long seq, PathPattern pattern) {}

  /** Entry reads of one event-loop turn, pipelined in one batch. */
  private final ReadBatcher reads;

  /**
   * @param redis the gateway's Redis, deployed
   * @param indexTtlMs lifetime of path indexes: the longest retain time of any route, so an index never
   *     expires before an entry it lists
   * @param onRemoteInvalidation called on the link's context with invalidations ({@code invalidate}), clears
   *     ({@code clear}) and epoch bumps ({@code epoch}: this instance has switched already, L1 is left) from
   *     other instances, and with {@code {"action":"clear"}} after Redis returns
   */
  public L2Store(RedisLink redis, String prefix, long timeoutMs, long compressAbove, long indexTtlMs, CacheStats stats,
      WorkerPool codec, String instanceId, Consumer<JsonObject> onRemoteInvalidation) {
    this.redis = redis;
    this.cluster = redis.cluster();
    this.prefix = keyspace(prefix);
    this.timeoutMs = timeoutMs;
    this.compressAbove = compressAbove;
    this.indexTtlMs = indexTtlMs;
    this.stats = stats;
    this.codec = codec;
    this.instanceId = instanceId;
    this.onRemoteInvalidation = onRemoteInvalidation;
    this.reads = new ReadBatcher(this::send, this::batch);
  }

  /** Watches the link and subscribes to invalidations; never fails (a dead Redis means degraded). */
  public Future<Void> start() {
    return redis.watch(transitions).compose(v -> redis.subscribe(channel(), this::onMessage))
        .compose(v -> connected() ? readEpoch() : Future.succeededFuture());
  }

  /** Reads the current epoch from Redis; a failure leaves it unknown (the link's return reads it again). */
  private Future<Void> readEpoch() {
    return send(Request.cmd(Command.GET).arg(epochKey()))
        .<Void>map(r -> {
          learnEpoch(r == null ? 0 : r.toLong());
          return null;
        })
        .otherwiseEmpty();
  }

  /** Raises the epoch to {@code seen} (epochs only grow; a late, older answer changes nothing). */
  private void learnEpoch(long seen) {
    epoch.accumulateAndGet(seen, Math::max);
  }

  public boolean connected() {
    return redis.connected();
  }

  private String tag(String path) {
    return prefix + "{" + Sha256.shortHex(path, 8) + "}";
  }

  /**
   * Where this version's cache keys live under the configured prefix: {@code <prefix>c2:} ({@code c1:} had a
   * path index of another layout). The cache and the
   * limiter have separate keyspaces ({@code c2:}, {@code r1:}), so clearing the cache never refills the
   * fleet's budgets, and the schema version in the name keeps instances of another layout (a rolling
   * upgrade) from reading or clearing these keys. The binary form of an entry's meta ({@link
   * CachedResponse#storedMeta}) did not need a new one: an earlier version finds it unreadable and takes the entry
   * for a miss (it fetches and stores JSON, which this one reads), while both keep sharing invalidations.
   */
  public static String keyspace(String prefix) {
    return prefix + "c2:";
  }

  /** {@code keyspace{hash of path}}: the hash tag shared by a path's entries and its index, for a configured prefix. */
  public static String tag(String configuredPrefix, String path) {
    return keyspace(configuredPrefix) + "{" + Sha256.shortHex(path, 8) + "}";
  }

  /** The entry's key in an epoch; its path's entry set lists it as {@code <epoch>:<digest>}. */
  private String entryKey(CacheKey key, long inEpoch) {
    return tag(key.path()) + ":e:" + inEpoch + ":" + key.digest();
  }

  /** The key's fleet lease in an epoch: beside its entry, on the entry's slot (the claim script reads both). */
  private String leaseKey(CacheKey key, long inEpoch) {
    return tag(key.path()) + ":l:" + inEpoch + ":" + key.digest();
  }

  /** Set by a claim that found the lease held: some instance waits for this key's flight (see {@link #CLAIM}). */
  private String followersKey(CacheKey key, long inEpoch) {
    return tag(key.path()) + ":w:" + inEpoch + ":" + key.digest();
  }

  /** Every cached path, as {@link #indexMember}, all scored 0: sorted by case-folded path for range reads. */
  private String pathsKey() {
    return prefix + "{paths}";
  }

  /** The same members scored by when their entries expire, for pruning. */
  private String expiriesKey() {
    return prefix + "{paths}:exp";
  }

  /** {@code <case-folded path>\0<path>}: sorted as patterns match, and naming the exact path (its hash tag). */
  static String indexMember(String path) {
    return PathPattern.fold(path) + '\0' + path;
  }

  /** Recent invalidations, {@code time:pattern} scored by time; on the {@code {paths}} slot with the path index. */
  private String invalidationLogKey() {
    return prefix + "{paths}:log";
  }

  /** The current epoch; on the {@code {paths}} slot with the log, so a bump and its log entry are one step. */
  private String epochKey() {
    return prefix + "{paths}:epoch";
  }

  private String channel() {
    return prefix + "invalidations";
  }

  /** @return the entry, or null on a miss, on error or while disconnected */
  public Future<CachedResponse> get(CacheKey key) {
    long e = epoch.get();
    if (e < 0 || !connected() || pendingCovers(key.path())) return Future.succeededFuture();
    Request hmget = Request.cmd(Command.HMGET).arg(entryKey(key, e)).arg("meta").arg("body").arg("gz");
    // A cluster spreads keys over nodes, where one batch cannot go: its reads go one by one.
    return (cluster ? send(hmget) : reads.read(hmget))
        .compose(r -> {
          if (r == null || r.size() < 2 || r.get(0) == null || r.get(1) == null) return Future.succeededFuture();
          return decode(r.get(0), r.get(1), r.get(2));
        })
        .otherwiseEmpty();
  }

  /** An entry's fields as stored ({@code meta}, {@code body}, {@code gz}); a compressed body is inflated on the worker pool. */
  private Future<CachedResponse> decode(Response metaField, Response bodyField, Response gzField) {
    return decode(metaField.toBuffer(), bodyField.toBuffer(), gzField != null && "1".equals(gzField.toString()));
  }

  private Future<CachedResponse> decode(Buffer meta, Buffer body, boolean gz) {
    // A bulk string or a frame's part is a copy of exactly its length already; an inflated body may not be.
    if (!gz) return Future.succeededFuture(CachedResponse.fromStored(meta, body));
    return codec.run(() -> CachedResponse.fromMeta(meta, Gzip.decompress(body, Long.MAX_VALUE)));
  }

  /** What a miss's claim found in Redis (see {@link #claim}). */
  record Claim(Kind kind, CachedResponse entry, long heldMs) {
    enum Kind {
      /** Redis has the entry (stored since the lookup missed). */
      ENTRY,
      /** This flight holds the lease now: it fetches. */
      LEASED,
      /** Another flight holds the lease, for {@code heldMs} more unless renewed or released. */
      HELD,
      /** Redis is away, failed, or may hold an answer an unreplayed invalidation covers: no lease, no entry. */
      UNAVAILABLE
    }

    static final Claim LEASED_NOW = new Claim(Kind.LEASED, null, 0);
    static final Claim NONE = new Claim(Kind.UNAVAILABLE, null, 0);
  }

  /**
   * One round trip ({@link #CLAIM}): the key's entry if Redis has it, else a lease on the key for
   * {@code leaseMs} (taken or held by another flight). Never fails: trouble is {@link Claim.Kind#UNAVAILABLE}.
   *
   * @param token names this flight in the lease (instance id and a sequence number)
   */
  Future<Claim> claim(CacheKey key, String token, long leaseMs) {
    long e = epoch.get();
    if (e < 0 || !connected() || pendingCovers(key.path())) return Future.succeededFuture(Claim.NONE);
    return redis.eval(CLAIM, List.of(entryKey(key, e), leaseKey(key, e), followersKey(key, e)), List.of(token, Long.toString(leaseMs)), timeoutMs)
        .onFailure(this::count)
        .compose(r -> switch (r.get(0).toInteger()) {
          case 1 -> decode(r.get(1), r.get(2), r.get(3)).map(c -> new Claim(Claim.Kind.ENTRY, c, 0));
          case 2 -> Future.succeededFuture(Claim.LEASED_NOW);
          default -> Future.succeededFuture(new Claim(Claim.Kind.HELD, null, Math.max(0, r.get(1).toLong())));
        })
        .otherwise(Claim.NONE);
  }

  /** This instance's flight {@code token} holds {@code key}'s lease: a store of the key releases it (see {@link #put}). */
  void holding(CacheKey key, String token) {
    leases.put(key.value(), token);
  }

  /**
   * The flight is over: forgets its lease.
   *
   * @return false when a store of the key has already released the lease and told the fleet
   */
  boolean landing(CacheKey key, String token) {
    return leases.remove(key.value(), token);
  }

  /**
   * The head of a landed frame that carries the entry: {@code L{"key","origin","meta","gz"}\n}, to which the store
   * script appends the stored body bytes. JSON escapes every newline, so the first one ends the head.
   */
  private String landedFrame(CacheKey key, JsonObject meta, boolean gz) {
    return (char) FRAME + new JsonObject().put("key", key.digest()).put("origin", instanceId).put("meta", meta)
        .put("gz", gz).encode() + "\n";
  }

  private JsonObject landedMessage(CacheKey key, String outcome) {
    return new JsonObject().put("action", "landed").put("key", key.digest()).put("outcome", outcome).put("origin", instanceId);
  }

  /** Extends a lease this flight holds to {@code leaseMs} from now; best effort. */
  void renew(CacheKey key, String token, long leaseMs) {
    long e = epoch.get();
    if (e < 0 || !connected()) return;
    redis.eval(RENEW, List.of(leaseKey(key, e)), List.of(token, Long.toString(leaseMs)), timeoutMs).onFailure(this::count);
  }

  /**
   * Ends a lease this flight holds and tells the other instances that its key's flight is over:
   * {@code {"action":"landed","key":"<key digest>","outcome":"stored|unstored|failed","origin":...}} on the
   * invalidation channel (in order with invalidations, through the one subscription every instance has). Best
   * effort: a lost release leaves the lease to expire.
   */
  Future<Void> release(CacheKey key, String token, String outcome) {
    long e = epoch.get();
    if (e < 0 || !connected()) return Future.succeededFuture();
    // Both at once (one round trip on the critical path of the followers): a follower that claims before the
    // lease is gone still finds the entry first, which the claim script reads before the lease.
    Future<Response> released = redis.eval(RELEASE, List.of(leaseKey(key, e)), List.of(token), timeoutMs).onFailure(this::count);
    Future<Void> told = publish(landedMessage(key, outcome));
    return Future.join(released, told).<Void>mapEmpty().otherwiseEmpty();
  }

  /**
   * Where other instances' {@code landed} messages go (key digest, and the outcome with the entry when the message
   * carries it), on the link's context.
   */
  void onLanded(BiConsumer<String, Landing> listener) {
    this.onLanded = listener;
  }

  /**
   * Stores an entry with Redis expiry = its retain time; failures are counted, not raised.
   *
   * <p>A store can arrive after a write's invalidation although its upstream read began before the write
   * (a slow fetch, or a store still in flight): storing it would bring the old answer back for a whole TTL.
   * So the store first indexes its path and, in the same atomic step, reads the invalidations logged since
   * its fetch began; one that covers the path cancels the store. An invalidation logged after that step
   * finds the path in the index and leaves a tombstone that the entry script checks. Either way the late
   * answer is dropped. On one server the usual case (nothing logged since the fetch began) is all one script,
   * {@link #STORE_IN_ONE_STEP}: one round trip.
   *
   * @param fetchBeganMillis wall-clock time the upstream read for this answer began
   */
  public Future<Void> put(CacheKey key, CachedResponse response, long fetchBeganMillis) {
    long e = epoch.get();
    if (e < 0 || !connected() || pendingCovers(key.path())) return Future.succeededFuture();
    if (fetchBeganMillis < System.currentTimeMillis() - INVALIDATION_WINDOW_MS) return Future.succeededFuture();
    boolean compress = response.body().length() > compressAbove;
    Future<Buffer> body = compress
        ? codec.run(() -> Gzip.compress(response.body()))
        : Future.succeededFuture(response.body());
    return body.compose(b -> {
          if (cluster) return storeInTwoSteps(key, response, fetchBeganMillis, e, b, compress);
          String token = leases.get(key.value());
          String tag = tag(key.path());
          Request store = Request.cmd(Command.EVAL).arg(STORE_IN_ONE_STEP).arg(token == null ? 7 : 9)
              .arg(pathsKey()).arg(expiriesKey()).arg(invalidationLogKey()).arg(epochKey())
              .arg(entryKey(key, e)).arg(tag + ":keys").arg(tag + ":tomb");
          if (token != null) store.arg(leaseKey(key, e)).arg(followersKey(key, e));
          store.arg(indexMember(key.path())).arg(response.retainMillis()).arg(fetchBeganMillis).arg(e)
              .arg(response.storedMeta()).arg(b).arg(compress ? "1" : "0").arg(e + ":" + key.digest())
              .arg(Math.max(indexTtlMs, response.retainMillis()));
          if (token != null) landArgs(store, key, response, token, b, compress);
          return send(store).compose(r -> {
            int outcome = r == null ? 0 : r.toInteger();
            if (outcome == -2) return storeInTwoSteps(key, response, fetchBeganMillis, e, b, compress);
            if (outcome == 2) leases.remove(key.value(), token);
            return Future.<Void>succeededFuture();
          });
        })
        .<Void>mapEmpty().otherwiseEmpty();
  }

  /**
   * The store as two scripts on two slots (Redis Cluster, or after invalidations since the fetch began): index
   * the path and read the invalidations logged since the fetch began ({@link #INDEX_PATH}), then, unless one of
   * them covers the path, write the entry ({@link #STORE_ENTRY}, which also lands a flight under a lease).
   */
  private Future<Void> storeInTwoSteps(CacheKey key, CachedResponse response, long fetchBeganMillis, long e, Buffer b, boolean compress) {
    return send(Request.cmd(Command.EVAL).arg(INDEX_PATH).arg(4).arg(pathsKey()).arg(expiriesKey())
            .arg(invalidationLogKey()).arg(epochKey()).arg(indexMember(key.path())).arg(response.retainMillis()).arg(fetchBeganMillis)
            .arg(cluster ? CLUSTER_CLOCK_MARGIN_MS : 0))
        .compose(indexed -> {
          long expireAt = indexed.get(0).toLong();
          // A new epoch since this store began: older answers are unreadable now, this one may be older too.
          if (indexed.get(2).toLong() != e) return Future.succeededFuture();
          for (Response logged : indexed.get(1)) {
            if (coversPath(logged.toString(), key.path())) return Future.succeededFuture();
          }
          String tag = tag(key.path());
          String token = leases.get(key.value());
          Request store = Request.cmd(Command.EVAL).arg(STORE_ENTRY).arg(token == null ? 3 : 5)
              .arg(entryKey(key, e)).arg(tag + ":keys").arg(tag + ":tomb");
          if (token != null) store.arg(leaseKey(key, e)).arg(followersKey(key, e));
          store.arg(fetchBeganMillis).arg(response.storedMeta()).arg(b).arg(compress ? "1" : "0")
              .arg(expireAt).arg(e + ":" + key.digest()).arg(Math.max(indexTtlMs, response.retainMillis()));
          if (token == null) return send(store);
          landArgs(store, key, response, token, b, compress);
          return send(store).onSuccess(r -> {
            if (r != null && r.toInteger() == 2) leases.remove(key.value(), token);
          });
        })
        .mapEmpty();
  }

  /** The arguments a store under a fleet lease adds: the flight, where to tell the fleet, and what. */
  private void landArgs(Request store, CacheKey key, CachedResponse response, String token, Buffer b, boolean compress) {
    store.arg(token).arg(channel()).arg(landedMessage(key, FleetCoalescer.STORED).encode())
        .arg(b.length() <= LANDED_ENTRY_MAX ? landedFrame(key, response.meta(), compress) : "");
  }

  /** A logged invalidation ({@code time:pattern}) whose pattern matches {@code path}. */
  private static boolean coversPath(String logged, String path) {
    int colon = logged.indexOf(':');
    String pattern = colon < 0 ? logged : logged.substring(colon + 1);
    return PathPattern.valid(pattern) && PathPattern.compile(pattern).matches(path);
  }

  /**
   * Deletes every entry under paths matching the glob, in all partitions, then tells the other instances.
   *
   * @return how many entries were deleted from Redis
   */
  public Future<Long> invalidate(PathPattern glob) {
    if (!connected()) {
      keep(glob);
      return Future.succeededFuture(0L);
    }
    return apply(glob).recover(failure -> {
      // Redis stalled or went away mid-way: the write is acknowledged, so the invalidation must not be lost.
      keep(glob);
      return Future.succeededFuture(0L);
    });
  }

  private Future<Long> apply(PathPattern glob) {
    long at = System.currentTimeMillis();
    // Logged before the scan: a store that indexes its path after this sees the entry and cancels itself.
    return send(Request.cmd(Command.EVAL).arg(LOG_INVALIDATION).arg(3).arg(invalidationLogKey()).arg(pathsKey()).arg(expiriesKey())
            .arg(at).arg(at + ":" + glob).arg(at - INVALIDATION_WINDOW_MS).arg(INVALIDATION_WINDOW_MS))
        .compose(logged -> indexedPaths(glob))
        .compose(paths -> {
          Future<Long> chain = Future.succeededFuture(0L);
          for (String path : paths) chain = chain.compose(d -> deletePath(path, at).map(x -> d + x));
          return chain;
        })
        .compose(n -> publish(new JsonObject().put("action", "invalidate").put("pattern", glob.toString())).map(n));
  }

  private void keep(PathPattern glob) {
    long seq = keptSeq.incrementAndGet();
    if (outboxSize.incrementAndGet() > OUTBOX_MAX) {
      outboxSize.decrementAndGet();
      droppedUpTo.accumulateAndGet(seq, Math::max);
      return;
    }
    outbox.addLast(new Kept(seq, glob));
    LOG.debug("invalidation {} kept until Redis answers ({} pending)", glob, outboxSize.get());
  }

  /** True while an invalidation was dropped that no epoch bump covers yet. */
  private boolean overflowed() {
    return droppedUpTo.get() > bumpedUpTo;
  }

  private boolean pendingCovers(String path) {
    if (overflowed()) return true;
    if (outboxSize.get() == 0) return false;
    for (Kept k : outbox) if (k.pattern.matches(path)) return true;
    return false;
  }

  /** Invalidations waiting for Redis (0 when none: every acknowledged write has reached every instance). */
  public int pendingInvalidations() {
    return overflowed() ? OUTBOX_MAX + 1 : outboxSize.get();
  }

  /**
   * Replays what was kept, one at a time, in order. After an overflow, one epoch bump stands for every
   * invalidation kept or dropped until then (those kept are then dropped from the outbox unreplayed); what is
   * kept meanwhile is replayed after it. A failure leaves the rest for the next return of Redis.
   */
  private Future<Void> replay() {
    if (overflowed()) {
      long upTo = keptSeq.get();
      return bumpEpoch().compose(n -> {
        if (upTo > bumpedUpTo) bumpedUpTo = upTo;
        for (Kept k = outbox.peekFirst(); k != null && k.seq <= upTo; k = outbox.peekFirst()) {
          if (outbox.remove(k)) outboxSize.decrementAndGet();
        }
        return replay();
      }, failure -> Future.succeededFuture());
    }
    Kept next = outbox.peekFirst();
    if (next == null) return Future.succeededFuture();
    return apply(next.pattern).compose(n -> {
      if (outbox.remove(next)) outboxSize.decrementAndGet();
      return replay();
    }).recover(failure -> Future.succeededFuture());
  }

  /**
   * Makes every L2 entry written so far unreadable, in O(1): logs an invalidation of every path (late stores of
   * reads that began before it are refused) and starts a new epoch, atomically; then learns it and tells the
   * other instances, which switch to it and empty their L1. The old epoch's entries are left to expire.
   */
  private Future<Long> bumpEpoch() {
    long at = System.currentTimeMillis();
    return send(Request.cmd(Command.EVAL).arg(BUMP_EPOCH).arg(2).arg(invalidationLogKey()).arg(epochKey())
            .arg(at).arg(at + ":/**").arg(at - INVALIDATION_WINDOW_MS).arg(INVALIDATION_WINDOW_MS))
        .map(Response::toLong)
        .compose(n -> {
          learnEpoch(n);
          LOG.warn("L2: invalidations overflowed the outbox while Redis was away; epoch {} begun, every older L2 entry is unreadable", n);
          return publish(new JsonObject().put("action", "epoch").put("epoch", n)).map(n);
        });
  }

  /**
   * The indexed paths {@code pattern} matches: the index is read under the pattern's folded prefixes only
   * (ZRANGEBYLEX, pages of {@link #RANGE_PAGE}, all prefixes at once), then each candidate is matched exactly.
   */
  private Future<List<String>> indexedPaths(PathPattern pattern) {
    Set<String> members = ConcurrentHashMap.newKeySet();
    List<Future<Void>> reads = new ArrayList<>();
    for (PathPattern.Prefix prefix : pattern.prefixes()) {
      Buffer text = Buffer.buffer(prefix.text());
      if (prefix.wholeSegments()) {
        // The prefix itself (members "<prefix>\0<path>"), then what lies below "<prefix>/".
        if (text.length() > 0) reads.add(range(bound('[', text, (byte) 0), bound('(', text, (byte) 1), members));
        reads.add(range(bound('[', text, (byte) '/'), bound('(', text, (byte) ('/' + 1)), members));
      } else {
        reads.add(range(bound('[', text, null), bound('(', text, (byte) 0xff), members));
      }
    }
    return Future.all(reads).map(v -> {
      List<String> paths = new ArrayList<>();
      for (String member : members) {
        String path = member.substring(member.indexOf('\0') + 1);
        if (pattern.matches(path)) paths.add(path);
      }
      return paths;
    });
  }

  /** A ZRANGEBYLEX bound: {@code [} (inclusive) or {@code (} (exclusive), the text's UTF-8, and one more byte. */
  private static Buffer bound(char kind, Buffer text, Byte last) {
    Buffer b = Buffer.buffer().appendByte((byte) kind).appendBuffer(text);
    return last == null ? b : b.appendByte(last);
  }

  private Future<Void> range(Buffer min, Buffer max, Set<String> into) {
    return send(Request.cmd(Command.ZRANGEBYLEX).arg(pathsKey()).arg(min).arg(max).arg("LIMIT").arg(0).arg(RANGE_PAGE))
        .compose(r -> {
          for (Response m : r) into.add(m.toString());
          if (r.size() < RANGE_PAGE) return Future.succeededFuture();
          return range(Buffer.buffer().appendByte((byte) '(').appendBuffer(r.get(r.size() - 1).toBuffer()), max, into);
        });
  }

  /**
   * Deletes a path's entries and leaves its tombstone. Its index member stays until the entries it listed would
   * have expired: taking it out here could race with a store that indexes the path again meanwhile.
   */
  private Future<Long> deletePath(String path, long at) {
    String tag = tag(path);
    // One atomic step (the entries, their index and the tombstone share a slot): a store whose path was indexed
    // before this invalidation was logged either ran before this step, and its entry is in the set deleted
    // here, or runs after it and meets the tombstone. Read-then-delete in two steps let a store land between
    // them and survive the write (found by ChaosSoakTest: back-to-back writes, concurrent reads).
    return send(Request.cmd(Command.EVAL).arg(DELETE_PATH).arg(2).arg(tag + ":keys").arg(tag + ":tomb")
        .arg(at).arg(INVALIDATION_WINDOW_MS).arg(tag + ":e:")).map(Response::toLong);
  }

  /** Deletes every key under this instance's prefix (SCAN, never KEYS) and tells the other instances. */
  public Future<Long> clear() {
    if (!connected()) return Future.succeededFuture(0L);
    return redis.nodes(timeoutMs).onFailure(this::count)
        .compose(nodes -> {
          Future<Long> chain = Future.succeededFuture(0L);
          for (RedisLink.Node node : nodes) chain = chain.compose(d -> clearFrom(node, "0", d));
          return chain;
        })
        .compose(n -> publish(new JsonObject().put("action", "clear")).map(n))
        .otherwise(0L);
  }

  /**
   * SCAN on one server. A cluster client would send SCAN to one arbitrary node, so in cluster mode each
   * master is scanned through a client of its own; the keys found live on that master and are deleted there.
   */
  private Future<Long> clearFrom(RedisLink.Node node, String cursor, long deleted) {
    return node.send(Request.cmd(Command.SCAN).arg(cursor).arg("MATCH").arg(prefix + "*").arg("COUNT").arg(1000), timeoutMs)
        .onFailure(this::count)
        .compose(r -> {
          String next = r.get(0).toString();
          Response keys = r.get(1);
          Future<Long> step = Future.succeededFuture(deleted);
          List<Request> dels = new ArrayList<>();
          for (Response k : keys) {
            // The epoch only grows: deleting it would start it again at 0, below what instances already use.
            if (!k.toString().equals(epochKey())) dels.add(Request.cmd(Command.DEL).arg(k.toString()));
          }
          if (!dels.isEmpty()) {
            step = node.batch(dels, timeoutMs).onFailure(this::count).map(deleted + dels.size());
          }
          return step.compose(d -> "0".equals(next) ? Future.succeededFuture(d) : clearFrom(node, next, d));
        });
  }

  private Future<Void> publish(JsonObject message) {
    message.put("origin", instanceId);
    return send(Request.cmd(Command.PUBLISH).arg(channel()).arg(message.encode())).mapEmpty();
  }

  /**
   * How another instance's flight of a key ended; {@code entry} (decoded only when asked, since most instances
   * have no flight of the key) is there when the leader's message carried what it stored.
   */
  record Landing(String outcome, Supplier<Future<CachedResponse>> entry) {}

  /** An invalidation or landed message published by any instance; this one's own are skipped. Runs on the link's context. */
  private void onMessage(Buffer payload) {
    try {
      if (payload.length() > 0 && payload.getByte(0) == FRAME) {
        onLandedFrame(payload);
        return;
      }
      JsonObject msg = new JsonObject(payload);
      if (instanceId.equals(msg.getString("origin"))) return;
      if ("landed".equals(msg.getString("action"))) {
        onLanded.accept(msg.getString("key", ""), new Landing(msg.getString("outcome", ""), null));
        return;
      }
      // Switch first: no read of the old epoch starts after the L1 that may hold its entries is emptied.
      if ("epoch".equals(msg.getString("action"))) learnEpoch(msg.getLong("epoch", 0L));
      onRemoteInvalidation.accept(msg);
    } catch (RuntimeException e) {
      LOG.debug("ignoring malformed invalidation message");
    }
  }

  private void onLandedFrame(Buffer frame) {
    int end = 1;
    while (end < frame.length() && frame.getByte(end) != '\n') end++;
    if (end == frame.length()) throw new IllegalArgumentException("landed frame without a head");
    JsonObject head = new JsonObject(frame.getBuffer(1, end));
    if (instanceId.equals(head.getString("origin"))) return;
    Buffer body = frame.getBuffer(end + 1, frame.length());
    JsonObject meta = head.getJsonObject("meta");
    boolean gz = head.getBoolean("gz", false);
    onLanded.accept(head.getString("key", ""), new Landing(FleetCoalescer.STORED, () -> decode(meta.toBuffer(), body, gz)));
  }

  private Future<Response> send(Request request) {
    return redis.send(request, timeoutMs).onFailure(this::count);
  }

  private Future<List<Response>> batch(List<Request> requests) {
    return redis.batch(requests, timeoutMs).onFailure(this::count);
  }

  private void count(Throwable failure) {
    stats.l2Errors.increment();
  }

  /** Stops listening to the link and to invalidations; the link itself belongs to the gateway. */
  public void close() {
    redis.unsubscribe(channel());
    redis.unwatch(transitions);
  }

  /** What the loss and the return of Redis mean for L2. Runs on the link's context. */
  private final class Transitions implements RedisLink.Watcher {
    @Override
    public void down(Throwable cause) {
      LOG.warn("L2 (Redis) unavailable, serving from L1 and upstream: {}", String.valueOf(cause));
      // Another instance may bump the epoch meanwhile, unheard: read it again before L2 is used.
      epoch.set(-1);
    }

    @Override
    public void up() {
      LOG.warn("L2 (Redis) reconnected; replaying {} kept invalidation(s)", pendingInvalidations());
      readEpoch().compose(v -> replay());
      // Invalidations published while the subscription was away were missed: this L1 may hold entries
      // other instances evicted, so it starts again from L2 rather than serve them until their TTL.
      onRemoteInvalidation.accept(new JsonObject().put("action", "clear"));
    }

    @Override
    public JsonObject event(boolean up) {
      return new JsonObject().put("type", "l2").put("connected", up);
    }
  }


}
