package io.tollgate.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.testing.GatewayHarness;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** Each shipped write→read rule: a write through the gateway, then the read shows the simulator's new answer. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class InvalidationRulesTest {
  static final String ALICE = "Bearer alice";
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  GatewayHarness harness;

  @BeforeEach
  void start() {
    harness = GatewayHarness.builder().start();
  }

  @AfterEach
  void stop() {
    harness.close();
  }

  HttpResponse<String> send(String method, String path, String json) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(harness.proxy() + path)).header("Authorization", ALICE);
    if (json == null) b.method(method, HttpRequest.BodyPublishers.noBody());
    else b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(json));
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** Reads twice so the answer is cached, checks it is a hit, then returns its body. */
  String cachedRead(String path) throws Exception {
    send("GET", path, null);
    HttpResponse<String> r = send("GET", path, null);
    assertEquals("HIT-L1", r.headers().firstValue("X-Cache").orElse(""), path);
    return r.body();
  }

  @Test
  void adding_and_removing_a_group_member_refreshes_members_and_transitive_members() throws Exception {
    assertFalse(cachedRead("/v1.0/groups/g11/members").contains("\"u497\""));
    assertFalse(cachedRead("/v1.0/groups/g11/transitiveMembers").contains("\"u497\""));
    assertEquals(204, send("POST", "/v1.0/groups/g11/members/$ref",
        "{\"@odata.id\":\"https://graph.microsoft.com/v1.0/directoryObjects/u497\"}").statusCode());
    assertTrue(send("GET", "/v1.0/groups/g11/members", null).body().contains("\"u497\""));
    assertTrue(send("GET", "/v1.0/groups/g11/transitiveMembers", null).body().contains("\"u497\""));
    cachedRead("/v1.0/groups/g11/members");
    assertEquals(204, send("DELETE", "/v1.0/groups/g11/members/u497/$ref", null).statusCode());
    assertFalse(send("GET", "/v1.0/groups/g11/members", null).body().contains("\"u497\""));
  }

  @Test
  void patching_a_group_refreshes_the_group() throws Exception {
    cachedRead("/v1.0/groups/g12");
    assertEquals(204, send("PATCH", "/v1.0/groups/g12", "{\"displayName\":\"Patched group\"}").statusCode());
    assertEquals("Patched group", new JsonObject(send("GET", "/v1.0/groups/g12", null).body()).getString("displayName"));
  }

  @Test
  void patching_a_user_refreshes_the_user() throws Exception {
    cachedRead("/v1.0/users/u12");
    assertEquals(204, send("PATCH", "/v1.0/users/u12", "{\"jobTitle\":\"Auditor\"}").statusCode());
    assertEquals("Auditor", new JsonObject(send("GET", "/v1.0/users/u12", null).body()).getString("jobTitle"));
  }

  @Test
  void granting_and_revoking_a_site_permission_refreshes_the_permissions() throws Exception {
    int before = new JsonObject(cachedRead("/v1.0/sites/s4/permissions")).getJsonArray("value").size();
    HttpResponse<String> grant = send("POST", "/v1.0/sites/s4/permissions",
        "{\"roles\":[\"write\"],\"grantedToIdentitiesV2\":[{\"user\":{\"id\":\"u3\"}}]}");
    assertEquals(201, grant.statusCode(), grant.body());
    String id = new JsonObject(grant.body()).getString("id");
    int after = new JsonObject(send("GET", "/v1.0/sites/s4/permissions", null).body()).getJsonArray("value").size();
    assertEquals(before + 1, after);
    cachedRead("/v1.0/sites/s4/permissions");
    assertEquals(204, send("DELETE", "/v1.0/sites/s4/permissions/" + id, null).statusCode());
    assertEquals(before, new JsonObject(send("GET", "/v1.0/sites/s4/permissions", null).body()).getJsonArray("value").size());
  }

  @Test
  void a_failed_write_evicts_nothing() throws Exception {
    cachedRead("/v1.0/groups/g13/members");
    int status = send("DELETE", "/v1.0/groups/g13/members/nobody/$ref", null).statusCode();
    assertTrue(status >= 400, "the simulator refuses removing a non-member: " + status);
    assertEquals("HIT-L1", send("GET", "/v1.0/groups/g13/members", null).headers().firstValue("X-Cache").orElse(""));
  }
}
