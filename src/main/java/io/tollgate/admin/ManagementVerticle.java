package io.tollgate.admin;

import io.tollgate.metrics.Readiness;
import io.tollgate.config.ManagementOptions;
import io.tollgate.metrics.TollgateMetrics;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The management port: the live dashboard ({@link Dashboard}, open like {@code /metrics}), health, Prometheus
 * metrics and the admin API. Components add their admin routes
 * through {@link #adminRoutes} contributions; every route under {@code /admin} passes {@link AdminAuth}.
 */
public final class ManagementVerticle extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(ManagementVerticle.class);

  private final ManagementOptions options;
  private final TollgateMetrics metrics;
  private final Readiness readiness;
  private final JsonObject effectiveConfig;
  private final java.util.List<Consumer<Router>> adminRoutes;
  private HttpServer server;
  private Dashboard dashboard;

  public ManagementVerticle(ManagementOptions options, TollgateMetrics metrics, Readiness readiness,
      JsonObject effectiveConfig, java.util.List<Consumer<Router>> adminRoutes) {
    this.options = new ManagementOptions(options);
    this.metrics = metrics;
    this.readiness = readiness;
    this.effectiveConfig = effectiveConfig.copy();
    this.adminRoutes = java.util.List.copyOf(adminRoutes);
  }

  @Override
  public Future<?> start() {
    Router router = Router.router(vertx);
    router.get("/health/live").handler(ctx -> json(ctx, 200, new JsonObject().put("status", "UP")));
    router.get("/health/ready").handler(ctx -> json(ctx, readiness.ready() ? 200 : 503, readiness.toJson()));
    router.get("/metrics").handler(ctx -> ctx.response()
        .putHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        .end(metrics.scrape()));
    dashboard = new Dashboard(vertx, metrics.registry(), readiness, effectiveConfig);
    dashboard.mount(router);
    router.route("/admin/*").handler(new AdminAuth(options.getAdminToken()));
    router.get("/admin/config").handler(ctx -> json(ctx, 200, effectiveConfig));
    adminRoutes.forEach(contribution -> contribution.accept(router));
    if (options.isEventBusBridge()) {
      router.route(EventBusBridge.PATH + "/*").handler(EventBusBridge.originCheck(options.getBridgeOrigins()));
      router.route(EventBusBridge.PATH + "/*").subRouter(EventBusBridge.router(vertx, options.getAdminToken()));
    }
    server = vertx.createHttpServer(new HttpServerOptions().setHost(options.getHost()).setPort(options.getPort()));
    return server.requestHandler(router).listen()
        .recover(failure -> Future.failedFuture(new IllegalStateException("management port " + options.getHost() + ":"
            + options.getPort() + ": " + failure.getMessage(), failure))).onSuccess(s -> LOG.info("management on http://{}:{} (admin {})",
        options.getHost(), s.actualPort(), options.getAdminToken() == null ? "closed: no token" : "token required"));
  }

  public int port() {
    return server.actualPort();
  }

  private static void json(RoutingContext ctx, int status, JsonObject body) {
    ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json").end(body.encode());
  }

  @Override
  public Future<?> stop() {
    if (dashboard != null) dashboard.close();
    return server == null ? Future.succeededFuture() : server.close();
  }
}
