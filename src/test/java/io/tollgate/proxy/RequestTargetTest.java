package io.tollgate.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.testing.GatewayHarness;
import io.tollgate.testing.LogCapture;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * Only origin-form targets reach the upstream, and exactly as the normalised path the cache keys on: an
 * absolute-form target, the asterisk form, dot segments (plain, percent-encoded or behind an encoded slash)
 * and malformed percent-encoding get a Graph-shaped 400 and never reach the upstream.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class RequestTargetTest {
  GatewayHarness harness;

  @BeforeEach
  void start() {
    harness = GatewayHarness.builder().start();
  }

  @AfterEach
  void stop() {
    harness.close();
  }

  /** Sends one raw HTTP/1.1 request (clients refuse to send the malformed ones) and returns status line + body. */
  String raw(String method, String target) throws Exception {
    try (Socket s = new Socket("127.0.0.1", harness.gateway().proxyPort())) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write((method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer alice\r\nConnection: close\r\n\r\n")
          .getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      InputStream in = s.getInputStream();
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      in.transferTo(all);
      return all.toString(StandardCharsets.UTF_8);
    }
  }

  static int status(String response) {
    return Integer.parseInt(response.substring(9, 12));
  }

  static JsonObject body(String response) {
    return new JsonObject(response.substring(response.indexOf("\r\n\r\n") + 4).trim());
  }

  @Test
  void an_absolute_form_target_is_refused_and_nothing_is_cached_under_its_path() throws Exception {
    String r = raw("GET", "http://evil.example/v1.0/users/u9");
    assertEquals(400, status(r), r);
    assertEquals("BadRequest", body(r).getJsonObject("error").getString("code"));
    assertEquals(0, harness.sim().stats().total(), "the upstream never saw it");
    assertEquals("MISS", GatewayHarness.xCache(harness.getAs("Bearer alice", "/v1.0/users/u9")), "nothing was cached under /v1.0/users/u9");
  }

  @Test
  void the_asterisk_form_and_dot_segments_are_refused_in_every_spelling() throws Exception {
    for (String target : new String[] {"*", "/v1.0/users/../../admin", "/v1.0/./users", "/v1.0/users/%2e%2e/x",
        "/v1.0/users/%2E%2e", "/v1.0/users/.%2e/x", "/v1.0/users/..%2f..%2fadmin", "/v1.0/users/%2e%2e%5cadmin"}) {
      String r = raw("GET", target);
      assertEquals(400, status(r), target + " -> " + r);
      assertEquals("BadRequest", body(r).getJsonObject("error").getString("code"), target);
    }
    assertEquals(0, harness.sim().stats().total(), "none reached the upstream");
  }

  @Test
  void malformed_percent_encoding_is_a_graph_shaped_400_with_no_stack_trace() throws Exception {
    try (LogCapture logs = new LogCapture()) {
      for (String target : new String[] {"/v1.0/users?%zz=1", "/v1.0/users/u1?$select=%", "/v1.0/users/%zz"}) {
        String r = raw("GET", target);
        assertEquals(400, status(r), target + " -> " + r);
        JsonObject error = body(r).getJsonObject("error");
        assertEquals("BadRequest", error.getString("code"));
        assertTrue(error.getJsonObject("innerError").containsKey("request-id"));
      }
      assertFalse(logs.all().contains("Exception"), logs.all());
    }
    assertEquals(0, harness.sim().stats().total());
  }

  @Test
  void the_forwarded_path_is_the_normalised_path_the_cache_keys_on() throws Exception {
    assertEquals(200, harness.getAs("Bearer alice", "/v1.0//users/u1/").statusCode());
    assertEquals(1, harness.sim().stats().count("GET /v1.0/users/u1"), "forwarded without the empty segment and the trailing slash");
    assertEquals("HIT-L1", GatewayHarness.xCache(harness.getAs("Bearer alice", "/v1.0/users/u1")), "and cached as that path");
    long before = harness.sim().stats().total();
    String escaped = raw("GET", "/v1.0/users/someone%40contoso.com");
    assertEquals(404, status(escaped), "escapes that are not dots pass on (the simulator has no such user): " + escaped);
    assertEquals(before + 1, harness.sim().stats().total());
  }
}
