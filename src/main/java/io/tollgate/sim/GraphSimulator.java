package io.tollgate.sim;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An in-process imitation of Microsoft Graph for tests, benchmarks and the {@code simulate} command: users,
 * groups, members, sites and permissions from a seed, paging with absolute nextLinks, {@code $batch}, per-caller
 * resource-unit throttling, injected latency, errors and hangs, plus {@code /_sim/*} test-support endpoints
 * (stats, header echo, streaming echo/count/bytes, slow, hang, status, redirect).
 *
 * <p>Design: deploy one instance. Its HTTP server runs on this verticle's event loop, which alone mutates the
 * data set and the throttling buckets; the other threads only swap immutable snapshots ({@link #reconfigure})
 * or a fresh {@link Tenant} ({@link #reset}) behind volatile fields, and read {@link SimulatorStats}. Delays use
 * timers, never sleeps. Every JSON answer carries {@code callerHash} so a cache that leaks one caller's answer to
 * another is visible in a test.
 */
public final class GraphSimulator extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(GraphSimulator.class);
  private static final String VERSION_1 = "v1.0";
  private static final String BETA = "beta";
  /** Graph bodies here are small; anything larger is a client bug worth a clear 413. */
  private static final long MAX_API_BODY_BYTES = 4L << 20;

  private final SimulatorOptions initial;
  private final SimulatorStats stats = new SimulatorStats();
  private final Tokens tokens = new Tokens(Tokens.DEFAULT_SECRET);
  private final GraphApi api = new GraphApi(this::origin);
  private volatile Behaviour behaviour;
  private volatile Tenant tenant;
  private volatile int port = -1;
  private HttpServer server;
  private SupportRoutes support;
  private TokenEndpoint tokenEndpoint;
  private OutOfBand outOfBand;
  private Subscriptions subscriptions;
  private volatile double groupChangeRate;
  private volatile double driveItemChangeRate;
  private long changeTimer = -1;

  /** Use {@link #start(Vertx, SimulatorOptions)} unless deploying it yourself; the options are copied. */
  public GraphSimulator(SimulatorOptions options) {
    this.initial = new SimulatorOptions(Objects.requireNonNull(options, "options"));
    this.behaviour = Behaviour.of(initial);
  }

  /**
   * Deploys a simulator and completes once it listens.
   *
   * @return the running simulator, or a failed future listing every problem with the options
   */
  public static Future<GraphSimulator> start(Vertx vertx, SimulatorOptions options) {
    List<String> problems = options.validate();
    if (!problems.isEmpty()) {
      return Future.failedFuture(new IllegalArgumentException("invalid simulator options: " + String.join("; ", problems)));
    }
    GraphSimulator simulator = new GraphSimulator(options);
    return vertx.deployVerticle(simulator).map(id -> simulator);
  }

  @Override
  public Future<?> start() {
    List<String> problems = initial.validate();
    if (!problems.isEmpty()) {
      return Future.failedFuture(new IllegalArgumentException("invalid simulator options: " + String.join("; ", problems)));
    }
    tenant = Tenant.initial(initial);
    support = new SupportRoutes(vertx, this, stats);
    tokenEndpoint = new TokenEndpoint(initial, this::origin);
    outOfBand = new OutOfBand(initial.getSeed());
    subscriptions = new Subscriptions(vertx, context, tokens, () -> tenant, stats);
    subscriptions.setDeliveryDelay(initial.getNotificationDelay());
    groupChangeRate = initial.getGroupChangeRate();
    driveItemChangeRate = initial.getDriveItemChangeRate();
    changeTimer = vertx.setPeriodic(1000, id -> {
      outOfBand.tick(tenant.directory, stats, groupChangeRate, 1.0);
      tenant.drives.tick(driveItemChangeRate, 1.0);
    });
    HttpServerOptions serverOptions = new HttpServerOptions()
        .setHost(initial.getHost()).setPort(initial.getPort())
        // Graph gzips for clients that ask; so must its stand-in, or the gateway's decoding goes untested.
        .setCompressionSupported(initial.isCompression());
    server = vertx.createHttpServer(serverOptions).requestHandler(this::handle);
    return server.listen().onSuccess(s -> {
      port = s.actualPort();
      LOG.info("Graph simulator listening on {} ({} users, {} groups, {} sites)", origin(),
          initial.getUsers(), initial.getGroups(), initial.getSites());
    });
  }

  @Override
  public Future<?> stop() {
    if (changeTimer >= 0) vertx.cancelTimer(changeTimer);
    if (subscriptions != null) subscriptions.close();
    return server == null ? Future.succeededFuture() : server.close();
  }

  /** The port listened on; -1 before the server is up. */
  public int port() {
    return port;
  }

  /** {@code http://127.0.0.1:PORT}, or the configured {@code publicOrigin}; no trailing slash. */
  public String origin() {
    String configured = initial.getPublicOrigin();
    if (configured != null) return configured.endsWith("/") ? configured.substring(0, configured.length() - 1) : configured;
    String host = initial.getHost();
    if (host.equals("0.0.0.0") || host.equals("::")) host = "127.0.0.1";
    if (host.contains(":")) host = "[" + host + "]";
    return "http://" + host + ":" + port;
  }

  /**
   * From now on this exact {@code Authorization} value gets 401, as Graph answers a revoked or disabled
   * token. Callable from any thread.
   */
  public void revoke(String authorization) {
    tokens.revoke(authorization);
  }

  /** Change-notification subscriptions and their sender (settings and counters usable from any thread). */
  public Subscriptions subscriptions() {
    return subscriptions;
  }

  /** Live counters; safe to read from any thread. */
  public SimulatorStats stats() {
    return stats;
  }

  /**
   * Swaps latency, throttling, error, hang and page-size settings; takes effect for requests that arrive
   * afterwards. The data set, host and port stay as started. Callable from any thread.
   *
   * @throws IllegalArgumentException when the options are invalid
   */
  public void reconfigure(SimulatorOptions options) {
    List<String> problems = options.validate();
    if (!problems.isEmpty()) throw new IllegalArgumentException("invalid simulator options: " + String.join("; ", problems));
    behaviour = Behaviour.of(new SimulatorOptions(options));
    groupChangeRate = options.getGroupChangeRate();
    if (subscriptions != null) subscriptions.setDeliveryDelay(options.getNotificationDelay());
    driveItemChangeRate = options.getDriveItemChangeRate();
  }

  /** Applies out-of-band directory changes ({@link OutOfBand}); on the event loop. */
  JsonObject changeDirectory(JsonObject body) {
    return outOfBand.apply(tenant.directory, stats, body);
  }

  /**
   * Calls {@code listener} with the id of each group the background change rate changes, on the simulator's event
   * loop right after the change is applied (and logged for the delta feeds): for benchmarks that time what follows a
   * change. Call after start; null stops it.
   */
  public void onBackgroundGroupChange(java.util.function.Consumer<String> listener) {
    outOfBand.listener(listener);
  }

  /** Forgets every delta token handed out so far: the next delta call with one gets 410; on the event loop. */
  void expireDeltaTokens() {
    tenant.directory.changes.expireAll();
  }

  /**
   * Zeroes the stats, empties the throttling buckets and restores the data set as generated at start.
   * Callable from any thread; requests already being answered finish against the old data.
   */
  public void reset() {
    tenant = Tenant.initial(initial);
    stats.reset();
  }

  /**
   * Changes drive items behind every client's back (an out-of-band write): {@code fraction} of them at random, or
   * the one {@code id} ({@code d1i3}) when given. Each gets a new version, so new ETags. Runs on the simulator's
   * event loop; callable from any thread.
   *
   * @return the changed items as {@code driveId/itemId}
   */
  public Future<List<String>> changeDriveItems(double fraction, String id) {
    io.vertx.core.Promise<List<String>> done = io.vertx.core.Promise.promise();
    context.runOnContext(v -> done.complete(tenant.drives.change(fraction, id)));
    return done.future();
  }

  /** The current tenant's drive items; on the simulator's event loop only. */
  DriveItems drives() {
    return tenant.drives;
  }

  /** Undeploys the simulator and closes its server. */
  public Future<Void> close() {
    String id = context == null ? null : deploymentID();
    return id == null ? Future.succeededFuture() : vertx.undeploy(id);
  }

  // ---- request handling, on the event loop ----

  private void handle(HttpServerRequest req) {
    track(req);
    String path = req.path();
    if (path.startsWith("/_sim/")) {
      support.handle(req);
    } else if (TokenEndpoint.matches(path) && req.method() == io.vertx.core.http.HttpMethod.POST) {
      token(req);
    } else if (Subscriptions.matches(path)) {
      subscriptions.handle(req);
    } else if (path.startsWith("/" + VERSION_1 + "/")) {
      graph(req, VERSION_1);
    } else if (path.startsWith("/" + BETA + "/")) {
      graph(req, BETA);
    } else {
      GraphApi.Call call = GraphApi.Call.of(req.method().name(), VERSION_1, path, null,
          Caller.of(req.getHeader(HttpHeaders.AUTHORIZATION)), null, req.getHeader("client-request-id"));
      write(req.response(), call, GraphApi.error(404, "BadRequest", "Invalid version: the path must start with /v1.0/ or /beta/.", call));
    }
  }

  /**
   * Counts the request in flight from arrival until its answer is written or its client leaves. Vert.x calls the
   * end handler in both cases (and the close handler after it when the connection dropped), so "not ended yet"
   * is what tells a cancellation apart.
   */
  private void track(HttpServerRequest req) {
    stats.opened();
    HttpServerResponse response = req.response();
    boolean[] done = {false};
    Handler<Void> finish = v -> {
      if (done[0]) return;
      done[0] = true;
      stats.closed();
      if (!response.ended()) stats.cancelledOne();
    };
    response.endHandler(finish);
    response.closeHandler(finish);
  }

  private void graph(HttpServerRequest req, String version) {
    Behaviour b = behaviour;
    Tenant t = tenant;
    String rawPath = req.path().substring(version.length() + 1);
    GraphApi.Call head = GraphApi.Call.of(req.method().name(), version, rawPath, req.query(),
        Caller.of(req.getHeader(HttpHeaders.AUTHORIZATION)), null, req.getHeader("client-request-id"));
    stats.received(head.key());
    boolean gatewayHeader = false;
    for (String name : req.headers().names()) {
      if (name.regionMatches(true, 0, "x-tollgate-", 0, 11)) gatewayHeader = true;
    }
    stats.headers(req.getHeader("x-ms-throttle-priority"), gatewayHeader);
    String authorization = req.getHeader(HttpHeaders.AUTHORIZATION);
    if (b.hangRate() > 0 && t.random.nextDouble() < b.hangRate()) {
      LOG.debug("hanging {} on purpose", head.key());
      return;
    }
    String length = req.getHeader(HttpHeaders.CONTENT_LENGTH);
    if (length != null && parseLong(length) > MAX_API_BODY_BYTES) {
      write(req.response(), head, GraphApi.error(413, "RequestEntityTooLarge", "The request body is too large.", head));
      return;
    }
    req.body()
        .compose(body -> delay(b, t).map(v -> body))
        .map(body -> {
          // Judged after the latency, as Graph takes its time to refuse a token too.
          if (!tokens.accepts(authorization, System.currentTimeMillis())) {
            stats.unauthorizedOne();
            return GraphApi.error(401, "InvalidAuthenticationToken",
                "Access token validation failure. Invalid audience, signature or expiry.", head);
          }
          GraphApi.Call call = new GraphApi.Call(head.method(), version, rawPath, head.rawQuery(), head.params(),
              head.caller(), body, head.requestId(), head.clientRequestId());
          GraphApi.Answer refused = t.drives.precondition(call, req.getHeader(HttpHeaders.IF_MATCH));
          if (refused != null) return refused;
          return rawPath.equals("/$batch") && call.method().equals("POST")
              ? api.batch(t, b, stats, call)
              : api.execute(t, b, stats, call);
        })
        .recover(failure -> Future.succeededFuture(
            GraphApi.error(500, "InternalServerError", "Simulator failure: " + failure.getMessage(), head)))
        .onSuccess(answer -> write(req.response(), head,
            DriveItems.notModified(answer, head.method(), req.getHeader(HttpHeaders.IF_NONE_MATCH))));
  }

  private void token(HttpServerRequest req) {
    req.body().onComplete(ar -> {
      HttpServerResponse response = req.response();
      if (response.closed() || response.ended()) return;
      TokenEndpoint.Reply reply = tokenEndpoint.issue(req.path(), ar.succeeded() ? ar.result() : null, System.currentTimeMillis());
      if (reply.status() == 200) stats.tokenIssued();
      response.setStatusCode(reply.status()).putHeader(HttpHeaders.CACHE_CONTROL, "no-store")
          .putHeader(HttpHeaders.CONTENT_TYPE, "application/json; charset=utf-8").end(reply.body().toBuffer());
    });
  }

  private Future<Void> delay(Behaviour b, Tenant t) {
    long ms = b.latencyMs();
    if (b.latencyJitterMs() > 0) ms += (long) (t.random.nextDouble() * (b.latencyJitterMs() + 1));
    return ms <= 0 ? Future.succeededFuture() : vertx.timer(ms);
  }

  /** Writes an answer with Graph's standard headers; the caller hash goes into every JSON body. */
  private void write(HttpServerResponse response, GraphApi.Call call, GraphApi.Answer answer) {
    if (response.closed() || response.ended()) return;
    response.setStatusCode(answer.status())
        .putHeader(HttpHeaders.CACHE_CONTROL, "no-cache")
        .putHeader("request-id", call.requestId())
        .putHeader("client-request-id", call.clientRequestId());
    answer.headers().forEach(response::putHeader);
    if (answer.status() == 304) stats.notModifiedOne();
    if (answer.body() == null) {
      response.end();
      return;
    }
    Buffer body = answer.body().put("callerHash", call.caller().hash()).toBuffer();
    stats.bodyBytes(body.length());
    response.putHeader(HttpHeaders.CONTENT_TYPE, GraphApi.GRAPH_JSON).end(body);
  }

  private static long parseLong(String text) {
    try {
      return Long.parseLong(text.trim());
    } catch (NumberFormatException e) {
      return -1;
    }
  }
}
