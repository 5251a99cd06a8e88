package io.tollgate.sim;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Who is calling, as far as the simulator cares: the first 12 hex characters of the SHA-256 of the whole
 * {@code Authorization} value, or {@code anonymous}. The token itself is never kept or validated.
 */
record Caller(String hash) {
  static final Caller ANONYMOUS = new Caller("anonymous");
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
      return new Caller(new String(out));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }
}
