package io.tollgate.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class NotificationConfigTest {
  private static final String SECRET = "a-client-state-of-32-characters!";
  @TempDir Path dir;

  private static JsonObject freshness(JsonObject notifications, boolean delta) {
    JsonObject d = new JsonObject().put("enabled", delta).put("tenantId", "t1").put("clientId", "app").put("clientSecret", "s");
    return new JsonObject().put("freshness", new JsonObject().put("delta", d).put("notifications", notifications));
  }

  @Test
  void off_by_default_and_an_enabled_listener_reads_its_client_state_from_the_environment_or_a_file_never_showing_it() throws Exception {
    NotificationOptions defaults = TollgateOptions.fromJson(new JsonObject(), Map.of()).getFreshness().getNotifications();
    assertFalse(defaults.isEnabled());
    assertEquals("127.0.0.1", defaults.getHost());
    TollgateOptions o = TollgateOptions.fromJson(freshness(new JsonObject().put("enabled", true)
        .put("notificationUrl", "https://tollgate.example.com/notifications").put("clientStateEnv", "STATE")
        .put("lifetime", "2d").put("renewBefore", "12h"), true), Map.of("STATE", SECRET));
    NotificationOptions n = o.getFreshness().getNotifications();
    assertEquals(SECRET, n.getClientState());
    assertEquals(Duration.ofDays(2), n.getLifetime());
    assertFalse(o.toJson().encode().contains(SECRET));
    Path file = Files.writeString(dir.resolve("state"), SECRET + "\n");
    TollgateOptions fromFile = TollgateOptions.fromJson(freshness(new JsonObject().put("enabled", true)
        .put("notificationUrl", "https://tollgate.example.com/notifications").put("clientStateFile", file.toString()), true), Map.of());
    assertEquals(SECRET, fromFile.getFreshness().getNotifications().getClientState());
    assertFalse(fromFile.toString().contains(SECRET));
  }

  @Test
  void every_problem_of_an_enabled_listener_names_its_key() {
    ConfigException e = assertThrows(ConfigException.class, () -> TollgateOptions.fromJson(freshness(new JsonObject()
        .put("enabled", true).put("resources", new JsonArray().add("drives")).put("changeType", "updated,renamed")
        .put("lifetime", "30d").put("writeInterval", "10ms").put("clientStateEnv", "UNSET"), false), Map.of()));
    String text = e.getMessage();
    for (String key : new String[] {"freshness.notifications.enabled", "freshness.notifications.notificationUrl",
        "freshness.notifications.resources", "freshness.notifications.changeType", "freshness.notifications.lifetime",
        "freshness.notifications.writeInterval", "freshness.notifications.clientStateEnv"}) {
      assertTrue(text.contains(key), key + " in " + text);
    }
    ConfigException weak = assertThrows(ConfigException.class, () -> TollgateOptions.fromJson(freshness(new JsonObject()
        .put("enabled", true).put("notificationUrl", "https://x.example/n").put("clientStateEnv", "STATE"), true), Map.of("STATE", "short")));
    assertTrue(weak.getMessage().contains("freshness.notifications.clientStateEnv"), weak.getMessage());
    assertFalse(weak.getMessage().contains("short"), weak.getMessage());
  }
}
