package io.tollgate.proxy;

import io.vertx.core.MultiMap;
import java.util.function.Consumer;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.streams.ReadStream;
import java.util.ArrayList;
import java.util.List;

/**
 * One client request on its way through the pipeline. Created and touched only on the proxy verticle's
 * event loop, so its mutable fields need no synchronisation. It never holds the bearer token beyond the
 * request's own headers: later stages see the {@link #partition()} hash.
 */
public final class Exchange {
  private final String requestId;
  private final HttpServerRequest request;
  private final Caller caller;
  private final long startNanos;
  private final boolean hasBody;
  private final long maxBodySize;
  private List<Runnable> cancelHooks;
  private boolean cancelled;
  private final RouteTable routes;
  private RouteTable.Route route;
  private List<Charge> charges = List.of();
  private LimitedBody body;
  /** Whether the client accepts gzip: 0 not read yet, 1 yes, 2 no. */
  private byte acceptsGzip;
  private final Exchange parent;
  private final io.vertx.core.buffer.Buffer bodyOverride;
  private List<RouteTable.Route> steps;
  private boolean staleFallback;
  private boolean conditionOwned;
  private String upstreamIfNoneMatch;
  private String upstreamIfModifiedSince;
  private Flow flow = Flow.DEFAULT;
  private final Tally tally;

  /** @param routes the compiled rules; this request's {@link #route()} is matched on first use */
  public Exchange(String requestId, HttpServerRequest request, Caller caller, long maxBodySize, RouteTable routes) {
    this.routes = routes;
    this.requestId = requestId;
    this.request = request;
    this.caller = caller;
    this.maxBodySize = maxBodySize;
    this.startNanos = System.nanoTime();
    this.parent = null;
    this.bodyOverride = null;
    this.tally = new Tally();
    String te = request.getHeader("transfer-encoding");
    String cl = request.getHeader("content-length");
    // HTTP/1.1 announces a body with Content-Length or chunking; HTTP/2 may just send DATA frames.
    boolean http2Body = request.version() == io.vertx.core.http.HttpVersion.HTTP_2 && cl == null && !request.isEnded()
        && methodMayCarryBody(request.method());
    this.hasBody = (te != null && !te.isEmpty()) || (cl != null && !"0".equals(cl.trim())) || http2Body;
  }

  /** A derived exchange for one upstream call made on behalf of this one (a $batch chunk) with its own body. */
  private Exchange(Exchange parent, io.vertx.core.buffer.Buffer body, List<RouteTable.Route> steps) {
    this.requestId = parent.requestId;
    this.request = parent.request;
    this.caller = parent.caller;
    this.maxBodySize = parent.maxBodySize;
    this.startNanos = parent.startNanos;
    this.hasBody = true;
    this.parent = parent;
    this.bodyOverride = body;
    this.steps = List.copyOf(steps);
    this.routes = parent.routes;
    this.route = parent.route();
    this.flow = parent.flow;
    this.tally = parent.tally;
  }

  /**
   * @param body the body to send instead of the client's
   * @param steps the routes of the sub-requests this call carries (a $batch chunk): the rate limiter charges
   *     each one against its own limits at its own cost, as if it had been sent alone
   */
  public Exchange derive(io.vertx.core.buffer.Buffer body, List<RouteTable.Route> steps) {
    return new Exchange(this, body, steps);
  }

  /** The sub-requests a derived $batch call carries, or null for an ordinary request. */
  public List<RouteTable.Route> batchSteps() { return steps; }

  /** One sub-response of an upstream {@code $batch} answer: its status and headers. */
  public record StepAnswer(int status, MultiMap headers) {}

  private Consumer<List<StepAnswer>> stepListener;

  /** Whoever learns from upstream answers (the limiter) listens to a {@code $batch} chunk's sub-responses. */
  public void onStepAnswers(Consumer<List<StepAnswer>> listener) { this.stepListener = listener; }

  /** The batch stage read this chunk's upstream answer: every sub-response it held, at once. */
  public void stepsAnswered(List<StepAnswer> answers) {
    if (stepListener != null && !answers.isEmpty()) stepListener.accept(answers);
  }

  /**
   * Marks that a stale answer can stand in if the upstream cannot be asked now: a stage that would make this
   * request wait behind a throttling pause may fail it at once instead ({@link GatewayException#UPSTREAM_PAUSED}).
   */
  /** The lane, flow and job this request waits as when its budgets are short (set by the rate-limit stage). */
  public Flow flow() { return flow; }
  public Lane lane() { return flow().lane(); }
  public Exchange flow(Flow f) { this.flow = f; return this; }

  /**
   * Takes the upstream request's {@code If-None-Match} over from the client: {@code etag} is sent instead of what the
   * client sent (the cache revalidating its own entry), or none at all when null (the cache answers the client's
   * condition itself, so the upstream must send the whole answer).
   */
  public Exchange upstreamIfNoneMatch(String etag) {
    return upstreamConditions(etag, null);
  }

