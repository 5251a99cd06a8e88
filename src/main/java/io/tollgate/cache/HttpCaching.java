package io.tollgate.cache;

import io.vertx.core.MultiMap;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * RFC 9111 as a shared cache applies it, for {@code cache.semantics: http}: whether an answer may be stored
 * (§3), how long it is fresh (§4.2.1 explicit, §4.2.2 heuristic), how old it already is (§4.2.3), whether it may
 * be served stale (§4.2.4, RFC 5861), and its {@code Vary} (§4.1). A valid {@code CDN-Cache-Control} (RFC 9213:
 * a gateway cache is what it targets) replaces {@code Cache-Control} and {@code Expires}. Pure; any thread.
 */
final class HttpCaching {
  private HttpCaching() {}

  /** The largest delta-seconds (RFC 9111 §1.2.2): greater values are this. */
  static final long MAX_DELTA_SECONDS = 2147483648L;
  /** A heuristic freshness lifetime is 10 % of the time since Last-Modified, at most this (§4.2.2). */
  static final long MAX_HEURISTIC_MILLIS = 24L * 3600 * 1000;
  /** Statuses whose answers may get heuristic freshness (RFC 9110 §15.1), 206 aside (ranges are not stored). */
  private static final Set<Integer> HEURISTIC = Set.of(200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501);
  /** Statuses whose meaning this cache knows, for {@code must-understand} (§5.2.2.3). */
  private static final Set<Integer> UNDERSTOOD = Set.of(200, 203, 204, 300, 301, 302, 303, 307, 308, 400, 403, 404, 405,
      410, 414, 500, 501, 502, 503, 504);
  private static final String VARY_ABSENT = "\u0000";

  /**
   * What a storable answer gets.
   *
   * @param freshMillis how long it stays fresh from now (0 or less: stale at once, usable after a revalidation)
   * @param initialAgeMillis its corrected initial age: how old it already was when it arrived
   * @param staleWhileRevalidateMillis from {@code stale-while-revalidate} (0 where stale answers are not allowed)
   * @param staleIfErrorMillis from {@code stale-if-error} (likewise)
   * @param validators it carries an {@code ETag} or a {@code Last-Modified} to revalidate it with
   * @param varyNames the request header names its {@code Vary} lists (empty when none)
   */
  record Decision(long freshMillis, long initialAgeMillis, long staleWhileRevalidateMillis, long staleIfErrorMillis,
      boolean validators, List<String> varyNames) {}

  /** True when an answer of this status can be stored at all (a final status; not a partial or a 304). */
  static boolean storableStatus(int status) {
    return status >= 200 && status <= 599 && status != 206 && status != 304;
  }

