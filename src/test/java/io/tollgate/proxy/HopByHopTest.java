package io.tollgate.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.MultiMap;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class HopByHopTest {
  /** RFC 9110 §7.6.1's, and those of HTTP/1.0 proxies and the h2c upgrade. */
  static final List<String> NAMES = List.of("connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
      "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "http2-settings");

  @Test
  void every_hop_by_hop_name_is_one_in_any_case() {
    for (String name : NAMES) {
      assertTrue(HopByHop.is(name), name);
      assertTrue(HopByHop.is(name.toUpperCase(Locale.ROOT)), name);
      assertTrue(HopByHop.is(Character.toUpperCase(name.charAt(0)) + name.substring(1)), name);
    }
  }

  @Test
  void end_to_end_names_are_not_even_at_the_same_length() {
    for (String name : List.of("Authorization", "Host", "Accept", "ConsistencyLevel", "Prefer", "tx", "trailers", "upgraded",
        "connectio", "keep-alive2", "transfer-encodinG2", "proxy-authorisation", "http2-settingz", "content-encoding", "")) {
      assertFalse(HopByHop.is(name), name);
    }
  }

  @Test
  void copy_drops_hop_by_hop_headers_and_those_the_connection_header_names() {
    MultiMap from = MultiMap.caseInsensitiveMultiMap().add("Authorization", "Bearer x").add("Connection", "close, X-Trace")
        .add("X-Trace", "1").add("TE", "trailers").add("Keep-Alive", "timeout=5").add("Prefer", "a").add("Prefer", "b");
    MultiMap to = MultiMap.caseInsensitiveMultiMap();
    HopByHop.copy(from, to);
    assertEquals(List.of("Authorization", "Prefer", "Prefer"), to.entries().stream().map(e -> e.getKey()).toList());
    assertEquals(List.of("a", "b"), to.getAll("prefer"));
  }
}
