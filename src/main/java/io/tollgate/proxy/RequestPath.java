package io.tollgate.proxy;

/** The normalised form of a request path: what routes match, the cache keys on and invalidation compares. */
public final class RequestPath {
  private RequestPath() {}

  /** Collapses repeated slashes and drops a trailing slash: /v1.0//users/ and /v1.0/users are one resource. */
  public static String normalise(String path) {
    if (path == null || path.isEmpty()) return "/";
    boolean clean = path.charAt(0) == '/' && (path.length() == 1 || path.charAt(path.length() - 1) != '/') && !path.contains("//");
    if (clean) return path;
    StringBuilder sb = new StringBuilder(path.length());
    char prev = 0;
    for (int i = 0; i < path.length(); i++) {
      char c = path.charAt(i);
      if (c == '/' && prev == '/') continue;
      sb.append(c);
      prev = c;
    }
    if (sb.length() > 1 && sb.charAt(sb.length() - 1) == '/') sb.setLength(sb.length() - 1);
    return sb.toString();
  }
}
