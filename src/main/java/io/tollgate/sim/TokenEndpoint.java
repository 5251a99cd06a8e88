package io.tollgate.sim;

import io.netty.handler.codec.http.QueryStringDecoder;
import io.tollgate.config.ClientCertificate;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.Map;
import java.util.UUID;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Microsoft identity platform's client-credentials grant, {@code POST /{tenant}/oauth2/v2.0/token} with a
 * form body ({@code grant_type=client_credentials}, {@code client_id}, {@code client_secret},
 * {@code scope=https://graph.microsoft.com/.default}): answers {@code {"token_type":"Bearer","expires_in",
 * "ext_expires_in","access_token"}} with a token this simulator's {@link Tokens} accepts (an app token:
 * {@code idtyp} app, {@code roles} Directory.Read.All, {@code exp}), or the platform's error shape
 * ({@code {"error":"invalid_client","error_description":"AADSTS..."}}). Thread-safe (no state).
 *
 * <p>Certificate credentials: with a registered certificate ({@link SimulatorOptions#setClientCertificate}) a
 * request may prove the app with {@code client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer}
 * and {@code client_assertion}, a JWT signed RS256 with the certificate's key. It is accepted when its header names
 * the registered certificate ({@code x5t} or {@code x5t#S256} thumbprint), the signature verifies against the
 * certificate, {@code iss} and {@code sub} are the client id, {@code aud} is this endpoint's URL, it carries a
 * {@code jti}, and now lies between {@code nbf} (5 minutes of skew allowed) and {@code exp}; otherwise 400/401 with
 * the identity platform's codes (AADSTS700027 signature or unknown key, AADSTS700024 time range, AADSTS50013
 * audience, AADSTS700021 issuer, AADSTS50027 malformed).
 */
final class TokenEndpoint {
  /** Status and JSON body of an answer. */
  record Reply(int status, JsonObject body) {}

  private final String clientId;
  private final String clientSecret;
  private final long lifetimeSeconds;
  private final X509Certificate certificate;
  private final String x5t;
  private final String x5tS256;
  private final Supplier<String> origin;

  static final String ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
  private static final long SKEW_SECONDS = 300;
  private static final Pattern CERTIFICATE = Pattern.compile("-----BEGIN CERTIFICATE-----([^-]*)-----END CERTIFICATE-----");

  TokenEndpoint(SimulatorOptions options, Supplier<String> origin) {
    this.clientId = options.getClientId();
    this.clientSecret = options.getClientSecret();
    this.lifetimeSeconds = options.getTokenLifetime().getSeconds();
    this.origin = origin;
    this.certificate = options.getClientCertificate() == null ? null : certificate(options.getClientCertificate());
    this.x5t = certificate == null ? null : ClientCertificate.thumbprint("SHA-1", certificate);
    this.x5tS256 = certificate == null ? null : ClientCertificate.thumbprint("SHA-256", certificate);
  }

  /** The first {@code BEGIN CERTIFICATE} block of a PEM text, markers included; "" when there is none. */
  static String certificateBlock(String pem) {
    Matcher m = CERTIFICATE.matcher(pem);
    return m.find() ? m.group() + "\n" : "";
  }

  /** The first X.509 certificate (RSA) in a PEM text; null when there is none or it cannot be read. */
  static X509Certificate certificate(String pem) {
    Matcher m = CERTIFICATE.matcher(pem);
    if (!m.find()) return null;
    try {
      X509Certificate c = (X509Certificate) CertificateFactory.getInstance("X.509")
          .generateCertificate(new java.io.ByteArrayInputStream(Base64.getMimeDecoder().decode(m.group(1).trim())));
      return c.getPublicKey().getAlgorithm().equals("RSA") ? c : null;
    } catch (java.security.GeneralSecurityException | IllegalArgumentException | ClassCastException e) {
      return null;
    }
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
    String assertionType = first(params, "client_assertion_type");
    String assertion = first(params, "client_assertion");
    if (assertionType != null || assertion != null) {
      Reply refused = refuseAssertion(path, assertionType, assertion, id, nowMillis / 1000);
      if (refused != null) return refused;
    } else if (secret == null) {
      return error(401, "invalid_client", "AADSTS7000218: The request body must contain the following parameter: "
          + "'client_assertion' or 'client_secret'.");
    } else if (!MessageDigest.isEqual(secret.getBytes(), clientSecret.getBytes())) {
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

  /** Null when the client assertion proves the app; the identity platform's refusal otherwise. */
  private Reply refuseAssertion(String path, String type, String assertion, String id, long now) {
    if (!ASSERTION_TYPE.equals(type) || assertion == null) {
      return error(400, "invalid_request", "AADSTS50027: JWT token is invalid or malformed: client_assertion_type must be "
          + ASSERTION_TYPE + " with a client_assertion.");
    }
    String[] parts = assertion.split("\\.", -1);
    JsonObject header;
    JsonObject claims;
    byte[] signature;
    try {
      if (parts.length != 3) throw new IllegalArgumentException("not three parts");
      header = new JsonObject(new String(Base64.getUrlDecoder().decode(parts[0]), StandardCharsets.UTF_8));
      claims = new JsonObject(new String(Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8));
      signature = Base64.getUrlDecoder().decode(parts[2]);
    } catch (RuntimeException e) {
      return error(400, "invalid_request", "AADSTS50027: JWT token is invalid or malformed.");
    }
    String givenX5t = header.getValue("x5t") instanceof String t ? t : null;
    String givenS256 = header.getValue("x5t#S256") instanceof String t ? t : null;
    if (certificate == null || (givenX5t == null && givenS256 == null) || (givenX5t != null && !givenX5t.equals(x5t))
        || (givenS256 != null && !givenS256.equals(x5tS256))) {
      return error(401, "invalid_client", "AADSTS700027: Client assertion contains an invalid signature. [Reason - The key was "
          + "not found., Thumbprint of key used by client: '" + (givenX5t != null ? givenX5t : givenS256) + "']");
    }
    boolean valid;
    try {
      Signature rsa = Signature.getInstance("SHA256withRSA");
      rsa.initVerify(certificate.getPublicKey());
      rsa.update((parts[0] + "." + parts[1]).getBytes(StandardCharsets.US_ASCII));
      valid = "RS256".equals(header.getString("alg")) && rsa.verify(signature);
    } catch (java.security.GeneralSecurityException | ClassCastException e) {
      valid = false;
    }
    if (!valid) {
      return error(401, "invalid_client", "AADSTS700027: Client assertion failed signature validation.");
    }
    if (!id.equals(claims.getValue("iss")) || !id.equals(claims.getValue("sub"))) {
      return error(401, "invalid_client", "AADSTS700021: Client assertion application identifier doesn't match 'client_id' parameter.");
    }
    String endpoint = origin.get() + path;
    if (!endpoint.equals(claims.getValue("aud"))) {
      return error(401, "invalid_client", "AADSTS50013: Assertion failed validation: its audience must be '" + endpoint + "'.");
    }
    if (!(claims.getValue("jti") instanceof String jti) || jti.isEmpty()) {
      return error(400, "invalid_request", "AADSTS50027: JWT token is invalid or malformed: no jti.");
    }
    if (!(claims.getValue("exp") instanceof Number exp) || exp.longValue() <= now
        || (claims.getValue("nbf") instanceof Number nbf && nbf.longValue() > now + SKEW_SECONDS)) {
      return error(401, "invalid_client", "AADSTS700024: Client assertion is not within its valid time range. Current time: "
          + java.time.Instant.ofEpochSecond(now) + ".");
    }
    return null;
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
