package io.tollgate.proxy;

import io.vertx.core.MultiMap;

/** Headers that describe one connection, not the message (RFC 9110 §7.6.1): never forwarded either way. */
public final class HopByHop {
  private HopByHop() {}

  /**
   * Connection, Keep-Alive, Proxy-Authenticate, Proxy-Authorization, Proxy-Connection, TE, Trailer, Transfer-Encoding,
   * Upgrade, HTTP2-Settings, in any case. Asked for every header of every request and answer: no lower-cased copy of
   * the name, no set lookup.
   */
  public static boolean is(String name) {
    return switch (name.length()) {
      case 2 -> name.equalsIgnoreCase("te");
      case 7 -> name.equalsIgnoreCase("trailer") || name.equalsIgnoreCase("upgrade");
      case 10 -> name.equalsIgnoreCase("connection") || name.equalsIgnoreCase("keep-alive");
      case 14 -> name.equalsIgnoreCase("http2-settings");
      case 16 -> name.equalsIgnoreCase("proxy-connection");
      case 17 -> name.equalsIgnoreCase("transfer-encoding");
      case 18 -> name.equalsIgnoreCase("proxy-authenticate");
      case 19 -> name.equalsIgnoreCase("proxy-authorization");
      default -> false;
    };
  }

  /** Copies end-to-end headers, also dropping any named in the message's own Connection header. */
  public static void copy(MultiMap from, MultiMap to) {
    String connection = from.get("connection");
    for (var e : from) {
      String name = e.getKey();
      if (is(name)) continue;
      if (connection != null && listed(connection, name)) continue;
      to.add(name, e.getValue());
    }
  }

  private static boolean listed(String connection, String name) {
    for (String token : connection.split(",")) {
      if (token.trim().equalsIgnoreCase(name)) return true;
    }
    return false;
  }
}
