package io.tollgate.ratelimit;

import io.tollgate.config.RateLimitOptions;
import java.util.ArrayList;
import io.tollgate.metrics.Readiness;
import io.tollgate.proxy.Charge;
import io.tollgate.proxy.Flow;
import io.tollgate.proxy.GatewayException;
import io.tollgate.redis.RedisLink;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Response;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Buckets in Redis so that N gateways share one budget. Each bucket is one hash ({@code tokens}, {@code ts},
 * {@code paused}) under a key with a hash tag, updated by one Lua script per admission that reads the time
 * from Redis ({@code TIME}), never from the gateways' clocks. The script reserves like {@link TokenBucket}:
 * the wait comes back and the waiting happens here, on a timer.
 *
 * <p>Any Redis error or a reply slower than {@code redisTimeout} marks the gateway's {@link RedisLink} down
 * and switches to local buckets at {@code rate / instances} (the request that saw the error is admitted
 * locally, never failed); this limiter then reports DEGRADED and announces {@code rateLimit} on
 * {@code tollgate.events}. When the link's probe finds Redis again, buckets are shared again. Local twins of
 * the buckets are also paused on upstream throttling, so that waiters are pushed back in either mode.
 */
final class RedisRateLimiter implements RateLimiter {
  private static final Logger LOG = LoggerFactory.getLogger(RedisRateLimiter.class);
  static final String COMPONENT = "rateLimit";

