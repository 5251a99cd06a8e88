package io.tollgate.cache;

import io.tollgate.config.CacheOptions;
import io.tollgate.config.CacheOptions.Route;
import io.tollgate.config.PathPattern;
import io.tollgate.proxy.BodyBuffer;
import io.tollgate.proxy.Caller;
import io.tollgate.proxy.Exchange;
import io.tollgate.proxy.Gzip;
import io.tollgate.proxy.Offload;
import io.tollgate.proxy.Reply;
import io.tollgate.proxy.RouteTable;
import io.tollgate.proxy.Stage;
import io.tollgate.proxy.XCache;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * Stages 2 and 6: cache lookup and store, plus write-driven invalidation.
 *
 * <p>Design note. What is cached is decided by the request's {@link RouteTable.Route} (its cache rule), never
 * here; how an entry may be used is decided by the entry ({@link CachedResponse#freshness}); this stage only
 * acts on both. Shared by every proxy verticle: it holds immutable options and thread-safe parts (the
 * Caffeine L1 behind {@link ResponseCache}, the {@link Coalescer}'s concurrent map, stats adders) and keeps
 * no per-request state outside the futures it composes. {@code $batch} reaches the same keys and rules
 * through {@link CacheAccess}, which this class implements.
 *
 * <p>A GET matching a route rule is looked up (L1, then L2). Fresh → served ({@code HIT-L1}/{@code HIT-L2},
 * {@code Age}). Expired but within {@code staleWhileRevalidate} → served {@code STALE} while one background
 * refresh runs. Otherwise the rest of the pipeline is called through the {@link Coalescer}, so concurrent
 * misses make one upstream call (and, for a key neither level has, through the {@link FleetCoalescer} inside
 * it, so that with L2 concurrent misses on every instance make one); the answer is buffered (up to
 * {@code maxEntrySize}, past which it streams uncached), stored when cacheable, and shared with the followers. If the upstream fails or answers 5xx
 * and an expired entry is within {@code staleIfError}, that entry is served {@code STALE}.
 * A successful write runs the invalidation rules before its answer goes back, so read-after-write is fresh.
 *
 * <p>ETag revalidation (a rule with {@code revalidate}): an answer with an {@code ETag} is kept past its TTL, and
 * past an invalidation (soft-purged: {@link CachedResponse#purged()}), for {@code revalidateFor}. Such an entry is
 * the {@code stale} of the fetch: the coalesced leader's upstream call carries {@code If-None-Match: <its ETag>}
 * (on the leader's exchange, so with that caller's own credentials, in that caller's partition); a 304 stores the
 * entry refreshed ({@link CachedResponse#revalidated}) and every waiter gets its body as {@code REVALIDATED}; any
 * other answer is a miss. On such a rule a client's own {@code If-None-Match} is never forwarded: the read goes on as
 * a plain one and the cache answers 304 when the tags match, the 200 otherwise. A write with {@code If-Match} that
 * the upstream answers 412 evicts that resource and what lies below it.
 */
public final class CacheStage implements Stage, CacheAccess {
  private final CacheOptions options;
  private final ResponseCache cache;
  private final Function<CacheKey, Future<ResponseCache.Hit>> lookup;
  private final Coalescer<Captured> coalescer;
  private final Clock clock;
  private final long followerTimeoutMs;
  private final Predicate<Buffer> mayHoldLinks;
  private final Offload offload;
  /** {@code cache.semantics: http}: the upstream's caching headers decide (RFC 9111), see {@link #readHttp}. */
  private final boolean http;

  /**
   * What a leader fetched: a shareable buffered answer, or a stream only the leader may consume. With HTTP semantics,
   * {@code varyValues} is what the request it answers sent for its {@code Vary} names (null without {@code Vary}):
   * a follower that sent something else asks for itself.
   */
  public record Captured(int status, MultiMap headers, Buffer body, Reply leaderOnly, boolean revalidated, String varyValues) {
    public Captured(int status, MultiMap headers, Buffer body, Reply leaderOnly) {
      this(status, headers, body, leaderOnly, false, null);
    }
  }

  /**
   * @param lookup how the hot path reaches the cache: {@code cache::lookup} in-process, or the event-bus hop
   * @param followerTimeoutMs how long a coalesced follower waits for its leader (the upstream deadline)
   * @param mayHoldLinks whether a body may hold links a later stage rewrites; asked once per entry, so hits
   *     without links skip that stage's scan
   * @param offload where a gzip answer is decoded before it is stored (the worker pool)
   */
  public CacheStage(CacheOptions options, ResponseCache cache, Function<CacheKey, Future<ResponseCache.Hit>> lookup,
      Coalescer<Captured> coalescer, long followerTimeoutMs, Predicate<Buffer> mayHoldLinks, Offload offload) {
    this.mayHoldLinks = mayHoldLinks;
    this.offload = offload;
    this.options = new CacheOptions(options);
    this.cache = cache;
    this.lookup = lookup;
    this.coalescer = coalescer;
    this.clock = cache.clock();
    this.followerTimeoutMs = followerTimeoutMs;
    this.http = options.isHttpSemantics();
  }

  @Override
  public Future<Reply> apply(Exchange ex, Chain next) {
    RouteTable.Route route = ex.route();
    if (ex.method() == HttpMethod.GET) {
      Route rule = route.cacheRule();
      Caller who = ex.caller();
      if (rule == null || !who.cacheable()) return next.proceed(ex);
      if (http) return readHttp(ex, next, rule, who);
      // A conditional or partial read asks a different question than the plain one: it is neither answered
      // from, coalesced with, nor stored as the plain answer. But on a route whose answers carry ETags, a plain
      // If-None-Match is the cache's to answer: the read goes on as a plain one (the client's condition is not
      // sent upstream, which owes the cache the whole answer) and the cache compares the tags at the end.
      if (conditionalOrPartial(ex.headers())) {
        if (!rule.revalidate() || !onlyIfNoneMatch(ex.headers())) return next.proceed(ex);
        String wanted = ex.headers().get(HttpHeaders.IF_NONE_MATCH);
        ex.upstreamIfNoneMatch(null);
        return read(ex, next, rule, who).map(reply -> notModifiedFor(reply, wanted));
      }
      return read(ex, next, rule, who);
    }
    if (http && !safe(ex.method())) return writeHttp(ex, next, route);
    List<PathPattern> evictions = route.evictions();
    // A write whose If-Match named a version the upstream no longer has: whoever sent it read a stale answer,
    // maybe from here. The resource's entries go (soft-purged where they can be revalidated).
    boolean ifMatch = ex.headers().contains(HttpHeaders.IF_MATCH) && route.path() != null;
    if (evictions.isEmpty() && !ifMatch) return next.proceed(ex);
    return next.proceed(ex).compose(reply -> {
      if (ifMatch && reply.status() == 412) return invalidate(List.of(resource(route.path()))).map(reply);
      return reply.status() < 400 && !evictions.isEmpty() ? invalidate(evictions).map(reply) : Future.succeededFuture(reply);
    });
  }

  /** The entries of one resource: its path and everything below it, each segment a literal. */
  private static PathPattern resource(String path) {
    PathPattern p = PathPattern.literal(path, true);
    return p != null ? p : PathPattern.compile("/**");
  }

  /** A plain cacheable GET: answered from the cache, or fetched (and revalidated) through the rest. */
  private Future<Reply> read(Exchange ex, Chain next, Route rule, Caller who) {
    if (noStore(ex.headers())) {
      cache.stats().bypassed.increment();
      return next.proceed(ex).map(r -> r.cacheStatus(XCache.BYPASS));
    }
    RouteTable.Route route = ex.route();
    CacheKey key = keyFor(route.path(), route.query(), ex.headers(), who.partition());
    if (clientBypasses(ex.headers())) {
      cache.stats().bypassed.increment();
      return fetch(ex, next, key, rule, null, false).map(r -> r.cacheStatus(XCache.BYPASS));
    }
    // An expired or refused token, or a shared partition not verified lately: ask the upstream, which
    // judges the token again; a 2xx answer refreshes the entry for everyone in the partition.
    if (!who.mayUseHits(System.currentTimeMillis())) return fetch(ex, next, key, rule, null, false);
    return lookup.apply(key).compose(hit -> {
      long now = clock.millis();
      CachedResponse stale = null;
      // A cold key (neither level has it) is fetched once for the fleet; an expired entry is refreshed here.
      if (hit == null) return fetch(ex, next, key, rule, null, true);
      CachedResponse c = hit.response();
      switch (c.freshness(now)) {
        case FRESH:
          return Future.succeededFuture(served(c, hit.source(), now));
        case STALE_WHILE_REVALIDATE:
          cache.stats().staleServed.increment();
          refreshInBackground(ex, next, key, rule, c);
          return Future.succeededFuture(served(c, XCache.STALE, now));
        case STALE_IF_ERROR:
          stale = c;
          ex.staleFallback(true);
          break;
        default:
          stale = c;
      }
      return fetch(ex, next, key, rule, stale, false);
    });
  }

  /**
   * A cacheable GET under HTTP semantics. A byte range or a precondition ({@code If-Match},
   * {@code If-Unmodified-Since}, {@code If-Range}) passes through, neither answered from nor stored. A validating
   * condition ({@code If-None-Match}, {@code If-Modified-Since}) is the cache's to answer (RFC 9111 §4.3.2): the read
   * goes on as a plain one (the client's conditions are not sent upstream) and the cache answers 304 when they hold
   * for the answer, the answer otherwise.
   */
  private Future<Reply> readHttp(Exchange ex, Chain next, Route rule, Caller who) {
    MultiMap h = ex.headers();
    if (h.contains(HttpHeaders.IF_MATCH) || h.contains("If-Unmodified-Since") || h.contains("If-Range")) return next.proceed(ex);
    if (h.contains("Range")) return rangeHttp(ex, next, who);
    String ifNoneMatch = h.get(HttpHeaders.IF_NONE_MATCH);
    String ifModifiedSince = h.get(HttpHeaders.IF_MODIFIED_SINCE);
    if (ifNoneMatch == null && ifModifiedSince == null) return readPlainHttp(ex, next, rule, who);
    ex.upstreamConditions(null, null);
    return readPlainHttp(ex, next, rule, who).map(reply -> {
      if (reply.status() != 200) return reply;
      boolean unchanged;
      if (ifNoneMatch != null) {
        unchanged = EntityTags.matches(ifNoneMatch, reply.headers().get(HttpHeaders.ETAG));
      } else {
        long since = HttpCaching.httpDate(ifModifiedSince);
        // RFC 9111 §4.3.2: the stored Last-Modified or, without one, its Date.
        String lastModified = reply.headers().get(HttpHeaders.LAST_MODIFIED);
        long modified = HttpCaching.httpDate(lastModified != null ? lastModified : reply.headers().get(HttpHeaders.DATE));
        unchanged = since != Long.MIN_VALUE && modified != Long.MIN_VALUE && modified <= since;
      }
      return unchanged ? notModified(reply) : reply;
    });
  }

  /**
   * A plain GET under HTTP semantics, with the request's own directives (RFC 9111 §5.2.1): {@code no-store} neither
   * reads nor fills the cache; {@code no-cache} (or {@code Pragma: no-cache} without {@code Cache-Control}) sends the
   * read upstream, revalidating the entry when it has a validator; {@code max-age} and {@code min-fresh} refuse an
   * entry older or closer to its end than they allow (it is revalidated instead); {@code only-if-cached} gets a 504
   * when no acceptable entry is there. An entry stored for other values of its {@code Vary} headers is no answer (the
   * new answer replaces it). {@code max-stale} is not honoured: a stale entry is served only as its own
   * {@code stale-while-revalidate}/{@code stale-if-error} allow.
   */
  private Future<Reply> readPlainHttp(Exchange ex, Chain next, Route rule, Caller who) {
    MultiMap h = ex.headers();
    List<String> lines = h.getAll(HttpHeaders.CACHE_CONTROL);
    java.util.Map<String, String> cc = lines.isEmpty() ? java.util.Map.of() : HttpCaching.directives(lines);
    if (cc.containsKey("no-store")) {
      cache.stats().bypassed.increment();
      return next.proceed(ex).map(r -> r.cacheStatus(XCache.BYPASS));
    }
    boolean noCache = cc.containsKey("no-cache") || (lines.isEmpty() && String.valueOf(h.get("Pragma")).contains("no-cache"));
    boolean onlyIfCached = cc.containsKey("only-if-cached");
    long maxAge = HttpCaching.deltaSeconds(cc.get("max-age"));
    long minFresh = HttpCaching.deltaSeconds(cc.get("min-fresh"));
    RouteTable.Route route = ex.route();
    CacheKey key = keyFor(route.path(), route.query(), h, who.partition());
    if (!who.mayUseHits(System.currentTimeMillis())) {
      return onlyIfCached ? Future.succeededFuture(notCached()) : fetch(ex, next, key, rule, null, false);
    }
    return lookup.apply(key).compose(hit -> {
      long now = clock.millis();
      CachedResponse c = hit == null || !hit.response().varyMatches(h) ? null : hit.response();
      if (c == null) return onlyIfCached ? Future.succeededFuture(notCached()) : fetch(ex, next, key, rule, null, hit == null);
      CachedResponse.Freshness freshness = c.freshness(now);
      boolean limited = (maxAge >= 0 && c.ageMillis(now) > maxAge * 1000)
          || (minFresh >= 0 && c.storedAtMillis() + c.ttlMillis() - now < minFresh * 1000);
      if (freshness == CachedResponse.Freshness.FRESH && !noCache && !limited) {
        return Future.succeededFuture(served(c, hit.source(), now));
      }
      if (onlyIfCached) return Future.succeededFuture(notCached());
      if (freshness == CachedResponse.Freshness.STALE_WHILE_REVALIDATE && !noCache && !limited) {
        cache.stats().staleServed.increment();
        refreshInBackground(ex, next, key, rule, c);
        return Future.succeededFuture(served(c, XCache.STALE, now));
      }
      if (freshness == CachedResponse.Freshness.STALE_IF_ERROR) ex.staleFallback(true);
      return fetch(ex, next, key, rule, c, false);
    });
  }

  /** {@code only-if-cached} without an acceptable entry (RFC 9111 §5.2.1.7). */
  private static Reply notCached() {
    return Reply.buffered(504, MultiMap.caseInsensitiveMultiMap(), Buffer.buffer()).noLinks();
  }

  /**
   * A byte-range read under HTTP semantics: one range of a fresh stored 200 is answered 206 from the cache (RFC 9111
   * §3.4 reuse of a complete response for a partial request); anything else (several ranges, a stale or missing
   * entry, a range past the end) goes upstream as it came, neither answered from nor stored in the cache.
   */
  private Future<Reply> rangeHttp(Exchange ex, Chain next, Caller who) {
    if (!who.mayUseHits(System.currentTimeMillis())) return next.proceed(ex);
    RouteTable.Route route = ex.route();
    CacheKey key = keyFor(route.path(), route.query(), ex.headers(), who.partition());
    return lookup.apply(key).compose(hit -> {
      long now = clock.millis();
      if (hit == null) return next.proceed(ex);
      CachedResponse c = hit.response();
      if (c.status() != 200 || !c.varyMatches(ex.headers()) || c.freshness(now) != CachedResponse.Freshness.FRESH) {
        return next.proceed(ex);
      }
      long[] range = byteRange(ex.headers().get("Range"), c.body().length());
      if (range == null) return next.proceed(ex);
      MultiMap headers = MultiMap.caseInsensitiveMultiMap().addAll(c.headers());
      headers.set("Content-Range", "bytes " + range[0] + "-" + range[1] + "/" + c.body().length());
      Buffer part = c.body().getBuffer((int) range[0], (int) range[1] + 1);
      return Future.succeededFuture(Reply.buffered(206, headers, part).cacheStatus(hit.source()).ageSeconds(c.ageSeconds(now)).noLinks());
    });
  }

  /**
   * The one range {@code bytes=first-last}, {@code bytes=first-} or {@code bytes=-suffix} of a body of
   * {@code length} bytes, as inclusive offsets; null for several ranges, another unit, bad syntax or no byte inside.
   */
  static long[] byteRange(String header, long length) {
    if (header == null) return null;
    String v = header.trim();
    if (!v.regionMatches(true, 0, "bytes=", 0, 6) || v.indexOf(',') >= 0 || length == 0) return null;
    String spec = v.substring(6).trim();
    int dash = spec.indexOf('-');
    if (dash < 0) return null;
    try {
      String a = spec.substring(0, dash).trim();
      String b = spec.substring(dash + 1).trim();
      if (a.isEmpty()) {
        long suffix = Long.parseLong(b);
        if (suffix <= 0) return null;
        return new long[] {Math.max(0, length - suffix), length - 1};
      }
      long first = Long.parseLong(a);
      long last = b.isEmpty() ? length - 1 : Math.min(Long.parseLong(b), length - 1);
      if (first < 0 || first >= length || last < first) return null;
      return new long[] {first, last};
    } catch (NumberFormatException bad) {
      return null;
    }
  }

  /** GET, HEAD, OPTIONS and TRACE (RFC 9110 §9.2.1); every other method may change the resource. */
  private static boolean safe(HttpMethod m) {
    return m == HttpMethod.GET || m == HttpMethod.HEAD || m == HttpMethod.OPTIONS || m == HttpMethod.TRACE;
  }

  /**
   * A request with an unsafe method under HTTP semantics (RFC 9111 §4.4): once the upstream answered it with a
   * 2xx or 3xx, the entries of its path, and of the paths its {@code Location} and {@code Content-Location} name on
   * this origin, are evicted (every query, every partition, every instance), besides what the invalidation rules
   * evict; a 412 to {@code If-Match} evicts the resource as in the Graph profile.
   */
  private Future<Reply> writeHttp(Exchange ex, Chain next, RouteTable.Route route) {
    boolean ifMatch = ex.headers().contains(HttpHeaders.IF_MATCH) && route.path() != null;
    return next.proceed(ex).compose(reply -> {
      if (ifMatch && reply.status() == 412) return invalidate(List.of(resource(route.path()))).map(reply);
      if (reply.status() >= 400) return Future.succeededFuture(reply);
      List<PathPattern> evict = new ArrayList<>(route.evictions());
      addExact(evict, route.path());
      addExact(evict, sameOriginPath(reply.headers().get(HttpHeaders.LOCATION), ex));
      addExact(evict, sameOriginPath(reply.headers().get(HttpHeaders.CONTENT_LOCATION), ex));
      return invalidate(evict).map(reply);
    });
  }

  private static void addExact(List<PathPattern> evict, String path) {
    if (path == null) return;
    PathPattern p = PathPattern.literal(CacheKey.normalisePath(path), false);
    if (p != null && !evict.contains(p)) evict.add(p);
  }

  /**
   * The path a {@code Location}/{@code Content-Location} names, resolved against the request: a relative reference,
   * or an absolute one whose authority is the request's {@code Host}; null for another origin or a malformed one.
   */
  static String sameOriginPath(String reference, Exchange ex) {
    if (reference == null || reference.isBlank()) return null;
    try {
      java.net.URI ref = new java.net.URI(reference.trim());
      if (ref.isAbsolute() || ref.getRawAuthority() != null) {
        String host = ex.headers().get(HttpHeaders.HOST);
        if (host == null || ref.getRawAuthority() == null || !ref.getRawAuthority().equalsIgnoreCase(host)) return null;
        return ref.getRawPath() == null || ref.getRawPath().isEmpty() ? "/" : ref.getRawPath();
      }
      java.net.URI resolved = new java.net.URI("http", "h", ex.path(), null).resolve(ref);
      return resolved.getRawPath();
    } catch (java.net.URISyntaxException | IllegalArgumentException malformed) {
      return null;
    }
  }

  /** True when the only condition a read carries is {@code If-None-Match} (no range, no date, no If-Match). */
  private static boolean onlyIfNoneMatch(MultiMap headers) {
    return !headers.contains("If-Match") && !headers.contains("If-Modified-Since") && !headers.contains("If-Unmodified-Since")
        && !headers.contains("If-Range") && !headers.contains("Range");
  }

  /**
   * The client's own {@code If-None-Match} against the answer it would get: 304 without a body when the tags match,
   * the 200 otherwise. Never a 304 the client did not ask for (SDKs handle one badly: msgraph-sdk-java #1312).
   */
  private Reply notModifiedFor(Reply reply, String wanted) {
    String etag = reply.headers().get(HttpHeaders.ETAG);
    if (reply.status() != 200 || etag == null || !EntityTags.matches(wanted, etag)) return reply;
    return notModified(reply);
  }

  /** A 304 for {@code reply}: its headers without those of the body, its cache facts. */
  private Reply notModified(Reply reply) {
    reply.discard();
    MultiMap headers = MultiMap.caseInsensitiveMultiMap().addAll(reply.headers());
    headers.remove(HttpHeaders.CONTENT_LENGTH);
    headers.remove(HttpHeaders.CONTENT_TYPE);
    headers.remove(HttpHeaders.CONTENT_ENCODING);
    headers.remove(HttpHeaders.TRANSFER_ENCODING);
    cache.stats().notModifiedServed.increment();
    return Reply.buffered(304, headers, null).cacheStatus(reply.cacheStatus()).ageSeconds(reply.ageSeconds()).noLinks();
  }

  private static boolean conditionalOrPartial(MultiMap headers) {
    return headers.contains("If-None-Match") || headers.contains("If-Match") || headers.contains("If-Modified-Since")
        || headers.contains("If-Unmodified-Since") || headers.contains("If-Range") || headers.contains("Range");
  }

  /** {@code Cache-Control: no-store}: the answer may be neither read from nor written to the cache. */
  private static boolean noStore(MultiMap headers) {
    String cc = headers.get("Cache-Control");
    return cc != null && cc.toLowerCase(java.util.Locale.ROOT).contains("no-store");
  }

  /** The client asked not to be answered from the cache ({@code no-cache}/{@code no-store}). */
  public static boolean clientBypasses(MultiMap headers) {
    String cc = headers.get("Cache-Control");
    String pragma = headers.get("Pragma");
    return (cc != null && (cc.contains("no-cache") || cc.contains("no-store"))) || (pragma != null && pragma.contains("no-cache"));
  }

  private Reply served(CachedResponse c, XCache source, long now) {
    Reply r = Reply.buffered(c.status(), c.headers(), c.body()).cacheStatus(source).ageSeconds(c.ageSeconds(now));
    return c.hasLinks(mayHoldLinks) ? r : r.noLinks();
  }

  /**
   * Coalesced with this instance's concurrent misses of the key and, when {@code fleetWide} and the fleet is on
   * ({@link FleetCoalescer}), with the other instances' too: then a local leader may wait for another instance's
   * answer up to {@code cache.fleetCoalesceWait} before fetching, and its followers wait that much longer.
   */
  private Future<Reply> fetch(Exchange ex, Chain next, CacheKey key, Route route, CachedResponse stale, boolean fleetWide) {
    boolean[] led = {false};
    FleetCoalescer fleet = fleetWide ? cache.fleet() : null;
    Future<Captured> shared = coalescer.run(key, () -> {
      led[0] = true;
      if (fleet == null) return upstream(ex, next, key, route, stale).map(FleetCoalescer.Led::answer);
      return fleet.run(key, () -> upstream(ex, next, key, route, stale), CacheStage::fromEntry);
    }, fleet == null ? followerTimeoutMs : followerTimeoutMs + fleet.waitMs());
    return shared.compose(c -> {
      if (c.leaderOnly() != null) return led[0] ? Future.succeededFuture(c.leaderOnly()) : next.proceed(ex);
      if (http && c.varyValues() != null) {
        // A follower (or an answer another instance stored) for other values of the answer's Vary headers asks for
        // itself; so does a follower of a Vary: * answer, which answers only its own request.
        List<String> names = HttpCaching.varyNames(c.headers());
        if (names == null ? !led[0] : !c.varyValues().equals(HttpCaching.varyValues(names, ex.headers()))) return next.proceed(ex);
      }
      if (c.status() >= 500 && stale != null && stale.usableOnError(clock.millis())) return Future.succeededFuture(staleReply(stale));
      return Future.succeededFuture(Reply.buffered(c.status(), c.headers(), c.body())
          .cacheStatus(c.revalidated() ? XCache.REVALIDATED : XCache.MISS));
    }, failure -> {
      if (stale != null && stale.usableOnError(clock.millis())) return Future.succeededFuture(staleReply(stale));
      return Future.failedFuture(failure);
    });
  }

  /**
   * The upstream call and the store of its answer; {@code stored} completes when the store is done. With a
   * {@code stale} entry the route keeps for revalidation, the call carries {@code If-None-Match: <its ETag>} (with
   * the caller's own credentials, like any call made for this request): a 304 makes the entry fresh again
   * ({@link CachedResponse#revalidated}) and is answered with its body; any other answer is handled as a miss.
   */
  private Future<FleetCoalescer.Led<Captured>> upstream(Exchange ex, Chain next, CacheKey key, Route route, CachedResponse stale) {
    long began = System.currentTimeMillis();
    if (http) return upstreamHttp(ex, next, key, route, stale, began);
    String tag = route.revalidate() && stale != null ? stale.revalidationTag(clock.millis()) : null;
    if (tag == null) {
      // A client's own If-None-Match is never sent upstream on a revalidating route (ownsIfNoneMatch): the answer
      // must be a whole one that the cache can store and answer the client's condition from.
      return next.proceed(ex).compose(r -> captureAndStore(ex, key, route, r, began));
    }
    ex.upstreamIfNoneMatch(tag);
    return revalidate(ex, next, key, route, stale, began, notModified -> stale.revalidated(notModified.headers(), clock.millis()));
  }

  /**
   * The conditional upstream call for a {@code stale} entry, its conditions already on {@code ex}: a 304 makes the
   * entry {@code refreshed} by it (stored, and answered with its body); null from {@code refreshed} means the entry
   * may no longer be kept, so it is forgotten and answered once. Any other answer is handled as a miss.
   */
  private Future<FleetCoalescer.Led<Captured>> revalidate(Exchange ex, Chain next, CacheKey key, Route route, CachedResponse stale,
      long began, java.util.function.Function<Reply, CachedResponse> refreshed) {
    CacheStats stats = cache.stats();
    return next.proceed(ex).compose(r -> {
      if (r.status() != 304) {
        (r.status() < 300 ? stats.revalidatedChanged : stats.revalidationFailed).increment();
        // Gone upstream: the kept entry has nothing left to revalidate.
        if (r.status() == 404 || r.status() == 410) cache.forget(key, stale);
        return captureAndStore(ex, key, route, r, began);
      }
      r.discard();
      stats.revalidatedNotModified.increment();
      CachedResponse fresh = refreshed.apply(r);
      Future<Boolean> stored;
      if (fresh == null) {
        cache.forget(key, stale);
        fresh = stale.revalidated(r.headers(), clock.millis());
        stored = Future.succeededFuture(false);
      } else {
        stored = storeScanned(storeKey(ex, key), fresh, began).map(true);
      }
      return Future.succeededFuture(new FleetCoalescer.Led<>(
          new Captured(fresh.status(), fresh.headers(), fresh.body(), null, true, fresh.varyValues()), stored));
    }, failure -> {
      stats.revalidationFailed.increment();
      return Future.failedFuture(failure);
    });
  }

  /**
   * The upstream call under HTTP semantics. A {@code stale} entry with a validator is revalidated (RFC 9111 §4.3.1):
   * the call carries {@code If-None-Match} with its {@code ETag} and {@code If-Modified-Since} with its
   * {@code Last-Modified}; a 304 updates its stored headers with the 304's (§4.3.4), stores it with the freshness they
   * now give, and answers with it ({@code REVALIDATED}); any other answer is handled as a miss.
   */
  private Future<FleetCoalescer.Led<Captured>> upstreamHttp(Exchange ex, Chain next, CacheKey key, Route route,
      CachedResponse stale, long began) {
    if (stale == null || !stale.revalidatableAt(clock.millis())) {
      return next.proceed(ex).compose(r -> captureAndStore(ex, key, route, r, began));
    }
    ex.upstreamConditions(stale.etag(), stale.lastModified());
    return revalidate(ex, next, key, route, stale, began, notModified -> {
      CachedResponse merged = stale.revalidated(notModified.headers(), clock.millis());
      // Its freshness is what the updated headers give now; the 304's own Age tells how old that news is.
      MultiMap judged = MultiMap.caseInsensitiveMultiMap().addAll(merged.headers());
      judged.remove(HttpHeaders.AGE);
      for (String age : notModified.headers().getAll(HttpHeaders.AGE)) judged.add(HttpHeaders.AGE, age);
      return httpEntry(route, merged.status(), judged, merged.body(), ex.headers(), began);
    });
  }

  /**
   * The entry an answer makes under HTTP semantics ({@link HttpCaching#decide}), or null when it is not stored. The
   * route caps its freshness at {@code ttl}; its stale windows come from the answer's own {@code stale-while-revalidate}
   * and {@code stale-if-error} (the route's are not used); an answer with a validator is kept {@code revalidateFor}
   * past its freshness to be revalidated.
   */
  private CachedResponse httpEntry(Route route, int status, MultiMap headers, Buffer body, MultiMap requestHeaders, long began) {
    HttpCaching.Decision d = HttpCaching.decide(status, headers, requestHeaders.contains(HttpHeaders.AUTHORIZATION), began,
        System.currentTimeMillis());
    if (d == null) return null;
    long ttl = Math.max(0, Math.min(d.freshMillis(), route.ttl().toMillis()));
    return CachedResponse.http(status, CachedResponse.keptHeaders(headers), body, clock.millis(), ttl,
        d.staleWhileRevalidateMillis(), d.staleIfErrorMillis(), route.revalidateFor().toMillis(), d.initialAgeMillis(),
        d.varyNames(), HttpCaching.varyValues(d.varyNames(), requestHeaders));
  }

  /** A whole upstream answer, captured to be shared, and its store. */
  private Future<FleetCoalescer.Led<Captured>> captureAndStore(Exchange ex, CacheKey key, Route route, Reply r, long began) {
    return capture(r, route).map(c -> {
      Captured shared = http ? withVary(c, ex.headers()) : c;
      return new FleetCoalescer.Led<>(shared, storeIfCacheable(storeKey(ex, key), route, shared, ex.headers(), began));
    });
  }

  /** The answer marked with what this request sent for its {@code Vary} names (HTTP semantics). */
  private static Captured withVary(Captured c, MultiMap requestHeaders) {
    if (c.leaderOnly() != null || !c.headers().contains(HttpHeaders.VARY)) return c;
    List<String> names = HttpCaching.varyNames(c.headers());
    // Vary: * answers no other request: "\n*" is what no request's values can be.
    String values = names == null ? "\n*" : HttpCaching.varyValues(names, requestHeaders);
    return new Captured(c.status(), c.headers(), c.body(), null, c.revalidated(), values);
  }

  /** An answer another instance fetched and stored, shared like one fetched here. */
  private static Captured fromEntry(CachedResponse entry) {
    return new Captured(entry.status(), entry.headers(), entry.body(), null, false, entry.varyValues());
  }

  private Reply staleReply(CachedResponse stale) {
    cache.stats().staleServed.increment();
    return served(stale, XCache.STALE, clock.millis());
  }

  private void refreshInBackground(Exchange ex, Chain next, CacheKey key, Route route, CachedResponse stale) {
    coalescer.run(key, () -> upstream(ex, next, key, route, stale).map(FleetCoalescer.Led::answer), followerTimeoutMs);
  }

  /**
   * Where an answer is stored: the caller's partition as it is now. The request that first brings a token's
   * 2xx has just verified it, so its answer already lands in the shared partition the next requests read.
   */
  private CacheKey storeKey(Exchange ex, CacheKey looked) {
    String now = ex.partition();
    return now.equals(looked.partition()) ? looked : keyFor(ex.route().path(), ex.route().query(), ex.headers(), now);
  }

  /**
   * Buffers the upstream body up to maxEntrySize; a larger body becomes a leader-only stream. A gzip body that will
   * be stored is decoded first, on the worker pool: one entry serves every client, gzip or not, and a hit needs no
   * decoding. One that decodes past maxEntrySize (or not at all) stays as it came and is not stored, like a large
   * one; an answer that is not stored (an error) is not decoded here: the way out decodes it only for a client
   * that needs it.
   */
  private Future<Captured> capture(Reply reply, Route route) {
    long cap = options.getMaxEntrySize();
    return BodyBuffer.upTo(reply, cap).compose(r -> {
      if (r.isStreaming()) return Future.succeededFuture(new Captured(r.status(), r.headers(), null, r));
      boolean mayKeep = http ? HttpCaching.storableStatus(r.status()) : keptFor(route, r.status()) >= 0;
      if (!Gzip.encoded(r.headers()) || !mayKeep) return Future.succeededFuture(shared(r));
      Buffer packed = r.body();
      return offload.run(() -> Gzip.decompress(packed, cap)).map(r::identity).otherwise(r).map(CacheStage::shared);
    });
  }

  private static Captured shared(Reply buffered) {
    return new Captured(buffered.status(), buffered.headers(), buffered.body(), null);
  }

  /** The cache key of a read, as the rest of this stage builds it. */
  public CacheKey keyFor(String path, String query, MultiMap headers, String partition) {
    return CacheKey.of("GET", path, query, headers, options.getVaryHeaders(), partition);
  }

  @Override
  public Future<ResponseCache.Hit> lookup(RouteTable.Route read, MultiMap requestHeaders, String partition) {
    if (read.method() != HttpMethod.GET || read.cacheRule() == null) return Future.succeededFuture();
    return lookup.apply(keyFor(read.path(), read.query(), requestHeaders, partition));
  }

  @Override
  public long now() {
    return clock.millis();
  }

  @Override
  public void store(RouteTable.Route read, MultiMap requestHeaders, String partition, int status, MultiMap headers, Buffer body,
      long fetchBegan) {
    if (read.method() != HttpMethod.GET || read.cacheRule() == null) return;
    storeIfCacheable(keyFor(read.path(), read.query(), requestHeaders, partition), read.cacheRule(),
        new Captured(status, headers, body, null), requestHeaders, fetchBegan);
  }

  @Override
  public void countStale() {
    cache.stats().staleServed.increment();
  }

  private static boolean status2xx(int status) {
    return status >= 200 && status < 300;
  }

  /** How long an answer with this status is kept under this rule, in millis; -1 when it is not kept at all. */
  private static long keptFor(Route route, int status) {
    if (status >= 200 && status < 300 && status != 206) return route.ttl().toMillis();
    if (status == 404 && !route.negativeTtl().isZero()) return route.negativeTtl().toMillis();
    return -1;
  }

  /**
   * Stores with the link pre-check's answer for its body, which L2 keeps with the entry: an L2 hit then serves it
   * without scanning the body again (1–2 % of an L2 hit's CPU for a 1 KiB user, src/bench/profile.sh).
   */
  private Future<Void> storeScanned(CacheKey key, CachedResponse entry, long fetchBegan) {
    entry.hasLinks(mayHoldLinks);
    return cache.store(key, entry, fetchBegan);
  }

  /** @return when the store is done: true when the answer was stored (in L1, and in L2 if it has one), false when not kept */
  private Future<Boolean> storeIfCacheable(CacheKey key, Route route, Captured c, MultiMap requestHeaders, long fetchBegan) {
    // An entry serves every client, including those that never accepted gzip: only identity bodies are kept.
    if (c.leaderOnly() != null || Gzip.encoded(c.headers())) return Future.succeededFuture(false);
    if (http) {
      CachedResponse entry = httpEntry(route, c.status(), c.headers(), c.body(), requestHeaders, fetchBegan);
      return entry == null ? Future.succeededFuture(false) : storeScanned(key, entry, fetchBegan).map(true);
    }
    long ttl = keptFor(route, c.status());
    if (ttl < 0) return Future.succeededFuture(false);
    CachedResponse entry = new CachedResponse(c.status(), CachedResponse.keptHeaders(c.headers()), c.body(), clock.millis(), ttl,
        route.staleWhileRevalidate().toMillis(), route.staleIfError().toMillis(),
        route.revalidate() && status2xx(c.status()) ? route.revalidateFor().toMillis() : 0);
    // A delta-fed route's answer is indexed by the objects it mentions (freshness package), 2xx only, for as long
    // as the entry may be kept.
    if (route.deltaFed() && c.status() < 300) cache.mentioned(key.path(), c.body(), entry.retainMillis(), fetchBegan);
    return storeScanned(key, entry, fetchBegan).map(true);
  }

  /**
   * Evicts what a successful write changed (the write's {@link RouteTable.Route#evictions()}), here and on
   * every instance, before the write's answer goes back: read-after-write is fresh. Bounded by the upstream
   * deadline; Redis trouble never fails the write.
   */
  @Override
  public Future<Void> invalidate(List<PathPattern> evictions) {
    if (evictions.isEmpty()) return Future.succeededFuture();
    List<Future<Long>> done = new ArrayList<>(evictions.size());
    for (PathPattern target : evictions) done.add(cache.invalidate(target));
    return Future.join(done).<Void>mapEmpty().timeout(followerTimeoutMs, TimeUnit.MILLISECONDS).otherwiseEmpty();
  }
}
