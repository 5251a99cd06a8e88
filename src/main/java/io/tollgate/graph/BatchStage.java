package io.tollgate.graph;

import io.tollgate.cache.CacheAccess;
import io.tollgate.cache.CachedResponse;
import io.tollgate.cache.ResponseCache;
import io.tollgate.concurrency.WorkerPool;
import io.tollgate.proxy.BodyBuffer;
import io.tollgate.proxy.Exchange;
import io.tollgate.proxy.GatewayException;
import io.tollgate.proxy.GraphError;
import io.tollgate.proxy.Gzip;
import io.tollgate.proxy.Reply;
import io.tollgate.proxy.RetryAfter;
import io.tollgate.proxy.RouteTable;
import io.tollgate.proxy.Stage;
import io.tollgate.proxy.Tally;
import io.tollgate.proxy.Timers;
import io.tollgate.proxy.UpstreamSpend;
import io.tollgate.proxy.XCache;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code POST /v1.0/$batch} and {@code /beta/$batch}, answered from the cache where possible.
 *
 * <p>Three parts: {@link BatchRequest} parses and validates (a malformed batch never reaches the upstream),
 * {@link BatchPlan} gives each sub-request its route rules and works out the waves, and this stage does the
 * I/O. GET sub-requests on cached routes are looked up through {@link CacheAccess} with the same keys as single
 * reads, in the outer request's caller partition, and served by the entry's own freshness exactly as a single
 * read would be: fresh, or stale while one refresh runs, or stale only if the upstream fails. The rest go
 * upstream in waves of at most 20, each sent through the rest of the pipeline as its own call costing one
 * token per sub-request; a failed dependency gives 424 locally. Sub-responses that come back 429/503 are
 * retried after their own Retry-After while the request deadline allows. Successful GET sub-responses are
 * stored; successful writes evict what they changed. The client gets one batch response with every id it
 * sent, in its original order. Parsing and assembly run on the bounded worker pool: batch bodies can be large.
 */
public final class BatchStage implements Stage {
  private static final int MAX_BODY = 4 << 20;
  /** The upstream's answer to one chunk of 20 is buffered to be split; past this it is refused, not held. */
  private static final long MAX_UPSTREAM_ANSWER = 64L << 20;
  private static final int MAX_ATTEMPTS = 3;
  private static final GatewayException EMPTY = new GatewayException(400, "BadRequest", "The batch body is empty.", null);
  private static final GatewayException ANSWER_TOO_LARGE = new GatewayException(502, "BadGateway",
      "The upstream's batch answer is larger than the gateway buffers.", null);

  private final Vertx vertx;
  private final CacheAccess cache;
  private final RouteTable routes;
  private final WorkerPool workers;
  private final long deadlineMs;

  /**
   * @param cache the cache's read/store face, or null when caching is off
   * @param deadlineMs the longest a batch may take, retries included
   */
  public BatchStage(Vertx vertx, CacheAccess cache, RouteTable routes, WorkerPool workers, long deadlineMs) {
    this.vertx = vertx;
    this.cache = cache;
    this.routes = routes;
    this.workers = workers;
    this.deadlineMs = deadlineMs;
  }

  @Override
  public Future<Reply> apply(Exchange ex, Chain next) {
    if (!RouteTable.BATCH.equals(ex.routeName())) return next.proceed(ex);
    String path = ex.route().path();
    String version = path.substring(0, path.indexOf("/$batch"));
    if (!ex.hasBody()) return Future.failedFuture(EMPTY);
    return BodyBuffer.read(ex.body(), MAX_BODY, GatewayException.BODY_TOO_LARGE)
        .compose(body -> workers.run(() -> BatchPlan.of(BatchRequest.parse(body), version, routes)))
        .compose(plan -> new Run(ex, next, plan).start());
  }

