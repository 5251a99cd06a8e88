package io.tollgate.cache;

import io.tollgate.config.CacheOptions;
import io.tollgate.config.CacheOptions.Route;
import io.tollgate.config.PathPattern;
import io.tollgate.proxy.Exchange;
import io.tollgate.proxy.Reply;
import io.tollgate.proxy.Stage;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpMethod;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * Stages 2 and 6: cache lookup and store, plus write-driven invalidation.
 *
 * <p>A GET matching a route rule is looked up (L1, then L2). Fresh → served ({@code HIT-L1}/{@code HIT-L2},
 * {@code Age}). Expired but within {@code staleWhileRevalidate} → served {@code STALE} while one background
 * refresh runs. Otherwise the rest of the pipeline is called through the {@link Coalescer}, so concurrent
 * misses make one upstream call; the answer is buffered (up to {@code maxEntrySize}, past which it streams
 * uncached), stored when cacheable, and shared with the followers. If the upstream fails or answers 5xx
 * and an expired entry is within {@code staleIfError}, that entry is served {@code STALE}.
 * A successful write runs the invalidation rules before its answer goes back, so read-after-write is fresh.
 */
public final class CacheStage implements Stage {
  private final CacheOptions options;
  private final ResponseCache cache;
  private final Function<CacheKey, Future<ResponseCache.Hit>> lookup;
  private final Coalescer<Captured> coalescer;
  private final Clock clock;
  private final long followerTimeoutMs;
  private final Predicate<Buffer> mayHoldLinks;

  /** What a leader fetched: a shareable buffered answer, or a stream only the leader may consume. */
  public record Captured(int status, MultiMap headers, Buffer body, Reply leaderOnly) {}

  /**
   * @param lookup how the hot path reaches the cache: {@code cache::lookup} in-process, or the event-bus hop
   * @param followerTimeoutMs how long a coalesced follower waits for its leader (the upstream deadline)
   * @param mayHoldLinks whether a body may hold links a later stage rewrites; asked once per entry, so hits
   *     without links skip that stage's scan
   */
  public CacheStage(CacheOptions options, ResponseCache cache, Function<CacheKey, Future<ResponseCache.Hit>> lookup,
      Coalescer<Captured> coalescer, long followerTimeoutMs, Predicate<Buffer> mayHoldLinks) {
    this.mayHoldLinks = mayHoldLinks;
    this.options = new CacheOptions(options);
    this.cache = cache;
    this.lookup = lookup;
    this.coalescer = coalescer;
    this.clock = cache.clock();
    this.followerTimeoutMs = followerTimeoutMs;
  }

  @Override
  public Future<Reply> apply(Exchange ex, Chain next) {
    HttpMethod method = ex.method();
    if (method == HttpMethod.GET) {
      Route route = routeFor(ex.path());
      if (route == null) return next.proceed(ex);
      ex.route(route.name());
      ex.upstreamIdentityEncoding(true);
      CacheKey key = CacheKey.of("GET", ex.path(), ex.query(), ex.headers(), options.getVaryHeaders(), ex.partition());
      if (clientBypasses(ex)) {
        cache.stats().bypassed.increment();
        return fetch(ex, next, key, route, null).map(r -> r.cacheStatus("BYPASS"));
      }
      return lookup.apply(key).compose(hit -> {
        long now = clock.millis();
        CachedResponse stale = null;
        if (hit != null) {
          CachedResponse c = hit.response();
          if (c.fresh(now)) return Future.succeededFuture(served(c, "HIT-" + hit.level(), now));
          if (c.withinStaleWhileRevalidate(now)) {
            cache.stats().staleServed.increment();
            refreshInBackground(ex, next, key, route);
            return Future.succeededFuture(served(c, "STALE", now));
          }
          stale = c;
        }
        return fetch(ex, next, key, route, stale);
      });
    }
    if (method == HttpMethod.POST || method == HttpMethod.PUT || method == HttpMethod.PATCH || method == HttpMethod.DELETE) {
      return next.proceed(ex).compose(reply -> reply.status() < 400 ? invalidateFor(ex.path(), method.name()).map(reply) : Future.succeededFuture(reply));
    }
    return next.proceed(ex);
  }

  /** @return the cache rule for a GET on this path, or null when such reads are not cached */
  public Route routeFor(String path) {
    for (Route r : options.getRoutes()) if (r.path().matches(path)) return r;
    return null;
  }

  private static boolean clientBypasses(Exchange ex) {
    String cc = ex.headers().get("Cache-Control");
    String pragma = ex.headers().get("Pragma");
    return (cc != null && (cc.contains("no-cache") || cc.contains("no-store"))) || (pragma != null && pragma.contains("no-cache"));
  }

  private Reply served(CachedResponse c, String status, long now) {
    Reply r = Reply.buffered(c.status(), c.headers(), c.body()).cacheStatus(status).ageSeconds(c.ageSeconds(now));
    return c.hasLinks(mayHoldLinks) ? r : r.noLinks();
  }

