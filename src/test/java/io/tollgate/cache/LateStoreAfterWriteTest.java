package io.tollgate.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.Gateway;
import io.tollgate.config.PathPattern;
import io.tollgate.proxy.XCache;
import io.tollgate.testing.Await;
import io.tollgate.testing.GatewayHarness;
import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * An answer whose upstream read began before a write's invalidation may show the data as it was before the
 * write; if its store lands after the invalidation (a slow read, a store still on its way to Redis), it must
 * not bring the old answer back for a whole TTL — on the instance that stores it, nor through Redis on any other.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class LateStoreAfterWriteTest {
  private static final String PATH = "/v1.0/groups/g9/members";

  GatewayHarness harness;
  Gateway writer;
  Gateway peer;
  Gateway reader;

  @BeforeEach
  void start() {
    harness = GatewayHarness.builder().redis().start();
    writer = harness.gateway();
    peer = harness.another(o -> { });
    reader = harness.another(o -> { });
  }

  @AfterEach
  void stop() {
    harness.close();
  }

  @Test
  void a_store_whose_read_began_before_an_invalidation_is_dropped_here_and_in_redis() throws Exception {
    CacheKey key = GatewayHarness.cacheKey(PATH, "Bearer alice");
    long readBegan = System.currentTimeMillis() - 50;
    writer.cache().invalidate(PathPattern.compile("/v1.0/groups/g9/**")).await(5, TimeUnit.SECONDS);
    writer.cache().store(key, entry("old"), readBegan).await(5, TimeUnit.SECONDS);
    assertNull(writer.cache().lookup(key).await(5, TimeUnit.SECONDS), "not in the writer's L1");
    assertNull(reader.cache().lookup(key).await(5, TimeUnit.SECONDS), "not in Redis for the others");
  }

  @Test
  void a_peer_that_stores_a_late_answer_before_hearing_of_the_invalidation_keeps_it_out_of_redis() throws Exception {
    CacheKey key = GatewayHarness.cacheKey(PATH, "Bearer alice");
    long readBegan = System.currentTimeMillis() - 50;
    writer.cache().invalidate(PathPattern.compile("/v1.0/groups/g9/**")).await(5, TimeUnit.SECONDS);
    // The peer may or may not have heard of the invalidation over pub/sub yet; Redis must refuse either way.
    peer.cache().store(key, entry("old"), readBegan).await(5, TimeUnit.SECONDS);
    assertNull(reader.cache().lookup(key).await(5, TimeUnit.SECONDS), "Redis refused the late store");
  }

  @Test
  void a_read_that_began_after_the_invalidation_is_stored_and_shared() throws Exception {
    CacheKey key = GatewayHarness.cacheKey(PATH, "Bearer alice");
    // The peer counts an invalidation from when it hears of it: the read begins after that.
    peer.cache().l1().put(key, entry("older"));
    // The reader too: one that hears of it only after its lookup began would rightly refuse the entry.
    reader.cache().l1().put(key, entry("older"));
    writer.cache().invalidate(PathPattern.compile("/v1.0/groups/g9/**")).await(5, TimeUnit.SECONDS);
    Await.until(() -> peer.cache().l1().get(key) == null, Duration.ofSeconds(5), "the peer heard of the invalidation");
    Await.until(() -> reader.cache().l1().get(key) == null, Duration.ofSeconds(5), "the reader heard of the invalidation");
    long readBegan = System.currentTimeMillis() + 1;
    peer.cache().store(key, entry("new"), readBegan).await(5, TimeUnit.SECONDS);
    assertNotNull(peer.cache().lookup(key).await(5, TimeUnit.SECONDS), "in the peer's L1");
    assertNotNull(reader.cache().lookup(key).await(5, TimeUnit.SECONDS), "in Redis for the others");
  }

  @Test
  void a_store_whose_read_began_before_an_invalidation_of_another_path_is_stored_and_shared() throws Exception {
    CacheKey key = GatewayHarness.cacheKey(PATH, "Bearer alice");
    long readBegan = System.currentTimeMillis() - 50;
    // Logged after the read began, but it covers another group: it must not cost this answer its place in Redis.
    writer.cache().invalidate(PathPattern.compile("/v1.0/groups/g10/**")).await(5, TimeUnit.SECONDS);
    peer.cache().store(key, entry("current"), readBegan).await(5, TimeUnit.SECONDS);
    ResponseCache.Hit shared = reader.cache().lookup(key).await(5, TimeUnit.SECONDS);
    assertNotNull(shared, "in Redis for the others");
    assertTrue(shared.response().body().toString().contains("current"));
    assertEquals(XCache.HIT_L2, shared.source());
  }

  private static CachedResponse entry(String name) {
    MultiMap headers = MultiMap.caseInsensitiveMultiMap().add("Content-Type", "application/json");
    return new CachedResponse(200, headers, Buffer.buffer("{\"value\":[{\"id\":\"" + name + "\"}]}"),
        System.currentTimeMillis(), 3_600_000, 0, 0);
  }
}
