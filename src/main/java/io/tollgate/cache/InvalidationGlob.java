package io.tollgate.cache;

import java.util.regex.Pattern;

/**
 * A path glob for evictions ({@code /v1.0/groups/abc/*}): {@code *} matches any run of characters including
 * {@code /}, {@code ?} one character. The same text is used as a Redis SSCAN MATCH pattern over the path
 * index, so only characters that mean the same in both are allowed.
 */
public final class InvalidationGlob {
  private static final Pattern ALLOWED = Pattern.compile("/[A-Za-z0-9_.~!$&'()+,;=:@%*?/-]{0,1023}");

  private final String glob;
  private final Pattern regex;

  private InvalidationGlob(String glob) {
    this.glob = glob;
    StringBuilder re = new StringBuilder();
    for (char c : glob.toCharArray()) {
      if (c == '*') re.append(".*");
      else if (c == '?') re.append('.');
      else re.append(Pattern.quote(String.valueOf(c)));
    }
    this.regex = Pattern.compile(re.toString());
  }

  public static boolean valid(String glob) {
    return glob != null && ALLOWED.matcher(glob).matches() && !glob.contains("//");
  }

  /** @throws IllegalArgumentException when {@link #valid} is false */
  public static InvalidationGlob of(String glob) {
    if (!valid(glob)) throw new IllegalArgumentException("a path glob starting with / such as /v1.0/groups/abc/*");
    return new InvalidationGlob(glob);
  }

  public boolean matches(String path) {
    return regex.matcher(path).matches();
  }

  public String glob() {
    return glob;
  }

  @Override
  public String toString() {
    return glob;
  }
}
