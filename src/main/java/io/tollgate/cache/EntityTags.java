package io.tollgate.cache;

/**
 * {@code If-None-Match} against an entity tag, as RFC 9110 §13.1.2 compares them: {@code *} matches any, otherwise
 * a comma-separated list of tags (quoted, possibly {@code W/}-prefixed; a comma inside the quotes is part of the
 * tag, as in Graph's {@code "{GUID},3"}) matched by weak comparison. Pure; any thread.
 */
final class EntityTags {
  private EntityTags() {}

  /** True when {@code list} (an {@code If-None-Match} value) names {@code etag}; false for a malformed list. */
  static boolean matches(String list, String etag) {
    if (list == null || etag == null) return false;
    String wanted = opaque(etag);
    int i = 0;
    int n = list.length();
    while (i < n) {
      char ch = list.charAt(i);
      if (ch == ' ' || ch == '\t' || ch == ',') {
        i++;
        continue;
      }
      if (ch == '*') return true;
      int start = i;
      if (list.startsWith("W/", i)) i += 2;
      if (i >= n || list.charAt(i) != '"') return false;
      int close = list.indexOf('"', i + 1);
      if (close < 0) return false;
      if (opaque(list.substring(start, close + 1)).equals(wanted)) return true;
      i = close + 1;
    }
    return false;
  }

  /** The quoted part of a tag, without a weak prefix. */
  private static String opaque(String tag) {
    String t = tag.trim();
    return t.startsWith("W/") ? t.substring(2) : t;
  }
}
