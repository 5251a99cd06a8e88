package io.tollgate.cache;

import static io.tollgate.testing.GatewayHarness.xCache;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.sim.SimulatorOptions;
import io.tollgate.testing.GatewayHarness;
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
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** What the L1 cache answers, for whom, and within what bound: through real HTTP, the simulator counting upstream calls. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class CacheHitsTest {
  static final String ALICE = "Bearer alice-token";
  GatewayHarness harness;

  @AfterEach
  void stop() {
    if (harness != null) harness.close();
  }

  @Test
  void a_repeated_read_is_a_miss_then_an_l1_hit_with_age() throws Exception {
    harness = GatewayHarness.builder().start();
    HttpResponse<String> first = harness.getAs(ALICE, "/v1.0/users/u1");
    HttpResponse<String> second = harness.getAs(ALICE, "/v1.0/users/u1");
    assertEquals(200, second.statusCode());
    assertEquals("MISS", xCache(first));
    assertEquals("HIT-L1", xCache(second));
    assertEquals("0", second.headers().firstValue("Age").orElse(null));
    assertEquals(first.body(), second.body());
    assertEquals(1, harness.sim().stats().count("GET /v1.0/users/u1"));
    assertEquals("MISS", xCache(harness.getAs(ALICE, "/v1.0/users")), "routes without a rule pass through");
    assertEquals("MISS", xCache(harness.getAs(ALICE, "/v1.0/users")));
    assertEquals(2, harness.sim().stats().count("GET /v1.0/users"));
  }

  @Test
  void answer_changing_headers_and_query_order_are_part_of_the_key() throws Exception {
    harness = GatewayHarness.builder().start();
    harness.getAs(ALICE, "/v1.0/users/u1?$select=id,mail&$top=1");
    assertEquals("HIT-L1", xCache(harness.getAs(ALICE, "/v1.0/users/u1?$top=1&$select=id,mail")), "same query, other order");
    assertEquals("MISS", xCache(harness.getAs(ALICE, "/v1.0/users/u1?$top=1&$select=id,mail", "ConsistencyLevel", "eventual")));
    assertEquals("MISS", xCache(harness.getAs(ALICE, "/v1.0/users/u1?$top=1&$select=id,mail", "Accept-Language", "de")));
  }

  @Test
  void a_client_no_cache_bypasses_the_cache_but_refreshes_it() throws Exception {
    harness = GatewayHarness.builder().start();
    harness.getAs(ALICE, "/v1.0/groups/g1");
    assertEquals("BYPASS", xCache(harness.getAs(ALICE, "/v1.0/groups/g1", "Cache-Control", "no-cache")));
    assertEquals(2, harness.sim().stats().count("GET /v1.0/groups/g1"));
    assertEquals("HIT-L1", xCache(harness.getAs(ALICE, "/v1.0/groups/g1")));
  }

  @Test
  void the_l1_byte_bound_evicts_and_counts_evictions() throws Exception {
    harness = GatewayHarness.builder().gateway(o -> o.getCache().setL1MaxWeight(32 << 10)).start();
    for (int i = 1; i <= 200; i++) assertEquals(200, harness.getAs(ALICE, "/v1.0/users/u" + i).statusCode());
    ResponseCache cache = harness.gateway().cache();
    cache.l1().cleanUp();
    assertTrue(cache.l1().weightBytes() <= 32 << 10, "weight " + cache.l1().weightBytes());
    assertTrue(cache.stats().evictions() > 0, "evictions counted");
    assertTrue(cache.l1().size() < 200, "size " + cache.l1().size());
  }

  @Test
  void callers_never_see_each_others_answers_under_concurrency() throws Exception {
    harness = GatewayHarness.builder().simulator(new SimulatorOptions().setLatency(Duration.ofMillis(5))).start();
    Random random = new Random(7);
    List<String> tokens = new ArrayList<>();
    for (int i = 0; i < 25; i++) tokens.add("Bearer token-" + random.nextLong());
    List<CompletableFuture<Void>> checks = new ArrayList<>();
    for (int i = 0; i < 600; i++) {
      String token = tokens.get(random.nextInt(tokens.size()));
      String path = random.nextBoolean() ? "/v1.0/users/u" + (1 + random.nextInt(5)) : "/v1.0/groups/g" + (1 + random.nextInt(5));
      HttpRequest req = HttpRequest.newBuilder(URI.create(harness.proxy() + path)).header("Authorization", token).build();
      checks.add(harness.http().sendAsync(req, HttpResponse.BodyHandlers.ofString()).thenAccept(r -> {
        assertEquals(200, r.statusCode());
        assertEquals(simHash(token), new JsonObject(r.body()).getString("callerHash"), "answer belongs to its own token");
      }));
    }
    CompletableFuture.allOf(checks.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
    assertTrue(harness.gateway().cache().stats().l1Hits() > 0, "the cache was used");
  }

  /** The simulator's {@code callerHash}: the first 6 bytes of SHA-256 of the Authorization value, in hex. */
  static String simHash(String authorization) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(authorization.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d, 0, 6);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
