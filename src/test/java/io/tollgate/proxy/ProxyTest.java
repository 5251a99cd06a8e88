package io.tollgate.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.Gateway;
import io.tollgate.testing.LogCapture;
import io.tollgate.testing.Await;
import io.tollgate.testing.GatewayHarness;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** The pass-through proxy over real HTTP against the Graph simulator. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ProxyTest {
  static final long MIB = 1 << 20;
  GatewayHarness harness;
  HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();

  @BeforeEach
  void start() {
    harness = GatewayHarness.builder().gateway(o -> {
      o.getServer().setMaxBodySize(300 * MIB);
      o.getUpstream().setRequestTimeout(Duration.ofSeconds(2));
      // Each answer here is the pass-through's own; retrying a 504 would only wait out two more timeouts.
      o.getRetry().setEnabled(false);
    }).start();
  }

  @AfterEach
  void stop() {
    harness.close();
  }

  HttpResponse<String> get(String path, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(harness.proxy() + path)).timeout(Duration.ofSeconds(20));
    for (int i = 0; i < headers.length; i += 2) b.header(headers[i], headers[i + 1]);
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void forwards_method_path_and_query_unchanged_and_adds_forwarding_headers() throws Exception {
    HttpResponse<String> r = get("/_sim/headers?b=2&a=1&%24top=5", "X-Custom", "kept", "Authorization", "Bearer t1");
    assertEquals(200, r.statusCode());
    JsonObject seen = new JsonObject(r.body());
    assertEquals("GET", seen.getString("method"));
    assertEquals("/_sim/headers", seen.getString("path"));
    assertEquals("b=2&a=1&%24top=5", seen.getString("query"));
    JsonObject h = lower(seen.getJsonObject("headers"));
    assertEquals("kept", first(h, "x-custom"));
    assertEquals("Bearer t1", first(h, "authorization"), "the caller's token goes to the upstream, not into logs");
    assertEquals("127.0.0.1", first(h, "x-forwarded-for"));
    assertEquals("http", first(h, "x-forwarded-proto"));
    assertEquals("127.0.0.1:" + harness.gateway().proxyPort(), first(h, "x-forwarded-host"));
    assertEquals("127.0.0.1:" + harness.sim().port(), first(h, "host"), "Host names the upstream, like nginx's proxy_pass");
    assertEquals("MISS", r.headers().firstValue("X-Cache").orElse(null));
  }

  @Test
  void hop_by_hop_headers_are_not_forwarded() throws Exception {
    try (Socket s = new Socket("127.0.0.1", harness.gateway().proxyPort())) {
      s.setSoTimeout(10_000);
      String req = "GET /_sim/headers HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Secret-Hop\r\nX-Secret-Hop: 1\r\n"
          + "Keep-Alive: timeout=5\r\nTE: trailers\r\nProxy-Authorization: Basic abc\r\nUpgrade: websocket\r\nX-End-To-End: yes\r\n\r\n";
      s.getOutputStream().write(req.getBytes(StandardCharsets.US_ASCII));
      String response = readResponse(s.getInputStream());
      String body = response.substring(response.indexOf("\r\n\r\n") + 4);
      JsonObject h = lower(new JsonObject(body.substring(body.indexOf('{'), body.lastIndexOf('}') + 1)).getJsonObject("headers"));
      assertEquals("yes", first(h, "x-end-to-end"));
      for (String hop : new String[] {"x-secret-hop", "keep-alive", "te", "proxy-authorization", "upgrade"}) {
        assertNull(h.getValue(hop), hop + " must not be forwarded: " + h);
      }
    }
  }

  @Test
  void a_200_mib_upload_streams_through_with_the_heap_bounded() throws Exception {
    long size = 200 * MIB;
    MessageDigest sent = MessageDigest.getInstance("SHA-256");
    HttpRequest req = HttpRequest.newBuilder(URI.create(harness.proxy() + "/_sim/count")).timeout(Duration.ofSeconds(120))
        .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new PatternStream(size, sent))).build();
    HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    JsonObject counted = new JsonObject(r.body());
    assertEquals(size, counted.getLong("bytes"));
    assertEquals(HexFormat.of().formatHex(sent.digest()), counted.getString("sha256"));
  }

  @Test
  void a_200_mib_download_streams_through_with_the_heap_bounded() throws Exception {
    long size = 200 * MIB;
    for (String chunked : new String[] {"false", "true"}) {
      HttpRequest req = HttpRequest.newBuilder(URI.create(harness.proxy() + "/_sim/bytes?size=" + size + "&chunked=" + chunked))
          .timeout(Duration.ofSeconds(120)).build();
      HttpResponse<InputStream> r = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
      assertEquals(200, r.statusCode());
      long total = 0;
      byte[] buf = new byte[1 << 16];
      try (InputStream in = r.body()) {
        for (int n; (n = in.read(buf)) > 0; ) total += n;
      }
      assertEquals(size, total, "chunked=" + chunked);
    }
  }

  @Test
  void a_body_over_the_limit_gets_413_without_reaching_the_upstream() throws Exception {
    harness.close();
    harness = GatewayHarness.builder().gateway(o -> o.getServer().setMaxBodySize(1 * MIB)).start();
    HttpResponse<String> declared = http.send(HttpRequest.newBuilder(URI.create(harness.proxy() + "/v1.0/users"))
        .POST(HttpRequest.BodyPublishers.ofByteArray(new byte[2 * (int) MIB])).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(413, declared.statusCode());
    assertGraphError(declared.body(), "RequestEntityTooLarge");
    assertEquals(0, harness.sim().stats().total(), "nothing reached the upstream");

    HttpResponse<String> chunked = http.send(HttpRequest.newBuilder(URI.create(harness.proxy() + "/_sim/count"))
        .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new PatternStream(3 * MIB, null))).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(413, chunked.statusCode(), "a chunked body is counted as it streams");
  }

  @Test
  void oversized_request_headers_get_431() throws Exception {
    HttpResponse<String> r = get("/v1.0/users", "X-Big", "x".repeat(20_000));
    assertEquals(431, r.statusCode());
    assertEquals(0, harness.sim().stats().total());
  }

  @Test
  void an_unreachable_upstream_gives_a_graph_shaped_502() throws Exception {
    int dead = io.tollgate.testing.RedisProcess.freePort();
    Gateway g = harness.another(o -> o.getUpstream().setUrl("http://127.0.0.1:" + dead));
    HttpResponse<String> r = harness.get(g, "/v1.0/users");
    assertEquals(502, r.statusCode());
    assertGraphError(r.body(), "BadGateway");
    assertNotNull(r.headers().firstValue("request-id").orElse(null));
  }

  @Test
  void an_upstream_that_does_not_answer_in_time_gives_504() throws Exception {
    HttpResponse<String> r = get("/_sim/hang");
    assertEquals(504, r.statusCode());
    assertGraphError(r.body(), "GatewayTimeout");
  }

  @Test
  void a_client_that_disconnects_cancels_its_upstream_request() throws Exception {
    try (Socket s = new Socket("127.0.0.1", harness.gateway().proxyPort())) {
      s.getOutputStream().write("GET /_sim/hang HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      Await.until(() -> harness.sim().stats().inFlight() == 1, Duration.ofSeconds(10), "the request reached the upstream");
    }
    Await.until(() -> harness.sim().stats().cancelled() == 1, Duration.ofSeconds(10), "the upstream saw its request cancelled");
  }

  @Test
  void tokens_never_reach_the_logs() throws Exception {
    String token = io.tollgate.sim.Tokens.issue(new JsonObject().put("tid", "t-1").put("appid", "a-1").put("oid", "secret-user"));
    String[] parts = token.substring("Bearer ".length()).split("\\.");
    try (LogCapture logs = new LogCapture()) {
      assertEquals(200, get("/v1.0/users/u1", "Authorization", token).statusCode());
      assertEquals(200, get("/v1.0/users/u1", "Authorization", token).statusCode());
      get("/_sim/hang", "Authorization", token);
      assertFalse(logs.all().contains(parts[1]) || logs.all().contains(parts[2]) || logs.all().contains("secret-user"), logs.all());
      assertTrue(logs.all().contains("route=user"), "debug request lines were written: " + logs.all());
    }
  }

  static void assertGraphError(String body, String code) {
    JsonObject error = new JsonObject(body).getJsonObject("error");
    assertEquals(code, error.getString("code"));
    assertNotNull(error.getString("message"));
    assertNotNull(error.getJsonObject("innerError").getString("request-id"));
    assertNotNull(error.getJsonObject("innerError").getString("date"));
  }

  static JsonObject lower(JsonObject headers) {
    JsonObject out = new JsonObject();
    headers.forEach(e -> out.put(e.getKey().toLowerCase(), e.getValue()));
    return out;
  }

  static String first(JsonObject headers, String name) {
    Object v = headers.getValue(name);
    if (v instanceof JsonArray a) return a.isEmpty() ? null : a.getString(0);
    return (String) v;
  }

  private static String readResponse(InputStream in) throws IOException {
    StringBuilder sb = new StringBuilder();
    byte[] buf = new byte[8192];
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < deadline) {
      int n = in.read(buf);
      if (n < 0) break;
      sb.append(new String(buf, 0, n, StandardCharsets.UTF_8));
      String s = sb.toString();
      int end = s.indexOf("\r\n\r\n");
      if (end > 0 && s.lastIndexOf('}') > end) return s;
    }
    return sb.toString();
  }

  /** A deterministic byte stream of a given size that never holds more than one small buffer. */
  static final class PatternStream extends InputStream {
    private final long size;
    private final MessageDigest digest;
    private long pos;

    PatternStream(long size, MessageDigest digest) {
      this.size = size;
      this.digest = digest;
    }

    @Override
    public int read() {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) {
      if (pos >= size) return -1;
      int n = (int) Math.min(len, size - pos);
      for (int i = 0; i < n; i++) b[off + i] = (byte) ((pos + i) * 31 >>> 3);
      if (digest != null) digest.update(b, off, n);
      pos += n;
      return n;
    }
  }

}
