package io.tollgate.sim;

import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Access tokens as strictly as Graph judges them, so a gateway cannot pass its tests by trusting what a
 * token says about itself. A JWT-shaped bearer token ({@code header.payload.signature}) is accepted only
 * when its signature is this simulator's HMAC-SHA256 over {@code header.payload}, its {@code exp} (if any)
 * is in the future, and it has not been revoked; otherwise the call gets 401
 * {@code InvalidAuthenticationToken}. Opaque tokens ({@code Bearer alice}) carry no claims to forge and are
 * accepted, which keeps simple tests and load tests simple. {@link #issue} mints valid tokens for tests and
 * benchmarks. Thread-safe.
 */
public final class Tokens {
  /** The signing key of every simulator unless configured otherwise; tests and benchmarks mint with it. */
  public static final String DEFAULT_SECRET = "tollgate-simulator-signing-key";
  private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();

  private final byte[] secret;
  private final Set<String> revoked = ConcurrentHashMap.newKeySet();

  Tokens(String secret) {
    this.secret = secret.getBytes(StandardCharsets.UTF_8);
  }

  /** A bearer token ({@code Bearer ...}) signed with the default key, carrying {@code claims}. */
  public static String issue(JsonObject claims) {
    return issue(claims, DEFAULT_SECRET);
  }

  /** A bearer token signed with {@code secret}. */
  public static String issue(JsonObject claims, String secret) {
    String header = B64.encodeToString("{\"alg\":\"HS256\",\"typ\":\"JWT\"}".getBytes(StandardCharsets.UTF_8));
    String payload = B64.encodeToString(claims.encode().getBytes(StandardCharsets.UTF_8));
    String signed = header + "." + payload;
    return "Bearer " + signed + "." + B64.encodeToString(hmac(secret.getBytes(StandardCharsets.UTF_8), signed));
  }

  /** @return true when a call with this {@code Authorization} value may proceed */
  boolean accepts(String authorization, long nowMillis) {
    if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) return true;
    String token = authorization.substring(7).trim();
    int a = token.indexOf('.');
    int b = a < 0 ? -1 : token.indexOf('.', a + 1);
    if (a < 0 || b < 0 || token.indexOf('.', b + 1) >= 0) return true;
    if (revoked.contains(authorization)) return false;
    byte[] expected = hmac(secret, token.substring(0, b));
    byte[] given;
    try {
      given = Base64.getUrlDecoder().decode(token.substring(b + 1));
    } catch (IllegalArgumentException e) {
      return false;
    }
    if (!MessageDigest.isEqual(expected, given)) return false;
    try {
      JsonObject claims = new JsonObject(new String(Base64.getUrlDecoder().decode(token.substring(a + 1, b)), StandardCharsets.UTF_8));
      Object exp = claims.getValue("exp");
      return !(exp instanceof Number n) || n.longValue() * 1000 > nowMillis;
    } catch (RuntimeException malformed) {
      return false;
    }
  }

  /** From now on the upstream refuses this exact {@code Authorization} value, as Graph does after a revocation. */
  void revoke(String authorization) {
    revoked.add(authorization);
  }

  private static byte[] hmac(byte[] key, String data) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      return mac.doFinal(data.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException | InvalidKeyException e) {
      throw new IllegalStateException(e);
    }
  }
}
