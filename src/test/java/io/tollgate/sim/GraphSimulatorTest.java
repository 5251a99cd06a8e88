package io.tollgate.sim;

import static io.tollgate.sim.SimTesting.get;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
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
class GraphSimulatorTest {
  private static final int USERS = 250;
  private GraphSimulator sim;
  private WebClient client;

  @BeforeEach
  void start(Vertx vertx) throws Exception {
    sim = SimTesting.start(vertx, new SimulatorOptions().setUsers(USERS).setGroups(40).setSites(10));
    client = SimTesting.client(vertx);
  }

  @AfterEach
  void stop() throws Exception {
    client.close();
    sim.close().await(10, TimeUnit.SECONDS);
  }

  @Test
  void paging_through_users_via_next_links_collects_every_user_once(VertxTestContext test) {
    SimTesting.pages(client, sim.origin() + "/v1.0/users", "alice").onComplete(test.succeeding(pages -> test.verify(() -> {
      assertEquals(3, pages.size(), "250 users at the default 100 per page");
      Set<String> ids = new HashSet<>();
      int items = 0;
      for (int i = 0; i < pages.size(); i++) {
        JsonObject page = pages.get(i);
        for (Object user : page.getJsonArray("value")) {
          ids.add(((JsonObject) user).getString("id"));
          items++;
        }
        String next = page.getString("@odata.nextLink");
        if (i < pages.size() - 1) {
          assertTrue(next.startsWith(sim.origin() + "/v1.0/users?"), next);
          assertTrue(next.contains("$skiptoken="), next);
        } else {
          assertNull(next, "the last page has no nextLink");
        }
      }
      assertEquals(USERS, items);
      assertEquals(USERS, ids.size());
      assertEquals(3, sim.stats().count("GET /v1.0/users"), "each page is one counted request");
      test.completeNow();
    })));
  }

  @Test
  void top_sets_the_page_size_and_next_links_keep_the_other_parameters(VertxTestContext test) {
    String url = sim.origin() + "/v1.0/users?$top=40&$select=displayName";
    SimTesting.pages(client, url, "alice").onComplete(test.succeeding(pages -> test.verify(() -> {
      assertEquals(7, pages.size(), "250 users at 40 per page");
      assertEquals(40, pages.get(0).getJsonArray("value").size());
      assertEquals(10, pages.get(6).getJsonArray("value").size());
      String next = pages.get(0).getString("@odata.nextLink");
      assertTrue(next.contains("$top=40"), next);
      assertTrue(next.contains("$select=displayName"), next);
      JsonObject later = pages.get(3).getJsonArray("value").getJsonObject(0);
      assertFalse(later.containsKey("mail"), "$select still applies on later pages");
      test.completeNow();
    })));
  }

  @Test
  void select_keeps_only_the_listed_fields_and_the_id(VertxTestContext test) {
    get(client, sim.origin() + "/v1.0/users/u7?$select=displayName,mail", "alice").send()
        .onComplete(test.succeeding(r -> test.verify(() -> {
          assertEquals(200, r.statusCode());
          JsonObject user = r.bodyAsJsonObject();
          assertEquals("u7", user.getString("id"));
          assertNotNull(user.getString("displayName"));
          assertNotNull(user.getString("mail"));
          assertFalse(user.containsKey("userPrincipalName"));
          assertFalse(user.containsKey("jobTitle"));
          assertFalse(user.containsKey("@odata.type"));
          test.completeNow();
        })));
  }

  @Test
  void caller_hash_differs_between_tokens_and_is_anonymous_without_one(VertxTestContext test) {
    String url = sim.origin() + "/v1.0/groups/g1";
    Future.all(get(client, url, "alice").send(), get(client, url, "bob").send(), get(client, url, null).send(),
            get(client, url, "alice").send())
        .onComplete(test.succeeding(all -> test.verify(() -> {
          List<String> hashes = new ArrayList<>();
          for (int i = 0; i < 4; i++) {
            io.vertx.ext.web.client.HttpResponse<?> r = all.resultAt(i);
            hashes.add(r.bodyAsJsonObject().getString("callerHash"));
          }
          assertEquals(12, hashes.get(0).length());
          assertTrue(hashes.get(0).matches("[0-9a-f]{12}"), hashes.get(0));
          assertNotEquals(hashes.get(0), hashes.get(1));
          assertEquals("anonymous", hashes.get(2));
          assertEquals(hashes.get(0), hashes.get(3), "same token, same hash");
          test.completeNow();
        })));
  }

