package io.tollgate.graph;

import io.tollgate.cache.CacheKey;
import io.tollgate.cache.CacheStage;
import io.tollgate.config.CacheOptions.Route;
import io.tollgate.proxy.Exchange;
import io.tollgate.proxy.GatewayException;
import io.tollgate.proxy.Reply;
import io.tollgate.proxy.Stage;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code POST /v1.0/$batch} and {@code /beta/$batch}, answered from the cache where possible.
 *
 * <p>The batch is parsed and validated first (a malformed one never reaches the upstream). GET sub-requests
 * on cached routes are looked up with the same keys as single reads, in the outer request's caller
 * partition; hits are answered locally. The rest go upstream in waves: each wave holds the requests whose
 * dependencies are answered (a failed dependency gives 424 locally), split into batches of at most 20, each
 * sent through the rest of the pipeline as its own call costing one token per sub-request. Sub-responses
 * that come back 429/503 are retried after their own Retry-After while the request deadline allows.
 * Successful GET sub-responses are stored; successful writes run the invalidation rules. The client gets
 * one batch response with every id it sent, in its original order. Parsing and assembly run on a bounded
 * worker pool: batch bodies can be large.
 */
public final class BatchStage implements Stage {
  private static final int MAX_BODY = 4 << 20;
  private static final int MAX_ATTEMPTS = 3;
  private static final long MAX_RETRY_AFTER_MS = 30_000;

  private final Vertx vertx;
  private final CacheStage cache;
  private final WorkerExecutor workers;
  private final long deadlineMs;

  /**
   * @param cache the cache stage whose keys, rules and store are used, or null when caching is off
   * @param deadlineMs the longest a batch may take, retries included
   */
  public BatchStage(Vertx vertx, CacheStage cache, WorkerExecutor workers, long deadlineMs) {
    this.vertx = vertx;
    this.cache = cache;
    this.workers = workers;
    this.deadlineMs = deadlineMs;
  }

  static boolean isBatch(String path) {
    return "/v1.0/$batch".equals(path) || "/beta/$batch".equals(path);
  }

  @Override
  public Future<Reply> apply(Exchange ex, Chain next) {
    if (ex.method() != io.vertx.core.http.HttpMethod.POST || !isBatch(ex.path())) return next.proceed(ex);
    ex.route("batch");
    String version = ex.path().substring(0, ex.path().indexOf("/$batch"));
    return readBody(ex)
        .compose(body -> workers.executeBlocking(() -> BatchRequest.parse(body), false))
        .compose(batch -> new Run(ex, next, batch, version).start());
  }

  private static Future<Buffer> readBody(Exchange ex) {
    if (!ex.hasBody()) return Future.failedFuture(new GatewayException(400, "BadRequest", "The batch body is empty.", null));
    Promise<Buffer> done = Promise.promise();
    Buffer acc = Buffer.buffer();
    var body = ex.body();
    body.exceptionHandler(done::tryFail);
    body.handler(chunk -> {
      acc.appendBuffer(chunk);
      if (acc.length() > MAX_BODY) done.tryFail(GatewayException.BODY_TOO_LARGE);
    });
    body.endHandler(v -> done.tryComplete(acc));
    body.resume();
    return done.future();
  }

  /** One batch in progress; touched only on the proxy verticle's event loop. */
  private final class Run {
    private final Exchange ex;
    private final Chain next;
    private final List<BatchRequest.Sub> subs;
    private final String version;
    private final JsonObject[] results;
    private final int[] attempts;
    private final long deadline;
    private boolean upstreamUsed;
    private boolean anyHit;

    Run(Exchange ex, Chain next, BatchRequest batch, String version) {
      this.ex = ex;
      this.next = next;
      this.subs = batch.subs();
      this.version = version;
      this.results = new JsonObject[subs.size()];
      this.attempts = new int[subs.size()];
      this.deadline = System.currentTimeMillis() + deadlineMs;
    }

    Future<Reply> start() {
      return answerFromCache().compose(v -> wave()).compose(v -> assemble());
    }

