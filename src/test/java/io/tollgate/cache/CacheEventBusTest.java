package io.tollgate.cache;

import static io.tollgate.testing.GatewayHarness.xCache;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.config.CacheOptions;
import io.tollgate.metrics.Addresses;
import io.tollgate.testing.GatewayHarness;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.EventBus;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** The cache on the event bus: published statistics, the request/reply API, and the event-bus hot path. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class CacheEventBusTest {
  static final String ALICE = "Bearer alice-token";
  GatewayHarness harness;

  @AfterEach
  void stop() {
    if (harness != null) harness.close();
  }

  @Test
  void statistics_are_published_on_the_event_bus() throws Exception {
    harness = GatewayHarness.builder().gateway(o -> o.getCache().setStatsInterval(Duration.ofMillis(200))).start();
    harness.getAs(ALICE, "/v1.0/users/u1");
    harness.getAs(ALICE, "/v1.0/users/u1");
    CompletableFuture<JsonObject> message = new CompletableFuture<>();
    harness.gateway().vertx().eventBus().<JsonObject>consumer(Addresses.CACHE_STATS, m -> message.complete(m.body()));
    JsonObject stats = message.get(5, TimeUnit.SECONDS);
    JsonObject l1 = stats.getJsonObject("l1");
    assertEquals(1L, l1.getLong("hits"));
    assertEquals(1L, l1.getLong("misses"));
    assertEquals(0.5, l1.getDouble("hitRate"));
    assertEquals(1L, l1.getLong("size"));
    assertTrue(l1.getLong("weightBytes") > 0);
    assertEquals(0L, l1.getLong("evictions"));
    JsonObject l2 = stats.getJsonObject("l2");
    for (String k : new String[] {"hits", "misses", "errors", "connected"}) assertTrue(l2.containsKey(k), k);
    assertNotNull(stats.getLong("coalesced"));
    assertNotNull(Instant.parse(stats.getString("at")));
  }

  @Test
  void the_event_bus_api_gets_puts_invalidates_and_clears() throws Exception {
    harness = GatewayHarness.builder().start();
    EventBus bus = harness.gateway().vertx().eventBus();
    DeliveryOptions opts = new DeliveryOptions().setSendTimeout(5000);
    JsonObject key = new JsonObject().put("method", "GET").put("path", "/v1.0/users/u77").put("partition", "p1");
    JsonObject put = key.copy().put("action", "put").put("entry", new JsonObject().put("status", 200).put("ttl", 60_000)
        .put("headers", new JsonArray()).put("body", "{\"id\":\"u77\"}"));
    bus.request(Addresses.CACHE, put, opts).await(5, TimeUnit.SECONDS);
    JsonObject got = (JsonObject) bus.request(Addresses.CACHE, key.copy().put("action", "get"), opts).await(5, TimeUnit.SECONDS).body();
    assertEquals(true, got.getBoolean("found"));
    assertEquals("{\"id\":\"u77\"}", got.getJsonObject("entry").getString("body"));
    JsonObject inv = (JsonObject) bus.request(Addresses.CACHE, new JsonObject().put("action", "invalidate").put("pattern", "/v1.0/users/*"), opts)
        .await(5, TimeUnit.SECONDS).body();
    assertEquals(1L, inv.getLong("removed"));
    got = (JsonObject) bus.request(Addresses.CACHE, key.copy().put("action", "get"), opts).await(5, TimeUnit.SECONDS).body();
    assertEquals(false, got.getBoolean("found"));
    ReplyException refused = assertThrows(ReplyException.class, () ->
        bus.request(Addresses.CACHE, new JsonObject().put("action", "invalidate").put("pattern", ""), opts).await(5, TimeUnit.SECONDS),
        "an empty pattern must fail");
    assertEquals(400, refused.failureCode());
  }

  @Test
  void the_event_bus_hot_path_serves_hits_like_the_in_process_one() throws Exception {
    harness = GatewayHarness.builder().gateway(o -> o.getCache().setHotPath(CacheOptions.HotPath.EVENT_BUS)).start();
    assertEquals("MISS", xCache(harness.getAs(ALICE, "/v1.0/users/u3")));
    assertEquals("HIT-L1", xCache(harness.getAs(ALICE, "/v1.0/users/u3")));
    assertEquals(1, harness.sim().stats().count("GET /v1.0/users/u3"));
  }
}
