package io.tollgate.config;

/**
 * One thing wrong with a configuration: the key (dotted path), the value found and what was expected.
 * Start-up prints one line per problem and exits 2.
 */
public record ConfigProblem(String key, Object value, String expected) {

  @Override
  public String toString() {
    return key + ": got " + render(value) + ", expected " + expected;
  }

  private static String render(Object value) {
    if (value == null) return "nothing";
    if (value instanceof String s) return "'" + s + "'";
    return String.valueOf(value);
  }
}