    private Future<Void> answerFromCache() {
      if (cache == null) return Future.succeededFuture();
      List<Future<Void>> lookups = new ArrayList<>();
      for (BatchRequest.Sub s : subs) {
        if (!"GET".equals(s.method())) continue;
        String path = version + s.path();
        if (cache.routeFor(path) == null) continue;
        CacheKey key = cache.keyFor(path, s.query(), headersOf(s), ex.partition());
        lookups.add(cache.lookup(key).map(hit -> {
          if (hit != null && hit.response().fresh(cache.clock().millis())) {
            anyHit = true;
            results[s.index()] = new JsonObject().put("id", s.id()).put("status", hit.response().status())
                .put("headers", headersJson(hit.response().headers())).put("body", parseBody(hit.response().body()));
          }
          return null;
        }));
      }
      return Future.join(lookups).<Void>mapEmpty().otherwiseEmpty();
    }

    /** Sends every request whose dependencies are answered, then repeats until all are answered. */
    private Future<Void> wave() {
      List<BatchRequest.Sub> ready = new ArrayList<>();
      boolean pending = false;
      for (BatchRequest.Sub s : subs) {
        if (results[s.index()] != null) continue;
        pending = true;
        boolean depsDone = true;
        boolean depFailed = false;
        for (String dep : s.dependsOn()) {
          JsonObject r = resultOf(dep);
          if (r == null) depsDone = false;
          else if (r.getInteger("status", 500) >= 400) depFailed = true;
        }
        if (!depsDone) continue;
        if (depFailed) {
          results[s.index()] = failure(s.id(), 424, "FailedDependency", "A request this one depends on failed.");
          continue;
        }
        ready.add(s);
      }
      if (!pending) return Future.succeededFuture();
      if (ready.isEmpty()) return wave();
      List<Future<Void>> calls = new ArrayList<>();
      for (int i = 0; i < ready.size(); i += BatchRequest.MAX_REQUESTS) {
        calls.add(send(ready.subList(i, Math.min(ready.size(), i + BatchRequest.MAX_REQUESTS))));
      }
      return Future.all(calls).compose(v -> wave());
    }

    private JsonObject resultOf(String id) {
      for (BatchRequest.Sub s : subs) if (s.id().equals(id)) return results[s.index()];
      return null;
    }

    /** One upstream $batch call; throttled sub-requests are left unanswered for a later wave. */
    private Future<Void> send(List<BatchRequest.Sub> chunk) {
      upstreamUsed = true;
      JsonArray requests = new JsonArray();
      for (BatchRequest.Sub s : chunk) {
        attempts[s.index()]++;
        JsonObject r = s.raw().copy();
        r.remove("dependsOn");
        requests.add(r);
      }
      Buffer body = new JsonObject().put("requests", requests).toBuffer();
      long began = System.currentTimeMillis();
      return next.proceed(ex.derive(body, chunk.size()))
          .compose(reply -> collect(reply))
          .compose(reply -> workers.executeBlocking(() -> reply.body().toJsonObject(), false)
              .map(json -> new Object[] {reply, json}))
          .compose(pair -> {
            Reply reply = (Reply) pair[0];
            if (reply.status() != 200) {
              for (BatchRequest.Sub s : chunk) results[s.index()] = failure(s.id(), reply.status(), "UpstreamBatchFailed", "The upstream refused the batch.");
              return Future.succeededFuture();
            }
            return absorb(chunk, (JsonObject) pair[1], began);
          }, failure -> {
            int status = failure instanceof GatewayException g ? g.status() : 502;
            for (BatchRequest.Sub s : chunk) results[s.index()] = failure(s.id(), status, "UpstreamUnavailable", failure.getMessage());
            return Future.succeededFuture();
          });
    }

