package io.tollgate.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.sim.SimulatorOptions;
import io.tollgate.sim.Tokens;
import io.tollgate.testing.Await;
import io.tollgate.testing.GatewayHarness;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * Per-tenant upstream economics over real HTTP (issue 11 item 3): what each tenant's clients read, from the cache
 * or the upstream, adds up to what they asked; RU saved is hits x the route's cost; labels are aliases or hashes,
 * never tenant ids; the tenants past {@code topTenants} share {@code other}; callers not verified share
 * {@code unverified}; an upstream 429 the client never saw counts as absorbed.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class TenantEconomicsTest {
  static final String ADMIN = "economics-admin-token-0123";
  static final String TID_A = "aaaaaaaa-1111-4111-8111-00000000000a";
  static final String TID_B = "bbbbbbbb-2222-4222-8222-00000000000b";
  static final String TID_C = "cccccccc-3333-4333-8333-00000000000c";
  static final String TID_D = "dddddddd-4444-4444-8444-00000000000d";
  /** The shipped cost table's prices of the reads below (the simulator's own x-ms-resource-unit differs). */
  static final int USER_COST = 2;
  static final int MEMBERS_COST = 3;

  GatewayHarness harness;

  @AfterEach
  void stop() {
    if (harness != null) harness.close();
  }

  static String token(String tid) {
    return Tokens.issue(new JsonObject().put("tid", tid).put("appid", "app-1").put("oid", "user-" + tid.charAt(0)));
  }

  static String sha8(String id) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(id.getBytes(StandardCharsets.UTF_8)), 0, 4);
  }

  @Test
  void each_tenants_reads_from_cache_and_upstream_add_up_and_ru_saved_is_hits_times_cost() throws Exception {
    // A high hidden budget: the simulator charges (and says x-ms-resource-unit) but never throttles.
    harness = GatewayHarness.builder().simulator(new SimulatorOptions().setThrottleRate(100_000))
        .gateway(o -> {
          o.getManagement().setAdminToken(ADMIN);
          o.getCache().setStatsInterval(Duration.ofMillis(200));
          o.getEconomics().setTopTenants(1).setTenantAliases(Map.of(TID_A, "contoso"));
        }).start();
    String a = token(TID_A);
    String b = token(TID_B);

    // Tenant A (aliased): 3 + 2 single reads, then a $batch of 3 GETs, two of which its cache holds.
    List<String> aSaw = new ArrayList<>();
    for (int i = 0; i < 3; i++) aSaw.add(GatewayHarness.xCache(harness.getAs(a, "/v1.0/users/u1")));
    for (int i = 0; i < 2; i++) aSaw.add(GatewayHarness.xCache(harness.getAs(a, "/v1.0/groups/g1/members")));
    assertEquals(List.of("MISS", "HIT-L1", "HIT-L1", "MISS", "HIT-L1"), aSaw);
    JsonArray aBatch = batch(a, sub("1", "/users/u1"), sub("2", "/users/u2"), sub("3", "/groups/g1/members"));
    for (Object o : aBatch) assertEquals(200, ((JsonObject) o).getInteger("status"), aBatch.encode());
    // Tenant B (the one top-N label): 2 single reads of its own (its partition is not A's), a $batch of 1.
    assertEquals("MISS", GatewayHarness.xCache(harness.getAs(b, "/v1.0/users/u1")));
    assertEquals("HIT-L1", GatewayHarness.xCache(harness.getAs(b, "/v1.0/users/u1")));
    batch(b, sub("1", "/users/u3"));
    // Tenants C and D come after the one label is taken: both are "other".
    harness.getAs(token(TID_C), "/v1.0/users/u1");
    harness.getAs(token(TID_D), "/v1.0/users/u2");
    // Opaque tokens are never verified: every such caller is "unverified".
    harness.getAs("Bearer opaque-one", "/v1.0/users/u1");
    harness.getAs("Bearer opaque-one", "/v1.0/users/u1");
    harness.getAs("Bearer opaque-two", "/v1.0/users/u2");

    long madeReads = 8 + 3 + 2 + 3;
    Await.until(() -> totalReads(stats()) == madeReads, Duration.ofSeconds(5), madeReads + " reads booked");
    JsonObject stats = stats();
    JsonArray tenants = stats.getJsonArray("tenants");

    JsonObject contoso = row(tenants, "contoso");
    assertReads(contoso, 5, 3, "A: 2+1 single hits, 2 batch steps from the cache; u1, members, u2 from the upstream");
    assertEquals(2L * USER_COST + MEMBERS_COST + USER_COST + MEMBERS_COST, ru(contoso, "saved"), "hits x the route's cost");

    JsonObject bRow = row(tenants, sha8(TID_B));
    assertReads(bRow, 1, 2, "B");
    assertEquals(USER_COST, ru(bRow, "saved"));

    assertReads(row(tenants, TenantEconomics.OTHER), 0, 2, "C and D");
    assertReads(row(tenants, TenantEconomics.UNVERIFIED), 1, 2, "two opaque callers");

    // RU spent is what the upstream said each call cost (x-ms-resource-unit), summed over every tenant.
    long spent = 0;
    for (Object o : tenants) spent += ((JsonObject) o).getJsonObject("ru").getLong("spent");
    assertEquals(harness.sim().stats().units(), spent, tenants.encode());
    assertTrue(ru(contoso, "spent") > 0 && ru(bRow, "spent") > 0);

    // Labels are aliases or hashes: no tenant id on /metrics, in the statistics or on the event bus.
    String metrics = get(harness.management() + "/metrics", null).body();
    assertTrue(metrics.contains("tollgate_tenant_reads_total{lane=\"interactive\",source=\"cache\",tenant=\"contoso\"} 5.0"), metrics);
    assertTrue(metrics.contains("tollgate_tenant_ru_total{kind=\"saved\",lane=\"interactive\",tenant=\"" + sha8(TID_B) + "\"} 2.0"), metrics);
    assertTrue(metrics.contains("tollgate_tenant_wait_seconds_total{"), metrics);
    // The same table in tollgate.cache.stats.
    CompletableFuture<JsonObject> published = new CompletableFuture<>();
    harness.gateway().vertx().eventBus().<JsonObject>consumer(Addresses.CACHE_STATS, m -> {
      JsonArray t = m.body().getJsonArray("tenants");
      if (t != null && t.encode().contains("\"contoso\"")) published.complete(m.body());
    });
    JsonObject message = published.get(10, java.util.concurrent.TimeUnit.SECONDS);
    assertEquals(contoso, row(message.getJsonArray("tenants"), "contoso"));
    assertTrue(message.containsKey("l1") && message.containsKey("coalesced"), "the existing fields stay");
    for (String tid : List.of(TID_A, TID_B, TID_C, TID_D)) {
      assertFalse(metrics.contains(tid), "tenant id on /metrics");
      assertFalse(stats.encode().contains(tid), "tenant id in the statistics");
    }
  }

  @Test
  void an_upstream_429_requeued_and_then_answered_counts_as_absorbed() throws Exception {
    harness = GatewayHarness.builder()
        .simulator(new SimulatorOptions().setThrottleRate(50).setThrottleBurst(4).setRetryAfter(Duration.ofSeconds(1))
            .setResourceUnits(false))
        .gateway(o -> o.getManagement().setAdminToken(ADMIN)).start();
    String a = token(TID_A);
    List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      all.add(harness.http().sendAsync(HttpRequest.newBuilder(URI.create(harness.proxy() + "/v1.0/users?$top=" + (1 + i % 8)
          + "&$skip=" + i)).header("Authorization", a).timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString()));
    }
    for (CompletableFuture<HttpResponse<String>> f : all) assertEquals(200, f.get().statusCode(), "no 429 reaches the client");
    long upstream429 = harness.sim().stats().throttled();
    assertTrue(upstream429 > 0, "the upstream did throttle");
    Await.until(() -> totalReads(stats()) == 16, Duration.ofSeconds(5), "16 reads booked");
    JsonObject r = row(stats().getJsonArray("tenants"), sha8(TID_A));
    assertReads(r, 0, 16, "every read went upstream once it was let through");
    assertEquals(upstream429, r.getLong("throttlesAbsorbed"), "every upstream 429 was re-queued, none reached a client: " + r);
    assertEquals(upstream429, r.getLong("retries"), "each absorbed 429 was sent again: " + r);
    assertEquals(harness.sim().stats().units(), ru(r, "spent"), "429s cost too, as Graph charges them: " + r);
    assertTrue(r.getLong("waitMs") > 0, "the re-queued requests waited: " + r);
  }

  private JsonObject stats() throws Exception {
    HttpResponse<String> r = get(harness.management() + "/admin/cache/stats", "Bearer " + ADMIN);
    assertEquals(200, r.statusCode(), r.body());
    return new JsonObject(r.body());
  }

  private HttpResponse<String> get(String url, String authorization) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10));
    if (authorization != null) b.header("Authorization", authorization);
    return harness.http().send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private JsonArray batch(String authorization, JsonObject... subs) throws Exception {
    String body = new JsonObject().put("requests", new JsonArray(List.of((Object[]) subs))).encode();
    HttpResponse<String> r = harness.http().send(HttpRequest.newBuilder(URI.create(harness.proxy() + "/v1.0/$batch"))
        .header("Authorization", authorization).header("Content-Type", "application/json").timeout(Duration.ofSeconds(30))
        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    return new JsonObject(r.body()).getJsonArray("responses");
  }

  private static JsonObject sub(String id, String url) {
    return new JsonObject().put("id", id).put("method", "GET").put("url", url);
  }

  private static long totalReads(JsonObject stats) {
    long n = 0;
    for (Object o : stats.getJsonArray("tenants")) {
      JsonObject reads = ((JsonObject) o).getJsonObject("reads");
      n += reads.getLong("cache") + reads.getLong("upstream") + reads.getLong("refused");
    }
    return n;
  }

  private static JsonObject row(JsonArray tenants, String label) {
    for (Object o : tenants) {
      JsonObject r = (JsonObject) o;
      if (label.equals(r.getString("tenant")) && "interactive".equals(r.getString("lane"))) return r;
    }
    throw new AssertionError("no row for " + label + " in " + tenants.encode());
  }

  private static void assertReads(JsonObject row, long cache, long upstream, String who) {
    JsonObject reads = row.getJsonObject("reads");
    assertEquals(cache, reads.getLong("cache"), who + ": reads from the cache in " + row);
    assertEquals(upstream, reads.getLong("upstream"), who + ": reads from the upstream in " + row);
    assertEquals(0L, reads.getLong("refused"), who + ": refused reads in " + row);
  }

  private static long ru(JsonObject row, String kind) {
    return row.getJsonObject("ru").getLong(kind);
  }
}
