package io.tollgate.sim;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Who is calling, as far as the simulator cares: the first 12 hex characters of the SHA-256 of the whole
 * {@code Authorization} value, or {@code anonymous}. The token itself is never kept or validated.
 */
record Caller(String hash, String budget) {
  static final Caller ANONYMOUS = new Caller("anonymous", "anonymous");
  private static final char[] HEX = "0123456789abcdef".toCharArray();

  static Caller of(String authorization) {
    if (authorization == null || authorization.isEmpty()) return ANONYMOUS;
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(authorization.getBytes(StandardCharsets.UTF_8));
      char[] out = new char[12];
      for (int i = 0; i < 6; i++) {
        out[2 * i] = HEX[(digest[i] >> 4) & 0xf];
        out[2 * i + 1] = HEX[digest[i] & 0xf];
      }
      String hash = new String(out);
      return new Caller(hash, budgetOf(authorization, hash));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }

  /**
   * Graph meters resource units per app and tenant, not per token: every token of one {@code tid}+{@code appid}
   * (or {@code azp}) shares a budget. Opaque tokens carry no claims, so each is its own budget.
   */
  private static String budgetOf(String authorization, String hash) {
    String token = authorization.regionMatches(true, 0, "Bearer ", 0, 7) ? authorization.substring(7).trim() : authorization;
    int a = token.indexOf('.');
    int b = a < 0 ? -1 : token.indexOf('.', a + 1);
    if (b < 0) return hash;
    try {
      io.vertx.core.json.JsonObject claims = new io.vertx.core.json.JsonObject(new String(
          java.util.Base64.getUrlDecoder().decode(token.substring(a + 1, b)), StandardCharsets.UTF_8));
      Object tid = claims.getValue("tid");
      Object app = claims.getValue("appid") != null ? claims.getValue("appid") : claims.getValue("azp");
      return tid == null && app == null ? hash : "t=" + tid + "|a=" + app;
    } catch (RuntimeException e) {
      return hash;
    }
  }
}
