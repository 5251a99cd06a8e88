package io.tollgate.cache;

import static io.tollgate.testing.GatewayHarness.xCache;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.sim.SimulatorStats;
import io.tollgate.testing.FakeClock;
import io.tollgate.testing.GatewayHarness;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * ETag revalidation on the shipped drive routes ({@code revalidate: true}, TTL 30 min), over real HTTP against the
 * simulator's drive items, on a fake clock: an expired entry is revalidated with {@code If-None-Match} and a 304
 * refreshes it without a body; a changed item is read again; a client's own {@code If-None-Match} is answered by
 * the cache; a 412 on an {@code If-Match} write evicts; an invalidation keeps the entry for revalidation.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class RevalidationTest {
  static final String ALICE = "Bearer alice-token";
  static final String ITEM = "/v1.0/drives/d1/items/d1i1";
  static final String PERMISSIONS = ITEM + "/permissions";
  final FakeClock clock = new FakeClock();
  GatewayHarness harness;

  @BeforeEach
  void start() {
    harness = GatewayHarness.builder().clock(clock).gateway(o -> {
      o.getRetry().setEnabled(false);
      o.getRateLimit().setEnabled(false);
    }).start();
  }

  @AfterEach
  void stop() {
    harness.close();
  }

  private SimulatorStats sim() {
    return harness.sim().stats();
  }

  private static String etag(HttpResponse<?> r) {
    return r.headers().firstValue("ETag").orElse(null);
  }

  @Test
  void an_expired_unchanged_item_is_revalidated_with_a_304_and_served_whole() throws Exception {
    HttpResponse<String> first = harness.getAs(ALICE, PERMISSIONS);
    assertEquals(200, first.statusCode());
    assertEquals("MISS", xCache(first));
    assertNotNull(etag(first), "the simulator tags drive answers");
    long bytesAfterFirst = sim().bodyBytes();

    clock.advance(Duration.ofMinutes(61));
    HttpResponse<String> second = harness.getAs(ALICE, PERMISSIONS);
    assertEquals(200, second.statusCode(), "a plain GET never gets a 304");
    assertEquals("REVALIDATED", xCache(second));
    assertEquals(first.body(), second.body());
    assertEquals(etag(first), etag(second));
    assertNotEquals(first.headers().firstValue("request-id").orElse(null), second.headers().firstValue("request-id").orElse(null),
        "the 304's headers replace the stored ones (RFC 9111 4.3.4)");
    assertEquals(2, sim().count("GET " + PERMISSIONS), "one revalidation went upstream");
    assertEquals(1, sim().notModified(), "the upstream answered it 304");
    assertEquals(bytesAfterFirst, sim().bodyBytes(), "and sent no body");
    assertEquals(1, harness.gateway().cache().stats().revalidatedNotModified());

    HttpResponse<String> third = harness.getAs(ALICE, PERMISSIONS);
    assertEquals("HIT-L1", xCache(third), "the 304 made the entry fresh again");
    assertEquals(first.body(), third.body());
    assertEquals(2, sim().count("GET " + PERMISSIONS));
  }

  @Test
  void a_changed_item_is_read_again_and_replaces_the_entry() throws Exception {
    HttpResponse<String> first = harness.getAs(ALICE, ITEM);
    harness.sim().changeDriveItems(0, "d1i1").await(5, TimeUnit.SECONDS);
    clock.advance(Duration.ofMinutes(31));

    HttpResponse<String> second = harness.getAs(ALICE, ITEM);
    assertEquals(200, second.statusCode());
    assertEquals("MISS", xCache(second));
    assertNotEquals(etag(first), etag(second));
    assertEquals(etag(second), new JsonObject(second.body()).getString("eTag"), "the eTag property matches the header");
    assertEquals(0, sim().notModified());
    assertEquals(1, harness.gateway().cache().stats().revalidatedChanged());
    assertEquals("HIT-L1", xCache(harness.getAs(ALICE, ITEM)));
    assertEquals(etag(second), etag(harness.getAs(ALICE, ITEM)));
  }

  @Test
  void a_clients_own_matching_if_none_match_gets_a_304_from_the_cache_and_any_other_a_200() throws Exception {
    HttpResponse<String> first = harness.getAs(ALICE, ITEM);
    String tag = etag(first);

    HttpResponse<String> matching = harness.getAs(ALICE, ITEM, "If-None-Match", tag);
    assertEquals(304, matching.statusCode());
    assertEquals("HIT-L1", xCache(matching));
    assertEquals("", matching.body());
    assertEquals(tag, etag(matching));

    HttpResponse<String> listed = harness.getAs(ALICE, ITEM, "If-None-Match", "\"other\", W/" + tag);
    assertEquals(304, listed.statusCode(), "a list holding the tag, weakly compared");

    HttpResponse<String> other = harness.getAs(ALICE, ITEM, "If-None-Match", "\"{00000000-0000-0000-0000-000000000000},1\"");
    assertEquals(200, other.statusCode());
    assertEquals(first.body(), other.body());
    assertEquals(1, sim().count("GET " + ITEM), "all answered from the cache");
    assertEquals(0, sim().notModified(), "the client's condition never went upstream");
    assertEquals(2, harness.gateway().cache().stats().notModifiedServed());
  }

  @Test
  void a_clients_if_none_match_on_a_cold_entry_is_answered_after_a_whole_read() throws Exception {
    // Another client (no gateway) learns the current tag.
    HttpResponse<String> direct = harness.http().send(java.net.http.HttpRequest.newBuilder(
        java.net.URI.create(harness.sim().origin() + ITEM)).header("Authorization", "Bearer bob-token").build(),
        HttpResponse.BodyHandlers.ofString());
    String tag = etag(direct);
    HttpResponse<String> r = harness.getAs(ALICE, ITEM, "If-None-Match", tag);
    assertEquals(304, r.statusCode());
    assertEquals(0, sim().notModified(), "the upstream was asked for the whole answer, to store it");
    HttpResponse<String> plain = harness.getAs(ALICE, ITEM);
    assertEquals(200, plain.statusCode());
    assertEquals("HIT-L1", xCache(plain));
  }

  @Test
  void a_412_on_an_if_match_write_evicts_the_resource() throws Exception {
    HttpResponse<String> first = harness.getAs(ALICE, ITEM);
    harness.getAs(ALICE, PERMISSIONS);
    harness.sim().changeDriveItems(0, "d1i1").await(5, TimeUnit.SECONDS);

    HttpResponse<String> refused = harness.send("PATCH", ITEM, "Authorization", ALICE, "If-Match", etag(first),
        "Content-Type", "application/json").get(10, TimeUnit.SECONDS);
    assertEquals(412, refused.statusCode());

    HttpResponse<String> again = harness.getAs(ALICE, ITEM);
    assertEquals("MISS", xCache(again), "read again, not served from the entry the write proved stale");
    assertNotEquals(etag(first), etag(again));
    HttpResponse<String> permissions = harness.getAs(ALICE, PERMISSIONS);
    assertEquals("MISS", xCache(permissions), "the item's permissions went too");
  }

  @Test
  void a_soft_purged_entry_is_revalidated_through_the_event_bus_hot_path_too() throws Exception {
    io.tollgate.Gateway viaBus = harness.another(o -> {
      o.getRetry().setEnabled(false);
      o.getRateLimit().setEnabled(false);
      o.getCache().setHotPath(io.tollgate.config.CacheOptions.HotPath.EVENT_BUS);
    });
    HttpResponse<String> first = harness.getAs(viaBus, ALICE, ITEM);
    assertEquals("MISS", xCache(first));
    assertEquals("HIT-L1", xCache(harness.getAs(viaBus, ALICE, ITEM)));
    viaBus.cache().invalidate(io.tollgate.config.PathPattern.compile("/v1.0/drives/d1/**")).await(10, TimeUnit.SECONDS);
    HttpResponse<String> after = harness.getAs(viaBus, ALICE, ITEM);
    assertEquals("REVALIDATED", xCache(after), "the purge mark survives the event-bus hop: never served as it was");
    assertEquals(first.body(), after.body());
  }

  @Test
  void an_item_gone_upstream_is_answered_404_and_its_entry_forgotten() throws Exception {
    String doomed = "/v1.0/drives/d3/items/d3i2";
    HttpResponse<String> first = harness.getAs(ALICE, doomed);
    HttpResponse<String> deleted = harness.http().send(java.net.http.HttpRequest.newBuilder(
        java.net.URI.create(harness.sim().origin() + doomed)).header("Authorization", "Bearer bob-token").DELETE().build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(204, deleted.statusCode(), "deleted behind the gateway's back");
    clock.advance(Duration.ofMinutes(61));
    assertEquals(404, harness.getAs(ALICE, doomed).statusCode());
    assertEquals(404, harness.getAs(ALICE, doomed).statusCode());
    assertEquals(3, sim().count("GET " + doomed));
    assertEquals(0, sim().notModified());
    assertEquals(1, harness.gateway().cache().stats().revalidationFailed(), "only the first 404 was a revalidation");
    assertNotNull(etag(first));
  }

  @Test
  void a_write_soft_purges_and_unchanged_items_come_back_with_a_304() throws Exception {
    String other = "/v1.0/drives/d1/items/d1i5";
    HttpResponse<String> before = harness.getAs(ALICE, other);
    harness.getAs(ALICE, ITEM);
    // A write to one item evicts the drive's reads (the shipped drive-write rule).
    HttpResponse<String> write = harness.send("PATCH", ITEM, "Authorization", ALICE, "Content-Type", "application/json")
        .get(10, TimeUnit.SECONDS);
    assertTrue(write.statusCode() < 300, "PATCH answered " + write.statusCode());

    HttpResponse<String> unchanged = harness.getAs(ALICE, other);
    assertEquals("REVALIDATED", xCache(unchanged), "kept for revalidation, never served as it was");
    assertEquals(before.body(), unchanged.body());
    HttpResponse<String> written = harness.getAs(ALICE, ITEM);
    assertEquals("MISS", xCache(written), "the written item has a new ETag: read whole");
    assertEquals(1, sim().notModified());
  }
}
