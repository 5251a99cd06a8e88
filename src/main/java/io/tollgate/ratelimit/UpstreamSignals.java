package io.tollgate.ratelimit;

import io.vertx.core.MultiMap;
import java.util.Locale;

/**
 * What an upstream answer says about its budget, read from Graph's and the standard headers:
 * <ul>
 *   <li>{@code x-ms-resource-unit}: what the call really cost;</li>
 *   <li>{@code x-ms-throttle-limit-percentage} (Graph, only past 0.8), {@code RateLimit-Limit/-Remaining}
 *       (SharePoint, the older draft) or the IETF draft's structured {@code RateLimit} ({@code r=}) with
 *       {@code RateLimit-Policy} ({@code q=}): how much of the budget is spent;</li>
 *   <li>{@code x-ms-throttle-scope} ({@code Tenant_Application/ReadWrite/app/tenant}): whose budget ran out,
 *       and whether reads, writes or both.</li>
 * </ul>
 *
 * @param usage the share of the budget spent (1.0 = throttling starts), NaN when the answer did not say
 * @param resourceUnits the call's real cost, -1 when not said
 * @param scope {@code Tenant_Application}, {@code Tenant}, {@code Application}, or null
 * @param side {@code Read}, {@code Write}, {@code ReadWrite}, or null
 */
record UpstreamSignals(double usage, int resourceUnits, String scope, String side) {
  static final UpstreamSignals NONE = new UpstreamSignals(Double.NaN, -1, null, null);

  static UpstreamSignals of(MultiMap headers) {
    double usage = Double.NaN;
    String percentage = headers.get("x-ms-throttle-limit-percentage");
    if (percentage != null) usage = number(percentage);
    usage = max(usage, share(headers.get("RateLimit-Remaining"), headers.get("RateLimit-Limit")));
    String structured = headers.get("RateLimit");
    if (structured != null) {
      // IETF draft 7+: RateLimit: "default";r=50;t=30 with RateLimit-Policy: "default";q=100;w=60.
      // Draft 5/6: RateLimit: limit=100, remaining=50, reset=5.
      String remaining = parameter(structured, "r");
      if (remaining == null) remaining = parameter(structured, "remaining");
      String quota = parameter(structured, "limit");
      String policy = headers.get("RateLimit-Policy");
      if (quota == null && policy != null) quota = parameter(policy, "q");
      usage = max(usage, share(remaining, quota));
    }
    int units = -1;
    String ru = headers.get("x-ms-resource-unit");
    if (ru != null) {
      double n = number(ru);
      if (n >= 0) units = (int) Math.ceil(n);
    }
    String scope = null;
    String side = null;
    String throttleScope = headers.get("x-ms-throttle-scope");
    if (throttleScope != null) {
      String[] parts = throttleScope.split("/");
      if (parts.length > 0 && !parts[0].isBlank()) scope = parts[0].trim();
      if (parts.length > 1 && !parts[1].isBlank()) side = parts[1].trim();
    }
    if (Double.isNaN(usage) && units < 0 && scope == null) return NONE;
    return new UpstreamSignals(usage, units, scope, side);
  }

  /** 1 - remaining / limit, or NaN when either is missing or unreadable. */
  private static double share(String remaining, String limit) {
    if (remaining == null || limit == null) return Double.NaN;
    double r = number(remaining);
    double l = number(limit);
    if (!(l > 0) || !(r >= 0)) return Double.NaN;
    return 1 - Math.min(r, l) / l;
  }

  /** The value of {@code name=} among {@code ;} or {@code ,} separated parameters (first policy only). */
  private static String parameter(String header, String name) {
    for (String part : header.split("[;,]")) {
      int eq = part.indexOf('=');
      if (eq < 0) continue;
      if (part.substring(0, eq).trim().toLowerCase(Locale.ROOT).equals(name)) return part.substring(eq + 1).trim();
    }
    return null;
  }

  private static double number(String text) {
    try {
      return Double.parseDouble(text.trim());
    } catch (NumberFormatException e) {
      return Double.NaN;
    }
  }

  private static double max(double a, double b) {
    if (Double.isNaN(a)) return b;
    if (Double.isNaN(b)) return a;
    return Math.max(a, b);
  }
}
