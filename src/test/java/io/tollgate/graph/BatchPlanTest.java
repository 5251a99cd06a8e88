package io.tollgate.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.config.ConfigLoader;
import io.tollgate.config.TollgateOptions;
import io.tollgate.proxy.RouteTable;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** The $batch plan is worked out without I/O: each step's rules as a single call would get them, and the waves. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class BatchPlanTest {
  static RouteTable routes;

  /** The shipped profile's rules (conf/tollgate.yaml, the built-in defaults). */
  @BeforeAll
  static void compileShippedRules() throws Exception {
    Vertx vertx = Vertx.vertx();
    try {
      TollgateOptions o = ConfigLoader.load(vertx, null, Map.of(), Map.of()).await(10, TimeUnit.SECONDS);
      routes = RouteTable.compile(o.getCache(), o.getRateLimit());
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
  }

  static BatchPlan plan(JsonObject... requests) {
    Buffer body = new JsonObject().put("requests", new JsonArray(List.of((Object[]) requests))).toBuffer();
    return BatchPlan.of(BatchRequest.parse(body), "/v1.0", routes);
  }

  static JsonObject req(String id, String method, String url) {
    return new JsonObject().put("id", id).put("method", method).put("url", url);
  }

  @Test
  void each_step_gets_the_rules_of_its_own_method_and_path() {
    BatchPlan p = plan(req("1", "GET", "/groups/g1/transitiveMembers"), req("2", "GET", "/users/u1?$select=id"),
        req("3", "PATCH", "/groups/g2"), req("4", "GET", "/organization"));
    BatchPlan.Step members = p.steps().get(0);
    assertEquals("transitive-members", members.route().name());
    assertEquals("/v1.0/groups/g1/transitiveMembers", members.route().path());
    assertEquals(5, members.route().cost(), "Graph prices transitiveMembers at 5");
    assertTrue(members.cacheable());
    assertEquals(1, p.steps().get(1).route().cost(), "$select takes one off a user read");
    BatchPlan.Step write = p.steps().get(2);
    assertFalse(write.cacheable());
    assertTrue(write.route().evictions().get(0).matches("/v1.0/groups/g2/members"), "the write evicts its group's reads");
    assertFalse(write.route().evictions().get(0).matches("/v1.0/groups/g22"));
    assertNull(p.steps().get(3).route().cacheRule(), "no rule: not cached");
    assertFalse(p.steps().get(0).route().limits().isEmpty(), "a directory read falls under the identity budgets");
  }

  @Test
  void a_client_no_cache_header_on_a_step_bypasses_the_cache_for_that_step_only() {
    BatchPlan p = plan(req("1", "GET", "/users/u1").put("headers", new JsonObject().put("Cache-Control", "no-cache")),
        req("2", "GET", "/users/u2"));
    assertTrue(p.steps().get(0).bypassCache());
    assertFalse(p.steps().get(1).bypassCache());
  }

  @Test
  void waves_follow_depends_on_and_a_failed_dependency_fails_its_dependents() {
    BatchPlan p = plan(req("a", "GET", "/users/u1"), req("b", "GET", "/users/u2").put("dependsOn", new JsonArray().add("a")),
        req("c", "GET", "/users/u3").put("dependsOn", new JsonArray().add("b")), req("d", "GET", "/users/u4"));
    Map<Integer, Integer> status = new java.util.HashMap<>();
    BatchPlan.Wave first = p.nextWave(i -> status.getOrDefault(i, 0));
    assertEquals(List.of("a", "d"), first.ready().stream().map(BatchPlan.Step::id).toList());
    status.put(0, 200);
    status.put(3, 200);
    BatchPlan.Wave second = p.nextWave(i -> status.getOrDefault(i, 0));
    assertEquals(List.of("b"), second.ready().stream().map(BatchPlan.Step::id).toList());
    status.put(1, 404);
    BatchPlan.Wave third = p.nextWave(i -> status.getOrDefault(i, 0));
    assertTrue(third.ready().isEmpty());
    assertEquals(List.of("c"), third.failedDependency().stream().map(BatchPlan.Step::id).toList());
    status.put(2, 424);
    assertFalse(p.nextWave(i -> status.getOrDefault(i, 0)).pending());
  }

  @Test
  void ready_steps_split_into_upstream_batches_of_twenty() {
    JsonObject[] many = new JsonObject[20];
    for (int i = 0; i < 20; i++) many[i] = req("r" + i, "GET", "/users/u" + i);
    BatchPlan p = plan(many);
    List<BatchPlan.Step> doubled = new java.util.ArrayList<>(p.steps());
    doubled.addAll(p.steps().subList(0, 5));
    List<List<BatchPlan.Step>> chunks = BatchPlan.chunks(doubled);
    assertEquals(List.of(20, 5), chunks.stream().map(List::size).toList());
  }
}