  private Future<Reply> fetch(Exchange ex, Chain next, CacheKey key, Route route, CachedResponse stale) {
    boolean[] led = {false};
    Future<Captured> shared = coalescer.run(key.value(), () -> {
      led[0] = true;
      long began = System.currentTimeMillis();
      return next.proceed(ex).compose(reply -> capture(reply)).onSuccess(c -> storeIfCacheable(key, route, c, began));
    }, followerTimeoutMs);
    return shared.compose(c -> {
      if (c.leaderOnly() != null) return led[0] ? Future.succeededFuture(c.leaderOnly()) : next.proceed(ex);
      if (c.status() >= 500 && stale != null && stale.withinStaleIfError(clock.millis())) return Future.succeededFuture(staleReply(stale));
      return Future.succeededFuture(Reply.buffered(c.status(), c.headers(), c.body()).cacheStatus("MISS"));
    }, failure -> {
      if (stale != null && stale.withinStaleIfError(clock.millis())) return Future.succeededFuture(staleReply(stale));
      return Future.failedFuture(failure);
    });
  }

  private Reply staleReply(CachedResponse stale) {
    cache.stats().staleServed.increment();
    return served(stale, "STALE", clock.millis());
  }

  private void refreshInBackground(Exchange ex, Chain next, CacheKey key, Route route) {
    coalescer.run(key.value(), () -> {
      long began = System.currentTimeMillis();
      return next.proceed(ex).compose(this::capture).onSuccess(c -> storeIfCacheable(key, route, c, began));
    }, followerTimeoutMs);
  }

  /** Buffers the upstream body up to maxEntrySize; a larger body becomes a leader-only stream. */
  private Future<Captured> capture(Reply reply) {
    if (!reply.isStreaming()) return Future.succeededFuture(new Captured(reply.status(), reply.headers(), reply.body(), null));
    HttpClientResponse stream = reply.stream();
    long cap = options.getMaxEntrySize();
    String length = reply.headers().get("content-length");
    if (length != null && parse(length) > cap) return Future.succeededFuture(new Captured(reply.status(), reply.headers(), null, reply));
    Promise<Captured> done = Promise.promise();
    Buffer acc = Buffer.buffer(length == null ? 4096 : (int) Math.max(0, parse(length)));
    stream.exceptionHandler(done::tryFail);
    stream.handler(chunk -> {
      acc.appendBuffer(chunk);
      if (acc.length() > cap) {
        stream.pause();
        stream.handler(null);
        stream.endHandler(null);
        done.tryComplete(new Captured(reply.status(), reply.headers(), null, Reply.prefixed(reply, acc)));
      }
    });
    stream.endHandler(v -> {
      MultiMap headers = reply.headers();
      headers.remove("content-length");
      done.tryComplete(new Captured(reply.status(), headers, acc, null));
    });
    stream.resume();
    return done.future();
  }

  private static long parse(String n) {
    try {
      return Long.parseLong(n.trim());
    } catch (NumberFormatException e) {
      return Long.MAX_VALUE;
    }
  }

  /** The cache key of a read, as the rest of this stage builds it. */
  public CacheKey keyFor(String path, String query, MultiMap headers, String partition) {
    return CacheKey.of("GET", path, query, headers, options.getVaryHeaders(), partition);
  }

  /** Looks a key up the same way as single requests (in-process or through the event bus). */
  public Future<ResponseCache.Hit> lookup(CacheKey key) {
    return lookup.apply(key);
  }

  public Clock clock() {
    return clock;
  }

  /**
   * Stores an answer obtained another way (a $batch sub-response) under the same rules as single reads.
   *
   * @param fetchBegan wall-clock millis when the upstream read began (a write invalidated since wins)
   */
  public void store(CacheKey key, Route route, int status, MultiMap headers, Buffer body, long fetchBegan) {
    storeIfCacheable(key, route, new Captured(status, headers, body, null), fetchBegan);
  }

  /** Runs the invalidation rules for a successful write on {@code path}. */
  public Future<Void> invalidateAfterWrite(String path, String method) {
    return invalidateFor(path, method);
  }

  private void storeIfCacheable(CacheKey key, Route route, Captured c, long fetchBegan) {
    if (c.leaderOnly() != null) return;
    long ttl;
    if (c.status() >= 200 && c.status() < 300 && c.status() != 206) ttl = route.ttl().toMillis();
    else if (c.status() == 404 && !route.negativeTtl().isZero()) ttl = route.negativeTtl().toMillis();
    else return;
    if (options.isHonourUpstreamCacheControl()) {
      String cc = c.headers().get("cache-control");
      if (cc != null && (cc.contains("no-store") || cc.contains("no-cache") || cc.contains("private"))) return;
    }
    cache.store(key, new CachedResponse(c.status(), CachedResponse.keptHeaders(c.headers()), c.body(), clock.millis(), ttl,
        route.staleWhileRevalidate().toMillis(), route.staleIfError().toMillis()), fetchBegan);
  }

  private Future<Void> invalidateFor(String path, String method) {
    List<Future<Long>> evictions = new ArrayList<>();
    for (CacheOptions.Invalidation rule : options.getInvalidations()) {
      if (!rule.methods().contains(method)) continue;
      Map<String, String> captures = rule.path().capture(CacheKey.normalisePath(path));
      if (captures == null) continue;
      for (PathPattern target : rule.evict()) evictions.add(cache.invalidate(target.bind(captures)));
    }
    if (evictions.isEmpty()) return Future.succeededFuture();
    return Future.join(evictions).<Void>mapEmpty().timeout(followerTimeoutMs, TimeUnit.MILLISECONDS).otherwiseEmpty();
  }
}