  @Test
  void me_is_a_stable_user_per_token(VertxTestContext test) {
    String url = sim.origin() + "/v1.0/me";
    Future.all(get(client, url, "alice").send(), get(client, url, "alice").send())
        .onComplete(test.succeeding(all -> test.verify(() -> {
          io.vertx.ext.web.client.HttpResponse<?> first = all.resultAt(0);
          io.vertx.ext.web.client.HttpResponse<?> second = all.resultAt(1);
          assertEquals(200, first.statusCode());
          String id = first.bodyAsJsonObject().getString("id");
          assertTrue(id.matches("u\\d+"), id);
          assertEquals(id, second.bodyAsJsonObject().getString("id"));
          assertEquals(2, sim.stats().count("GET /v1.0/me"));
          test.completeNow();
        })));
  }

  @Test
  void unknown_user_answers_graph_404_request_resource_not_found(VertxTestContext test) {
    get(client, sim.origin() + "/v1.0/users/nobody", "alice").send().onComplete(test.succeeding(r -> test.verify(() -> {
      assertEquals(404, r.statusCode());
      JsonObject error = r.bodyAsJsonObject().getJsonObject("error");
      assertEquals("Request_ResourceNotFound", error.getString("code"));
      assertTrue(error.getString("message").contains("nobody"));
      JsonObject inner = error.getJsonObject("innerError");
      assertEquals(r.getHeader("request-id"), inner.getString("request-id"));
      assertNotNull(inner.getString("date"));
      assertEquals("no-cache", r.getHeader("Cache-Control"));
      test.completeNow();
    })));
  }

  @Test
  void unknown_segment_answers_404_resource_not_found_for_the_segment(VertxTestContext test) {
    get(client, sim.origin() + "/v1.0/widgets", "alice").send().onComplete(test.succeeding(r -> test.verify(() -> {
      assertEquals(404, r.statusCode());
      JsonObject error = r.bodyAsJsonObject().getJsonObject("error");
      assertEquals("BadRequest", error.getString("code"));
      assertEquals("Resource not found for the segment 'widgets'.", error.getString("message"));
      test.completeNow();
    })));
  }

  @Test
  void every_answer_carries_graph_headers(VertxTestContext test) {
    get(client, sim.origin() + "/v1.0/users/u1", "alice").putHeader("client-request-id", "abc-123").send()
        .onComplete(test.succeeding(r -> test.verify(() -> {
          assertEquals("no-cache", r.getHeader("Cache-Control"));
          assertNotNull(r.getHeader("request-id"));
          assertEquals("abc-123", r.getHeader("client-request-id"));
          assertEquals(GraphApi.GRAPH_JSON, r.getHeader("Content-Type"));
          assertEquals("1", r.getHeader("x-ms-resource-unit"));
          test.completeNow();
        })));
  }

  @Test
  void beta_serves_the_same_data_counted_under_its_own_path(VertxTestContext test) {
    Future.all(get(client, sim.origin() + "/beta/users/u3", "alice").send(),
            get(client, sim.origin() + "/v1.0/users/u3", "alice").send())
        .onComplete(test.succeeding(all -> test.verify(() -> {
          io.vertx.ext.web.client.HttpResponse<?> beta = all.resultAt(0);
          io.vertx.ext.web.client.HttpResponse<?> v1 = all.resultAt(1);
          assertEquals(v1.bodyAsJsonObject().getString("mail"), beta.bodyAsJsonObject().getString("mail"));
          assertTrue(beta.bodyAsJsonObject().getString("@odata.context").contains("/beta/"));
          assertEquals(1, sim.stats().count("GET /beta/users/u3"));
          assertEquals(1, sim.stats().count("GET /v1.0/users/u3"));
          assertEquals(2, sim.stats().countPrefix("GET /"));
          assertEquals(2, sim.stats().total());
          test.completeNow();
        })));
  }