  /**
   * Takes both validating conditions of the upstream request over from the client: {@code If-None-Match: etag} and
   * {@code If-Modified-Since: lastModified} are sent instead of the client's, each only when not null (the cache
   * revalidating its own entry with what it has, or, with both null, asking for the whole answer).
   */
  public Exchange upstreamConditions(String etag, String lastModified) {
    this.conditionOwned = true;
    this.upstreamIfNoneMatch = etag;
    this.upstreamIfModifiedSince = lastModified;
    return this;
  }

  /** True when the cache decided the upstream request's {@code If-None-Match} and {@code If-Modified-Since}. */
  public boolean ownsIfNoneMatch() { return conditionOwned; }

  /** The {@code If-None-Match} to send upstream when {@link #ownsIfNoneMatch()}, or null for none. */
  public String upstreamIfNoneMatch() { return upstreamIfNoneMatch; }

  /** The {@code If-Modified-Since} to send upstream when {@link #ownsIfNoneMatch()}, or null for none. */
  public String upstreamIfModifiedSince() { return upstreamIfModifiedSince; }

  public Exchange staleFallback(boolean available) { this.staleFallback = available; return this; }
  public boolean staleFallback() { return staleFallback; }

  /** @return a body that replaces the client's, or null to stream the client's */
  public io.vertx.core.buffer.Buffer bodyOverride() { return bodyOverride; }



  /**
   * True when sending this request twice cannot do anything twice upstream: an idempotent method (GET, HEAD,
   * OPTIONS, PUT, DELETE) and no streamed body (which cannot be replayed). POST and PATCH never.
   */
  public boolean replayable() {
    HttpMethod m = method();
    boolean idempotent = m == HttpMethod.GET || m == HttpMethod.HEAD || m == HttpMethod.OPTIONS || m == HttpMethod.PUT
        || m == HttpMethod.DELETE;
    return idempotent && !hasBody;
  }

  private static boolean methodMayCarryBody(HttpMethod m) {
    return m == HttpMethod.POST || m == HttpMethod.PUT || m == HttpMethod.PATCH;
  }

  /** What this request cost and saved upstream, for its tenant's economics (shared with its derived calls). */
  public Tally tally() { return tally; }

  public String requestId() { return requestId; }
  public HttpServerRequest request() { return request; }
  public HttpMethod method() { return request.method(); }
  /** Path and query exactly as the client sent them. */
  public String uri() { return request.uri(); }
  public String path() { return request.path(); }
  public String query() { return request.query(); }
  public MultiMap headers() { return request.headers(); }
  /** Who sent the request, as far as Tollgate trusts it. */
  public Caller caller() { return caller; }
  /** The caller's cache partition now (it changes when this very request verifies the token). */
  public String partition() { return caller.partition(); }
  public long startNanos() { return startNanos; }
  public boolean hasBody() { return hasBody; }

  /** Every rule that applies to this request (cache rule, evictions, limits, cost, name), matched once. */
  public RouteTable.Route route() {
    if (route == null) route = routes.match(request.method(), request.path(), request.query());
    return route;
  }

  /** Route rule name for metrics and logs: low cardinality, never a raw path. */
  public String routeName() { return route().name(); }

  /** The buckets the rate limiter charged for this request (empty when none applied). */
  public List<Charge> charges() { return charges; }
  public Exchange charges(List<Charge> paid) { this.charges = List.copyOf(paid); return this; }

  /** True when the client accepts a gzip answer ({@link Gzip#accepted}), read once per request. */
  public boolean acceptsGzip() {
    if (acceptsGzip == 0) acceptsGzip = Gzip.accepted(headers()) ? (byte) 1 : (byte) 2;
    return acceptsGzip == 1;
  }

  /** The request body as a stream that fails once it passes {@code server.maxBodySize}; read it once. */
  public ReadStream<Buffer> body() {
    if (body == null) body = new LimitedBody(request, maxBodySize);
    return body;
  }

  /** True when the body stream was cut for passing the limit. */
  public boolean bodyTooLarge() {
    return body != null && body.exceeded();
  }

  /** Runs {@code hook} when the client goes away before its answer; at once if it already has. */
  public void onCancel(Runnable hook) {
    if (parent != null) {
      parent.onCancel(hook);
      return;
    }
    if (cancelled) {
      hook.run();
      return;
    }
    if (cancelHooks == null) cancelHooks = new ArrayList<>(2);
    cancelHooks.add(hook);
  }

  public boolean cancelled() { return parent != null ? parent.cancelled() : cancelled; }

  void cancel() {
    if (cancelled) return;
    cancelled = true;
    if (cancelHooks != null) cancelHooks.forEach(Runnable::run);
  }
}
