package io.tollgate.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** The rateLimit, bulkhead, breaker and retry sections: shipped defaults and validation. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class TrafficOptionsTest {

  @Test
  void the_built_in_defaults_equal_the_shipped_yaml() throws Exception {
    Vertx vertx = Vertx.vertx();
    try {
      TollgateOptions loaded = ConfigLoader.load(vertx, null, Map.of(), Map.of()).await();
      assertEquals(new RateLimitOptions().toJson(), loaded.getRateLimit().toJson());
      assertEquals(new BulkheadOptions().toJson(), loaded.getBulkhead().toJson());
      assertEquals(new BreakerOptions().toJson(), loaded.getBreaker().toJson());
      assertEquals(new RetryOptions().toJson(), loaded.getRetry().toJson());
    } finally {
      vertx.close().await();
    }
  }

  @Test
  void nonsense_values_are_reported_each_with_its_key() {
    JsonObject json = new JsonObject()
        .put("rateLimit", new JsonObject().put("maxWait", "soon").put("distributed", true)
            .put("limits", new JsonArray()
                .add(new JsonObject().put("name", "a").put("key", "tenant").put("rate", 10).put("burst", 0))
                .add(new JsonObject().put("name", "b").put("key", "planet").put("rate", -1).put("burst", 5).put("paths", "users"))
                .add(new JsonObject().put("name", "a").put("rate", 1).put("burst", 1)))
            .put("costs", new JsonArray().add(new JsonObject().put("path", "/x").put("cost", 0))))
        .put("bulkhead", new JsonObject().put("maxInFlight", 0).put("maxQueue", -1).put("queueTimeout", "forever"))
        .put("breaker", new JsonObject().put("failureThreshold", 0).put("resetTimeout", "0s"))
        .put("retry", new JsonObject().put("maxAttempts", 0).put("budgetRatio", -0.5).put("maxBackoff", "1ms").put("sometimes", true));
    ConfigException e = assertThrows(ConfigException.class, () -> TollgateOptions.fromJson(json));
    Set<String> keys = e.problems().stream().map(ConfigProblem::key).collect(Collectors.toSet());
    for (String key : List.of("rateLimit.maxWait", "rateLimit.distributed", "rateLimit.limits[0].burst",
        "rateLimit.limits[1].key", "rateLimit.limits[1].rate", "rateLimit.limits[1].paths", "rateLimit.limits[2].name",
        "rateLimit.costs[0].cost", "bulkhead.maxInFlight", "bulkhead.maxQueue", "bulkhead.queueTimeout",
        "breaker.failureThreshold", "breaker.resetTimeout", "retry.maxAttempts", "retry.budgetRatio", "retry.maxBackoff",
        "retry.sometimes")) {
      assertTrue(keys.contains(key), key + " missing from " + keys);
    }
  }

  @Test
  void a_limit_without_rate_or_burst_is_a_problem_not_a_default() {
    JsonObject json = new JsonObject().put("rateLimit", new JsonObject()
        .put("limits", new JsonArray().add(new JsonObject().put("name", "x"))));
    ConfigException e = assertThrows(ConfigException.class, () -> TollgateOptions.fromJson(json));
    Set<String> keys = e.problems().stream().map(ConfigProblem::key).collect(Collectors.toSet());
    assertEquals(Set.of("rateLimit.limits[0].rate", "rateLimit.limits[0].burst"), keys);
  }

  @Test
  void distributed_mode_with_a_redis_url_is_accepted_and_round_trips() {
    JsonObject json = new JsonObject().put("redis", new JsonObject().put("url", "redis://127.0.0.1:6379"))
        .put("rateLimit", new JsonObject().put("distributed", true).put("instances", 3).put("maxWait", "5s"));
    TollgateOptions o = TollgateOptions.fromJson(json);
    assertTrue(o.getRateLimit().isDistributed());
    assertEquals(3, o.getRateLimit().getInstances());
    assertEquals(o.getRateLimit().toJson(), TollgateOptions.fromJson(o.toJson().put("redis", new JsonObject()
        .put("url", "redis://127.0.0.1:6379"))).getRateLimit().toJson());
  }
}