  /**
   * @param requestAuthorized the request carried {@code Authorization} (§3.5)
   * @param requestMillis wall-clock time the upstream request was sent
   * @param responseMillis wall-clock time the answer arrived
   * @return how to keep the answer, or null when a shared cache must not store it (or could never use it)
   */
  static Decision decide(int status, MultiMap headers, boolean requestAuthorized, long requestMillis, long responseMillis) {
    if (!storableStatus(status)) return null;
    Map<String, String> cc = null;
    boolean cdn = false;
    List<String> cdnLines = headers.getAll("CDN-Cache-Control");
    if (!cdnLines.isEmpty()) {
      cc = targetedDirectives(String.join(",", cdnLines));
      cdn = cc != null;
    }
    if (cc == null) cc = directives(headers.getAll("Cache-Control"));
    if (cc.containsKey("must-understand")) {
      if (!UNDERSTOOD.contains(status)) return null;
    } else if (cc.containsKey("no-store")) {
      return null;
    }
    if (cc.containsKey("private")) return null;
    boolean isPublic = cc.containsKey("public");
    if (requestAuthorized && !isPublic && !cc.containsKey("s-maxage") && !cc.containsKey("must-revalidate")) return null;
    List<String> vary = varyNames(headers);
    if (vary == null) return null;

    long date = httpDate(single(headers, "Date"));
    long dateValue = date == Long.MIN_VALUE ? responseMillis : date;
    long lifetime;
    if (cc.containsKey("s-maxage")) {
      lifetime = deltaMillis(cc.get("s-maxage"));
    } else if (cc.containsKey("max-age")) {
      lifetime = deltaMillis(cc.get("max-age"));
    } else if (!cdn && headers.contains("Expires")) {
      // An invalid Expires, or more than one, means already expired (§5.3).
      List<String> expires = headers.getAll("Expires");
      long at = expires.size() == 1 ? httpDate(expires.get(0)) : Long.MIN_VALUE;
      lifetime = at == Long.MIN_VALUE ? 0 : Math.max(0, at - dateValue);
    } else if (HEURISTIC.contains(status) || isPublic) {
      long lastModified = httpDate(single(headers, "Last-Modified"));
      lifetime = lastModified == Long.MIN_VALUE ? 0 : Math.min(MAX_HEURISTIC_MILLIS, Math.max(0, (dateValue - lastModified) / 10));
    } else {
      return null;
    }
    if (lifetime < 0) lifetime = 0;
    boolean noCache = cc.containsKey("no-cache");
    if (noCache) lifetime = 0;

    long apparentAge = Math.max(0, responseMillis - dateValue);
    long responseDelay = Math.max(0, responseMillis - requestMillis);
    long correctedAge = ageSeconds(headers) * 1000 + responseDelay;
    long initialAge = Math.max(apparentAge, correctedAge);

    boolean mayServeStale = !noCache && !cc.containsKey("must-revalidate") && !cc.containsKey("proxy-revalidate")
        && !cc.containsKey("s-maxage");
    long swr = mayServeStale ? Math.max(0, deltaMillis(cc.get("stale-while-revalidate"))) : 0;
    long sie = mayServeStale ? Math.max(0, deltaMillis(cc.get("stale-if-error"))) : 0;
    boolean validators = headers.contains("ETag") || headers.contains("Last-Modified");
    long fresh = lifetime - initialAge;
    // Stale at once, with nothing to revalidate it with and no stale use allowed: it could never be served.
    if (fresh <= 0 && !validators && swr <= 0 && sie <= 0) return null;
    return new Decision(fresh, initialAge, swr, sie, validators, vary);
  }

  /** The one value of a header that must occur once, or null (absent or repeated). */
  private static String single(MultiMap headers, String name) {
    List<String> all = headers.getAll(name);
    return all.size() == 1 ? all.get(0) : null;
  }

  /**
   * The {@code Vary} names of an answer, lower-cased, in order, each once: empty when it has none, null for
   * {@code Vary: *} (matches no later request, so it is not stored).
   */
  static List<String> varyNames(MultiMap headers) {
    List<String> lines = headers.getAll("Vary");
    if (lines.isEmpty()) return List.of();
    List<String> names = new ArrayList<>(2);
    for (String line : lines) {
      for (String part : line.split(",")) {
        String n = part.trim().toLowerCase(Locale.ROOT);
        if (n.isEmpty()) continue;
        if (n.equals("*")) return null;
        if (!names.contains(n)) names.add(n);
      }
    }
    return List.copyOf(names);
  }

  /**
   * What a request says for the {@code Vary} names of an answer (its secondary key, §4.1): the values of each
   * header, lines joined, in the answer's order; null when there are no names.
   */
  static String varyValues(List<String> names, MultiMap requestHeaders) {
    if (names == null || names.isEmpty()) return null;
    StringBuilder sb = new StringBuilder(32);
    for (String name : names) {
      List<String> values = requestHeaders.getAll(name);
      if (values.isEmpty()) {
        sb.append(VARY_ABSENT);
      } else {
        for (int i = 0; i < values.size(); i++) {
          if (i > 0) sb.append(", ");
          sb.append(values.get(i).trim());
        }
      }
      sb.append('\n');
    }
    return sb.toString();
  }

