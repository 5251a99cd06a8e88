package io.tollgate.config;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The one path-pattern dialect of Tollgate, used by every rule kind: cache routes, invalidation rules and
 * their eviction targets, rate-limit paths, cost rules, and the admin API's invalidation patterns.
 *
 * <p>Segments, matched case-insensitively (Graph's paths are): a literal ({@code groups}), alternatives
 * ({@code v1.0|beta}), {@code *} (exactly one segment), {@code {name}} (one segment, captured), {@code **}
 * (any number of segments, none included, at any position) and a glob segment ({@code g1*}, where {@code *}
 * is any run of characters inside the segment). A glob segment that ends the pattern with {@code *} also
 * matches everything below it ({@code /v1.0/groups/g1*} covers {@code /v1.0/groups/g1/members}), which is
 * what the admin API has always meant by a trailing star.
 *
 * <p>A {@code \} makes the next character literal (any but {@code /}); a segment holding one is a single
 * literal. That is how a bound pattern writes its captured values ({@link #toString}), so that the text
 * published to the other instances and logged in Redis compiles back to the same pattern.
 *
 * <p>Compiled once (at start or per admin call); {@link #matches} allocates nothing. Immutable, so safe
 * from every thread. Captured values are bound as literals ({@link #bind}): an id holding {@code *} never
 * widens an eviction, here or, through the escaped text, on another instance.
 */
public final class PathPattern {
  private enum Kind { LITERAL, ANY, CAPTURE, REST, GLOB }

  private record Segment(Kind kind, String[] options, String name, boolean prefixOfRest) {}

  /** At most this many prefixes are spelled out for alternatives ({@code a|b}); past it the prefix stops earlier. */
  private static final int MAX_PREFIXES = 64;

  /**
   * Where the paths a pattern matches begin, case-folded ({@link #fold}): an index of paths looks only there.
   *
   * @param text a folded path prefix
   * @param wholeSegments true when {@code text} ends at a segment boundary: the paths are {@code text} itself or
   *     lie below {@code text + "/"}; false when they merely start with {@code text} (a glob segment's head)
   */
  public record Prefix(String text, boolean wholeSegments) {
    /** True when a folded path lies within this prefix. */
    public boolean covers(String foldedPath) {
      if (!foldedPath.startsWith(text)) return false;
      return !wholeSegments || foldedPath.length() == text.length() || foldedPath.charAt(text.length()) == '/' || text.isEmpty();
    }
  }

  private final String source;
  private final Segment[] segments;
  private final List<Prefix> prefixes;

  private PathPattern(String source, Segment[] segments) {
    this.source = source;
    this.segments = segments;
    this.prefixes = computePrefixes(segments);
  }

  /**
   * A pattern matching exactly {@code path} (each segment a literal, special characters escaped), as an
   * eviction of one cached path in every partition and for every query needs.
   *
   * @throws IllegalArgumentException when {@code path} is not an absolute path without empty segments
   */
  public static PathPattern literal(String path) {
    if (path == null || !path.startsWith("/") || path.length() < 2) throw new IllegalArgumentException("an absolute path");
    StringBuilder out = new StringBuilder(path.length() + 8);
    for (String segment : path.substring(1).split("/", -1)) out.append('/').append(escape(segment));
    return compile(out.toString());
  }

  /** @throws IllegalArgumentException with a message fit for a configuration problem */
  public static PathPattern compile(String pattern) {
    if (pattern == null || !pattern.startsWith("/")) throw new IllegalArgumentException("a path pattern starting with /");
    if (pattern.length() > 1024) throw new IllegalArgumentException("a path pattern of at most 1024 characters");
    for (int i = 0; i < pattern.length(); i++) {
      char c = pattern.charAt(i);
      if (c == '\\') {
        if (++i == pattern.length() || pattern.charAt(i) == '/') throw new IllegalArgumentException("a path pattern whose \\ escapes one character other than /");
      } else if (!allowed(c)) {
        throw new IllegalArgumentException("a path pattern of URL path characters (letters, digits, -._~!$&'()+,;=:@%) and * { } |");
      }
    }
    String[] parts = pattern.substring(1).split("/", -1);
    List<Segment> out = new ArrayList<>();
    for (int i = 0; i < parts.length; i++) {
      String p = parts[i];
      boolean last = i == parts.length - 1;
      if (p.isEmpty()) throw new IllegalArgumentException("a path pattern without empty segments");
      if (p.indexOf('\\') >= 0) {
        out.add(new Segment(Kind.LITERAL, new String[] {unescape(p)}, null, false));
      } else if (p.equals("**")) {
        out.add(new Segment(Kind.REST, null, null, false));
      } else if (p.equals("*")) {
        out.add(new Segment(Kind.ANY, null, null, false));
      } else if (p.startsWith("{") && p.endsWith("}") && p.length() > 2 && p.indexOf('{', 1) < 0 && p.indexOf('}') == p.length() - 1) {
        out.add(new Segment(Kind.CAPTURE, null, p.substring(1, p.length() - 1), false));
      } else if (p.contains("{") || p.contains("}") || p.contains("**")) {
        throw new IllegalArgumentException("a path pattern whose segments are literal, a|b, *, {name}, ** or text with * (such as g1*)");
      } else if (p.contains("*")) {
        if (p.contains("|")) throw new IllegalArgumentException("a path pattern without * inside a|b alternatives");
        out.add(new Segment(Kind.GLOB, p.split("\\*", -1), null, last && p.endsWith("*")));
      } else {
        out.add(new Segment(Kind.LITERAL, p.split("\\|", -1), null, false));
      }
    }
    return new PathPattern(pattern, out.toArray(new Segment[0]));
  }

  /**
   * The pattern of one resource: exactly {@code path} (a normalised request path), each segment a literal, and with
   * {@code subtree} everything below it too ({@code /drives/d1/items/x/**}: the item, its children, its permissions).
   *
   * @return the pattern, or null when the path cannot be one (empty segments, characters outside the dialect)
   */
  public static PathPattern literal(String path, boolean subtree) {
    if (path == null || !path.startsWith("/") || path.length() < 2) return null;
    StringBuilder out = new StringBuilder(path.length() + 8);
    for (String segment : path.substring(1).split("/", -1)) {
      if (segment.isEmpty()) return null;
      out.append('/').append(escape(segment));
    }
    if (subtree) out.append("/**");
    try {
      return compile(out.toString());
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /**
   * A segment's text written so that {@link #compile} reads it back as that one literal: a character that is
   * not a plain URL path character ({@code * { } | \} and anything outside the dialect) is preceded by {@code \}.
   */
  static String escape(String literal) {
    boolean plain = true;
    for (int i = 0; i < literal.length() && plain; i++) plain = plainLiteral(literal.charAt(i));
    if (plain) return literal;
    StringBuilder out = new StringBuilder(literal.length() + 8);
    for (int i = 0; i < literal.length(); i++) {
      char c = literal.charAt(i);
      if (!plainLiteral(c)) out.append('\\');
      out.append(c);
    }
    return out.toString();
  }

  private static boolean plainLiteral(char c) {
    return allowed(c) && c != '*' && c != '{' && c != '}' && c != '|';
  }

  /** An escaped segment: one literal, every special character in it escaped. */
  private static String unescape(String segment) {
    StringBuilder out = new StringBuilder(segment.length());
    for (int i = 0; i < segment.length(); i++) {
      char c = segment.charAt(i);
      if (c == '\\') {
        out.append(segment.charAt(++i));
      } else if (!plainLiteral(c)) {
        throw new IllegalArgumentException("a path pattern whose escaped segments escape every * { } |");
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }

  private static boolean allowed(char c) {
    return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || "/-._~!$&'()+,;=:@%*{}|".indexOf(c) >= 0;
  }

  /** True when {@code pattern} compiles. */
  public static boolean valid(String pattern) {
    try {
      compile(pattern);
      return true;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  public boolean matches(String path) {
    return path != null && !path.isEmpty() && path.charAt(0) == '/' && match(path, 1, 0, null);
  }

  /** @return the captured segments by name, or null when the path does not match */
  public Map<String, String> capture(String path) {
    if (path == null || path.isEmpty() || path.charAt(0) != '/') return null;
    Map<String, String> captures = new HashMap<>();
    return match(path, 1, 0, captures) ? captures : null;
  }

  /**
   * Replaces {@code {name}} segments with the captured values, as literals: a write's captures turn an
   * eviction template into the pattern of the reads it changes.
   *
   * @throws IllegalArgumentException when a capture the template names is missing
   */
  public PathPattern bind(Map<String, String> captures) {
    Segment[] bound = segments.clone();
    StringBuilder text = new StringBuilder();
    for (int i = 0; i < bound.length; i++) {
      Segment s = bound[i];
      String shown = switch (s.kind) {
        case LITERAL -> String.join("|", s.options);
        case ANY -> "*";
        case REST -> "**";
        case GLOB -> String.join("*", s.options);
        case CAPTURE -> {
          String v = captures.get(s.name);
          if (v == null || v.isEmpty() || v.indexOf('/') >= 0) throw new IllegalArgumentException("no single-segment capture {" + s.name + "}");
          bound[i] = new Segment(Kind.LITERAL, new String[] {v}, null, false);
          yield escape(v);
        }
      };
      text.append('/').append(shown);
    }
    return new PathPattern(text.toString(), bound);
  }

  /** The names of this pattern's {@code {name}} segments, in order. */
  public java.util.Set<String> captureNames() {
    java.util.Set<String> names = new java.util.LinkedHashSet<>();
    for (Segment s : segments) if (s.kind == Kind.CAPTURE) names.add(s.name);
    return names;
  }

  /**
   * The path prefixes that every path this pattern matches starts with, case-folded: a superset, so an index
   * keyed by folded path finds every match by looking under these prefixes only (and then asks {@link #matches}).
   * The literal segments at the head of the pattern, alternatives spelled out; a bound capture is a literal,
   * so a write's eviction {@code /v1.0|beta/groups/g1/**} gives {@code /v1.0/groups/g1} and {@code /beta/groups/g1}.
   * A pattern that starts with a wildcard gives the empty prefix: everything.
   */
  public List<Prefix> prefixes() {
    return prefixes;
  }

  private static List<Prefix> computePrefixes(Segment[] segments) {
    List<String> heads = List.of("");
    for (Segment s : segments) {
      if (s.kind == Kind.LITERAL) {
        if (heads.size() * s.options.length > MAX_PREFIXES) break;
        List<String> next = new ArrayList<>(heads.size() * s.options.length);
        for (String head : heads) for (String option : s.options) next.add(head + "/" + fold(option));
        heads = next;
        continue;
      }
      if (s.kind == Kind.GLOB) {
        java.util.Set<Prefix> out = new java.util.LinkedHashSet<>();
        for (String head : heads) out.add(new Prefix(head + "/" + fold(s.options[0]), false));
        return List.copyOf(out);
      }
      break;
    }
    java.util.Set<Prefix> out = new java.util.LinkedHashSet<>();
    for (String head : heads) out.add(new Prefix(head, true));
    return List.copyOf(out);
  }

  /**
   * A path or pattern text with every character case-folded the way {@link #matches} compares them (upper,
   * then lower case, one character for one): two paths that differ only in case fold to one string, and a
   * folded prefix of a folded path is a case-insensitive prefix. What path indexes key on.
   */
  public static String fold(String text) {
    int i = 0;
    int n = text.length();
    while (i < n) {
      char c = text.charAt(i);
      if (c >= 'A' && c <= 'Z' || c >= 0x80) break;
      i++;
    }
    if (i == n) return text;
    char[] out = text.toCharArray();
    for (; i < n; i++) out[i] = Character.toLowerCase(Character.toUpperCase(out[i]));
    return new String(out);
  }

  /** Matches segments from index {@code si} against the path from {@code pos} (the start of a segment). */
  private boolean match(String path, int pos, int si, Map<String, String> captures) {
    int n = path.length();
    for (int i = si; i < segments.length; i++) {
      Segment seg = segments[i];
      if (seg.kind == Kind.REST) {
        if (i == segments.length - 1) return true;
        // Zero segments, then one more at a time: backtracking is bounded by the path's segment count.
        for (int p = pos; p <= n; ) {
          if (match(path, p, i + 1, captures)) return true;
          int slash = path.indexOf('/', p);
          if (slash < 0) return false;
          p = slash + 1;
        }
        return false;
      }
      if (pos > n) return false;
      int end = path.indexOf('/', pos);
      if (end < 0) end = n;
      if (end == pos) return false;
      switch (seg.kind) {
        case LITERAL -> {
          boolean any = false;
          for (String option : seg.options) {
            if (option.length() == end - pos && path.regionMatches(true, pos, option, 0, option.length())) {
              any = true;
              break;
            }
          }
          if (!any) return false;
        }
        case CAPTURE -> {
          if (captures != null) captures.put(seg.name, path.substring(pos, end));
        }
        case GLOB -> {
          if (seg.prefixOfRest) return globMatches(seg.options, path, pos, n);
          if (!globMatches(seg.options, path, pos, end)) return false;
        }
        default -> { }
      }
      pos = end + 1;
    }
    return pos > n;
  }

  /** {@code parts} joined by {@code *} against path[from, to), case-insensitively. */
  private static boolean globMatches(String[] parts, String path, int from, int to) {
    String first = parts[0];
    if (to - from < first.length() || !path.regionMatches(true, from, first, 0, first.length())) return false;
    int pos = from + first.length();
    int lastIndex = parts.length - 1;
    for (int i = 1; i < lastIndex; i++) {
      String part = parts[i];
      int found = indexOfIgnoreCase(path, part, pos, to);
      if (found < 0) return false;
      pos = found + part.length();
    }
    String last = parts[lastIndex];
    if (lastIndex == 0) return pos == to;
    return to - pos >= last.length() && path.regionMatches(true, to - last.length(), last, 0, last.length());
  }

  private static int indexOfIgnoreCase(String s, String part, int from, int to) {
    for (int i = from; i + part.length() <= to; i++) if (s.regionMatches(true, i, part, 0, part.length())) return i;
    return -1;
  }

  @Override
  public String toString() {
    return source;
  }
}
