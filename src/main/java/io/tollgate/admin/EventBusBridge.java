package io.tollgate.admin;

import io.tollgate.metrics.Addresses;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.bridge.BridgeEventType;
import io.vertx.ext.bridge.PermittedOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.handler.sockjs.BridgeEvent;
import io.vertx.ext.web.handler.sockjs.SockJSBridgeOptions;
import io.vertx.ext.web.handler.sockjs.SockJSHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The event bus for other processes: a SockJS bridge under {@value #PATH} on the management port (raw WebSocket
 * at {@code /eventbus/websocket}). Outbound, anyone who reaches the port may listen to {@code tollgate.cache.stats}
 * and {@code tollgate.events} (no secrets travel there). Inbound, only the cache API ({@code tollgate.cache}) is
 * addressable, and only by messages whose {@code headers.authorization} is {@code Bearer <admin token>}; with no
 * admin token configured every inbound message is refused. The token is stripped before the message reaches
 * the bus, so it never travels further.
 */
public final class EventBusBridge implements Handler<BridgeEvent> {
  private static final Logger LOG = LoggerFactory.getLogger(EventBusBridge.class);
  public static final String PATH = "/eventbus";
  static final String AUTH_HEADER = "authorization";
  /** Largest body an {@code xhr_send} may post: the WebSocket transport's own message limit; larger gets 413. */
  static final long MAX_POSTED_BYTES = HttpServerOptions.DEFAULT_MAX_WEBSOCKET_MESSAGE_SIZE;
  /** The polling transport, {@code /<server>/<session>/xhr}. */
  private static final String POLLING = "/[^/]+/[^/]+/xhr";

  private final AdminToken token;

  private EventBusBridge(String adminToken) {
    this.token = new AdminToken(adminToken);
  }

  /**
   * Refuses (403) a browser page from a foreign origin before SockJS would answer it with CORS headers that
   * echo its origin: only the management port's own pages and the configured {@code bridgeOrigins} may
   * open the bridge from a browser. A request without {@code Origin} is a process, not a page, and passes.
   */
  public static Handler<io.vertx.ext.web.RoutingContext> originCheck(java.util.List<String> allowed) {
    java.util.Set<String> origins = java.util.Set.copyOf(allowed);
    return ctx -> {
      String origin = ctx.request().getHeader("Origin");
      String host = ctx.request().getHeader("Host");
      boolean same = origin != null && host != null && (origin.equals("http://" + host) || origin.equals("https://" + host));
      if (origin == null || same || origins.contains(origin)) {
        ctx.next();
        return;
      }
      LOG.debug("event-bus bridge: refused a page from origin {}", origin);
      ctx.response().setStatusCode(403).putHeader("Content-Type", "application/json")
          .end(io.tollgate.proxy.GraphError.body("Forbidden", "This origin may not open the event-bus bridge.",
              java.util.UUID.randomUUID().toString()).encode());
    };
  }

  /**
   * The router to mount at {@code /eventbus/*}. SockJS reads the frames a client posts ({@code xhr_send}) from the
   * routing context's body, so a body handler goes first, capped like a WebSocket message: without it every
   * {@code xhr}/{@code xhr_streaming} session is one way, and what it sends answers 500. SockJS also closes the
   * connection after every {@code xhr} poll without saying so: that answer says {@code Connection: close}, so a
   * keep-alive client does not send its next request (an {@code xhr_send}) into a connection that is going away.
   */
  public static Router router(Vertx vertx, String adminToken) {
    SockJSBridgeOptions options = new SockJSBridgeOptions()
        .addOutboundPermitted(new PermittedOptions().setAddress(Addresses.CACHE_STATS))
        .addOutboundPermitted(new PermittedOptions().setAddress(Addresses.EVENTS))
        .addInboundPermitted(new PermittedOptions().setAddress(Addresses.CACHE))
        // Replies to an admin's request are the only other traffic; bound how long the bridge keeps them.
        .setReplyTimeout(10_000);
    Router bridge = SockJSHandler.create(vertx).bridge(options, new EventBusBridge(adminToken));
    Router router = Router.router(vertx);
    router.post().handler(BodyHandler.create(false).setBodyLimit(MAX_POSTED_BYTES));
    router.postWithRegex(POLLING).handler(ctx -> {
      ctx.response().putHeader(HttpHeaders.CONNECTION, HttpHeaders.CLOSE);
      ctx.next();
    });
    router.route("/*").subRouter(bridge);
    return router;
  }

  @Override
  public void handle(BridgeEvent event) {
    BridgeEventType type = event.type();
    if (type != BridgeEventType.SEND && type != BridgeEventType.PUBLISH) {
      event.complete(true);
      return;
    }
    JsonObject raw = event.getRawMessage();
    JsonObject headers = raw == null ? null : raw.getJsonObject("headers");
    String given = headers == null ? null : headers.getString(AUTH_HEADER);
    boolean allowed = token.admits(given);
    if (allowed) {
      headers.remove(AUTH_HEADER);
      event.setRawMessage(raw);
    } else {
      LOG.debug("event-bus bridge: inbound {} to {} refused ({})", type, raw == null ? null : raw.getString("address"),
          token.configured() ? "missing or wrong token" : "no admin token configured");
    }
    event.complete(allowed);
  }
}