  @Test
  void adding_a_member_grows_transitive_members_and_removing_it_shrinks_them(VertxTestContext test) {
    String base = sim.origin() + "/v1.0/groups/g5";
    String newcomer = "u" + USERS;  // any user; make sure it is not already a member first
    JsonObject ref = new JsonObject().put("@odata.id", "https://graph.microsoft.com/v1.0/directoryObjects/" + newcomer);
    List<Integer> sizes = new ArrayList<>();
    transitiveIds(base).compose(before -> {
          sizes.add(before.size());
          // Start from a state where the newcomer is not a member, whatever the seed generated.
          return before.contains(newcomer)
              ? client.deleteAbs(base + "/members/" + newcomer + "/$ref").send().compose(r -> transitiveIds(base))
              : Future.succeededFuture(before);
        })
        .compose(before -> {
          sizes.set(0, before.size());
          return client.postAbs(base + "/members/$ref").sendJsonObject(ref);
        })
        .compose(added -> {
          test.verify(() -> assertEquals(204, added.statusCode()));
          return transitiveIds(base);
        })
        .compose(afterAdd -> {
          test.verify(() -> {
            assertTrue(afterAdd.contains(newcomer));
            assertEquals(sizes.get(0) + 1, afterAdd.size());
          });
          return client.postAbs(base + "/members/$ref").sendJsonObject(ref);
        })
        .compose(again -> {
          test.verify(() -> assertEquals(400, again.statusCode(), "adding twice is refused as Graph does"));
          return client.deleteAbs(base + "/members/" + newcomer + "/$ref").send();
        })
        .compose(removed -> {
          test.verify(() -> assertEquals(204, removed.statusCode()));
          return transitiveIds(base);
        })
        .onComplete(test.succeeding(afterRemove -> test.verify(() -> {
          assertFalse(afterRemove.contains(newcomer));
          assertEquals(sizes.get(0), afterRemove.size());
          test.completeNow();
        })));
  }

  @Test
  void a_nested_group_brings_its_members_into_transitive_members(VertxTestContext test) {
    // g40 is the highest group, so it can be nested anywhere without a cycle.
    String base = sim.origin() + "/v1.0/groups/g2";
    JsonObject ref = new JsonObject().put("@odata.id", "https://graph.microsoft.com/v1.0/directoryObjects/g40");
    client.postAbs(base + "/members/$ref").sendJsonObject(ref)
        .compose(r -> Future.all(transitiveIds(base), memberIds(sim.origin() + "/v1.0/groups/g40/members")))
        .onComplete(test.succeeding(all -> test.verify(() -> {
          List<String> transitive = all.resultAt(0);
          List<String> nested = all.resultAt(1);
          assertTrue(transitive.contains("g40"));
          assertTrue(transitive.containsAll(nested), "members of the nested group are transitive members");
          assertEquals(new HashSet<>(transitive).size(), transitive.size(), "each member listed once");
          test.completeNow();
        })));
  }

  @Test
  void a_membership_cycle_is_refused(VertxTestContext test) {
    JsonObject ref = new JsonObject().put("@odata.id", "https://graph.microsoft.com/v1.0/directoryObjects/g3");
    client.postAbs(sim.origin() + "/v1.0/groups/g3/members/$ref").sendJsonObject(ref)
        .onComplete(test.succeeding(r -> test.verify(() -> {
          assertEquals(400, r.statusCode());
          assertEquals("Request_BadRequest", r.bodyAsJsonObject().getJsonObject("error").getString("code"));
          test.completeNow();
        })));
  }

  @Test
  void patch_changes_what_later_reads_return(VertxTestContext test) {
    String url = sim.origin() + "/v1.0/users/u9";
    client.patchAbs(url).sendJsonObject(new JsonObject().put("jobTitle", "Chief Tester").put("id", "hijack"))
        .compose(patched -> {
          test.verify(() -> assertEquals(204, patched.statusCode()));
          return get(client, url, "alice").send();
        })
        .onComplete(test.succeeding(r -> test.verify(() -> {
          assertEquals("Chief Tester", r.bodyAsJsonObject().getString("jobTitle"));
          assertEquals("u9", r.bodyAsJsonObject().getString("id"), "the id cannot be patched");
          assertEquals(1, sim.stats().count("PATCH /v1.0/users/u9"));
          test.completeNow();
        })));
  }

