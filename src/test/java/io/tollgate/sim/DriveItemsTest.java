package io.tollgate.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The simulator's drive items: ETags on item, children and permissions, 304 on a match, 412 on a stale If-Match, out-of-band changes. */
@ExtendWith(VertxExtension.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class DriveItemsTest {
  static final String TOKEN = "Bearer drive-reader";
  final HttpClient http = HttpClient.newHttpClient();
  GraphSimulator sim;

  @BeforeEach
  void start(Vertx vertx) throws Exception {
    sim = SimTesting.start(vertx, new SimulatorOptions().setUsers(50).setGroups(5).setSites(3));
  }

  @AfterEach
  void stop() throws Exception {
    sim.close().await(10, TimeUnit.SECONDS);
  }

  HttpResponse<String> send(String method, String path, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(sim.origin() + path)).header("Authorization", TOKEN);
    for (int i = 0; i < headers.length; i += 2) b.header(headers[i], headers[i + 1]);
    b.method(method, method.equals("GET") ? HttpRequest.BodyPublishers.noBody()
        : HttpRequest.BodyPublishers.ofString(method.equals("POST") ? "" : "{\"name\":\"Renamed.docx\"}"));
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  static String etag(HttpResponse<?> r) {
    return r.headers().firstValue("ETag").orElse(null);
  }

  @Test
  void item_children_and_permissions_carry_etags_and_answer_a_matching_if_none_match_with_304() throws Exception {
    for (String path : new String[] {"/v1.0/drives/d1/items/d1i1", "/v1.0/drives/d1/root/children",
        "/v1.0/drives/d1/items/d1i1/permissions"}) {
      HttpResponse<String> r = send("GET", path);
      assertEquals(200, r.statusCode(), path);
      assertNotNull(etag(r), path);
      long bytes = sim.stats().bodyBytes();
      HttpResponse<String> again = send("GET", path, "If-None-Match", etag(r));
      assertEquals(304, again.statusCode(), path);
      assertEquals("", again.body());
      assertEquals(etag(r), etag(again));
      assertEquals(bytes, sim.stats().bodyBytes(), "a 304 sends no body");
      assertEquals(200, send("GET", path, "If-None-Match", "\"nope\"").statusCode());
    }
    JsonObject item = new JsonObject(send("GET", "/v1.0/drives/d1/items/d1i1").body());
    assertEquals(etag(send("GET", "/v1.0/drives/d1/items/d1i1")), item.getString("eTag"));
    assertTrue(item.getString("cTag").startsWith("\"c:"));
    assertEquals(3, sim.stats().notModified());
  }

  @Test
  void an_out_of_band_change_gives_new_etags_and_a_stale_if_match_gets_412() throws Exception {
    String before = etag(send("GET", "/v1.0/drives/d2/items/d2i4"));
    String permissionsBefore = etag(send("GET", "/v1.0/drives/d2/items/d2i4/permissions"));
    HttpResponse<String> changed = send("POST", "/_sim/drive-items/change?id=d2i4");
    assertEquals(200, changed.statusCode());
    assertEquals("d2/d2i4", new JsonObject(changed.body()).getJsonArray("changed").getString(0));
    assertNotEquals(before, etag(send("GET", "/v1.0/drives/d2/items/d2i4")));
    assertNotEquals(permissionsBefore, etag(send("GET", "/v1.0/drives/d2/items/d2i4/permissions")));
    assertEquals(200, send("GET", "/v1.0/drives/d2/items/d2i4", "If-None-Match", before).statusCode());

    assertEquals(412, send("PATCH", "/v1.0/drives/d2/items/d2i4", "If-Match", before).statusCode());
    String now = etag(send("GET", "/v1.0/drives/d2/items/d2i4"));
    HttpResponse<String> patched = send("PATCH", "/v1.0/drives/d2/items/d2i4", "If-Match", now);
    assertEquals(200, patched.statusCode());
    assertEquals("Renamed.docx", new JsonObject(patched.body()).getString("name"));
    assertNotEquals(now, etag(patched));
  }

  @Test
  void a_fraction_of_drive_items_changes_on_request() throws Exception {
    HttpResponse<String> r = send("POST", "/_sim/drive-items/change?fraction=0.1");
    assertEquals(6, new JsonObject(r.body()).getInteger("count"), "10 % of 3 drives x 20 items");
    assertEquals(400, send("POST", "/_sim/drive-items/change?fraction=2").statusCode());
    assertEquals(60, new JsonObject(send("GET", "/_sim/drive-items").body()).getJsonArray("items").size());
  }
}