  /**
   * Cache-Control directives (§5.2): lower-cased names, values unquoted ("" when none); the first occurrence of a
   * directive wins, except that a repeated {@code max-age}/{@code s-maxage} with another value makes it invalid
   * (stale, §4.2.1). A quoted value is never read as a directive (commas inside quotes belong to it).
   */
  static Map<String, String> directives(List<String> lines) {
    Map<String, String> out = new HashMap<>(8);
    for (String line : lines) {
      int i = 0;
      int n = line.length();
      while (i < n) {
        int start = i;
        while (i < n && line.charAt(i) != ',' && line.charAt(i) != '=') i++;
        String name = line.substring(start, i).trim().toLowerCase(Locale.ROOT);
        String value = "";
        if (i < n && line.charAt(i) == '=') {
          i++;
          while (i < n && (line.charAt(i) == ' ' || line.charAt(i) == '\t')) i++;
          if (i < n && line.charAt(i) == '"') {
            StringBuilder v = new StringBuilder();
            i++;
            while (i < n && line.charAt(i) != '"') {
              if (line.charAt(i) == '\\' && i + 1 < n) i++;
              v.append(line.charAt(i++));
            }
            i++;
            value = "\"" + v;
            while (i < n && line.charAt(i) != ',') i++;
          } else {
            int vs = i;
            while (i < n && line.charAt(i) != ',') i++;
            value = line.substring(vs, i).trim();
          }
        }
        i++;
        if (name.isEmpty()) continue;
        String before = out.putIfAbsent(name, value);
        if (before != null && !before.equals(value) && (name.equals("max-age") || name.equals("s-maxage"))) out.put(name, "invalid");
      }
    }
    // A quoted value of a delta-seconds directive is read as its content (§5.2: senders must not quote, recipients may accept).
    for (Map.Entry<String, String> e : out.entrySet()) if (e.getValue().startsWith("\"")) e.setValue(e.getValue().substring(1));
    return out;
  }

  private static final Pattern SF_KEY = Pattern.compile("[a-z*][a-z0-9_\\-.*]*");
  private static final Pattern SF_INTEGER = Pattern.compile("-?[0-9]{1,15}");
  private static final Pattern SF_TOKEN = Pattern.compile("[A-Za-z*][A-Za-z0-9!#$%&'*+\\-.^_`|~:/]*");

  /**
   * {@code CDN-Cache-Control} (RFC 9213) as a structured-field dictionary (RFC 8941): null when it does not parse,
   * so that {@code Cache-Control} applies instead. A member whose value has the wrong type (a string
   * {@code max-age}) is dropped; boolean members are present directives.
   */
  static Map<String, String> targetedDirectives(String field) {
    Map<String, String> out = new HashMap<>(8);
    String s = field.trim();
    if (s.isEmpty()) return null;
    for (String member : splitOutsideQuotes(s)) {
      String m = member.trim();
      String params = "";
      int semi = indexOutsideQuotes(m, ';');
      if (semi >= 0) {
        params = m.substring(semi);
        m = m.substring(0, semi);
      }
      if (!params.isEmpty() && !params.matches("(;\\s*[a-z*][a-z0-9_\\-.*]*(=[^;]*)?)*")) return null;
      int eq = m.indexOf('=');
      String key = (eq < 0 ? m : m.substring(0, eq)).trim();
      if (!SF_KEY.matcher(key).matches()) return null;
      if (eq < 0) {
        out.putIfAbsent(key, "");
        continue;
      }
      String v = m.substring(eq + 1).trim();
      if (SF_INTEGER.matcher(v).matches()) {
        out.put(key, v);
      } else if (v.equals("?1")) {
        out.put(key, "");
      } else if (v.equals("?0")) {
        out.remove(key);
      } else if (v.startsWith("\"") && v.endsWith("\"") && v.length() >= 2) {
        out.remove(key); // a string where a directive wants a number or nothing: ignored
      } else if (SF_TOKEN.matcher(v).matches() || v.matches("-?[0-9]{1,12}\\.[0-9]{1,3}") || v.matches(":[A-Za-z0-9+/=]*:")) {
        out.remove(key);
      } else {
        return null;
      }
    }
    return out;
  }

