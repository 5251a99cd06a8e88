package io.tollgate.freshness;

import static io.tollgate.freshness.DeltaTesting.ALICE;
import static io.tollgate.freshness.DeltaTesting.BOB;
import static io.tollgate.freshness.DeltaTesting.POLL;
import static io.tollgate.testing.GatewayHarness.xCache;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.sim.SimulatorOptions;
import io.tollgate.testing.Await;
import io.tollgate.testing.GatewayHarness;
import io.tollgate.testing.LogCapture;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** Delta-fed invalidation on one gateway without Redis (cursor and index in memory), over real HTTP. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class DeltaFreshnessTest {
  /** What the issue allows: the poll interval plus one second. */
  private static final Duration LAG = POLL.plusSeconds(1);
  private GatewayHarness h;

  @AfterEach
  void stop() {
    if (h != null) h.close();
  }

  private void start() {
    h = GatewayHarness.builder().simulator(DeltaTesting.simulator()).gateway(DeltaTesting.following()).start();
    Await.until(() -> DeltaTesting.pastInitialSync(h.sim()), Duration.ofSeconds(10), "both feeds past their initial sync");
  }

  private HttpResponse<String> cached(String authorization, String path) throws Exception {
    h.getAs(authorization, path);
    HttpResponse<String> r = h.getAs(authorization, path);
    assertEquals("HIT-L1", xCache(r), path);
    return r;
  }

  /** A user member of a group, and a user that is in no cached answer of the test. */
  private static String firstUser(JsonArray members) {
    for (Object m : members) {
      JsonObject o = (JsonObject) m;
      if (o.getString("@odata.type", "").endsWith("user")) return o.getString("id");
    }
    throw new AssertionError("no user member in " + members);
  }

  @Test
  void an_out_of_band_rename_evicts_the_user_and_the_member_pages_listing_it_in_every_partition_and_nothing_else() throws Exception {
    try (LogCapture logs = new LogCapture()) {
      start();
      JsonArray members = new JsonObject(cached(ALICE, "/v1.0/groups/g1/members").body()).getJsonArray("value");
      String user = firstUser(members);
      cached(BOB, "/v1.0/groups/g1/members");
      cached(ALICE, "/v1.0/groups/g1/transitiveMembers");
      cached(ALICE, "/v1.0/users/" + user);
      cached(BOB, "/v1.0/users/" + user);
      String other = "u150";
      cached(ALICE, "/v1.0/users/" + other);
      String otherGroup = "g20";
      boolean otherGroupListsUser = new JsonObject(cached(ALICE, "/v1.0/groups/" + otherGroup + "/members").body()).encode()
          .contains("\"" + user + "\"");

      long changed = System.nanoTime();
      DeltaTesting.change(h, DeltaTesting.rename(user, "Renamed Out Of Band"));
      Await.until(() -> xCache(h.getAs(ALICE, "/v1.0/users/" + user)).equals("MISS"), LAG.plusSeconds(2), "the user evicted");
      long lagMs = (System.nanoTime() - changed) / 1_000_000;
      assertTrue(lagMs <= LAG.toMillis(), "evicted " + lagMs + " ms after the change, allowed " + LAG.toMillis());
      assertTrue(h.getAs(ALICE, "/v1.0/users/" + user).body().contains("Renamed Out Of Band"));
      // Every partition: Bob's copies went too, and the member pages listing the user.
      for (String[] read : new String[][] {{BOB, "/v1.0/users/" + user}, {ALICE, "/v1.0/groups/g1/members"},
          {BOB, "/v1.0/groups/g1/members"}, {ALICE, "/v1.0/groups/g1/transitiveMembers"}}) {
        HttpResponse<String> r = h.getAs(read[0], read[1]);
        assertEquals("MISS", xCache(r), read[1] + " as " + read[0]);
        assertTrue(r.body().contains("Renamed Out Of Band"), read[1]);
      }
      assertEquals("HIT-L1", xCache(h.getAs(ALICE, "/v1.0/users/" + other)), "an entry that does not mention the user stays");
      if (!otherGroupListsUser) assertEquals("HIT-L1", xCache(h.getAs(ALICE, "/v1.0/groups/" + otherGroup + "/members")));
      String metrics = h.http().send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(h.management() + "/metrics")).build(),
          HttpResponse.BodyHandlers.ofString()).body();
      for (String meter : new String[] {"tollgate_freshness_delta_polls_total{feed=\"users\",outcome=\"ok\"}",
          "tollgate_freshness_delta_objects_changed_total{feed=\"users\"}", "tollgate_freshness_delta_evictions_total{feed=\"users\"}",
          "tollgate_freshness_delta_lag_seconds{feed=\"groups\"}", "tollgate_freshness_delta_indexed_total"}) {
        assertTrue(metrics.contains(meter), meter + " on /metrics");
      }
      assertFalse(metrics.contains("tollgate_freshness_delta_evictions_total{feed=\"users\"} 0.0"), "the feed's evictions are counted");
      assertFalse(logs.all().contains(SimulatorOptions.DEFAULT_CLIENT_SECRET), "the client secret never reaches a log");
      assertFalse(logs.all().contains("eyJ"), "no token reaches a log");
    }
  }

  @Test
  void a_membership_change_evicts_the_groups_pages_and_the_new_members_relations() throws Exception {
    start();
    cached(ALICE, "/v1.0/groups/g2/members");
    cached(ALICE, "/v1.0/groups/g2");
    cached(ALICE, "/v1.0/users/u149");
    DeltaTesting.change(h, new JsonObject().put("op", "addMember").put("group", "g2").put("member", "u149"));
    Await.until(() -> xCache(h.getAs(ALICE, "/v1.0/groups/g2/members")).equals("MISS"), LAG.plusSeconds(2), "g2's members evicted");
    assertTrue(h.getAs(ALICE, "/v1.0/groups/g2/members").body().contains("\"u149\""));
    assertEquals("HIT-L1", xCache(h.getAs(ALICE, "/v1.0/users/u149")), "the user itself did not change");

    // A deleted user (@removed): its own answer and the member pages that listed it go.
    cached(ALICE, "/v1.0/groups/g2/members");
    DeltaTesting.change(h, new JsonObject().put("op", "deleteUser").put("id", "u149"));
    Await.until(() -> xCache(h.getAs(ALICE, "/v1.0/groups/g2/members")).equals("MISS"), LAG.plusSeconds(2), "g2's members evicted");
    assertFalse(h.getAs(ALICE, "/v1.0/groups/g2/members").body().contains("\"u149\""));
    assertEquals(404, h.getAs(ALICE, "/v1.0/users/u149").statusCode(), "the deleted user's cached answer went");
  }

  @Test
  void an_expired_delta_token_resyncs_evicts_the_delta_fed_routes_and_follows_a_new_cursor() throws Exception {
    start();
    List<JsonObject> events = DeltaTesting.events(h.gateway());
    cached(ALICE, "/v1.0/users/u5");
    cached(ALICE, "/v1.0/groups/g3/members");
    cached(ALICE, "/v1.0/sites/s1");
    long initialSyncs = h.sim().stats().count("GET /v1.0/users/delta");
    h.http().send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(h.sim().origin() + "/_sim/delta/expire"))
        .POST(java.net.http.HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.discarding());
    Await.until(() -> events.stream().filter(e -> e.getString("state").equals("resynced")).count() >= 2, Duration.ofSeconds(5),
        "both feeds resynced after the 410");
    assertTrue(events.get(0).getString("reason").contains("410"), events.toString());
    assertEquals("MISS", xCache(h.getAs(ALICE, "/v1.0/users/u5")), "a resync evicts every delta-fed route");
    assertEquals("MISS", xCache(h.getAs(ALICE, "/v1.0/groups/g3/members")));
    assertEquals("HIT-L1", xCache(h.getAs(ALICE, "/v1.0/sites/s1")), "routes the feed does not cover stay");
    assertTrue(h.sim().stats().count("GET /v1.0/users/delta") > initialSyncs);
    // The new cursor works: a later change is seen.
    cached(ALICE, "/v1.0/users/u5");
    DeltaTesting.change(h, DeltaTesting.rename("u5", "After The Resync"));
    Await.until(() -> xCache(h.getAs(ALICE, "/v1.0/users/u5")).equals("MISS"), LAG.plusSeconds(2), "u5 evicted by the new cursor");
  }

  @Test
  void a_feed_that_cannot_get_a_token_is_reported_lost_and_after_max_lag_its_routes_are_evicted_without_leaking_the_secret()
      throws Exception {
    try (LogCapture logs = new LogCapture()) {
      h = GatewayHarness.builder().simulator(DeltaTesting.simulator()).gateway(DeltaTesting.following())
          .gateway(o -> o.getFreshness().getDelta().setClientSecret("wrong-secret-value").setMaxLag(Duration.ofSeconds(3))).start();
      List<JsonObject> events = DeltaTesting.events(h.gateway());
      cached(ALICE, "/v1.0/users/u8");
      cached(ALICE, "/v1.0/sites/s1");
      // maxLag 3 s: long enough for the entries above to be cached on a loaded machine before it passes.
      Await.until(() -> xCache(h.getAs(ALICE, "/v1.0/users/u8")).equals("MISS"), Duration.ofSeconds(10),
          "the delta-fed entry evicted once the feed has been lost for maxLag");
      assertEquals("HIT-L1", xCache(h.getAs(ALICE, "/v1.0/sites/s1")), "routes the feed does not cover stay");
      assertTrue(events.stream().anyMatch(e -> e.getString("state").equals("lost") && e.getString("reason").contains("invalid_client")),
          events.toString());
      assertEquals(0, h.sim().stats().tokensIssued());
      assertFalse(logs.all().contains("wrong-secret-value"), "the secret never reaches a log");
      assertFalse(events.toString().contains("wrong-secret-value"), "nor an event");
    }
  }
}
