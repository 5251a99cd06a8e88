package io.tollgate.freshness;

import io.tollgate.config.ClientCertificate;
import io.tollgate.config.DeltaOptions;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.Signature;
import java.util.Base64;
import java.util.UUID;
import java.util.function.LongSupplier;

/**
 * The sidecar's own access token, by the client-credentials grant ({@code POST
 * {tokenOrigin}/{tenantId}/oauth2/v2.0/token}), kept until shortly before it expires (a tenth of its life, at
 * most 5 minutes, before) and fetched once for every caller waiting meanwhile. The app proves itself with its client
 * secret, or with a certificate: a client assertion ({@code client_assertion_type=urn:ietf:params:oauth:
 * client-assertion-type:jwt-bearer}), a JWT signed RS256 with the certificate's key whose header names the
 * certificate ({@code x5t}, {@code x5t#S256}) and whose claims are {@code aud} the token endpoint's URL, {@code iss}
 * and {@code sub} the client id, a fresh {@code jti}, {@code nbf}/{@code iat} now and {@code exp} 10 minutes on;
 * a new one for every token request. The token, the secret, the key and the assertion never reach a log, an event
 * or Redis; a failure says only the endpoint's error code.
 *
 * <p>Only the owning verticle's context calls it (no locking).
 */
final class TokenClient {
  static final String ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
  private static final long ASSERTION_LIFETIME_SECONDS = 600;
  private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();
  private final WebClient client;
  private final String url;
  private final String clientId;
  private final String clientSecret;
  private final ClientCertificate certificate;
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
    this.certificate = options.getClientCertificate();
    this.scope = options.getScope();
    this.clock = clock;
  }

  /** A valid access token (without "Bearer "): the kept one, or a new one. */
  Future<String> token() {
    if (token != null && clock.getAsLong() < refreshAtMillis) return Future.succeededFuture(token);
    if (pending != null) return pending;
    long asked = clock.getAsLong();
    MultiMap form = MultiMap.caseInsensitiveMultiMap().add("grant_type", "client_credentials").add("client_id", clientId)
        .add("scope", scope);
    if (certificate != null) {
      try {
        form.add("client_assertion_type", ASSERTION_TYPE).add("client_assertion", assertion(asked));
      } catch (GeneralSecurityException e) {
        return Future.failedFuture(new IllegalStateException("cannot sign the client assertion (" + e.getClass().getSimpleName() + ")"));
      }
    } else {
      form.add("client_secret", clientSecret);
    }
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

  /** A client assertion for one token request: header, claims, RS256 signature (a few ms of CPU, once per token). */
  String assertion(long nowMillis) throws GeneralSecurityException {
    long now = nowMillis / 1000;
    JsonObject header = new JsonObject().put("alg", "RS256").put("typ", "JWT").put("x5t", certificate.x5t())
        .put("x5t#S256", certificate.x5tS256());
    JsonObject claims = new JsonObject().put("aud", url).put("iss", clientId).put("sub", clientId)
        .put("jti", UUID.randomUUID().toString()).put("nbf", now).put("iat", now).put("exp", now + ASSERTION_LIFETIME_SECONDS);
    String signed = B64.encodeToString(header.encode().getBytes(StandardCharsets.UTF_8)) + "."
        + B64.encodeToString(claims.encode().getBytes(StandardCharsets.UTF_8));
    Signature rsa = Signature.getInstance("SHA256withRSA");
    rsa.initSign(certificate.key());
    rsa.update(signed.getBytes(StandardCharsets.US_ASCII));
    return signed + "." + B64.encodeToString(rsa.sign());
  }

  /** Forgets the kept token (the upstream answered 401 to it). */
  void invalidate() {
    token = null;
  }
}
