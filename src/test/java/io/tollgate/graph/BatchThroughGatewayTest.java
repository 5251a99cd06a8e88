package io.tollgate.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.sim.SimulatorOptions;
import io.tollgate.testing.GatewayHarness;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** $batch through the gateway: the simulator counts which sub-requests reached the upstream. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class BatchThroughGatewayTest {
  static final String ALICE = "Bearer alice";
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  GatewayHarness harness;

  @AfterEach
  void stop() {
    if (harness != null) harness.close();
  }

  HttpResponse<String> batch(String body) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(harness.proxy() + "/v1.0/$batch")).header("Authorization", ALICE)
        .header("Content-Type", "application/json").timeout(Duration.ofSeconds(30))
        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<String> get(String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(harness.proxy() + path)).header("Authorization", ALICE).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  static JsonObject req(String id, String method, String url) {
    return new JsonObject().put("id", id).put("method", method).put("url", url);
  }

  static String body(JsonObject... requests) {
    return new JsonObject().put("requests", new JsonArray(List.of((Object[]) requests))).encode();
  }

  static JsonObject byId(JsonArray responses, String id) {
    for (Object o : responses) if (((JsonObject) o).getString("id").equals(id)) return (JsonObject) o;
    throw new AssertionError("no response for id " + id + " in " + responses);
  }

  @Test
  void a_gzip_client_gets_every_uncached_step_answered_though_the_upstream_compresses_the_batch() throws Exception {
    harness = GatewayHarness.builder().start();
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(harness.proxy() + "/v1.0/$batch")).header("Authorization", ALICE)
        .header("Content-Type", "application/json").header("Accept-Encoding", "gzip").timeout(Duration.ofSeconds(30))
        .POST(HttpRequest.BodyPublishers.ofString(body(req("1", "GET", "/users/u1"), req("2", "GET", "/groups/g1/members")))).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode());
    JsonArray responses = new JsonObject(r.body()).getJsonArray("responses");
    assertEquals(200, byId(responses, "1").getInteger("status"), responses.encode());
    assertEquals("u1", byId(responses, "1").getJsonObject("body").getString("id"));
    assertEquals(200, byId(responses, "2").getInteger("status"), responses.encode());
  }

  @Test
  void a_throttled_step_carries_a_whole_second_retry_after_the_sdks_can_read() throws Exception {
    harness = GatewayHarness.builder().simulator(new io.tollgate.sim.SimulatorOptions().setThrottleRate(0.01).setThrottleBurst(1).setResourceUnits(false))
        .gateway(o -> o.getRateLimit().setEnabled(false)).start();
    HttpResponse<String> r = batch(body(req("1", "GET", "/users/u1"), req("2", "GET", "/users/u2"), req("3", "GET", "/users/u3")));
    JsonArray responses = new JsonObject(r.body()).getJsonArray("responses");
    boolean throttled = false;
    for (Object o : responses) {
      JsonObject sub = (JsonObject) o;
      if (sub.getInteger("status") != 429) continue;
      throttled = true;
      String retryAfter = null;
      for (var h : sub.getJsonObject("headers")) if (h.getKey().equalsIgnoreCase("Retry-After")) retryAfter = String.valueOf(h.getValue());
      assertTrue(retryAfter != null && retryAfter.matches("[1-9][0-9]*") && Integer.parseInt(retryAfter) <= 180, sub.encode());
    }
    assertTrue(throttled, "the simulator throttled a step past the batch's deadline-bound retries: " + responses.encode());
  }

  @Test
  void each_step_pays_against_its_own_limits_at_its_own_cost() throws Exception {
    // Only user reads are limited (GET users costs 2): 4 tokens, no refill to speak of, no waiting.
    harness = GatewayHarness.builder().gateway(o -> {
      o.getRetry().setEnabled(false);
      o.getRateLimit().setMaxWait(Duration.ZERO).setLimits(List.of(new io.tollgate.config.RateLimitOptions.Limit()
          .setName("user-reads").setKey("global").setRate(0.01).setBurst(4).setPaths(List.of("/*/users/**"))));
    }).start();
    JsonArray two = new JsonObject(batch(body(req("1", "GET", "/users/u1"), req("2", "GET", "/users/u2"))).body()).getJsonArray("responses");
    assertEquals(200, byId(two, "1").getInteger("status"));
    assertEquals(200, byId(two, "2").getInteger("status"));
    JsonArray third = new JsonObject(batch(body(req("3", "GET", "/users/u3"))).body()).getJsonArray("responses");
    assertEquals(429, byId(third, "3").getInteger("status"), "the user-reads budget is spent by the two steps before");
    assertEquals(0, harness.sim().stats().count("GET /v1.0/users/u3"), "the refused step never reached the upstream");
  }

  @Test
  void cached_sub_requests_are_answered_locally_and_only_misses_go_upstream() throws Exception {
    harness = GatewayHarness.builder().start();
    get("/v1.0/users/u1");
    get("/v1.0/users/u2");
    HttpResponse<String> r = batch(body(req("1", "GET", "/users/u1"), req("2", "GET", "/users/u2"),
        req("3", "GET", "/users/u3"), req("4", "GET", "/groups/g1")));
    assertEquals(200, r.statusCode(), r.body());
    JsonArray responses = new JsonObject(r.body()).getJsonArray("responses");
    assertEquals(List.of("1", "2", "3", "4"), responses.stream().map(o -> ((JsonObject) o).getString("id")).toList(), "original order");
    for (Object o : responses) assertEquals(200, ((JsonObject) o).getInteger("status"), o.toString());
    assertEquals("u1", byId(responses, "1").getJsonObject("body").getString("id"));
    assertEquals("u3", byId(responses, "3").getJsonObject("body").getString("id"));
    assertEquals(1, harness.sim().stats().count("GET /v1.0/users/u1"), "hit: not sent again");
    assertEquals(1, harness.sim().stats().count("GET /v1.0/users/u2"));
    assertEquals(1, harness.sim().stats().count("GET /v1.0/users/u3"), "miss: sent once");
    assertEquals(1, harness.sim().stats().count("GET /v1.0/groups/g1"));
    assertEquals("HIT-L1", get("/v1.0/users/u3").headers().firstValue("X-Cache").orElse(""), "sub-responses are stored");
  }

  @Test
  void a_dependent_request_runs_after_what_it_depends_on() throws Exception {
    harness = GatewayHarness.builder().start();
    JsonObject patch = req("a", "PATCH", "/groups/g2").put("body", new JsonObject().put("displayName", "Renamed by batch"))
        .put("headers", new JsonObject().put("Content-Type", "application/json"));
    HttpResponse<String> r = batch(body(req("b", "GET", "/groups/g2").put("dependsOn", new JsonArray().add("a")), patch));
    JsonArray responses = new JsonObject(r.body()).getJsonArray("responses");
    assertEquals(204, byId(responses, "a").getInteger("status"));
    assertEquals("Renamed by batch", byId(responses, "b").getJsonObject("body").getString("displayName"));
  }

  @Test
  void a_failed_dependency_gives_424_without_sending_the_dependant() throws Exception {
    harness = GatewayHarness.builder().start();
    HttpResponse<String> r = batch(body(req("a", "GET", "/users/nobody"), req("b", "GET", "/users/u5").put("dependsOn", new JsonArray().add("a"))));
    JsonArray responses = new JsonObject(r.body()).getJsonArray("responses");
    assertEquals(404, byId(responses, "a").getInteger("status"));
    assertEquals(424, byId(responses, "b").getInteger("status"));
    assertEquals(0, harness.sim().stats().count("GET /v1.0/users/u5"));
  }

  @Test
  void throttled_sub_requests_are_retried_after_their_retry_after() throws Exception {
    harness = GatewayHarness.builder().simulator(new SimulatorOptions().setThrottleRate(4).setThrottleBurst(3).setRetryAfter(Duration.ofSeconds(1)).setResourceUnits(false)).start();
    List<JsonObject> reqs = new ArrayList<>();
    for (int i = 1; i <= 6; i++) reqs.add(req("r" + i, "GET", "/users/u" + (10 + i)));
    HttpResponse<String> r = batch(body(reqs.toArray(JsonObject[]::new)));
    JsonArray responses = new JsonObject(r.body()).getJsonArray("responses");
    for (Object o : responses) assertEquals(200, ((JsonObject) o).getInteger("status"), o.toString());
    assertTrue(harness.sim().stats().throttled() >= 1, "the simulator did throttle some sub-requests");
  }

  @Test
  void paging_links_inside_sub_responses_point_at_the_gateway() throws Exception {
    harness = GatewayHarness.builder().start();
    HttpResponse<String> r = batch(body(req("1", "GET", "/users?$top=2")));
    String next = byId(new JsonObject(r.body()).getJsonArray("responses"), "1").getJsonObject("body").getString("@odata.nextLink");
    assertTrue(next.startsWith(harness.proxy() + "/v1.0/users?"), next);
  }

  @Test
  void a_write_in_a_batch_evicts_the_reads_it_changes() throws Exception {
    harness = GatewayHarness.builder().start();
    assertTrue(!get("/v1.0/groups/g9/members").body().contains("\"u498\""));
    JsonObject add = req("w", "POST", "/groups/g9/members/$ref").put("headers", new JsonObject().put("Content-Type", "application/json"))
        .put("body", new JsonObject().put("@odata.id", "https://graph.microsoft.com/v1.0/directoryObjects/u498"));
    HttpResponse<String> r = batch(body(add));
    assertEquals(204, byId(new JsonObject(r.body()).getJsonArray("responses"), "w").getInteger("status"), r.body());
    HttpResponse<String> after = get("/v1.0/groups/g9/members");
    assertEquals("MISS", after.headers().firstValue("X-Cache").orElse(""));
    assertTrue(after.body().contains("\"u498\""));
  }

  @Test
  void every_malformed_batch_gets_400_without_contacting_the_upstream() throws Exception {
    harness = GatewayHarness.builder().start();
    List<JsonObject> many = new ArrayList<>();
    for (int i = 0; i < 21; i++) many.add(req("r" + i, "GET", "/users/u1"));
    String[] bad = {
        "not json",
        "{}",
        "{\"requests\":[]}",
        body(many.toArray(JsonObject[]::new)),
        body(req("1", "GET", "/users/u1"), req("1", "GET", "/users/u2")),
        body(req("1", "GET", "/users/u1").put("dependsOn", new JsonArray().add("9"))),
        body(req("1", "GET", "/users/u1").put("dependsOn", new JsonArray().add("2")), req("2", "GET", "/users/u2").put("dependsOn", new JsonArray().add("1"))),
        body(req("1", "FETCH", "/users/u1")),
        body(req("1", "GET", "https://evil.example/users/u1")),
    };
    for (String b : bad) {
      HttpResponse<String> r = batch(b);
      assertEquals(400, r.statusCode(), b);
      assertEquals("BadRequest", new JsonObject(r.body()).getJsonObject("error").getString("code"), b);
    }
    assertEquals(0, harness.sim().stats().total());
  }
}
