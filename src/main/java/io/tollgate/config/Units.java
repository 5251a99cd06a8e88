package io.tollgate.config;

import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parses and prints the human units used in {@code conf/tollgate.yaml}: durations such as {@code 250ms},
 * {@code 5s}, {@code 6h}, {@code 1d} and sizes such as {@code 512MiB}, {@code 16KiB}, {@code 1GB}.
 * A bare integer is milliseconds for a duration and bytes for a size.
 */
public final class Units {
  private static final Pattern DURATION = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(ms|s|m|h|d)");
  private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*(B|KiB|MiB|GiB|KB|MB|GB|k|K|M|G)?");

  private Units() {}

  /** @return the duration, or null when the text is not one */
  public static Duration parseDuration(Object value) {
    if (value instanceof Number n) return n.longValue() < 0 ? null : Duration.ofMillis(n.longValue());
    if (!(value instanceof String s)) return null;
    Matcher m = DURATION.matcher(s.trim().toLowerCase(Locale.ROOT));
    if (!m.matches()) return null;
    double amount = Double.parseDouble(m.group(1));
    double millis = switch (m.group(2)) {
      case "ms" -> amount;
      case "s" -> amount * 1_000;
      case "m" -> amount * 60_000;
      case "h" -> amount * 3_600_000;
      default -> amount * 86_400_000;
    };
    return Duration.ofMillis(Math.round(millis));
  }

  /** @return the size in bytes, or -1 when the text is not one */
  public static long parseSize(Object value) {
    if (value instanceof Number n) return n.longValue() < 0 ? -1 : n.longValue();
    if (!(value instanceof String s)) return -1;
    Matcher m = SIZE.matcher(s.trim());
    if (!m.matches()) return -1;
    long amount = Long.parseLong(m.group(1));
    String unit = m.group(2) == null ? "B" : m.group(2);
    long factor = switch (unit) {
      case "KiB", "k", "K" -> 1L << 10;
      case "MiB", "M" -> 1L << 20;
      case "GiB", "G" -> 1L << 30;
      case "KB" -> 1_000L;
      case "MB" -> 1_000_000L;
      case "GB" -> 1_000_000_000L;
      default -> 1L;
    };
    return Math.multiplyExact(amount, factor);
  }

  /** Shortest exact text for a duration, as written in the YAML. */
  public static String formatDuration(Duration d) {
    long ms = d.toMillis();
    if (ms == 0) return "0s";
    if (ms % 86_400_000 == 0) return ms / 86_400_000 + "d";
    if (ms % 3_600_000 == 0) return ms / 3_600_000 + "h";
    if (ms % 60_000 == 0) return ms / 60_000 + "m";
    if (ms % 1_000 == 0) return ms / 1_000 + "s";
    return ms + "ms";
  }

  /** Shortest exact binary-unit text for a size. */
  public static String formatSize(long bytes) {
    if (bytes != 0 && bytes % (1L << 30) == 0) return bytes / (1L << 30) + "GiB";
    if (bytes != 0 && bytes % (1L << 20) == 0) return bytes / (1L << 20) + "MiB";
    if (bytes != 0 && bytes % (1L << 10) == 0) return bytes / (1L << 10) + "KiB";
    return bytes + "B";
  }
}
