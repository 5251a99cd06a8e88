package io.tollgate.cache;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.tollgate.Gateway;
import io.tollgate.config.PathPattern;
import io.tollgate.sim.SimulatorOptions;
import io.tollgate.testing.RedisProcess;
import io.tollgate.testing.Stack;
import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import java.util.List;
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

  RedisProcess redis;
  Stack stack;
  Gateway peer;
  Gateway reader;

  @BeforeEach
  void start() throws Exception {
    redis = RedisProcess.start();
    stack = Stack.start(new SimulatorOptions(), o -> CacheTest.useRedis(o, redis));
    peer = stack.another(o -> CacheTest.useRedis(o, redis));
    reader = stack.another(o -> CacheTest.useRedis(o, redis));
  }

  @AfterEach
  void stop() throws Exception {
    for (Gateway g : List.of(peer, reader)) g.close().await(20, TimeUnit.SECONDS);
    stack.close();
    redis.close();
  }

  @Test
  void a_store_whose_read_began_before_an_invalidation_is_dropped_here_and_in_redis() throws Exception {
    CacheKey key = CacheTest.keyFor(PATH, "Bearer alice");
    long readBegan = System.currentTimeMillis() - 50;
    stack.gateway.cache().invalidate(PathPattern.compile("/v1.0/groups/g9/**")).await(5, TimeUnit.SECONDS);
    stack.gateway.cache().store(key, entry("old"), readBegan).await(5, TimeUnit.SECONDS);
    assertNull(stack.gateway.cache().lookup(key).await(5, TimeUnit.SECONDS), "not in the writer's L1");
    assertNull(reader.cache().lookup(key).await(5, TimeUnit.SECONDS), "not in Redis for the others");
  }

  @Test
  void a_peer_that_stores_a_late_answer_before_hearing_of_the_invalidation_keeps_it_out_of_redis() throws Exception {
    CacheKey key = CacheTest.keyFor(PATH, "Bearer alice");
    long readBegan = System.currentTimeMillis() - 50;
    stack.gateway.cache().invalidate(PathPattern.compile("/v1.0/groups/g9/**")).await(5, TimeUnit.SECONDS);
    // The peer may or may not have heard of the invalidation over pub/sub yet; Redis must refuse either way.
    peer.cache().store(key, entry("old"), readBegan).await(5, TimeUnit.SECONDS);
    assertNull(reader.cache().lookup(key).await(5, TimeUnit.SECONDS), "Redis refused the late store");
  }

  @Test
  void a_read_that_began_after_the_invalidation_is_stored_and_shared() throws Exception {
    CacheKey key = CacheTest.keyFor(PATH, "Bearer alice");
    stack.gateway.cache().invalidate(PathPattern.compile("/v1.0/groups/g9/**")).await(5, TimeUnit.SECONDS);
    long readBegan = System.currentTimeMillis() + 1;
    peer.cache().store(key, entry("new"), readBegan).await(5, TimeUnit.SECONDS);
    assertNotNull(peer.cache().lookup(key).await(5, TimeUnit.SECONDS), "in the peer's L1");
    assertNotNull(reader.cache().lookup(key).await(5, TimeUnit.SECONDS), "in Redis for the others");
  }

  private static CachedResponse entry(String name) {
    MultiMap headers = MultiMap.caseInsensitiveMultiMap().add("Content-Type", "application/json");
    return new CachedResponse(200, headers, Buffer.buffer("{\"value\":[{\"id\":\"" + name + "\"}]}"),
        System.currentTimeMillis(), 3_600_000, 0, 0);
  }
}
