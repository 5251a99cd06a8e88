package io.tollgate.admin;

import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.metrics.Addresses;
import io.tollgate.metrics.Readiness;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.FileSystemAccess;
import io.vertx.ext.web.handler.StaticHandler;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;

/**
 * The live dashboard on the management port, open like {@code /metrics} (it shows the same figures, never a
 * token):
 * <ul>
 *   <li>{@code GET /}: the page ({@code index.html}), its script and style under {@value #ASSETS}, from the jar;</li>
 *   <li>{@code GET /dashboard/state}: the {@link DashboardState} document now;</li>
 *   <li>{@code GET /dashboard/events}: server-sent events: {@code state}, that document, first with the recent
 *       events, then each time a {@code tollgate.cache.stats} message arrives (its {@code events} empty), and
 *       {@code event} for each {@code tollgate.events} message.</li>
 * </ul>
 *
 * <p>Design note. Threads: everything here runs on the management verticle's context (its routes and its two
 * local consumers), so the fields need no locks. The state is built once per statistics message for every viewer,
 * not per viewer; a viewer whose connection cannot keep up misses updates rather than buffering them, and at most
 * {@value #MAX_VIEWERS} streams are open at once (503 beyond). Consumers are local: with a clustered event bus
 * the page still shows this gateway alone. Without a cache (no statistics message) the state is sent every
 * {@value #IDLE_REFRESH_MS} ms instead.
 */
final class Dashboard {
  static final String ASSETS = "/dashboard";
  /** Inside the jar: {@code src/main/resources/io/tollgate/dashboard}. */
  private static final String WEB_ROOT = "io/tollgate/dashboard";
  static final int MAX_VIEWERS = 16;
  static final int MAX_EVENTS = 50;
  static final long IDLE_REFRESH_MS = 5_000;
  /** A comment line now and then, so proxies keep the stream open and a gone viewer is noticed. */
  private static final long HEARTBEAT_MS = 15_000;
  private static final String SECURITY_POLICY = "default-src 'self'; img-src 'self' data:; object-src 'none'; "
      + "frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

  private final Vertx vertx;
  private final DashboardState figures;
  private final ArrayDeque<JsonObject> events = new ArrayDeque<>(MAX_EVENTS);
  private final Set<HttpServerResponse> viewers = new HashSet<>();
  private final List<MessageConsumer<JsonObject>> consumers = new ArrayList<>(2);
  private JsonObject lastStats;
  private long lastPushMs;
  private long refreshTimer = -1;

  /** Call on the management verticle's context. */
  Dashboard(Vertx vertx, MeterRegistry registry, Readiness readiness, JsonObject effectiveConfig) {
    this.vertx = vertx;
    this.figures = new DashboardState(registry, readiness, effectiveConfig);
    MessageConsumer<JsonObject> stats = vertx.eventBus().localConsumer(Addresses.CACHE_STATS);
    stats.handler(m -> {
      lastStats = m.body();
      push();
    });
    MessageConsumer<JsonObject> ev = vertx.eventBus().localConsumer(Addresses.EVENTS);
    ev.handler(m -> event(m.body()));
    consumers.add(stats);
    consumers.add(ev);
  }

  void mount(Router router) {
    router.route("/").handler(Dashboard::secured);
    router.get("/").handler(ctx -> ctx.reroute(ASSETS + "/index.html"));
    router.get(ASSETS + "/state").handler(ctx -> ctx.response().putHeader("Content-Type", "application/json")
        .putHeader("Cache-Control", "no-store").end(state().encode()));
    router.get(ASSETS + "/events").handler(this::stream);
    router.route(ASSETS + "/*").handler(Dashboard::secured);
    router.route(ASSETS + "/*").handler(StaticHandler.create(FileSystemAccess.RELATIVE, WEB_ROOT)
        .setDirectoryListing(false).setIncludeHidden(false).setMaxAgeSeconds(60));
  }

  private static void secured(RoutingContext ctx) {
    ctx.response().putHeader("Content-Security-Policy", SECURITY_POLICY).putHeader("X-Content-Type-Options", "nosniff")
        .putHeader("Referrer-Policy", "no-referrer");
    ctx.next();
  }

  /** The state with the recent events: for {@code /dashboard/state} and a stream's first message. */
  private JsonObject state() {
    return figures.build(lastStats, List.copyOf(events));
  }

  private void event(JsonObject body) {
    if (body == null) return;
    if (events.size() == MAX_EVENTS) events.removeLast();
    events.addFirst(body.copy());
    if (!viewers.isEmpty()) send("event", body.encode());
  }

  private void stream(RoutingContext ctx) {
    HttpServerResponse response = ctx.response();
    if (viewers.size() >= MAX_VIEWERS) {
      response.setStatusCode(503).putHeader("Retry-After", "10").putHeader("Content-Type", "application/json")
          .end(io.tollgate.proxy.GraphError.body("ServiceUnavailable",
              "Too many dashboard viewers; at most " + MAX_VIEWERS + " at once.", UUID.randomUUID().toString()).encode());
      return;
    }
    response.setChunked(true).putHeader("Content-Type", "text/event-stream; charset=utf-8")
        .putHeader("Cache-Control", "no-store").putHeader("X-Accel-Buffering", "no");
    viewers.add(response);
    long heartbeat = vertx.setPeriodic(HEARTBEAT_MS, id -> {
      if (!response.closed() && !response.writeQueueFull()) response.write(": keep-alive\n\n");
    });
    Runnable gone = () -> {
      viewers.remove(response);
      vertx.cancelTimer(heartbeat);
      if (viewers.isEmpty() && refreshTimer >= 0) {
        vertx.cancelTimer(refreshTimer);
        refreshTimer = -1;
      }
    };
    response.closeHandler(v -> gone.run());
    response.exceptionHandler(e -> gone.run());
    response.write("retry: 2000\n\n" + frame("state", state().encode()));
    if (refreshTimer < 0) {
      refreshTimer = vertx.setPeriodic(IDLE_REFRESH_MS, id -> {
        if (System.currentTimeMillis() - lastPushMs >= IDLE_REFRESH_MS) push();
      });
    }
  }

  /** A new state for every viewer; its {@code events} are empty, as viewers have had each one as it came. */
  private void push() {
    lastPushMs = System.currentTimeMillis();
    if (!viewers.isEmpty()) send("state", figures.build(lastStats, List.of()).encode());
  }

  private void send(String event, String json) {
    String frame = frame(event, json);
    for (HttpServerResponse viewer : List.copyOf(viewers)) {
      // A slow viewer misses this update; it gets the next whole state when it has caught up.
      if (!viewer.closed() && !viewer.writeQueueFull()) viewer.write(frame);
    }
  }

  private static String frame(String event, String json) {
    return "event: " + event + "\ndata: " + json + "\n\n";
  }

  /** Ends every stream and stops listening; the server closes after this. */
  void close() {
    consumers.forEach(MessageConsumer::unregister);
    if (refreshTimer >= 0) vertx.cancelTimer(refreshTimer);
    for (HttpServerResponse viewer : List.copyOf(viewers)) {
      if (!viewer.ended() && !viewer.closed()) viewer.end();
    }
    viewers.clear();
  }
}