  /** One batch in progress; touched only on the proxy verticle's event loop. */
  private final class Run {
    private final Exchange ex;
    private final Chain next;
    private final BatchPlan plan;
    private final JsonObject[] results;
    private final CachedResponse[] staleIfError;
    private final int[] attempts;
    /** Where each sub-request's answer came from, for the tenant's economics (null: not answered yet). */
    private final Tally.Source[] sources;
    private final long deadline;
    private final List<BatchPlan.Step> refreshAfter = new ArrayList<>();
    private boolean upstreamUsed;
    private XCache fromCache;

    Run(Exchange ex, Chain next, BatchPlan plan) {
      this.ex = ex;
      this.next = next;
      this.plan = plan;
      int n = plan.steps().size();
      this.results = new JsonObject[n];
      this.staleIfError = new CachedResponse[n];
      this.attempts = new int[n];
      this.sources = new Tally.Source[n];
      this.deadline = System.currentTimeMillis() + deadlineMs;
    }

    Future<Reply> start() {
      return answerFromCache().compose(v -> wave()).compose(v -> {
        tallyReads();
        return assemble();
      }).onSuccess(r -> refreshStale());
    }

    /** Each GET sub-request is one read of the caller's tenant: from the cache, the upstream, or refused. */
    private void tallyReads() {
      for (BatchPlan.Step s : plan.steps()) {
        if (s.route().method() != HttpMethod.GET && s.route().method() != HttpMethod.HEAD) continue;
        Tally.Source source = sources[s.index()];
        ex.tally().read(source == null ? Tally.Source.REFUSED : source, s.route().cost());
      }
    }

    private Future<Void> answerFromCache() {
      if (cache == null) return Future.succeededFuture();
      List<Future<Void>> lookups = new ArrayList<>();
      for (BatchPlan.Step s : plan.steps()) {
        if (!s.cacheable() || s.bypassCache()) continue;
        lookups.add(cache.lookup(s.route(), s.headers(), ex.partition()).map(hit -> {
          if (hit != null) use(s, hit);
          return null;
        }));
      }
      return Future.join(lookups).<Void>mapEmpty().otherwiseEmpty();
    }

    /** The same decision a single read makes, by the entry's own freshness. */
    private void use(BatchPlan.Step s, ResponseCache.Hit hit) {
      CachedResponse c = hit.response();
      switch (c.freshness(cache.now())) {
        case FRESH -> answer(s, c, hit.source());
        case STALE_WHILE_REVALIDATE -> {
          cache.countStale();
          answer(s, c, XCache.STALE);
          refreshAfter.add(s);
        }
        case STALE_IF_ERROR -> staleIfError[s.index()] = c;
        default -> { }
      }
    }

    private void answer(BatchPlan.Step s, CachedResponse c, XCache source) {
      results[s.index()] = new JsonObject().put("id", s.id()).put("status", c.status())
          .put("headers", headersJson(c.headers())).put("body", parseBody(c.body()));
      sources[s.index()] = Tally.Source.CACHE;
      fromCache = worst(fromCache, source);
    }

    /** Sends every request whose dependencies are answered, then repeats until all are answered. */
    private Future<Void> wave() {
      BatchPlan.Wave wave = plan.nextWave(i -> results[i] == null ? 0 : results[i].getInteger("status", 500));
      for (BatchPlan.Step s : wave.failedDependency()) {
        results[s.index()] = failure(s.id(), 424, "FailedDependency", "A request this one depends on failed.");
        sources[s.index()] = Tally.Source.REFUSED;
      }
      if (!wave.pending()) return Future.succeededFuture();
      if (wave.ready().isEmpty()) return wave();
      List<Future<Void>> calls = new ArrayList<>();
      for (List<BatchPlan.Step> chunk : BatchPlan.chunks(wave.ready())) calls.add(send(chunk));
      return Future.all(calls).compose(v -> wave());
    }

