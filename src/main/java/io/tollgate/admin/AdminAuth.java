package io.tollgate.admin;

import io.tollgate.proxy.GatewayException;
import io.tollgate.proxy.GraphError;
import io.vertx.core.Handler;
import io.vertx.ext.web.RoutingContext;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/**
 * Guards {@code /admin/*}: closed (403) when no admin token is configured, 401 without or with a wrong
 * bearer token. The comparison is constant-time so response timing does not leak the token.
 */
public final class AdminAuth implements Handler<RoutingContext> {
  private static final GatewayException DISABLED = new GatewayException(403, "Forbidden",
      "Admin endpoints are disabled: no admin token is configured.", null);
  private static final GatewayException UNAUTHORIZED = new GatewayException(401, "Unauthorized",
      "A valid admin bearer token is required.", null);

  private final byte[] expected;

  public AdminAuth(String adminToken) {
    this.expected = adminToken == null ? null : adminToken.getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public void handle(RoutingContext ctx) {
    if (expected == null) {
      GraphError.write(ctx.response(), DISABLED, requestId());
      return;
    }
    String header = ctx.request().getHeader("Authorization");
    byte[] given = header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)
        ? header.substring(7).trim().getBytes(StandardCharsets.UTF_8) : new byte[0];
    if (!MessageDigest.isEqual(expected, given)) {
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
