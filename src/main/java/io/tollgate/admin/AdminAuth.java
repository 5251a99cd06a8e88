package io.tollgate.admin;

import io.tollgate.proxy.GatewayException;
import io.tollgate.proxy.GraphError;
import io.vertx.core.Handler;
import io.vertx.ext.web.RoutingContext;

/**
 * Guards {@code /admin/*}: closed (403) when no admin token is configured, 401 without or with a wrong
 * bearer token. The comparison is constant-time so response timing does not leak the token.
 */
public final class AdminAuth implements Handler<RoutingContext> {
  private static final GatewayException DISABLED = new GatewayException(403, "Forbidden",
      "Admin endpoints are disabled: no admin token is configured.", null);
  private static final GatewayException UNAUTHORIZED = new GatewayException(401, "Unauthorized",
      "A valid admin bearer token is required.", null);

  private final AdminToken token;

  public AdminAuth(String adminToken) {
    this.token = new AdminToken(adminToken);
  }

  @Override
  public void handle(RoutingContext ctx) {
    if (!token.configured()) {
      GraphError.write(ctx.response(), DISABLED, requestId());
      return;
    }
    if (!token.admits(ctx.request().getHeader("Authorization"))) {
      ctx.response().putHeader("WWW-Authenticate", "Bearer realm=\"tollgate-admin\"");
      GraphError.write(ctx.response(), UNAUTHORIZED, requestId());
      return;
    }
    ctx.next();
  }

  private static String requestId() {
    return java.util.UUID.randomUUID().toString();
  }
}
