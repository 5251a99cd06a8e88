package io.tollgate.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(VertxExtension.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class SimulatorBatchTest {
  private GraphSimulator sim;
  private WebClient client;

  @BeforeEach
  void start(Vertx vertx) throws Exception {
    sim = SimTesting.start(vertx, new SimulatorOptions().setUsers(50).setGroups(10).setSites(5));
    client = SimTesting.client(vertx);
  }

  @AfterEach
  void stop() throws Exception {
    client.close();
    sim.close().await(10, TimeUnit.SECONDS);
  }

  @Test
  void batch_answers_every_id_and_counts_each_sub_request(VertxTestContext test) {
    JsonArray requests = new JsonArray();
    for (int i = 1; i <= 10; i++) requests.add(request("r" + i, "GET", "/users/u" + i));
    requests.add(request("g", "GET", "/groups/g1/members?$top=5"));
    batch(new JsonObject().put("requests", requests)).onComplete(test.succeeding(r -> test.verify(() -> {
      assertEquals(200, r.statusCode());
      Map<String, JsonObject> byId = byId(r);
      assertEquals(11, byId.size());
      for (int i = 1; i <= 10; i++) {
        JsonObject answer = byId.get("r" + i);
        assertEquals(200, answer.getInteger("status"));
        assertEquals("u" + i, answer.getJsonObject("body").getString("id"));
        assertEquals("no-cache", answer.getJsonObject("headers").getString("Cache-Control"));
        assertEquals(12, answer.getJsonObject("body").getString("callerHash").length(), "callerHash in each body");
        assertEquals(1, sim.stats().count("GET /v1.0/users/u" + i));
      }
      String next = byId.get("g").getJsonObject("body").getString("@odata.nextLink");
      assertTrue(next.startsWith(sim.origin() + "/v1.0/groups/g1/members?$top=5&$skiptoken="), next);
      assertEquals(1, sim.stats().count("POST /v1.0/$batch"));
      assertEquals(12, sim.stats().total(), "11 sub-requests and the batch itself");
      test.completeNow();
    })));
  }

  @Test
  void sub_responses_come_back_in_shuffled_order(VertxTestContext test) {
    JsonArray requests = new JsonArray();
    for (int i = 1; i <= 20; i++) requests.add(request(String.valueOf(i), "GET", "/users/u" + i));
    batch(new JsonObject().put("requests", requests)).onComplete(test.succeeding(r -> test.verify(() -> {
      JsonArray responses = r.bodyAsJsonObject().getJsonArray("responses");
      StringBuilder order = new StringBuilder();
      StringBuilder sorted = new StringBuilder();
      for (int i = 0; i < responses.size(); i++) {
        order.append(responses.getJsonObject(i).getString("id")).append(',');
        sorted.append(i + 1).append(',');
      }
      // 20 answers in request order by chance is 1 in 20!; with the fixed seed it is deterministic anyway.
      assertFalse(order.toString().equals(sorted.toString()), "answers must not simply follow request order");
      test.completeNow();
    })));
  }

  @Test
  void a_failed_dependency_gives_424_and_is_not_executed(VertxTestContext test) {
    JsonArray requests = new JsonArray()
        .add(request("1", "GET", "/users/ghost"))
        .add(request("2", "GET", "/users/u1").put("dependsOn", new JsonArray().add("1")))
        .add(request("3", "GET", "/users/u2"));
    batch(new JsonObject().put("requests", requests)).onComplete(test.succeeding(r -> test.verify(() -> {
      Map<String, JsonObject> byId = byId(r);
      assertEquals(404, byId.get("1").getInteger("status"));
      assertEquals(424, byId.get("2").getInteger("status"));
      assertEquals("FailedDependency", byId.get("2").getJsonObject("body").getJsonObject("error").getString("code"));
      assertEquals(200, byId.get("3").getInteger("status"));
      assertEquals(0, sim.stats().count("GET /v1.0/users/u1"), "the dependant never ran");
      test.completeNow();
    })));
  }

  @Test
  void depends_on_orders_a_write_before_the_read_that_needs_it(VertxTestContext test) {
    // Listed read-first; dependsOn must still make the write run first.
    JsonArray requests = new JsonArray()
        .add(request("read", "GET", "/users/u4?$select=jobTitle").put("dependsOn", new JsonArray().add("write")))
        .add(request("write", "PATCH", "/users/u4").put("body", new JsonObject().put("jobTitle", "Batched"))
            .put("headers", new JsonObject().put("Content-Type", "application/json")));
    batch(new JsonObject().put("requests", requests)).onComplete(test.succeeding(r -> test.verify(() -> {
      Map<String, JsonObject> byId = byId(r);
      assertEquals(204, byId.get("write").getInteger("status"));
      assertFalse(byId.get("write").containsKey("body"), "204 has no body");
      assertEquals("Batched", byId.get("read").getJsonObject("body").getString("jobTitle"));
      test.completeNow();
    })));
  }

  @Test
  void more_than_twenty_requests_is_400(VertxTestContext test) {
    JsonArray requests = new JsonArray();
    for (int i = 1; i <= 21; i++) requests.add(request(String.valueOf(i), "GET", "/users/u1"));
    expectBadRequest(test, new JsonObject().put("requests", requests));
  }

  @Test
  void duplicate_ids_are_400(VertxTestContext test) {
    expectBadRequest(test, new JsonObject().put("requests", new JsonArray()
        .add(request("1", "GET", "/users/u1")).add(request("1", "GET", "/users/u2"))));
  }

  @Test
  void depends_on_an_unknown_id_is_400(VertxTestContext test) {
    expectBadRequest(test, new JsonObject().put("requests", new JsonArray()
        .add(request("1", "GET", "/users/u1").put("dependsOn", new JsonArray().add("7")))));
  }

  @Test
  void an_empty_batch_is_400(VertxTestContext test) {
    expectBadRequest(test, new JsonObject().put("requests", new JsonArray()));
  }

  @Test
  void a_body_that_is_not_json_is_400(VertxTestContext test) {
    client.postAbs(sim.origin() + "/v1.0/$batch").sendBuffer(Buffer.buffer("{not json"))
        .onComplete(test.succeeding(r -> test.verify(() -> {
          assertEquals(400, r.statusCode());
          assertEquals("BadRequest", r.bodyAsJsonObject().getJsonObject("error").getString("code"));
          test.completeNow();
        })));
  }

  @Test
  void each_sub_request_is_throttled_on_its_own_with_a_retry_after(Vertx vertx, VertxTestContext test) throws Exception {
    sim.reconfigure(new SimulatorOptions().setThrottleRate(0.001).setThrottleBurst(2).setRetryAfter(java.time.Duration.ofMillis(2500)));
    JsonArray requests = new JsonArray();
    for (int i = 1; i <= 4; i++) requests.add(request("r" + i, "GET", "/users/u" + i));
    batch(new JsonObject().put("requests", requests)).onComplete(test.succeeding(r -> test.verify(() -> {
      assertEquals(200, r.statusCode(), "the batch itself is not throttled");
      int ok = 0;
      int throttled = 0;
      for (JsonObject answer : byId(r).values()) {
        if (answer.getInteger("status") == 200) ok++;
        if (answer.getInteger("status") == 429) {
          throttled++;
          assertEquals("3", answer.getJsonObject("headers").getString("Retry-After"), "2.5 s rounds up");
          assertEquals("TooManyRequests", answer.getJsonObject("body").getJsonObject("error").getString("code"));
        }
      }
      assertEquals(2, ok);
      assertEquals(2, throttled);
      assertEquals(2, sim.stats().throttled());
      test.completeNow();
    })));
  }

  @Test
  void a_throttled_sub_request_is_told_a_decimal_retry_after_the_time_its_cost_takes_to_refill(Vertx vertx, VertxTestContext test)
      throws Exception {
    // 4 units a second, 1 held, a user read costs 1: the second read finds the bucket empty, is charged anyway
    // (debt 1) and needs 2 units, half a second.
    sim.reconfigure(new SimulatorOptions().setThrottleRate(4).setThrottleBurst(1).setResourceUnits(false));
    JsonArray requests = new JsonArray().add(request("a", "GET", "/users/u1"))
        .add(request("b", "GET", "/users/u2").put("dependsOn", new JsonArray().add("a")));
    batch(new JsonObject().put("requests", requests)).onComplete(test.succeeding(r -> test.verify(() -> {
      JsonObject throttled = byId(r).get("b");
      assertEquals(429, throttled.getInteger("status"));
      String retryAfter = throttled.getJsonObject("headers").getString("Retry-After");
      assertTrue(retryAfter.matches("0\\.[0-9]{3}"), "decimal seconds, as Graph sends in batches: " + retryAfter);
      double seconds = Double.parseDouble(retryAfter);
      assertTrue(seconds > 0.4 && seconds <= 0.5, retryAfter);
      test.completeNow();
    })));
  }

  @Test
  void beta_batch_runs_sub_requests_on_beta(VertxTestContext test) {
    client.postAbs(sim.origin() + "/beta/$batch")
        .sendJsonObject(new JsonObject().put("requests", new JsonArray().add(request("1", "GET", "users/u1"))))
        .onComplete(test.succeeding(r -> test.verify(() -> {
          assertEquals(200, byId(r).get("1").getInteger("status"));
          assertEquals(1, sim.stats().count("GET /beta/users/u1"));
          assertEquals(1, sim.stats().count("POST /beta/$batch"));
          test.completeNow();
        })));
  }

  private void expectBadRequest(VertxTestContext test, JsonObject payload) {
    batch(payload).onComplete(test.succeeding(r -> test.verify(() -> {
      assertEquals(400, r.statusCode());
      JsonObject error = r.bodyAsJsonObject().getJsonObject("error");
      assertEquals("BadRequest", error.getString("code"));
      assertNotNull(error.getJsonObject("innerError").getString("request-id"));
      assertEquals(0, sim.stats().countPrefix("GET "), "nothing in a rejected batch runs");
      test.completeNow();
    })));
  }

  private Future<HttpResponse<Buffer>> batch(JsonObject payload) {
    return client.postAbs(sim.origin() + "/v1.0/$batch").putHeader("Authorization", "Bearer batcher")
        .sendJsonObject(payload);
  }

  private static JsonObject request(String id, String method, String url) {
    return new JsonObject().put("id", id).put("method", method).put("url", url);
  }

  private static Map<String, JsonObject> byId(HttpResponse<Buffer> response) {
    Map<String, JsonObject> out = new HashMap<>();
    Set<String> seen = new HashSet<>();
    for (Object o : response.bodyAsJsonObject().getJsonArray("responses")) {
      JsonObject answer = (JsonObject) o;
      assertTrue(seen.add(answer.getString("id")), "each id answered once");
      out.put(answer.getString("id"), answer);
    }
    return out;
  }
}