    /** One upstream $batch call; throttled sub-requests are left unanswered for a later wave. */
    private Future<Void> send(List<BatchPlan.Step> chunk) {
      upstreamUsed = true;
      JsonArray requests = new JsonArray();
      for (BatchPlan.Step s : chunk) {
        attempts[s.index()]++;
        JsonObject r = s.sub().raw().copy();
        r.remove("dependsOn");
        requests.add(r);
      }
      Buffer body = new JsonObject().put("requests", requests).toBuffer();
      long began = System.currentTimeMillis();
      Exchange sent = ex.derive(body, chunk.stream().map(BatchPlan.Step::route).toList());
      return next.proceed(sent)
          .compose(reply -> BodyBuffer.upTo(reply, MAX_UPSTREAM_ANSWER))
          .compose(reply -> {
            if (reply.isStreaming()) {
              reply.stream().request().reset();
              return Future.failedFuture(ANSWER_TOO_LARGE);
            }
            if (reply.status() != 200) {
              for (BatchPlan.Step s : chunk) settle(s, failure(s.id(), reply.status(), "UpstreamBatchFailed", "The upstream refused the batch."), false);
              return Future.succeededFuture();
            }
            // Tollgate asks for gzip (Forwarder), and an upstream may answer either way: decode before reading, on the worker pool.
            boolean gzip = Gzip.encoded(reply.headers());
            return workers.run(() -> (gzip ? Gzip.decompress(reply.body(), MAX_UPSTREAM_ANSWER) : reply.body()).toJsonObject())
                .compose(json -> absorb(sent, chunk, json, began));
          })
          .recover(failure -> {
            int status = failure instanceof GatewayException g ? g.status() : 502;
            for (BatchPlan.Step s : chunk) settle(s, failure(s.id(), status, "UpstreamUnavailable", failure.getMessage()), false);
            return Future.succeededFuture();
          });
    }

    /**
     * A final sub-answer; a failed one gives way to a stale entry within staleIfError.
     *
     * @param fromUpstream the upstream's own sub-response (else one Tollgate wrote)
     */
    private void settle(BatchPlan.Step s, JsonObject answer, boolean fromUpstream) {
      normaliseRetryAfter(answer.getJsonObject("headers"));
      CachedResponse stale = staleIfError[s.index()];
      if (answer.getInteger("status", 500) >= 500 && stale != null && stale.usableOnError(cache.now())) {
        cache.countStale();
        answer(s, stale, XCache.STALE);
        return;
      }
      results[s.index()] = answer;
      int status = answer.getInteger("status", 500);
      sources[s.index()] = fromUpstream && status != 429 && status != 503 ? Tally.Source.UPSTREAM : Tally.Source.REFUSED;
    }

    private Future<Void> absorb(Exchange sent, List<BatchPlan.Step> chunk, JsonObject response, long fetchBegan) {
      JsonArray responses = response.getJsonArray("responses", new JsonArray());
      long waitMs = 0;
      List<Future<Void>> invalidations = new ArrayList<>();
      // Each step is throttled on its own upstream: the limiter learns from the steps' answers.
      List<Exchange.StepAnswer> said = new ArrayList<>(chunk.size());
      for (BatchPlan.Step s : chunk) {
        JsonObject r = null;
        for (Object o : responses) {
          if (o instanceof JsonObject j && s.id().equals(String.valueOf(j.getValue("id")))) r = j;
        }
        if (r == null) {
          settle(s, failure(s.id(), 502, "MissingResponse", "The upstream batch did not answer this request."), false);
          continue;
        }
        int status = r.getInteger("status", 500);
        MultiMap subHeaders = headersOf(r.getJsonObject("headers"));
        said.add(new Exchange.StepAnswer(status, subHeaders));
        ex.tally().spent(UpstreamSpend.resourceUnits(subHeaders, s.route().cost()));
        long retryAfter = retryAfterMs(r.getJsonObject("headers"));
        if ((status == 429 || status == 503) && attempts[s.index()] < MAX_ATTEMPTS
            && System.currentTimeMillis() + retryAfter < deadline) {
          waitMs = Math.max(waitMs, retryAfter);
          ex.tally().retried(status == 429 || subHeaders.contains("Retry-After"));
          continue;
        }
        settle(s, r, true);
        if (cache == null || status >= 400) continue;
        if (s.cacheable()) {
          cache.store(s.route(), s.headers(), ex.partition(), status, headersOf(r.getJsonObject("headers")),
              bodyBuffer(r.getValue("body")), fetchBegan);
        } else if (!s.route().evictions().isEmpty()) {
          invalidations.add(cache.invalidate(s.route().evictions()));
        }
      }
      sent.stepsAnswered(said);
      Future<Void> written = Future.join(invalidations).<Void>mapEmpty().otherwiseEmpty();
      if (waitMs == 0) return written;
      long delay = waitMs;
      return written.compose(v -> Timers.delay(vertx, Math.max(1, delay)));
    }

