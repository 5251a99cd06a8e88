package io.tollgate.sim;

import io.netty.handler.codec.http.QueryStringDecoder;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The Microsoft identity platform's client-credentials grant, {@code POST /{tenant}/oauth2/v2.0/token} with a
 * form body ({@code grant_type=client_credentials}, {@code client_id}, {@code client_secret},
 * {@code scope=https://graph.microsoft.com/.default}): answers {@code {"token_type":"Bearer","expires_in",
 * "ext_expires_in","access_token"}} with a token this simulator's {@link Tokens} accepts (an app token:
 * {@code idtyp} app, {@code roles} Directory.Read.All, {@code exp}), or the platform's error shape
 * ({@code {"error":"invalid_client","error_description":"AADSTS..."}}). Thread-safe (no state).
 */
final class TokenEndpoint {
  /** Status and JSON body of an answer. */
  record Reply(int status, JsonObject body) {}

  private final String clientId;
  private final String clientSecret;
  private final long lifetimeSeconds;

  TokenEndpoint(SimulatorOptions options) {
    this.clientId = options.getClientId();
    this.clientSecret = options.getClientSecret();
    this.lifetimeSeconds = options.getTokenLifetime().getSeconds();
  }

  /** True for the token endpoint's path: {@code /{tenant}/oauth2/v2.0/token}. */
  static boolean matches(String path) {
    return path.endsWith("/oauth2/v2.0/token") && path.indexOf('/', 1) == path.length() - "/oauth2/v2.0/token".length();
  }

  Reply issue(String path, Buffer form, long nowMillis) {
    String tenant = path.substring(1, path.indexOf('/', 1));
    Map<String, List<String>> params = new QueryStringDecoder(form == null ? "" : form.toString(), false).parameters();
    String grant = first(params, "grant_type");
    if (!"client_credentials".equals(grant)) {
      return error(400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type '" + grant + "'.");
    }
    String id = first(params, "client_id");
    String secret = first(params, "client_secret");
    if (id == null || !id.equals(clientId)) {
      return error(400, "unauthorized_client", "AADSTS700016: Application with identifier '" + id + "' was not found in the directory.");
    }
    if (secret == null || !java.security.MessageDigest.isEqual(secret.getBytes(), clientSecret.getBytes())) {
      return error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.");
    }
    String scope = first(params, "scope");
    if (scope == null || !scope.endsWith("/.default")) {
      return error(400, "invalid_scope", "AADSTS1002012: The provided value for scope is not valid: client credentials need a /.default scope.");
    }
    long now = nowMillis / 1000;
    JsonObject claims = new JsonObject().put("aud", "https://graph.microsoft.com").put("tid", tenant)
        .put("appid", clientId).put("azp", clientId).put("idtyp", "app").put("oid", UUID.nameUUIDFromBytes(clientId.getBytes()).toString())
        .put("roles", new JsonArray().add("Directory.Read.All")).put("iat", now).put("nbf", now).put("exp", now + lifetimeSeconds)
        .put("jti", UUID.randomUUID().toString());
    String token = Tokens.issue(claims).substring("Bearer ".length());
    return new Reply(200, new JsonObject().put("token_type", "Bearer").put("expires_in", lifetimeSeconds)
        .put("ext_expires_in", lifetimeSeconds).put("access_token", token));
  }

  private static String first(Map<String, List<String>> params, String name) {
    List<String> v = params.get(name);
    return v == null || v.isEmpty() ? null : v.get(0);
  }

  private static Reply error(int status, String code, String description) {
    return new Reply(status, new JsonObject().put("error", code).put("error_description", description)
        .put("error_codes", new JsonArray()).put("timestamp", java.time.Instant.now().toString())
        .put("trace_id", UUID.randomUUID().toString()).put("correlation_id", UUID.randomUUID().toString()));
  }
}