  /**
   * KEYS[1] bucket; ARGV rate/s, burst, cost, maxWaitMs, ttlMs. The rate is the learned one ({@code rate} field)
   * once there is one. Returns {admitted 1|0, waitMs, tokens}; a request that must wait marks {@code demand}.
   */
  static final String ACQUIRE = """
      if redis.replicate_commands then redis.replicate_commands() end
      local t = redis.call('TIME')
      local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
      local h = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'paused', 'rate')
      local rate = (tonumber(h[4]) or tonumber(ARGV[1])) / 1000
      local burst = tonumber(ARGV[2])
      local cost = tonumber(ARGV[3])
      local tokens = tonumber(h[1]) or burst
      local ts = tonumber(h[2]) or now
      local paused = tonumber(h[3]) or 0
      local from = math.max(ts, paused)
      if now > from then tokens = math.min(burst, tokens + (now - from) * rate) end
      if now > ts then ts = now end
      local wait = math.max(0, paused - now)
      local short = cost > tokens
      if short then wait = wait + (cost - tokens) / rate end
      if wait > tonumber(ARGV[4]) then
        redis.call('HSET', KEYS[1], 'demand', '1')
        return {0, tostring(wait), tostring(tokens)}
      end
      tokens = tokens - cost
      redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
      if short then redis.call('HSET', KEYS[1], 'demand', '1') end
      redis.call('PEXPIRE', KEYS[1], math.max(tonumber(ARGV[5]), math.ceil(wait) + 1000))
      return {1, tostring(wait), tostring(tokens)}
      """;
  /** KEYS[1] bucket; ARGV pauseMs, rate/s, burst, ttlMs. Returns 1 when the bucket was not paused before. */
  static final String PAUSE = """
      if redis.replicate_commands then redis.replicate_commands() end
      local t = redis.call('TIME')
      local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
      local h = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'paused', 'rate')
      local burst = tonumber(ARGV[3])
      local tokens = tonumber(h[1]) or burst
      local ts = tonumber(h[2]) or now
      local paused = tonumber(h[3]) or 0
      local untilMs = now + tonumber(ARGV[1])
      if untilMs <= paused then return 0 end
      local from = math.max(ts, paused)
      if now > from then tokens = math.min(burst, tokens + (now - from) * (tonumber(h[4]) or tonumber(ARGV[2])) / 1000) end
      if now > ts then ts = now end
      tokens = math.min(tokens, 0)
      redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts), 'paused', tostring(untilMs))
      redis.call('PEXPIRE', KEYS[1], math.max(tonumber(ARGV[4]), tonumber(ARGV[1]) + 1000))
      if paused > now then return 0 end
      return 1
      """;
  /**
   * KEYS[1] bucket; ARGV tokens, burst: gives back a reservation another limit made useless (positive), or takes
   * what a call cost besides its estimate (negative: the balance may go below zero, later requests wait).
   */
  static final String REFUND = """
      local v = tonumber(redis.call('HGET', KEYS[1], 'tokens'))
      if v == nil then return 0 end
      redis.call('HSET', KEYS[1], 'tokens', tostring(math.min(tonumber(ARGV[2]), v + tonumber(ARGV[1]))))
      return 1
      """;
  /**
   * {@link AdaptiveRate}'s rules on the shared bucket, so that every gateway on this Redis learns one rate.
   * KEYS[1] bucket; ARGV kind ('t' throttled, 'a' answered), usage (-1 unknown), configured rate, max rate
   * (-1 none), burst, ttlMs. Saved-up tokens are refilled at the old rate first. Returns {from, to, reason}.
   */
  static final String LEARN = """
      if redis.replicate_commands then redis.replicate_commands() end
      local t = redis.call('TIME')
      local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
      local h = redis.call('HMGET', KEYS[1], 'rate', 'thr', 'step', 'grown', 'ucut', 'tcut', 'demand', 'tokens', 'ts', 'paused')
      local start = tonumber(ARGV[3])
      local max = tonumber(ARGV[4])
      if max < 0 then max = math.huge end
      local burst = tonumber(ARGV[5])
      local rate = tonumber(h[1]) or start
      local thr = tonumber(h[2])
      if thr == nil then
        if max == start then thr = start else thr = -1 end
      end
      local step = tonumber(h[3]) or start * 0.05
      local grown = tonumber(h[4]) or now
      local ucut = tonumber(h[5]) or (now - 1000)
      local tcut = tonumber(h[6]) or (now - 1000)
      local usage = tonumber(ARGV[2])
      local from = rate
      local reason = ''
      local function cut(f, why)
        rate = math.max(start * 0.01, rate * f)
        thr = rate
        step = rate * 0.05
        grown = now
        reason = why
      end
      if ARGV[1] == 't' then
        if now - tcut >= 1000 then
          tcut = now
          if thr < 0 then cut(0.5, 'throttled') else cut(0.7, 'throttled') end
        end
      elseif usage >= 0.8 and thr < 0 then
        ucut = now
        cut(0.5, 'usage')
      elseif usage >= 0.95 then
        if now - ucut >= 1000 then
          ucut = now
          cut(0.9, 'usage')
        end
      elseif usage >= 0.8 then
        if thr < 0 or rate < thr then thr = rate end
      elseif h[7] == '1' and rate < max and now - math.max(ucut, tcut) >= 1000
          and now - grown >= 1000 then
        grown = now
        if thr < 0 or rate < thr then
          rate = rate * 1.5
          if thr >= 0 then rate = math.min(rate, thr) end
          reason = 'slow-start'
        else
          rate = rate + step
          reason = 'increase'
        end
        rate = math.min(rate, max)
      end
      if rate ~= from then
        local tokens = tonumber(h[8]) or burst
        local ts = tonumber(h[9]) or now
        local paused = tonumber(h[10]) or 0
        local since = math.max(ts, paused)
        if now > since then tokens = math.min(burst, tokens + (now - since) * from / 1000) end
        if now > ts then ts = now end
        redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts), 'demand', '0')
      else
        reason = ''
      end
      redis.call('HSET', KEYS[1], 'rate', tostring(rate), 'thr', tostring(thr), 'step', tostring(step),
        'grown', tostring(grown), 'ucut', tostring(ucut), 'tcut', tostring(tcut))
      redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[6]))
      return {tostring(from), tostring(rate), reason}
      """;

  private final Vertx vertx;
  private final RedisLink redis;
  private final RateLimitOptions options;
  private final Readiness readiness;
  private final LocalRateLimiter fallback;
  private final long maxWaitMs;
  private final long timeoutMs;
  private final String ttlMs;
  private final String prefix;
  private final RedisLink.Script acquire = new RedisLink.Script(ACQUIRE);
  private final RedisLink.Script pause = new RedisLink.Script(PAUSE);
  private final RedisLink.Script refund = new RedisLink.Script(REFUND);
  private final RedisLink.Script learn = new RedisLink.Script(LEARN);
  private final RedisLink.Watcher transitions = new Transitions();
  private volatile boolean closed;