    private Future<Reply> assemble() {
      XCache source = upstreamUsed || fromCache == null ? XCache.MISS : fromCache;
      return workers.run(() -> {
        JsonArray responses = new JsonArray();
        for (JsonObject r : results) responses.add(r);
        MultiMap headers = MultiMap.caseInsensitiveMultiMap().add("Content-Type", "application/json");
        return Reply.buffered(200, headers, new JsonObject().put("responses", responses).toBuffer()).cacheStatus(source);
      });
    }

    private JsonObject failure(String id, int status, String code, String message) {
      return BatchStage.failure(id, status, code, message, ex.requestId());
    }

    /** Entries served stale-while-revalidate are fetched again after the client has its answer. */
    private void refreshStale() {
      if (refreshAfter.isEmpty() || ex.cancelled()) return;
      List<BatchPlan.Step> refresh = List.copyOf(refreshAfter);
      refreshAfter.clear();
      for (BatchPlan.Step s : refresh) results[s.index()] = null;
      for (List<BatchPlan.Step> chunk : BatchPlan.chunks(refresh)) send(chunk);
    }
  }

  /** The batch's X-Cache when no sub-request went upstream: the least fresh source of its answers. */
  private static XCache worst(XCache a, XCache b) {
    if (a == null) return b;
    if (a == XCache.STALE || b == XCache.STALE) return XCache.STALE;
    if (a == XCache.HIT_L2 || b == XCache.HIT_L2) return XCache.HIT_L2;
    return XCache.HIT_L1;
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

  /** A sub-response's {@code Retry-After} as Tollgate's own: whole seconds, 1 to 180 (decimals break the SDKs). */
  private static void normaliseRetryAfter(JsonObject headers) {
    if (headers == null) return;
    for (String name : List.copyOf(headers.fieldNames())) {
      if ("retry-after".equalsIgnoreCase(name)) headers.put(name, RetryAfter.normalise(String.valueOf(headers.getValue(name)), Clock.systemUTC()));
    }
  }

  /**
   * Retry-After of a sub-response (decimals such as 0.249 included); 1 s when absent or unreadable. Not capped:
   * a pause longer than what is left of the deadline must surface at once, not be waited out in part.
   */
  static long retryAfterMs(JsonObject headers) {
    if (headers != null) {
      for (String name : headers.fieldNames()) {
        if (!"retry-after".equalsIgnoreCase(name)) continue;
        Duration d = RetryAfter.parse(String.valueOf(headers.getValue(name)), Clock.systemUTC());
        return d == null ? 1000 : d.toMillis();
      }
    }
    return 1000;
  }

  /** A sub-response in Graph's error shape (the same body Tollgate's own errors carry). */
  private static JsonObject failure(String id, int status, String code, String message, String requestId) {
    return new JsonObject().put("id", id).put("status", status).put("headers", new JsonObject().put("Content-Type", "application/json"))
        .put("body", GraphError.body(code, message, requestId));
  }
}
