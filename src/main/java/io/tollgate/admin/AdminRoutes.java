package io.tollgate.admin;

import io.tollgate.config.PathPattern;
import io.tollgate.cache.ResponseCache;
import io.tollgate.proxy.GatewayException;
import io.tollgate.proxy.GraphError;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.UUID;
import java.util.function.Consumer;

/** The cache's admin API on the management port (behind {@link AdminAuth}). */
public final class AdminRoutes implements Consumer<Router> {
  private static final GatewayException BAD_PATTERN = new GatewayException(400, "BadRequest",
      "pattern must be a non-empty path glob starting with /, such as /v1.0/groups/abc/*", null);

  private final ResponseCache cache;

  public AdminRoutes(ResponseCache cache) {
    this.cache = cache;
  }

  @Override
  public void accept(Router router) {
    router.get("/admin/cache/stats").handler(ctx -> json(ctx, cache.stats().snapshot().toJson()));
    router.post("/admin/cache/clear").handler(ctx -> cache.clear()
        .onComplete(ar -> json(ctx, new JsonObject().put("removed", ar.succeeded() ? ar.result() : 0))));
    router.post("/admin/cache/invalidate").handler(ctx -> {
      String pattern = ctx.request().getParam("pattern");
      if (!PathPattern.valid(pattern)) {
        GraphError.write(ctx.response(), BAD_PATTERN, UUID.randomUUID().toString());
        return;
      }
      cache.invalidate(PathPattern.compile(pattern))
          .onComplete(ar -> json(ctx, new JsonObject().put("pattern", pattern).put("removed", ar.succeeded() ? ar.result() : 0)));
    });
  }

  private static void json(RoutingContext ctx, JsonObject body) {
    ctx.response().putHeader("Content-Type", "application/json").end(body.encode());
  }
}
