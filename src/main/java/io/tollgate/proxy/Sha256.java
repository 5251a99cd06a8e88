package io.tollgate.proxy;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The one SHA-256 helper: caller partitions, cache key digests, Redis hash tags and the short forms that
 * logs and events show instead of identifiers. One digest per thread, reset before each use.
 */
public final class Sha256 {
  private static final ThreadLocal<MessageDigest> DIGEST = ThreadLocal.withInitial(() -> {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  });

  private Sha256() {}

  /** A reset digest of this thread, for callers that feed several parts. */
  public static MessageDigest digest() {
    MessageDigest d = DIGEST.get();
    d.reset();
    return d;
  }

  /** Hex of the SHA-256 of {@code text} (UTF-8). */
  public static String hex(String text) {
    return HexFormat.of().formatHex(digest().digest(text.getBytes(StandardCharsets.UTF_8)));
  }

  /** The first {@code bytes} bytes of {@link #hex}, as hex: an identifier's short, non-reversible form. */
  public static String shortHex(String text, int bytes) {
    return HexFormat.of().formatHex(digest().digest(text.getBytes(StandardCharsets.UTF_8)), 0, bytes);
  }
}
