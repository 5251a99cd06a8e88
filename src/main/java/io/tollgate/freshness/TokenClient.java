package io.tollgate.freshness;

import io.tollgate.config.DeltaOptions;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.function.LongSupplier;

/**
 * The sidecar's own access token, by the client-credentials grant ({@code POST
 * {tokenOrigin}/{tenantId}/oauth2/v2.0/token}), kept until shortly before it expires (a tenth of its life, at
 * most 5 minutes, before) and fetched once for every caller waiting meanwhile. The token and the secret never
 * reach a log, an event or Redis; a failure says only the endpoint's error code.
 *
 * <p>Only the owning verticle's context calls it (no locking).
 */
final class TokenClient {
  private final WebClient client;
  private final String url;
  private final String clientId;
  private final String clientSecret;
  private final String scope;
  private final LongSupplier clock;
  private String token;
  private long refreshAtMillis;
  private Future<String> pending;

  TokenClient(WebClient client, DeltaOptions options, LongSupplier clock) {
    this.client = client;
    this.url = options.getTokenOrigin() + "/" + URLEncoder.encode(options.getTenantId(), StandardCharsets.UTF_8) + "/oauth2/v2.0/token";
    this.clientId = options.getClientId();
    this.clientSecret = options.getClientSecret();
    this.scope = options.getScope();
    this.clock = clock;
  }

  /** A valid access token (without "Bearer "): the kept one, or a new one. */
  Future<String> token() {
    if (token != null && clock.getAsLong() < refreshAtMillis) return Future.succeededFuture(token);
    if (pending != null) return pending;
    MultiMap form = MultiMap.caseInsensitiveMultiMap().add("grant_type", "client_credentials").add("client_id", clientId)
        .add("client_secret", clientSecret).add("scope", scope);
    long asked = clock.getAsLong();
    pending = client.postAbs(url).timeout(30_000).sendForm(form).compose(r -> {
      JsonObject body;
      try {
        body = r.bodyAsJsonObject();
      } catch (RuntimeException e) {
        body = null;
      }
      if (r.statusCode() != 200 || body == null || !(body.getValue("access_token") instanceof String t)) {
        String code = body == null ? "no JSON body" : body.getString("error", "no access_token");
        return Future.failedFuture(new IllegalStateException("token endpoint answered " + r.statusCode() + " (" + code + ")"));
      }
      long lifeMs = Math.max(1, body.getLong("expires_in", 3599L)) * 1000;
      token = t;
      refreshAtMillis = asked + lifeMs - Math.min(300_000, lifeMs / 10);
      return Future.succeededFuture(t);
    }).eventually(() -> {
      pending = null;
      return Future.succeededFuture();
    });
    return pending;
  }

  /** Forgets the kept token (the upstream answered 401 to it). */
  void invalidate() {
    token = null;
  }
}