  @Test
  void site_permissions_grant_groups_and_one_user_and_writes_change_them(VertxTestContext test) {
    String url = sim.origin() + "/v1.0/sites/s1/permissions";
    JsonObject grant = new JsonObject().put("roles", new JsonArray().add("read"))
        .put("grantedToV2", new JsonObject().put("group", new JsonObject().put("id", "g40")));
    List<String> created = new ArrayList<>();
    get(client, url, "alice").send()
        .compose(before -> {
          test.verify(() -> {
            JsonArray value = before.bodyAsJsonObject().getJsonArray("value");
            assertEquals(3 + 1, value.size(), "groupsPerSite group grants plus one user grant");
            long groupsGranted = value.stream().filter(p -> ((JsonObject) p).getJsonObject("grantedToV2").containsKey("group")).count();
            assertEquals(3, groupsGranted);
          });
          return client.postAbs(url).sendJsonObject(grant);
        })
        .compose(posted -> {
          test.verify(() -> assertEquals(201, posted.statusCode()));
          created.add(posted.bodyAsJsonObject().getString("id"));
          return get(client, url, "alice").send();
        })
        .compose(afterAdd -> {
          test.verify(() -> assertEquals(5, afterAdd.bodyAsJsonObject().getJsonArray("value").size()));
          return client.deleteAbs(url + "/" + created.get(0)).send();
        })
        .compose(deleted -> {
          test.verify(() -> assertEquals(204, deleted.statusCode()));
          return get(client, url, "alice").send();
        })
        .onComplete(test.succeeding(afterDelete -> test.verify(() -> {
          assertEquals(4, afterDelete.bodyAsJsonObject().getJsonArray("value").size());
          test.completeNow();
        })));
  }

  @Test
  void reset_restores_the_data_set_and_zeroes_the_stats(VertxTestContext test) {
    String url = sim.origin() + "/v1.0/users/u2";
    client.patchAbs(url).sendJsonObject(new JsonObject().put("displayName", "Changed"))
        .compose(r -> {
          sim.reset();
          test.verify(() -> assertEquals(0, sim.stats().total()));
          return get(client, url, "alice").send();
        })
        .onComplete(test.succeeding(r -> test.verify(() -> {
          assertNotEquals("Changed", r.bodyAsJsonObject().getString("displayName"));
          assertEquals(1, sim.stats().total());
          test.completeNow();
        })));
  }

  @Test
  void the_same_seed_generates_the_same_tenant(Vertx vertx, VertxTestContext test) throws Exception {
    GraphSimulator twin = SimTesting.start(vertx, new SimulatorOptions().setUsers(USERS).setGroups(40).setSites(10));
    Future.all(get(client, sim.origin() + "/v1.0/groups/g1/transitiveMembers?$top=999", "a").send(),
            get(client, twin.origin() + "/v1.0/groups/g1/transitiveMembers?$top=999", "a").send())
        .eventually(twin::close)
        .onComplete(test.succeeding(all -> test.verify(() -> {
          io.vertx.ext.web.client.HttpResponse<?> one = all.resultAt(0);
          io.vertx.ext.web.client.HttpResponse<?> two = all.resultAt(1);
          assertEquals(one.bodyAsJsonObject().getJsonArray("value"), two.bodyAsJsonObject().getJsonArray("value"));
          test.completeNow();
        })));
  }

  private Future<List<String>> transitiveIds(String groupUrl) {
    return memberIds(groupUrl + "/transitiveMembers");
  }

  private Future<List<String>> memberIds(String url) {
    return SimTesting.pages(client, url, "alice").map(pages -> {
      List<String> ids = new ArrayList<>();
      for (JsonObject page : pages) {
        for (Object o : page.getJsonArray("value")) ids.add(((JsonObject) o).getString("id"));
      }
      return ids;
    });
  }
}
