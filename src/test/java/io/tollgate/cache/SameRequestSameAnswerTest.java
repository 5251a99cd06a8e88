package io.tollgate.cache;

import static io.tollgate.testing.GatewayHarness.xCache;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tollgate.config.RateLimitOptions;
import io.tollgate.testing.GatewayHarness;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * Only the same request shares an answer, and a hit is the answer it stands for: conditional and partial
 * reads never meet the plain entry, {@code no-store} neither reads nor fills the cache, a hit carries every
 * end-to-end header of the miss that filled it, and clearing the cache leaves the rate budgets alone.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class SameRequestSameAnswerTest {
  static final String ALICE = "Bearer alice";
  static final String ADMIN = "admin-token-0123456789";
  GatewayHarness harness;

  @AfterEach
  void stop() {
    if (harness != null) harness.close();
  }

  @Test
  void conditional_and_range_reads_are_neither_answered_from_nor_stored_as_the_plain_entry() throws Exception {
    harness = GatewayHarness.builder().start();
    harness.getAs(ALICE, "/v1.0/users/u1");
    for (String[] h : List.of(new String[] {"If-None-Match", "\"abc\""}, new String[] {"Range", "bytes=0-4"},
        new String[] {"If-Modified-Since", "Wed, 02 Dec 2026 10:00:00 GMT"})) {
      assertEquals("MISS", xCache(harness.getAs(ALICE, "/v1.0/users/u1", h)), h[0]);
    }
    assertEquals(4, harness.sim().stats().count("GET /v1.0/users/u1"), "each conditional or partial read went upstream");
    assertEquals("HIT-L1", xCache(harness.getAs(ALICE, "/v1.0/users/u1")), "and none replaced the plain entry");
  }

  @Test
  void a_no_store_request_neither_reads_nor_fills_the_cache() throws Exception {
    harness = GatewayHarness.builder().start();
    assertEquals("BYPASS", xCache(harness.getAs(ALICE, "/v1.0/users/u2", "Cache-Control", "no-store")));
    assertEquals("MISS", xCache(harness.getAs(ALICE, "/v1.0/users/u2")), "the no-store answer was not stored");
    assertEquals("BYPASS", xCache(harness.getAs(ALICE, "/v1.0/users/u2", "Cache-Control", "no-store")), "nor is it served from the cache");
    assertEquals(3, harness.sim().stats().count("GET /v1.0/users/u2"));
  }

  @Test
  void a_hit_carries_every_end_to_end_header_of_the_answer_it_stands_for() throws Exception {
    harness = GatewayHarness.builder().start();
    HttpResponse<String> miss = harness.getAs(ALICE, "/v1.0/users/u3");
    HttpResponse<String> hit = harness.getAs(ALICE, "/v1.0/users/u3");
    assertEquals("HIT-L1", xCache(hit));
    Set<String> framing = Set.of("x-cache", "age", "content-length", "transfer-encoding", "connection", "keep-alive");
    assertEquals(names(miss, framing), names(hit, framing));
    for (String name : names(miss, framing)) {
      assertEquals(miss.headers().allValues(name), hit.headers().allValues(name), name);
    }
  }

  @Test
  void clearing_the_cache_leaves_the_distributed_rate_budgets_alone() throws Exception {
    // Flat costs: the simulator's x-ms-resource-unit would settle a user list at Graph's 2 units.
    harness = GatewayHarness.builder().redis().simulator(new io.tollgate.sim.SimulatorOptions().setResourceUnits(false)).gateway(o -> {
      o.getManagement().setAdminToken(ADMIN);
      o.getRetry().setEnabled(false);
      o.getRateLimit().setEnabled(true).setDistributed(true).setMaxWait(Duration.ZERO).setCosts(List.of())
          .setLimits(List.of(new RateLimitOptions.Limit().setName("budget").setKey("global").setRate(0.01).setBurst(2)));
    }).start();
    assertEquals(200, harness.getAs(ALICE, "/v1.0/users").statusCode());
    assertEquals(200, harness.getAs(ALICE, "/v1.0/users").statusCode());
    assertEquals(429, harness.getAs(ALICE, "/v1.0/users").statusCode(), "the budget of 2 is spent");
    HttpResponse<String> cleared = harness.http().send(HttpRequest.newBuilder(URI.create(harness.management() + "/admin/cache/clear"))
        .header("Authorization", "Bearer " + ADMIN).POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, cleared.statusCode(), cleared.body());
    assertEquals(429, harness.getAs(ALICE, "/v1.0/users").statusCode(), "clearing the cache did not refill the budget");
  }

  private static Set<String> names(HttpResponse<?> r, Set<String> except) {
    Set<String> out = new TreeSet<>();
    for (String name : r.headers().map().keySet()) {
      String lower = name.toLowerCase(Locale.ROOT);
      if (!except.contains(lower) && !lower.equals(":status")) out.add(lower);
    }
    return out;
  }
}