  /** @param redis the gateway's Redis, deployed */
  RedisRateLimiter(Vertx vertx, RedisLink redis, RateLimitOptions options, Readiness readiness) {
    this.vertx = vertx;
    this.redis = redis;
    this.options = new RateLimitOptions(options);
    this.readiness = readiness;
    this.fallback = new LocalRateLimiter(vertx, options, System::nanoTime, options.getInstances());
    this.maxWaitMs = options.getMaxWait().toMillis();
    this.timeoutMs = options.getRedisTimeout().toMillis();
    this.ttlMs = Long.toString(options.getIdleBucketTtl().toMillis());
    this.prefix = options.getKeyPrefix();
    readiness.report(COMPONENT, Readiness.State.UP, "distributed (redis)");
    redis.watch(transitions);
  }

  /**
   * The local twins are paused with the shared buckets whenever this gateway learns a pause, so the probe is
   * one per pause per gateway.
   */
  @Override
  public boolean holdForProbe(List<Charge> charges) {
    return fallback.holdForProbe(charges);
  }

  @Override
  public void probed(List<Charge> charges) {
    fallback.probed(charges);
  }

  @Override
  public Future<Permit> acquire(List<Charge> charges) {
    return acquire(charges, Duration.ofMillis(maxWaitMs));
  }

  /**
   * Waiters queue fairly in this gateway's gates ({@link FairGate}); the tokens come from the shared bucket, one
   * script per reservation, so every gateway's queue draws on one budget. While Redis is lost, from the local
   * twin at {@code rate / instances}; a Redis error takes this reservation from the twin instead of failing it.
   */
  @Override
  public Future<Permit> acquire(List<Charge> charges, Duration maxWait, Flow flow) {
    if (charges.isEmpty()) return Future.succeededFuture(Permit.FREE);
    long waitNanos = TimeUnit.MILLISECONDS.toNanos(Math.min(maxWaitMs, Math.max(0, maxWait.toMillis())));
    return fallback.acquire(charges, waitNanos, flow, this::tokens);
  }

  /** The shared bucket of a charge as a token source; the twin when Redis is lost or fails. */
  private FairGate.Tokens tokens(Charge c) {
    FairGate.Tokens local = fallback.tokens(c);
    return new FairGate.Tokens() {
      @Override public Future<Long> reserve(Charge charge, long maxWaitNanos) {
        if (!redis.connected()) return local.reserve(charge, maxWaitNanos);
        long ms = TimeUnit.NANOSECONDS.toMillis(maxWaitNanos);
        return run(acquire, key(charge), Double.toString(charge.rate()), Integer.toString(charge.burst()),
            Integer.toString(charge.tokens()), Long.toString(ms), ttlMs).transform(ar -> {
              // A Redis failure has marked the link down already: this request is admitted locally, never failed.
              if (ar.failed()) return local.reserve(charge, maxWaitNanos);
              Response r = ar.result();
              long wait = (long) Math.ceil(Double.parseDouble(r.get(1).toString()));
              if (r.get(0).toInteger() != 1) {
                double available = Double.parseDouble(r.get(2).toString());
                return Future.failedFuture(LocalRateLimiter.tooMany(charge, available, TimeUnit.MILLISECONDS.toNanos(wait), charge.burst()));
              }
              return Future.succeededFuture(TimeUnit.MILLISECONDS.toNanos(wait));
            });
      }

      @Override public void refund(Charge charge) {
        if (redis.connected()) run(refund, key(charge), Integer.toString(charge.tokens()), Integer.toString(charge.burst()));
        else local.refund(charge);
      }

      @Override public TokenBucket twin() { return local.twin(); }

      /** Unknown while the shared bucket decides (other gateways draw on it too); the twin's when Redis is lost. */
      @Override public long leastWait(int cost, long ahead) {
        if (!redis.connected()) return local.leastWait(cost, ahead);
        TokenBucket t = local.twin();
        return t.paused() ? t.leastWait(0, 0) : -1;
      }
    };
  }

  private Future<Void> sleep(long ms) {
    return io.tollgate.proxy.Timers.delay(vertx, Math.max(1, ms));
  }

