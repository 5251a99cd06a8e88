package io.tollgate.proxy;

import java.util.Locale;

/**
 * The priority lane a request waits in when its budget is short (SPEC 2.3): {@code interactive} waiters go
 * ahead of {@code background} ones up to the configured interactive share of each budget; background always
 * keeps the rest. Which lane a request takes is configuration (by app, route, User-Agent or a header), never
 * the caller's word unless an operator allowed the header.
 */
public enum Lane {
  INTERACTIVE, BACKGROUND;

  /** The lowercase name used in configuration, metrics labels and events. */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The lane of this name (case-insensitive), or null when there is none. */
  public static Lane parse(String name) {
    if (name == null) return null;
    return switch (name.trim().toLowerCase(Locale.ROOT)) {
      case "interactive" -> INTERACTIVE;
      case "background" -> BACKGROUND;
      default -> null;
    };
  }
}
