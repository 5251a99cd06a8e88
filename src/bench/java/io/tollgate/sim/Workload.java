package io.tollgate.sim;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * A SharePoint/Entra permission audit, as audit tools run it: enumerate the sites (paged), read each site's
 * permissions, expand every granted group's transitive members (paged). Groups are shared across many
 * sites, so the same expansions are asked for again and again. Runs with C concurrent workers and the naive
 * client behaviour: on 429/503 wait Retry-After (or 1 s) and try again. Used by the audit benchmark.
 */
public final class Workload {
  private final Vertx vertx;
  private final HttpClientAgent client;
  private final String base;
  private final String token;
  private final int concurrency;

  /** What one audit pass saw. */
  public static final class Result {
    public final LongAdder requests = new LongAdder();
    public final LongAdder throttled = new LongAdder();
    public final LongAdder errors = new LongAdder();
    public final LongAdder groupExpansions = new LongAdder();
    public final LongAdder groupExpansionHits = new LongAdder();
    public final Set<String> principals = ConcurrentHashMap.newKeySet();
    public long wallMillis;

    public double groupHitRate() {
      long n = groupExpansions.sum();
      return n == 0 ? 0 : (double) groupExpansionHits.sum() / n;
    }
  }

  /**
   * @param base origin to audit against ({@code http://127.0.0.1:PORT}): the simulator or a gateway
   * @param token the bearer token every call carries
   */
  public Workload(Vertx vertx, String base, String token, int concurrency) {
    this.vertx = vertx;
    this.base = base;
    this.token = token;
    this.concurrency = concurrency;
    this.client = vertx.httpClientBuilder().with(new HttpClientOptions().setKeepAlive(true))
        .with(new PoolOptions().setHttp1MaxSize(concurrency)).build();
  }

  /** Runs one whole audit; the future completes when every site and group has been read. */
  public Future<Result> run() {
    Result result = new Result();
    long start = System.nanoTime();
    Deque<String> sites = new ArrayDeque<>();
    return pages(base + "/v1.0/sites?$top=100", result, page -> page.getJsonArray("value")
        .forEach(s -> sites.add(((JsonObject) s).getString("id"))))
        .compose(v -> {
          Promise<Result> done = Promise.promise();
          // Completions arrive on whichever event loop owns the connection: the worker count is shared state.
          java.util.concurrent.atomic.AtomicInteger active = new java.util.concurrent.atomic.AtomicInteger();
          Runnable[] pump = new Runnable[1];
          pump[0] = () -> {
            while (true) {
              String site;
              synchronized (sites) {
                if (active.get() >= concurrency || sites.isEmpty()) break;
                site = sites.poll();
                active.incrementAndGet();
              }
              auditSite(site, result).onComplete(ar -> {
                if (ar.failed()) result.errors.increment();
                active.decrementAndGet();
                pump[0].run();
              });
            }
            synchronized (sites) {
              if (active.get() == 0 && sites.isEmpty()) {
                result.wallMillis = (System.nanoTime() - start) / 1_000_000;
                done.tryComplete(result);
              }
            }
          };
          pump[0].run();
          return done.future();
        });
  }

  private Future<Void> auditSite(String site, Result result) {
    Deque<String> groups = new ArrayDeque<>();
    return pages(base + "/v1.0/sites/" + site + "/permissions", result, page -> page.getJsonArray("value").forEach(p -> {
      JsonObject granted = ((JsonObject) p).getJsonObject("grantedToV2");
      if (granted != null && granted.getJsonObject("group") != null) groups.add(granted.getJsonObject("group").getString("id"));
      if (granted != null && granted.getJsonObject("user") != null) result.principals.add(granted.getJsonObject("user").getString("id"));
    })).compose(v -> expandAll(groups, result));
  }

  private Future<Void> expandAll(Deque<String> groups, Result result) {
    if (groups.isEmpty()) return Future.succeededFuture();
    String group = groups.poll();
    result.groupExpansions.increment();
    return pages(base + "/v1.0/groups/" + group + "/transitiveMembers?$select=id", result, page -> page.getJsonArray("value")
        .forEach(m -> result.principals.add(((JsonObject) m).getString("id"))), result.groupExpansionHits)
        .compose(v -> expandAll(groups, result));
  }

  private Future<Void> pages(String url, Result result, java.util.function.Consumer<JsonObject> onPage) {
    return pages(url, result, onPage, null);
  }

  /** Follows @odata.nextLink until the last page. */
  private Future<Void> pages(String url, Result result, java.util.function.Consumer<JsonObject> onPage, LongAdder hits) {
    return get(url, result, hits).compose(page -> {
      onPage.accept(page);
      String next = page.getString("@odata.nextLink");
      return next == null ? Future.succeededFuture() : pages(next, result, onPage, null);
    });
  }

  private Future<JsonObject> get(String url, Result result, LongAdder hits) {
    URI uri = URI.create(url);
    RequestOptions request = new RequestOptions().setMethod(HttpMethod.GET).setAbsoluteURI(url)
        .putHeader("Authorization", token).setIdleTimeout(120_000);
    result.requests.increment();
    return client.request(request).compose(req -> req.send()).compose(resp -> resp.body().compose(body -> {
      int status = resp.statusCode();
      if (status == 429 || status == 503) {
        result.throttled.increment();
        long waitMs = retryAfterMs(resp.getHeader("Retry-After"));
        Promise<JsonObject> later = Promise.promise();
        vertx.setTimer(waitMs, id -> get(url, result, hits).onComplete(later));
        return later.future();
      }
      if (status != 200) return Future.failedFuture(new IllegalStateException(status + " for " + uri.getPath() + ": " + body));
      String cache = resp.getHeader("X-Cache");
      if (hits != null && cache != null && cache.startsWith("HIT")) hits.increment();
      return Future.succeededFuture(new JsonObject(body));
    }));
  }

  private static long retryAfterMs(String header) {
    try {
      return header == null ? 1000 : Math.max(1, Math.round(Double.parseDouble(header.trim()) * 1000));
    } catch (NumberFormatException e) {
      return 1000;
    }
  }

  public Future<Void> close() {
    return client.close();
  }

}
