package io.tollgate.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.Gateway;
import io.tollgate.testing.Await;
import io.tollgate.testing.GatewayHarness;
import io.tollgate.testing.RawUpstream;
import io.vertx.core.Vertx;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * Upstream answers that bend HTTP/1.1 framing, from a {@link RawUpstream} that writes them byte for byte: interim
 * {@code 1xx} answers before the real one, bodies longer than they say. None may end an exchange early or reach
 * another caller's request on the pooled connection.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class UpstreamFramingTest {
  GatewayHarness harness;
  Vertx vertx;
  RawUpstream upstream;
  Gateway gateway;

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
    harness = GatewayHarness.builder().start();
  }

  @AfterEach
  void stop() {
    if (harness != null) harness.close();
    if (upstream != null) upstream.close();
    vertx.close().await();
  }

  /** A gateway in front of a raw upstream; one proxy verticle, so every call shares one connection pool. */
  void upstream(Function<String, String> answer) {
    upstream(answer, line -> null);
  }

  void upstream(Function<String, String> answer, Function<String, String> later) {
    upstream = RawUpstream.start(vertx, answer, later);
    gateway = harness.another(o -> {
      o.getUpstream().setUrl(upstream.url());
      o.getServer().setInstances(1);
    });
  }

  HttpResponse<String> send(String method, String path, String authorization) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(GatewayHarness.proxy(gateway) + path))
        .timeout(Duration.ofSeconds(10)).header("Authorization", authorization);
    b.method(method, method.equals("POST") ? HttpRequest.BodyPublishers.ofString("{}") : HttpRequest.BodyPublishers.noBody());
    return harness.http().send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  static String answer(int status, String reason, String body) {
    return "HTTP/1.1 " + status + " " + reason + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length()
        + "\r\n\r\n" + body;
  }

  @Test
  void the_forwarded_head_carries_each_header_byte_for_byte() throws Exception {
    upstream(line -> answer(200, "OK", "{}"));
    String token = "Bearer " + "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.".repeat(60) + "sig-_~+/=";
    HttpRequest request = HttpRequest.newBuilder(URI.create(GatewayHarness.proxy(gateway) + "/raw/head?$select=id"))
        .timeout(Duration.ofSeconds(10)).header("Authorization", token)
        .header("X-Custom", "a value; with \"quotes\", tabs\tand = signs").build();
    assertEquals(200, harness.http().send(request, HttpResponse.BodyHandlers.ofString()).statusCode());
    String head = upstream.heads().get(0);
    assertEquals("GET /raw/head?$select=id HTTP/1.1", head.lines().findFirst().orElseThrow());
    java.util.List<String> lines = head.lines().skip(1).toList();
    assertTrue(lines.contains("Authorization: " + token) || lines.contains("authorization: " + token), head);
    assertTrue(lines.stream().anyMatch(l -> l.equalsIgnoreCase("x-custom: a value; with \"quotes\", tabs\tand = signs")), head);
    for (String l : lines) assertTrue(l.matches("[!#$%&'*+.^_`|~0-9A-Za-z-]+: .*"), "a header line: " + l);
  }

  @Test
  void an_interim_102_is_not_the_answer_the_final_one_after_it_is() throws Exception {
    upstream(line -> "HTTP/1.1 102 Processing\r\n\r\n" + answer(200, "OK", "{\"done\":true}"));
    for (String caller : new String[] {"Bearer first-caller", "Bearer second-caller"}) {
      HttpResponse<String> r = send("GET", "/raw/processing", caller);
      assertEquals(200, r.statusCode(), r.body());
      assertEquals("{\"done\":true}", r.body());
    }
    assertEquals(2, upstream.requests().size(), "each request reached the upstream once: " + upstream.requests());
  }

  @Test
  void an_answer_to_head_after_an_interim_one_has_no_body_and_the_next_answer_pairs_with_its_own_request() throws Exception {
    String body = "{\"done\":true}";
    upstream(line -> {
      String full = answer(200, "OK", body);
      return "HTTP/1.1 102 Processing\r\n\r\n" + (line.startsWith("HEAD") ? full.substring(0, full.length() - body.length()) : full);
    });
    HttpResponse<String> head = send("HEAD", "/raw/processing", "Bearer a-caller");
    assertEquals(200, head.statusCode());
    assertEquals(String.valueOf(body.length()), head.headers().firstValue("Content-Length").orElse(null));
    HttpResponse<String> get = send("GET", "/raw/processing", "Bearer a-caller");
    assertEquals(200, get.statusCode(), get.body());
    assertEquals(body, get.body());
    assertEquals(2, upstream.requests().size(), "each request reached the upstream once: " + upstream.requests());
  }

  @Test
  void an_answer_longer_than_it_says_closes_its_connection_and_the_next_caller_is_answered() throws Exception {
    // Each offender declares its end (Content-Length, or the last chunk) and then writes more in the same packet.
    upstream(line -> {
      if (line.contains("/raw/longer")) return answer(200, "OK", "{\"a\":1}") + "{\"stray\":true}";
      if (line.contains("/raw/after-last-chunk")) {
        return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "7\r\n{\"b\":2}\r\n0\r\n\r\nstray bytes";
      }
      return answer(201, "Created", "{\"id\":\"x\"}");
    });
    String[][] offenders = {{"/raw/longer", "{\"a\":1}"}, {"/raw/after-last-chunk", "{\"b\":2}"}};
    for (String[] offender : offenders) {
      HttpResponse<String> first = send("GET", offender[0], "Bearer first-caller");
      assertEquals(200, first.statusCode(), first.body());
      assertEquals(offender[1], first.body(), "the answer as it framed itself");
      // Someone else's write, never retried: it must not meet the stray bytes on a pooled connection.
      HttpResponse<String> next = send("POST", "/raw/create", "Bearer second-caller");
      assertEquals(201, next.statusCode(), "after " + offender[0] + ": " + next.body());
      assertEquals("{\"id\":\"x\"}", next.body());
    }
    assertEquals(4, upstream.requests().size(), "each request reached the upstream once: " + upstream.requests());
  }

  @Test
  void bytes_that_arrive_while_no_request_waits_close_the_idle_connection() throws Exception {
    upstream(line -> line.startsWith("GET") ? answer(200, "OK", "{\"a\":1}") : answer(201, "Created", "{\"id\":\"x\"}"),
        line -> line.startsWith("GET") ? "stray bytes" : null);
    HttpResponse<String> first = send("GET", "/raw/then-more", "Bearer first-caller");
    assertEquals(200, first.statusCode(), first.body());
    Await.until(() -> upstream.closedConnections() == 1, Duration.ofSeconds(10),
        "the gateway closed the connection the stray answer came on");
    HttpResponse<String> next = send("POST", "/raw/create", "Bearer second-caller");
    assertEquals(201, next.statusCode(), next.body());
    assertEquals(2, upstream.requests().size(), "each request reached the upstream once: " + upstream.requests());
  }
}
