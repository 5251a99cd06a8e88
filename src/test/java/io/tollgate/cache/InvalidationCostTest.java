package io.tollgate.cache;

import static io.tollgate.testing.GatewayHarness.cacheKey;
import static io.tollgate.testing.GatewayHarness.inL1;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.Gateway;
import io.tollgate.testing.GatewayHarness;
import io.tollgate.testing.LogCapture;
import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * What a write's invalidation costs with a full L1: it finds the entries it evicts through a path index (by
 * path, case-insensitively, as routes match), so it looks at about as many entries as it evicts, and it does
 * that work on the worker pool, never on an event loop.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class InvalidationCostTest {
  static final String ALICE = "Bearer alice-token";
  static final int FILLER = 150_000;
  static final String[] RELATIONS = {"", "/members", "/transitiveMembers", "/owners", "/members/$ref"};
  static final Pattern EXAMINED = Pattern.compile("(?m)^tollgate_cache_invalidation_examined_total\\{level=\"l1\",?\\} ([0-9.E]+)$");

  GatewayHarness harness;

  @AfterEach
  void stop() {
    if (harness != null) harness.close();
  }

  @Test
  void a_write_with_150k_entries_in_l1_looks_at_the_entries_it_evicts_only_and_off_the_event_loop() throws Exception {
    harness = GatewayHarness.builder().start();
    Gateway g = harness.gateway();
    MultiMap headers = MultiMap.caseInsensitiveMultiMap().add("Content-Type", "application/json");
    CachedResponse filler = new CachedResponse(200, headers, Buffer.buffer("{\"id\":\"x\"}"), System.currentTimeMillis(),
        3_600_000, 0, 0);
    for (int i = 0; i < FILLER; i++) g.cache().l1().put(cacheKey("/v1.0/groups/x" + (i / RELATIONS.length) + RELATIONS[i % RELATIONS.length], ALICE), filler);
    // What the write changes: two reads over HTTP, and a spelling of another case that the eviction must find too.
    assertEquals(200, harness.getAs(ALICE, "/v1.0/groups/g1").statusCode());
    assertEquals(200, harness.getAs(ALICE, "/v1.0/groups/g1/members").statusCode());
    g.cache().l1().put(cacheKey("/V1.0/Groups/G1/transitiveMembers", ALICE), filler);
    g.cache().l1().cleanUp();
    assertEquals(FILLER + 3, g.cache().l1().size());
    double examinedBefore = examined();

    HttpResponse<String> write;
    try (LogCapture logs = new LogCapture()) {
      write = harness.http().send(HttpRequest.newBuilder(URI.create(harness.proxy() + "/v1.0/groups/g1"))
          .header("Authorization", ALICE).header("Content-Type", "application/json").timeout(Duration.ofSeconds(30))
          .method("PATCH", HttpRequest.BodyPublishers.ofString("{\"displayName\":\"renamed\"}")).build(),
          HttpResponse.BodyHandlers.ofString());
      List<String> threads = logs.threadsOf("L1 invalidation");
      assertFalse(threads.isEmpty(), "the eviction reports where it ran");
      for (String t : threads) assertTrue(t.startsWith("tollgate-worker"), "evicted on the worker pool, not on " + t);
    }
    assertEquals(204, write.statusCode(), write.body());
    assertFalse(inL1(g, "/v1.0/groups/g1", ALICE));
    assertFalse(inL1(g, "/v1.0/groups/g1/members", ALICE));
    assertFalse(inL1(g, "/V1.0/Groups/G1/transitiveMembers", ALICE), "paths match case-insensitively");
    g.cache().l1().cleanUp();
    assertEquals(FILLER, g.cache().l1().size(), "every other entry stays");
    double looked = examined() - examinedBefore;
    assertTrue(looked >= 3 && looked <= 16, "looked at " + looked + " entries to evict 3 of " + (FILLER + 3));
  }

  private double examined() throws Exception {
    String text = harness.http().send(HttpRequest.newBuilder(URI.create(harness.management() + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString()).body();
    Matcher m = EXAMINED.matcher(text);
    assertTrue(m.find(), "tollgate_cache_invalidation_examined_total{level=\"l1\"} is exported");
    return Double.parseDouble(m.group(1));
  }
}
