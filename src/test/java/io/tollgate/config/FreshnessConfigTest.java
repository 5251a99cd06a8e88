package io.tollgate.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class FreshnessConfigTest {
  private static JsonObject delta(JsonObject d) {
    return new JsonObject().put("freshness", new JsonObject().put("delta", d));
  }

  @Test
  void an_enabled_delta_feed_reads_its_secret_from_the_named_environment_variable_and_never_shows_it() {
    TollgateOptions o = TollgateOptions.fromJson(delta(new JsonObject().put("enabled", true).put("tenantId", "t1")
        .put("clientId", "app").put("clientSecretEnv", "MY_SECRET").put("pollInterval", "250ms")), Map.of("MY_SECRET", "s3cr3t-value"));
    DeltaOptions d = o.getFreshness().getDelta();
    assertEquals("s3cr3t-value", d.getClientSecret());
    assertEquals(Duration.ofMillis(750), d.effectiveLease(), "3 x pollInterval by default");
    assertFalse(o.toJson().encode().contains("s3cr3t-value"));
    assertFalse(o.toString().contains("s3cr3t-value"));
    TollgateOptions inline = TollgateOptions.fromJson(delta(new JsonObject().put("enabled", true).put("tenantId", "t1")
        .put("clientId", "app").put("clientSecret", "inline-secret")), Map.of());
    assertFalse(inline.toJson().encode().contains("inline-secret"));
    assertEquals("****", inline.toJson().getJsonObject("freshness").getJsonObject("delta").getString("clientSecret"));
  }

  @Test
  void every_problem_of_an_enabled_feed_names_its_key_without_the_secret() {
    ConfigException e = assertThrows(ConfigException.class, () -> TollgateOptions.fromJson(delta(new JsonObject()
        .put("enabled", true).put("resources", new JsonArray().add("users").add("drives")).put("pollInterval", "10ms")
        .put("clientSecret", "leaky").put("clientSecretEnv", "X").put("tokenOrigin", "https://login.example/path")), Map.of()));
    String text = e.getMessage();
    for (String key : new String[] {"freshness.delta.resources", "freshness.delta.pollInterval", "freshness.delta.tenantId",
        "freshness.delta.clientId", "freshness.delta.clientSecret", "freshness.delta.tokenOrigin"}) {
      assertTrue(text.contains(key), key + " in " + text);
    }
    assertFalse(text.contains("leaky"), text);
  }

  @Test
  void a_route_may_say_freshness_delta_only_when_the_feed_is_enabled() {
    JsonObject route = new JsonObject().put("name", "members").put("path", "/v1.0/groups/{id}/members/**").put("ttl", "24h")
        .put("freshness", "delta");
    JsonObject cache = new JsonObject().put("routes", new JsonArray().add(route));
    ConfigException off = assertThrows(ConfigException.class,
        () -> TollgateOptions.fromJson(new JsonObject().put("cache", cache), Map.of()));
    assertTrue(off.getMessage().contains("cache.routes[0].freshness"), off.getMessage());
    JsonObject on = delta(new JsonObject().put("enabled", true).put("tenantId", "t").put("clientId", "c").put("clientSecret", "s"))
        .put("cache", cache);
    assertTrue(TollgateOptions.fromJson(on, Map.of()).getCache().getRoutes().get(0).deltaFed());
  }
}
