package io.tollgate.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.testing.Await;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The background change rate for drive items (issue 13 item 4): items change on their own, with new ETags. */
@ExtendWith(VertxExtension.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class DriveItemChangeRateTest {
  static final String TOKEN = "Bearer drive-reader";
  final HttpClient http = HttpClient.newHttpClient();

  HttpResponse<String> get(GraphSimulator sim, String path, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(sim.origin() + path)).header("Authorization", TOKEN);
    for (int i = 0; i < headers.length; i += 2) b.header(headers[i], headers[i + 1]);
    return http.send(b.GET().build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void the_defaults_are_the_issues_rates_and_the_json_keys_round_trip() {
    SimulatorOptions o = new SimulatorOptions();
    assertEquals(0.01, o.getGroupChangeRate());
    assertEquals(0.05, o.getDriveItemChangeRate());
    SimulatorOptions read = new SimulatorOptions(new JsonObject().put("driveItemChangeRate", 0.3));
    assertEquals(0.3, read.getDriveItemChangeRate());
    assertEquals(0.3, new SimulatorOptions(read.toJson()).getDriveItemChangeRate());
    assertTrue(new SimulatorOptions().setDriveItemChangeRate(-1).validate().get(0).startsWith("driveItemChangeRate: got -1.0"));
    assertTrue(new SimulatorOptions().setDriveItemChangeRate(4000).validate().get(0).startsWith("driveItemChangeRate:"));
  }

  @Test
  void a_high_rate_changes_items_in_the_background_and_a_revalidation_then_gets_200(Vertx vertx) throws Exception {
    // 20 items, 1800 x their number per hour: about 10 changes a second, chosen at random.
    GraphSimulator sim = SimTesting.start(vertx, new SimulatorOptions().setUsers(20).setGroups(2).setSites(1)
        .setGroupChangeRate(0).setDriveItemChangeRate(1800));
    try {
      Map<String, String> etags = new HashMap<>();
      Map<String, String> permissionEtags = new HashMap<>();
      for (int i = 1; i <= DriveItems.ITEMS_PER_DRIVE; i++) {
        String path = "/v1.0/drives/d1/items/d1i" + i;
        etags.put(path, get(sim, path).headers().firstValue("ETag").orElseThrow());
        permissionEtags.put(path, get(sim, path + "/permissions").headers().firstValue("ETag").orElseThrow());
      }
      String[] changed = {null};
      Await.until(() -> {
        for (Map.Entry<String, String> e : etags.entrySet()) {
          if (get(sim, e.getKey(), "If-None-Match", e.getValue()).statusCode() == 200) {
            changed[0] = e.getKey();
            return true;
          }
        }
        return false;
      }, Duration.ofSeconds(20), "a drive item changes in the background");
      String path = changed[0];
      HttpResponse<String> now = get(sim, path);
      assertEquals(200, now.statusCode());
      assertNotEquals(etags.get(path), now.headers().firstValue("ETag").orElseThrow());
      assertEquals(now.headers().firstValue("ETag").orElseThrow(), new JsonObject(now.body()).getString("eTag"));
      HttpResponse<String> permissions = get(sim, path + "/permissions", "If-None-Match", permissionEtags.get(path));
      assertEquals(200, permissions.statusCode(), "the permissions changed with the item");
      assertTrue(new JsonObject(get(sim, "/_sim/drive-items").body()).getLong("changes") >= 1);
    } finally {
      sim.close().await(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void rate_zero_changes_nothing_while_the_group_rate_runs(Vertx vertx) throws Exception {
    GraphSimulator sim = SimTesting.start(vertx, new SimulatorOptions().setUsers(20).setGroups(20).setSites(1)
        .setGroupChangeRate(3600).setDriveItemChangeRate(0));
    try {
      String path = "/v1.0/drives/d1/items/d1i1";
      String etag = get(sim, path).headers().firstValue("ETag").orElseThrow();
      // The same one-second timer makes the group changes: once some are seen, the drive items had their ticks too.
      Await.until(() -> sim.stats().directoryChanges() >= 40, Duration.ofSeconds(20), "two ticks of group changes");
      assertEquals(304, get(sim, path, "If-None-Match", etag).statusCode());
      assertEquals(0L, new JsonObject(get(sim, "/_sim/drive-items").body()).getLong("changes"));
    } finally {
      sim.close().await(10, TimeUnit.SECONDS);
    }
  }
}