    private Future<Void> absorb(List<BatchRequest.Sub> chunk, JsonObject response, long fetchBegan) {
      JsonArray responses = response.getJsonArray("responses", new JsonArray());
      long waitMs = 0;
      List<Future<Void>> invalidations = new ArrayList<>();
      for (BatchRequest.Sub s : chunk) {
        JsonObject r = null;
        for (Object o : responses) {
          if (o instanceof JsonObject j && s.id().equals(String.valueOf(j.getValue("id")))) r = j;
        }
        if (r == null) {
          results[s.index()] = failure(s.id(), 502, "MissingResponse", "The upstream batch did not answer this request.");
          continue;
        }
        int status = r.getInteger("status", 500);
        long retryAfter = retryAfterMs(r.getJsonObject("headers"));
        if ((status == 429 || status == 503) && attempts[s.index()] < MAX_ATTEMPTS
            && System.currentTimeMillis() + retryAfter < deadline) {
          waitMs = Math.max(waitMs, retryAfter);
          continue;
        }
        results[s.index()] = r;
        if (cache == null || status >= 400) continue;
        String path = version + s.path();
        if ("GET".equals(s.method())) {
          Route route = cache.routeFor(path);
          if (route != null) {
            cache.store(cache.keyFor(path, s.query(), headersOf(s), ex.partition()), route, status,
                headersOf(r.getJsonObject("headers")), bodyBuffer(r.getValue("body")), fetchBegan);
          }
        } else {
          invalidations.add(cache.invalidateAfterWrite(path, s.method()));
        }
      }
      Future<Void> written = Future.join(invalidations).<Void>mapEmpty().otherwiseEmpty();
      if (waitMs == 0) return written;
      long delay = waitMs;
      return written.compose(v -> {
        Promise<Void> later = Promise.promise();
        vertx.setTimer(Math.max(1, delay), id -> later.complete());
        return later.future();
      });
    }

    private Future<Reply> assemble() {
      return workers.executeBlocking(() -> {
        JsonArray responses = new JsonArray();
        for (JsonObject r : results) responses.add(r);
        MultiMap headers = MultiMap.caseInsensitiveMultiMap().add("Content-Type", "application/json");
        return Reply.buffered(200, headers, new JsonObject().put("responses", responses).toBuffer())
            .cacheStatus(upstreamUsed ? "MISS" : anyHit ? "HIT-L1" : "MISS");
      }, false);
    }
  }

  private static Future<Reply> collect(Reply reply) {
    if (!reply.isStreaming()) return Future.succeededFuture(reply);
    Future<Buffer> body = reply.stream().body();
    reply.stream().resume();
    return body.map(b -> Reply.buffered(reply.status(), reply.headers(), b));
  }

  private static MultiMap headersOf(BatchRequest.Sub s) {
    return headersOf(s.headers());
  }

  private static MultiMap headersOf(JsonObject json) {
    MultiMap m = MultiMap.caseInsensitiveMultiMap();
    if (json != null) json.forEach(e -> m.add(e.getKey(), String.valueOf(e.getValue())));
    return m;
  }

  private static JsonObject headersJson(MultiMap headers) {
    JsonObject j = new JsonObject();
    headers.forEach(e -> j.put(e.getKey(), e.getValue()));
    return j;
  }

  private static Object parseBody(Buffer body) {
    if (body == null || body.length() == 0) return null;
    try {
      return body.toJsonValue();
    } catch (RuntimeException e) {
      return body.toString();
    }
  }

  private static Buffer bodyBuffer(Object body) {
    if (body == null) return Buffer.buffer();
    if (body instanceof JsonObject j) return j.toBuffer();
    if (body instanceof JsonArray a) return a.toBuffer();
    return Buffer.buffer(String.valueOf(body));
  }

  /** Retry-After of a sub-response (decimals such as 0.249 included), capped; 1 s when absent or unreadable. */
  static long retryAfterMs(JsonObject headers) {
    if (headers != null) {
      for (String name : headers.fieldNames()) {
        if (!"retry-after".equalsIgnoreCase(name)) continue;
        java.time.Duration d = io.tollgate.proxy.RetryAfter.parse(String.valueOf(headers.getValue(name)), java.time.Clock.systemUTC());
        return d == null ? 1000 : Math.min(MAX_RETRY_AFTER_MS, d.toMillis());
      }
    }
    return 1000;
  }

  private static JsonObject failure(String id, int status, String code, String message) {
    return new JsonObject().put("id", id).put("status", status).put("headers", new JsonObject().put("Content-Type", "application/json"))
        .put("body", new JsonObject().put("error", new JsonObject().put("code", code).put("message", message)));
  }
}
