package io.tollgate.cache;

import io.tollgate.proxy.RequestPath;
import io.tollgate.proxy.Sha256;
import io.vertx.core.MultiMap;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * What makes two requests the same answer: method, normalised path, sorted query, the answer-changing
 * headers and the caller's partition hash. {@link #value()} is the full identity (L1 key); {@link #digest()}
 * is its SHA-256, used in Redis so no query text or header value is a Redis key name.
 */
public final class CacheKey {
  private final String partition;
  private final String path;
  private final String value;
  private String digest;

  private CacheKey(String partition, String path, String value) {
    this.partition = partition;
    this.path = path;
    this.value = value;
  }

  public static CacheKey of(String method, String rawPath, String rawQuery, MultiMap headers, List<String> varyHeaders, String partition) {
    String path = normalisePath(rawPath);
    StringBuilder sb = new StringBuilder(128).append(partition).append('|').append(method).append(' ').append(path);
    if (rawQuery != null && !rawQuery.isEmpty()) {
      String[] params = rawQuery.split("&");
      Arrays.sort(params);
      sb.append('?');
      for (int i = 0; i < params.length; i++) {
        if (params[i].isEmpty()) continue;
        if (sb.charAt(sb.length() - 1) != '?') sb.append('&');
        sb.append(params[i]);
      }
    }
    for (String h : varyHeaders) {
      String v = meaning(h, headers.get(h));
      if (v != null) sb.append('|').append(h.toLowerCase(Locale.ROOT)).append('=').append(v);
    }
    return new CacheKey(partition, path, sb.toString());
  }

  /**
   * What a header value means for Graph's answer, so that values which ask for the same answer share one
   * entry: plain GETs, {@code $batch} steps (which carry neither {@code Accept} nor
   * {@code Accept-Language}) and clients that send {@code Accept: *}{@code /*} all meet.
   *
   * @return the normalised value, or null when it asks for nothing beyond the default answer
   */
  static String meaning(String header, String value) {
    if (value == null) return null;
    String v = value.trim();
    if (v.isEmpty()) return null;
    if (header.equalsIgnoreCase("Accept")) {
      String lower = v.toLowerCase(Locale.ROOT);
      // Graph answers JSON to every one of these: absent, any, JSON, and JSON with media-type parameters.
      boolean defaultAnswer = true;
      for (String range : lower.split(",")) {
        String type = range.split(";", 2)[0].trim();
        if (!(type.equals("*/*") || type.equals("application/json") || type.equals("application/*") || type.isEmpty())) {
          defaultAnswer = false;
          break;
        }
      }
      return defaultAnswer ? null : lower.replace(" ", "");
    }
    if (header.equalsIgnoreCase("Accept-Language")) return v.equals("*") ? null : v.toLowerCase(Locale.ROOT).replace(" ", "");
    if (header.equalsIgnoreCase("Prefer")) {
      // Tokens in any order and case of their names mean the same preferences.
      String[] tokens = v.split(",");
      for (int i = 0; i < tokens.length; i++) {
        String t = tokens[i].trim();
        int eq = t.indexOf('=');
        tokens[i] = eq < 0 ? t.toLowerCase(Locale.ROOT) : t.substring(0, eq).trim().toLowerCase(Locale.ROOT) + "=" + t.substring(eq + 1).trim();
      }
      Arrays.sort(tokens);
      return String.join(",", tokens);
    }
    if (header.equalsIgnoreCase("ConsistencyLevel")) return v.toLowerCase(Locale.ROOT);
    return v;
  }

  /** Collapses repeated slashes and drops a trailing slash: /v1.0//users/ and /v1.0/users are one resource. */
  public static String normalisePath(String path) {
    return RequestPath.normalise(path);
  }

  public String partition() { return partition; }
  /** Normalised path: what invalidation patterns match against. */
  public String path() { return path; }
  public String value() { return value; }

  public String digest() {
    if (digest == null) digest = Sha256.hex(value);
    return digest;
  }

  /** True once {@link #digest()} has been made (for Redis), and so is held by this key. */
  boolean hasDigest() {
    return digest != null;
  }

  @Override public boolean equals(Object o) { return o instanceof CacheKey k && k.value.equals(value); }
  @Override public int hashCode() { return value.hashCode(); }
  @Override public String toString() { return value; }
}