  @Override
  public List<Charge> pause(List<Charge> charges, Duration retryAfter) {
    List<Charge> began = fallback.pause(charges, retryAfter);
    if (redis.connected()) {
      for (Charge c : charges) {
        run(pause, key(c), Long.toString(retryAfter.toMillis()), Double.toString(c.rate()), Integer.toString(c.burst()), ttlMs);
      }
    }
    return began;
  }

  /** The queues are this gateway's own (the twins' gates), whichever bucket the tokens come from. */
  @Override
  public int waiting() {
    return fallback.waiting();
  }

  @Override
  public String mode() {
    return redis.connected() ? "redis" : "local-fallback";
  }

  /** Learned in Redis, shared; the local twin follows (so that a fallback starts from what was learned). */
  @Override
  public Future<List<RateChange>> learn(List<Charge> charges, double usage, boolean throttled) {
    if (!redis.connected()) return fallback.learn(charges, usage, throttled);
    if (!throttled) fallback.clearProbes(charges);
    String kind = throttled ? "t" : "a";
    String u = Double.isNaN(usage) ? "-1" : Double.toString(usage);
    List<Future<RateChange>> each = new ArrayList<>(charges.size());
    boolean signal = throttled || usage >= AdaptiveRate.HIGH_USAGE;
    for (Charge c : charges) {
      if (!signal && !fallback.dueToShare(c)) continue;
      double max = c.rule().maxRate();
      each.add(run(learn, key(c), kind, u, Double.toString(c.rate()), Double.isInfinite(max) ? "-1" : Double.toString(max),
          Integer.toString(c.burst()), ttlMs).map(r -> {
            String reason = r.get(2).toString();
            if (reason.isEmpty()) return null;
            double to = Double.parseDouble(r.get(1).toString());
            fallback.adopt(c, to);
            return new RateChange(c, Double.parseDouble(r.get(0).toString()), to, reason);
          }));
    }
    return Future.join(each).transform(done -> {
      List<RateChange> out = new ArrayList<>(1);
      for (Future<RateChange> f : each) if (f.succeeded() && f.result() != null) out.add(f.result());
      return Future.succeededFuture(out);
    });
  }

  @Override
  public void settle(Charge charge, int extra) {
    if (extra == 0) return;
    fallback.settle(charge, extra);
    if (redis.connected()) run(refund, key(charge), Integer.toString(-extra), Integer.toString(charge.burst()));
  }

  /** The twin's learned rate: this gateway's view, updated from Redis on every change it saw. */
  @Override
  public double learnedRate(Charge charge) {
    return fallback.learnedRate(charge);
  }

  /** Runs a script on one bucket within {@code redisTimeout}; a failure has marked the link down. */
  private Future<Response> run(RedisLink.Script script, String bucket, String... args) {
    return redis.eval(script, List.of(bucket), List.of(args), timeoutMs);
  }

  /** What the loss and the return of Redis mean for admission. Runs on the link's context. */
  private final class Transitions implements RedisLink.Watcher {
    @Override
    public void down(Throwable cause) {
      if (closed) return;
      LOG.warn("rate limit: Redis unreachable ({}), pacing locally at rate / {}", String.valueOf(cause), options.getInstances());
      readiness.report(COMPONENT, Readiness.State.DEGRADED, "Redis unreachable: local buckets at rate / " + options.getInstances());
    }

    @Override
    public void up() {
      if (closed) return;
      LOG.warn("rate limit: Redis is back, buckets shared again");
      readiness.report(COMPONENT, Readiness.State.UP, "distributed (redis)");
    }

    @Override
    public JsonObject event(boolean up) {
      return closed ? null : new JsonObject().put("type", "rateLimit").put("mode", up ? "redis" : "local-fallback");
    }
  }

  /** The hash tag keeps each bucket's one key in one cluster slot; the id is hashed (it may name a tenant). */
  private String key(Charge c) {
    // r1: the limiter's own keyspace, versioned (see L2Store.keyspace for the cache's).
    return prefix + "r1:{" + c.limit() + ":" + BudgetLearner.shortHash(c.id()) + hashTail(c.id()) + "}";
  }

  private static String hashTail(String id) {
    return Integer.toHexString(id.hashCode());
  }

  @Override
  public Future<Void> close() {
    closed = true;
    redis.unwatch(transitions);
    return fallback.close();
  }
}
