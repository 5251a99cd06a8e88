package io.tollgate.admin;

import io.tollgate.metrics.Readiness;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.testing.Await;
import io.tollgate.testing.GatewayHarness;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ManagementTest {
  static final String ADMIN = "admin-token-0123456789";
  HttpClient http = HttpClient.newHttpClient();
  GatewayHarness harness;

  @AfterEach
  void stop() {
    if (harness != null) harness.close();
  }

  HttpResponse<String> call(String method, String path, String token) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(harness.management() + path)).method(method, HttpRequest.BodyPublishers.noBody());
    if (token != null) b.header("Authorization", "Bearer " + token);
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void liveness_and_readiness_report_up_with_components() throws Exception {
    harness = GatewayHarness.builder().start();
    assertEquals(200, call("GET", "/health/live", null).statusCode());
    HttpResponse<String> ready = call("GET", "/health/ready", null);
    assertEquals(200, ready.statusCode());
    JsonObject body = new JsonObject(ready.body());
    assertEquals("UP", body.getString("status"));
    assertEquals("UP", body.getJsonObject("components").getJsonObject("proxy").getString("status"));
  }

  @Test
  void readiness_goes_down_while_shutting_down() throws Exception {
    harness = GatewayHarness.builder().start();
    harness.gateway().readiness().report("proxy", Readiness.State.DOWN, "shutting down");
    assertEquals(503, call("GET", "/health/ready", null).statusCode());
  }

  @Test
  void metrics_expose_jvm_vertx_and_tollgate_meters_in_prometheus_text() throws Exception {
    harness = GatewayHarness.builder().start();
    http.send(HttpRequest.newBuilder(URI.create(harness.proxy() + "/v1.0/users/u1")).build(), HttpResponse.BodyHandlers.ofString());
    // The request is timed when its response has been written, which may be just after the client has it.
    Await.until(() -> call("GET", "/metrics", null).body().contains("tollgate_requests_seconds_count{"), Duration.ofSeconds(5),
        "the request is timed");
    HttpResponse<String> m = call("GET", "/metrics", null);
    assertEquals(200, m.statusCode());
    assertTrue(m.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
    String text = m.body();
    assertTrue(text.contains("tollgate_requests_seconds_count{cache=\"MISS\",route=\"user\",status=\"2xx\"}"), text);
    assertTrue(text.contains("tollgate_responses_total{code=\"200\"} 1.0\n"),
        text.lines().filter(l -> l.startsWith("tollgate_responses")).toList().toString());
    assertTrue(text.contains("vertx_eventbus_handlers"), "Vert.x's own meters");
    assertTrue(text.contains("tollgate_upstream_requests_seconds_count{code=\"200\",origin=\"" + harness.sim().origin() + "\"} 1\n"),
        text.lines().filter(l -> l.startsWith("tollgate_upstream")).toList().toString());
    assertFalse(text.contains("vertx_http_client_requests_total"), "Vert.x's per-request HTTP client metrics are off");
    assertFalse(text.contains("vertx_http_server_requests_total"), "Vert.x's per-request HTTP server metrics are off");
    assertTrue(text.contains("jvm_memory_used_bytes"), "JVM metrics");
    assertTrue(text.contains("tollgate_cache_hits_total"), "cache metrics");
  }

  @Test
  void admin_is_closed_without_a_configured_token() throws Exception {
    harness = GatewayHarness.builder().start();
    HttpResponse<String> r = call("GET", "/admin/cache/stats", "anything-at-all-123");
    assertEquals(403, r.statusCode());
    assertEquals("Forbidden", new JsonObject(r.body()).getJsonObject("error").getString("code"));
  }

  @Test
  void admin_needs_the_right_bearer_token() throws Exception {
    harness = GatewayHarness.builder().gateway(o -> o.getManagement().setAdminToken(ADMIN)).start();
    assertEquals(401, call("GET", "/admin/cache/stats", null).statusCode());
    assertEquals(401, call("GET", "/admin/cache/stats", ADMIN + "x").statusCode());
    assertEquals(401, call("GET", "/admin/cache/stats", ADMIN.substring(1)).statusCode());
    HttpResponse<String> ok = call("GET", "/admin/cache/stats", ADMIN);
    assertEquals(200, ok.statusCode());
    assertTrue(new JsonObject(ok.body()).containsKey("l1"));
    HttpResponse<String> config = call("GET", "/admin/config", ADMIN);
    assertEquals(200, config.statusCode());
    assertFalse(config.body().contains(ADMIN), "the admin token is masked in the effective configuration");
  }

  @Test
  void bad_invalidation_patterns_get_400() throws Exception {
    harness = GatewayHarness.builder().gateway(o -> o.getManagement().setAdminToken(ADMIN)).start();
    for (String bad : new String[] {"", "v1.0/users/*", "/v1.0/users/[a-z]", "/v1.0//users", "/has%20space%0A\n"}) {
      String q = bad.isEmpty() ? "" : "?pattern=" + java.net.URLEncoder.encode(bad, java.nio.charset.StandardCharsets.UTF_8);
      HttpResponse<String> r = call("POST", "/admin/cache/invalidate" + q, ADMIN);
      assertEquals(400, r.statusCode(), "pattern '" + bad + "'");
      assertEquals("BadRequest", new JsonObject(r.body()).getJsonObject("error").getString("code"));
    }
    assertEquals(200, call("POST", "/admin/cache/invalidate?pattern=/v1.0/groups/abc/*", ADMIN).statusCode());
  }

  @Test
  void the_dashboard_is_open_like_metrics_and_its_state_carries_the_figures_but_no_token() throws Exception {
    harness = GatewayHarness.builder().gateway(o -> {
      o.getManagement().setAdminToken(ADMIN);
      o.getCache().setStatsInterval(Duration.ofMillis(200));
    }).start();
    HttpResponse<String> page = call("GET", "/", null);
    assertEquals(200, page.statusCode());
    assertTrue(page.headers().firstValue("Content-Type").orElse("").startsWith("text/html"));
    assertTrue(page.headers().firstValue("Content-Security-Policy").orElse("").contains("default-src 'self'"));
    assertTrue(page.body().contains("/dashboard/dashboard.js"), "the page loads its script from the management port");
    assertEquals(200, call("GET", "/dashboard/dashboard.js", null).statusCode());
    assertEquals(200, call("GET", "/dashboard/dashboard.css", null).statusCode());
    assertEquals(404, call("GET", "/dashboard/missing.js", null).statusCode());

    String caller = "Bearer opaque-dashboard-caller-token";
    assertEquals("MISS", GatewayHarness.xCache(harness.getAs(caller, "/v1.0/users/u1")));
    assertEquals("HIT-L1", GatewayHarness.xCache(harness.getAs(caller, "/v1.0/users/u1")));
    Await.until(() -> {
      JsonObject s = new JsonObject(call("GET", "/dashboard/state", null).body());
      return s.getJsonObject("stats") != null && s.getJsonObject("stats").getJsonObject("l1").getLong("hits") == 1;
    }, Duration.ofSeconds(10), "the state carries the statistics message with the hit");
    HttpResponse<String> r = call("GET", "/dashboard/state", null);
    JsonObject state = new JsonObject(r.body());
    assertEquals(1L, state.getJsonObject("upstream").getLong("avoided"));
    assertEquals(1L, state.getJsonObject("upstream").getLong("made"));
    JsonObject user = state.getJsonArray("routes").stream().map(JsonObject.class::cast)
        .filter(x -> "user".equals(x.getString("route"))).findFirst().orElseThrow();
    assertEquals(1L, user.getLong("hitL1"));
    assertEquals(1L, user.getLong("miss"));
    assertFalse(state.getJsonArray("budgets").isEmpty(), "the shipped profile's limits");
    java.util.Map<String, Long> tokens = new java.util.HashMap<>();
    state.getJsonArray("budgets").forEach(b -> tokens.put(((JsonObject) b).getString("name"), ((JsonObject) b).getLong("tokens")));
    // The one upstream read paid each shipped limit it falls under: the app's ceiling 1, identity reads its cost (2).
    assertEquals(1L, tokens.get("graph-app"), state.getJsonArray("budgets").encode());
    assertEquals(2L, tokens.get("identity-reads"), state.getJsonArray("budgets").encode());
    assertEquals(0L, tokens.get("identity-writes"));
    assertEquals("closed", state.getJsonArray("breakers").getJsonObject(0).getString("state"));
    assertEquals("UP", state.getJsonObject("readiness").getString("status"));
    assertFalse(r.body().contains(ADMIN), "no admin token in the dashboard's state");
    assertFalse(r.body().contains("opaque-dashboard-caller-token"), "no caller token in the dashboard's state");
  }

  /** Opens a dashboard stream whose lines go to {@code lines}; cancel the future to close it. */
  java.util.concurrent.CompletableFuture<HttpResponse<Void>> dashboardStream(java.util.Collection<String> lines) {
    return http.sendAsync(HttpRequest.newBuilder(URI.create(harness.management() + "/dashboard/events")).build(),
        HttpResponse.BodyHandlers.fromLineSubscriber(new java.util.concurrent.Flow.Subscriber<String>() {
          @Override public void onSubscribe(java.util.concurrent.Flow.Subscription s) { s.request(Long.MAX_VALUE); }
          @Override public void onNext(String line) { lines.add(line); }
          @Override public void onError(Throwable t) { }
          @Override public void onComplete() { }
        }));
  }

  @Test
  void the_dashboard_stream_sends_the_state_first_then_relays_events() throws Exception {
    harness = GatewayHarness.builder().start();
    java.util.concurrent.LinkedBlockingQueue<String> lines = new java.util.concurrent.LinkedBlockingQueue<>();
    var stream = dashboardStream(lines);
    try {
      Await.until(() -> lines.contains("event: state"), Duration.ofSeconds(10), "the first state");
      harness.gateway().vertx().eventBus().publish(io.tollgate.metrics.Addresses.EVENTS,
          new JsonObject().put("type", "circuit").put("origin", "http://example.test").put("state", "open"));
      Await.until(() -> lines.contains("event: event"), Duration.ofSeconds(10), "the event relayed");
      assertTrue(lines.stream().anyMatch(l -> l.startsWith("data: ") && l.contains("\"type\":\"circuit\"")), lines.toString());
    } finally {
      stream.cancel(true);
    }
  }

  @Test
  void the_dashboard_serves_a_bounded_number_of_streams_and_503_beyond() throws Exception {
    harness = GatewayHarness.builder().start();
    List<java.util.concurrent.CompletableFuture<HttpResponse<Void>>> open = new java.util.ArrayList<>();
    try {
      List<java.util.Queue<String>> seen = new java.util.ArrayList<>();
      for (int i = 0; i < Dashboard.MAX_VIEWERS; i++) {
        java.util.Queue<String> lines = new java.util.concurrent.ConcurrentLinkedQueue<>();
        seen.add(lines);
        open.add(dashboardStream(lines));
      }
      Await.until(() -> seen.stream().allMatch(l -> l.contains("event: state")), Duration.ofSeconds(20),
          Dashboard.MAX_VIEWERS + " streams have their first state");
      HttpResponse<String> refused = call("GET", "/dashboard/events", null);
      assertEquals(503, refused.statusCode());
      assertEquals("ServiceUnavailable", new JsonObject(refused.body()).getJsonObject("error").getString("code"));
      // A viewer that leaves frees its place.
      open.remove(0).cancel(true);
      java.util.Queue<String> again = new java.util.concurrent.ConcurrentLinkedQueue<>();
      Await.until(() -> {
        var next = dashboardStream(again);
        open.add(next);
        Await.until(() -> next.isDone() || again.contains("event: state"), Duration.ofSeconds(10), "an answer");
        return again.contains("event: state");
      }, Duration.ofSeconds(20), "a new viewer gets a stream once one has left");
    } finally {
      open.forEach(f -> f.cancel(true));
    }
  }

}
