package io.tollgate.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The simulator's delta feeds, token endpoint and out-of-band changes, over HTTP. */
@ExtendWith(VertxExtension.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class SimulatorDeltaTest {
  private GraphSimulator sim;
  private WebClient client;

  @BeforeEach
  void start(Vertx vertx) throws Exception {
    sim = SimTesting.start(vertx, new SimulatorOptions().setUsers(120).setGroups(30).setSites(1).setPageSize(50)
        .setGroupChangeRate(0));
    client = SimTesting.client(vertx);
  }

  @AfterEach
  void stop() throws Exception {
    client.close();
    sim.close().await(10, TimeUnit.SECONDS);
  }

  /** Follows nextLinks to the deltaLink: [items..., deltaLink as {"deltaLink":...}]. */
  private List<JsonObject> sync(String url) throws Exception {
    List<JsonObject> items = new ArrayList<>();
    String next = url;
    while (true) {
      JsonObject page = SimTesting.get(client, next, "feed").send().await(10, TimeUnit.SECONDS).bodyAsJsonObject();
      page.getJsonArray("value").forEach(o -> items.add((JsonObject) o));
      if (page.getString("@odata.nextLink") != null) {
        assertNull(page.getString("@odata.deltaLink"));
        next = page.getString("@odata.nextLink");
        continue;
      }
      items.add(new JsonObject().put("deltaLink", page.getString("@odata.deltaLink")));
      return items;
    }
  }

  private JsonObject change(JsonObject body) throws Exception {
    HttpResponse<Buffer> r = client.postAbs(sim.origin() + "/_sim/directory").sendJsonObject(body).await(10, TimeUnit.SECONDS);
    assertEquals(200, r.statusCode(), r.bodyAsString());
    return r.bodyAsJsonObject();
  }

  @Test
  void a_user_delta_pages_to_a_delta_link_then_reports_only_what_changed_out_of_band() throws Exception {
    List<JsonObject> initial = sync(sim.origin() + "/v1.0/users/delta");
    String deltaLink = initial.remove(initial.size() - 1).getString("deltaLink");
    assertEquals(120, initial.size(), "the initial sync lists every user once");
    assertTrue(deltaLink.startsWith(sim.origin() + "/v1.0/users/delta?") && deltaLink.contains("$deltatoken="), deltaLink);
    assertEquals(3, sim.stats().count("GET /v1.0/users/delta"), "120 users at 50 per page");

    JsonObject applied = change(new JsonObject().put("changes", new JsonArray()
        .add(new JsonObject().put("op", "renameUser").put("id", "u7").put("displayName", "Renamed Seven"))
        .add(new JsonObject().put("op", "renameUser").put("id", "u7").put("displayName", "Renamed Again"))
        .add(new JsonObject().put("op", "deleteUser").put("id", "u9"))
        .add(new JsonObject().put("op", "renameUser").put("id", "nobody"))));
    assertEquals(3, applied.getInteger("applied"));
    assertEquals(1, applied.getJsonArray("failed").size());

    List<JsonObject> changes = sync(deltaLink);
    String nextDelta = changes.remove(changes.size() - 1).getString("deltaLink");
    assertEquals(2, changes.size(), changes.toString());
    assertEquals("u7", changes.get(0).getString("id"));
    assertEquals("Renamed Again", changes.get(0).getString("displayName"), "an object changed twice comes once, as it is now");
    assertEquals("u9", changes.get(1).getString("id"));
    assertEquals("deleted", changes.get(1).getJsonObject("@removed").getString("reason"));
    assertEquals(1, sync(nextDelta).size(), "nothing changed since: only the next deltaLink");
  }

  @Test
  void a_group_delta_carries_members_and_membership_changes_as_members_at_delta() throws Exception {
    List<JsonObject> initial = sync(sim.origin() + "/v1.0/groups/delta?$select=displayName,members");
    String deltaLink = initial.remove(initial.size() - 1).getString("deltaLink");
    assertEquals(30, initial.size());
    Map<String, JsonArray> members = new HashMap<>();
    initial.forEach(g -> members.put(g.getString("id"), g.getJsonArray("members@delta")));
    assertNotNull(members.get("g1"));
    assertFalse(members.get("g1").isEmpty(), "the initial sync lists each group's members");
    String leaving = members.get("g1").getJsonObject(0).getString("id");

    change(new JsonObject().put("changes", new JsonArray()
        .add(new JsonObject().put("op", "removeMember").put("group", "g1").put("member", leaving))
        .add(new JsonObject().put("op", "addMember").put("group", "g2").put("member", "u100"))));
    List<JsonObject> changes = sync(deltaLink);
    changes.remove(changes.size() - 1);
    Map<String, JsonObject> byId = new HashMap<>();
    changes.forEach(g -> byId.put(g.getString("id"), g));
    assertEquals(2, byId.size(), changes.toString());
    JsonObject removed = byId.get("g1").getJsonArray("members@delta").getJsonObject(0);
    assertEquals(leaving, removed.getString("id"));
    assertEquals("deleted", removed.getJsonObject("@removed").getString("reason"));
    JsonObject added = byId.get("g2").getJsonArray("members@delta").getJsonObject(0);
    assertEquals("u100", added.getString("id"));
    assertNull(added.getValue("@removed"));
  }

  @Test
  void an_expired_or_unknown_delta_token_gets_410_sync_state_not_found() throws Exception {
    List<JsonObject> initial = sync(sim.origin() + "/v1.0/users/delta");
    String deltaLink = initial.get(initial.size() - 1).getString("deltaLink");
    HttpResponse<Buffer> r = client.postAbs(sim.origin() + "/_sim/delta/expire").send().await(10, TimeUnit.SECONDS);
    assertEquals(204, r.statusCode());
    HttpResponse<Buffer> gone = SimTesting.get(client, deltaLink, "feed").send().await(10, TimeUnit.SECONDS);
    assertEquals(410, gone.statusCode());
    assertEquals("syncStateNotFound", gone.bodyAsJsonObject().getJsonObject("error").getString("code"));
    HttpResponse<Buffer> unknown = SimTesting.get(client, sim.origin() + "/v1.0/users/delta?$deltatoken=bogus", "feed")
        .send().await(10, TimeUnit.SECONDS);
    assertEquals(410, unknown.statusCode());
  }

  @Test
  void the_token_endpoint_issues_client_credentials_tokens_that_graph_accepts_and_refuses_a_wrong_secret() throws Exception {
    MultiMap form = MultiMap.caseInsensitiveMultiMap().add("grant_type", "client_credentials")
        .add("client_id", SimulatorOptions.DEFAULT_CLIENT_ID).add("client_secret", SimulatorOptions.DEFAULT_CLIENT_SECRET)
        .add("scope", "https://graph.microsoft.com/.default");
    HttpResponse<Buffer> r = client.postAbs(sim.origin() + "/contoso-tenant/oauth2/v2.0/token").sendForm(form)
        .await(10, TimeUnit.SECONDS);
    assertEquals(200, r.statusCode(), r.bodyAsString());
    JsonObject token = r.bodyAsJsonObject();
    assertEquals("Bearer", token.getString("token_type"));
    assertEquals(3599, token.getLong("expires_in"));
    HttpResponse<Buffer> me = client.getAbs(sim.origin() + "/v1.0/users/u1")
        .putHeader("Authorization", "Bearer " + token.getString("access_token")).send().await(10, TimeUnit.SECONDS);
    assertEquals(200, me.statusCode());
    assertEquals(1, sim.stats().tokensIssued());

    form.set("client_secret", "wrong");
    HttpResponse<Buffer> refused = client.postAbs(sim.origin() + "/contoso-tenant/oauth2/v2.0/token").sendForm(form)
        .await(10, TimeUnit.SECONDS);
    assertEquals(401, refused.statusCode());
    assertEquals("invalid_client", refused.bodyAsJsonObject().getString("error"));
  }

  @Test
  void the_background_change_rate_changes_groups_and_records_them_for_the_delta_feed(Vertx vertx) throws Exception {
    List<JsonObject> initial = sync(sim.origin() + "/v1.0/groups/delta");
    String deltaLink = initial.get(initial.size() - 1).getString("deltaLink");
    // 30 groups at 120 per group per hour: one change a second.
    sim.reconfigure(new SimulatorOptions().setUsers(120).setGroups(30).setSites(1).setPageSize(50).setGroupChangeRate(120));
    io.tollgate.testing.Await.until(() -> sim.stats().directoryChanges() >= 1, java.time.Duration.ofSeconds(5), "a background change");
    assertTrue(sync(deltaLink).size() >= 2, "at least one changed group and the deltaLink");
  }
}
