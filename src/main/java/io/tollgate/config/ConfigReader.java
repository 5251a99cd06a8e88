package io.tollgate.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Reads one section of the configuration, collecting problems instead of throwing, so a bad file is
 * reported whole. Every key read is remembered; {@link #rejectUnknown()} reports the rest as unknown keys,
 * which catches typos that would otherwise silently fall back to defaults.
 */
public final class ConfigReader {
  private final JsonObject json;
  private final String path;
  private final List<ConfigProblem> problems;
  private final Set<String> known = new HashSet<>();

  public ConfigReader(JsonObject json, String path, List<ConfigProblem> problems) {
    this.json = json == null ? new JsonObject() : json;
    this.path = path;
    this.problems = problems;
  }

  public String key(String name) {
    return path.isEmpty() ? name : path + "." + name;
  }

  public List<ConfigProblem> problems() {
    return problems;
  }

  public void problem(String name, Object value, String expected) {
    problems.add(new ConfigProblem(key(name), value, expected));
  }

  public boolean has(String name) {
    known.add(name);
    return json.getValue(name) != null;
  }

  public Object raw(String name) {
    known.add(name);
    return json.getValue(name);
  }

  /** A nested section; a non-object value is a problem and reads as empty. */
  public ConfigReader section(String name) {
    Object v = raw(name);
    if (v != null && !(v instanceof JsonObject)) {
      problem(name, v, "a mapping of keys");
      v = null;
    }
    return new ConfigReader((JsonObject) v, key(name), problems);
  }

  public JsonArray array(String name) {
    Object v = raw(name);
    if (v == null) return null;
    if (v instanceof JsonArray a) return a;
    problem(name, v, "a list");
    return null;
  }

  /** A list of non-blank strings (a single string counts as a one-element list); absent gives {@code def}. */
  public List<String> strings(String name, List<String> def) {
    Object v = raw(name);
    if (v == null) return def;
    if (v instanceof String s) return s.isBlank() ? def : List.of(s.trim());
    if (!(v instanceof JsonArray a)) {
      problem(name, v, "a list of strings");
      return def;
    }
    List<String> out = new java.util.ArrayList<>();
    for (int i = 0; i < a.size(); i++) {
      if (a.getValue(i) instanceof String s && !s.isBlank()) out.add(s.trim());
      else problem(name + "[" + i + "]", a.getValue(i), "a non-empty string");
    }
    return List.copyOf(out);
  }

  public String string(String name, String def) {
    Object v = raw(name);
    if (v == null) return def;
    if (v instanceof String s) return s;
    if (v instanceof Number || v instanceof Boolean) return String.valueOf(v);
    problem(name, v, "a string");
    return def;
  }

  public int integer(String name, int def, int min, int max) {
    Object v = raw(name);
    if (v == null) return def;
    long n;
    if (v instanceof Number num && num.doubleValue() == Math.rint(num.doubleValue())) {
      n = num.longValue();
    } else if (v instanceof String s && s.trim().matches("-?\\d{1,18}")) {
      n = Long.parseLong(s.trim());
    } else {
      problem(name, v, "an integer between " + min + " and " + max);
      return def;
    }
    if (n < min || n > max) {
      problem(name, v, "an integer between " + min + " and " + max);
      return def;
    }
    return (int) n;
  }

  public double decimal(String name, double def, double min, double max) {
    Object v = raw(name);
    if (v == null) return def;
    double d;
    try {
      d = v instanceof Number num ? num.doubleValue() : Double.parseDouble(String.valueOf(v).trim());
    } catch (NumberFormatException e) {
      problem(name, v, "a number between " + min + " and " + max);
      return def;
    }
    if (!(d >= min && d <= max)) {
      problem(name, v, "a number between " + min + " and " + max);
      return def;
    }
    return d;
  }

  public boolean bool(String name, boolean def) {
    Object v = raw(name);
    if (v == null) return def;
    if (v instanceof Boolean b) return b;
    if ("true".equals(v) || "false".equals(v)) return Boolean.parseBoolean((String) v);
    problem(name, v, "true or false");
    return def;
  }

  public Duration duration(String name, Duration def) {
    Object v = raw(name);
    if (v == null) return def;
    Duration d = Units.parseDuration(v);
    if (d == null) {
      problem(name, v, "a duration such as 250ms, 5s, 10m, 6h or 1d");
      return def;
    }
    return d;
  }

  public long size(String name, long def) {
    Object v = raw(name);
    if (v == null) return def;
    long n;
    try {
      n = Units.parseSize(v);
    } catch (ArithmeticException e) {
      n = -1;
    }
    if (n < 0) {
      problem(name, v, "a size such as 16KiB, 64MiB or 1GiB (not negative)");
      return def;
    }
    return n;
  }

  /** An absolute http(s) URL; a trailing slash is dropped. */
  public String url(String name, String def, Set<String> schemes) {
    Object v = raw(name);
    if (v == null) return def;
    String s = String.valueOf(v).trim();
    if (!isUrl(s, schemes)) {
      problem(name, v, "an absolute URL with scheme " + String.join(" or ", schemes) + " and a host");
      return def;
    }
    return s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
  }

  public static boolean isUrl(String s, Set<String> schemes) {
    try {
      URI uri = new URI(s);
      return uri.getScheme() != null && schemes.contains(uri.getScheme().toLowerCase())
          && uri.getHost() != null && !uri.getHost().isEmpty();
    } catch (Exception e) {
      return false;
    }
  }

  /** Reports every key present in this section that no reader asked for. */
  public void rejectUnknown() {
    for (String name : json.fieldNames()) {
      if (!known.contains(name)) problems.add(new ConfigProblem(key(name), json.getValue(name) instanceof JsonObject ? "{...}" : json.getValue(name), "a known key (see conf/tollgate.yaml)"));
    }
  }
}