  private static List<String> splitOutsideQuotes(String s) {
    List<String> parts = new ArrayList<>();
    boolean quoted = false;
    int start = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"' && (i == 0 || s.charAt(i - 1) != '\\')) quoted = !quoted;
      else if (c == ',' && !quoted) {
        parts.add(s.substring(start, i));
        start = i + 1;
      }
    }
    parts.add(s.substring(start));
    return parts;
  }

  private static int indexOutsideQuotes(String s, char wanted) {
    boolean quoted = false;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"') quoted = !quoted;
      else if (c == wanted && !quoted) return i;
    }
    return -1;
  }

  /** A delta-seconds value in millis (digits only, capped at 2^31 s); -1 when absent or not delta-seconds. */
  static long deltaMillis(String value) {
    long seconds = deltaSeconds(value);
    return seconds < 0 ? -1 : seconds * 1000;
  }

  static long deltaSeconds(String value) {
    if (value == null || value.isEmpty()) return -1;
    long v = 0;
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c < '0' || c > '9') return -1;
      v = Math.min(MAX_DELTA_SECONDS, v * 10 + (c - '0'));
    }
    return v;
  }

  /** The {@code Age} an answer arrived with (§5.1): the first value of the first line; 0 when absent or invalid. */
  static long ageSeconds(MultiMap headers) {
    String first = headers.get("Age");
    if (first == null) return 0;
    int comma = first.indexOf(',');
    long v = deltaSeconds((comma < 0 ? first : first.substring(0, comma)).trim());
    return Math.max(0, v);
  }

  private static final Pattern IMF_FIXDATE = Pattern.compile(
      "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([0-9]{4}) "
          + "([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT", Pattern.CASE_INSENSITIVE);
  private static final Pattern RFC850 = Pattern.compile(
      "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), ([0-9]{2})-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
          + "-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT", Pattern.CASE_INSENSITIVE);
  private static final Pattern ASCTIME = Pattern.compile(
      "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([ 0-9][0-9]) ([0-9]{2}):([0-9]{2}):([0-9]{2}) "
          + "([0-9]{4})", Pattern.CASE_INSENSITIVE);
  private static final List<String> MONTHS = List.of("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
      "nov", "dec");

  /**
   * An HTTP-date (RFC 9110 §5.6.7) in epoch millis: an IMF-fixdate (a one-digit day accepted, as Java's RFC 1123
   * formatter writes it), or one of the two obsolete forms recipients must accept (RFC 850, with a two-digit year
   * read as the nearest such year not more than 50 years ahead, and asctime); names in any case.
   * {@link Long#MIN_VALUE} when null or none of these.
   */
  static long httpDate(String value) {
    if (value == null) return Long.MIN_VALUE;
    String v = value.trim();
    Matcher m = IMF_FIXDATE.matcher(v);
    if (m.matches()) return at(m.group(3), m.group(2), m.group(1), m.group(4), m.group(5), m.group(6));
    m = RFC850.matcher(v);
    if (m.matches()) {
      int yy = Integer.parseInt(m.group(3));
      int thisYear = java.time.Year.now(java.time.ZoneOffset.UTC).getValue();
      int year = thisYear / 100 * 100 + yy;
      if (year > thisYear + 50) year -= 100;
      return at(Integer.toString(year), m.group(2), m.group(1), m.group(4), m.group(5), m.group(6));
    }
    m = ASCTIME.matcher(v);
    if (m.matches()) return at(m.group(6), m.group(1), m.group(2).trim(), m.group(3), m.group(4), m.group(5));
    return Long.MIN_VALUE;
  }

  private static long at(String year, String month, String day, String hour, String minute, String second) {
    try {
      return java.time.LocalDateTime.of(Integer.parseInt(year), MONTHS.indexOf(month.toLowerCase(Locale.ROOT)) + 1,
          Integer.parseInt(day), Integer.parseInt(hour), Integer.parseInt(minute), Integer.parseInt(second))
          .toInstant(java.time.ZoneOffset.UTC).toEpochMilli();
    } catch (java.time.DateTimeException invalid) {
      return Long.MIN_VALUE;
    }
  }
}
