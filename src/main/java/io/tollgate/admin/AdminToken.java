package io.tollgate.admin;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/**
 * The configured admin token and the one check against it: constant-time, so response timing does not
 * leak the token. With no token configured nothing matches: admin access is closed, never open.
 */
public final class AdminToken {
  private final byte[] expected;

  public AdminToken(String token) {
    this.expected = token == null || token.isEmpty() ? null : token.getBytes(StandardCharsets.UTF_8);
  }

  public boolean configured() {
    return expected != null;
  }

  /** @param authorization an {@code Authorization} header value, or null */
  public boolean admits(String authorization) {
    if (expected == null || authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) return false;
    return MessageDigest.isEqual(expected, authorization.substring(7).trim().getBytes(StandardCharsets.UTF_8));
  }
}
