package io.tollgate.cache;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A compiled path pattern for route and invalidation rules. Segments: a literal ({@code groups}), alternatives
 * ({@code v1.0|beta}), {@code *} (any one segment), {@code {name}} (any one segment, captured) and a trailing
 * {@code **} (any number of further segments, including none). Matching is allocation-free unless captures
 * are asked for; patterns are compiled once at start.
 */
public final class PathPattern {
  private enum Kind { LITERAL, ANY, CAPTURE, REST }

  private record Segment(Kind kind, String[] options, String name) {}

  private final String source;
  private final Segment[] segments;

  private PathPattern(String source, Segment[] segments) {
    this.source = source;
    this.segments = segments;
  }

  /** @throws IllegalArgumentException with a message fit for a configuration problem */
  public static PathPattern compile(String pattern) {
    if (pattern == null || !pattern.startsWith("/")) throw new IllegalArgumentException("a path pattern starting with /");
    String[] parts = pattern.substring(1).split("/", -1);
    List<Segment> out = new ArrayList<>();
    for (int i = 0; i < parts.length; i++) {
      String p = parts[i];
      if (p.isEmpty()) throw new IllegalArgumentException("a path pattern without empty segments");
      if (p.equals("**")) {
        if (i != parts.length - 1) throw new IllegalArgumentException("a path pattern with ** only at the end");
        out.add(new Segment(Kind.REST, null, null));
      } else if (p.equals("*")) {
        out.add(new Segment(Kind.ANY, null, null));
      } else if (p.startsWith("{") && p.endsWith("}") && p.length() > 2) {
        out.add(new Segment(Kind.CAPTURE, null, p.substring(1, p.length() - 1)));
      } else if (p.contains("*") || p.contains("{") || p.contains("}")) {
        throw new IllegalArgumentException("a path pattern whose segments are literal, a|b, *, {name} or a final **");
      } else {
        out.add(new Segment(Kind.LITERAL, p.split("\\|"), null));
      }
    }
    return new PathPattern(pattern, out.toArray(new Segment[0]));
  }

  public boolean matches(String path) {
    return match(path, null);
  }

  /** @return the captured segments by name, or null when the path does not match */
  public Map<String, String> capture(String path) {
    Map<String, String> captures = new HashMap<>();
    return match(path, captures) ? captures : null;
  }

  private boolean match(String path, Map<String, String> captures) {
    if (path.isEmpty() || path.charAt(0) != '/') return false;
    int pos = 1;
    int n = path.length();
    for (Segment seg : segments) {
      if (seg.kind == Kind.REST) return true;
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
        default -> { }
      }
      pos = end + 1;
    }
    return pos > n;
  }

  /** Replaces {@code {name}} segments with captured values (for write→read invalidation targets). */
  public static String expand(String template, Map<String, String> captures) {
    String out = template;
    for (Map.Entry<String, String> e : captures.entrySet()) out = out.replace("{" + e.getKey() + "}", e.getValue());
    return out;
  }

  @Override
  public String toString() {
    return source;
  }
}
