package io.tollgate.ratelimit;

import java.util.regex.Pattern;

/**
 * A path pattern from the configuration: {@code *} is one segment (or part of one), {@code **} any number of
 * segments, everything else literal. Compiled once at start; matching is one regex run, no per-request parsing.
 */
final class PathGlob {
  private final String text;
  private final Pattern pattern;

  PathGlob(String text) {
    this.text = text;
    StringBuilder re = new StringBuilder();
    for (String segment : text.split("/")) {
      if (segment.isEmpty()) continue;
      if (segment.equals("**")) {
        re.append("(?:/[^/]*)*");
        continue;
      }
      re.append('/');
      String[] literal = segment.split("\\*", -1);
      for (int i = 0; i < literal.length; i++) {
        if (i > 0) re.append("[^/]*");
        if (!literal[i].isEmpty()) re.append(Pattern.quote(literal[i]));
      }
    }
    if (text.endsWith("/") && !text.endsWith("**/")) re.append("/?");
    this.pattern = Pattern.compile(re.length() == 0 ? "/?" : re.toString());
  }

  boolean matches(String path) {
    return pattern.matcher(path).matches();
  }

  String text() {
    return text;
  }
}
