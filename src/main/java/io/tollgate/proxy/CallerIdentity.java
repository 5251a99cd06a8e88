package io.tollgate.proxy;

import io.vertx.core.MultiMap;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;

/**
 * Stage 1, identify: the cache partition is a SHA-256 over the identity headers (by default
 * {@code Authorization}). The hash, never the token, is what travels on: into cache keys, Redis, logs
 * (first 8 hex characters) and event-bus messages.
 */
public final class CallerIdentity {
  public static final String ANONYMOUS = "anonymous";

  private final List<String> headers;

  public CallerIdentity(List<String> headers) {
    this.headers = List.copyOf(headers);
  }

  /** @return hex SHA-256 of the identity headers, or {@link #ANONYMOUS} when none is present */
  public String partition(MultiMap requestHeaders) {
    MessageDigest digest = null;
    for (String name : headers) {
      String value = requestHeaders.get(name);
      if (value == null) continue;
      if (digest == null) digest = Sha256.digest();
      digest.update(name.getBytes(StandardCharsets.US_ASCII));
      digest.update((byte) 0);
      digest.update(value.getBytes(StandardCharsets.UTF_8));
      digest.update((byte) 0);
    }
    return digest == null ? ANONYMOUS : HexFormat.of().formatHex(digest.digest());
  }

  /** What a log line may show of a caller. */
  public static String shortForm(String partition) {
    return partition.length() > 8 ? partition.substring(0, 8) : partition;
  }
}
