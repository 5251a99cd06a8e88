package io.tollgate.proxy;

import io.vertx.core.MultiMap;
import java.util.Locale;
import java.util.Set;

/** Headers that describe one connection, not the message (RFC 9110 §7.6.1): never forwarded either way. */
public final class HopByHop {
  private static final Set<String> NAMES = Set.of("connection", "keep-alive", "proxy-authenticate",
      "proxy-authorization", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "http2-settings");

  private HopByHop() {}

  public static boolean is(String name) {
    return NAMES.contains(name.toLowerCase(Locale.ROOT));
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
