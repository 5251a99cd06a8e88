package io.tollgate.freshness;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.config.RedisConnectionOptions;
import io.tollgate.metrics.Readiness;
import io.tollgate.redis.RedisLink;
import io.tollgate.testing.RedisProcess;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** The index of cached paths by mentioned ids, in memory and in a real redis-server, and what an answer mentions. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class DeltaIndexTest {
  @Test
  void an_answer_mentions_its_id_the_ids_in_value_references_and_the_object_its_path_names() {
    Set<String> ids = Mentions.of("/v1.0/groups/g1/members", Buffer.buffer(
        "{\"value\":[{\"id\":\"u1\",\"displayName\":\"A\"},{\"@odata.id\":\"https://graph.microsoft.com/v1.0/directoryObjects/u2\"},{\"displayName\":\"hidden\"}]}"));
    assertEquals(Set.of("g1", "u1", "u2"), ids);
    assertEquals(Set.of("u7"), Mentions.of("/v1.0/users/u7", Buffer.buffer("{\"id\":\"u7\"}")));
    assertEquals(Set.of("g2"), Mentions.of("/beta/groups/g2/members/microsoft.graph.user", Buffer.buffer("not json")),
        "an answer that hides its objects is evicted with its group");
  }

  @Test
  void in_memory_a_change_finds_the_paths_and_a_store_that_crossed_it_is_told_to_evict() throws Exception {
    check(ContentIndex.local(Duration.ofHours(1)));
  }

  @Test
  void in_redis_a_change_finds_the_paths_and_a_store_that_crossed_it_is_told_to_evict() throws Exception {
    try (RedisProcess redis = RedisProcess.start()) {
      Vertx vertx = Vertx.vertx();
      try {
        RedisLink link = new RedisLink(new RedisConnectionOptions().setUrl(redis.url()), new Readiness(), Duration.ofSeconds(2),
            Duration.ofSeconds(1));
        vertx.deployVerticle(link).await(10, TimeUnit.SECONDS);
        check(ContentIndex.redis(link, redis.keyPrefix(), 2000));
      } finally {
        vertx.close().await(10, TimeUnit.SECONDS);
      }
    }
  }

  private static void check(ContentIndex index) throws Exception {
    long t0 = System.currentTimeMillis();
    assertFalse(index.record("/v1.0/groups/g1/members", List.of("g1", "u1", "u2"), 60_000, t0).await(5, TimeUnit.SECONDS));
    assertFalse(index.record("/v1.0/users/u1", List.of("u1"), 60_000, t0).await(5, TimeUnit.SECONDS));
    assertFalse(index.record("/v1.0/groups/g9/transitiveMembers", List.of("g9", "g1"), 60_000, t0).await(5, TimeUnit.SECONDS));
    assertEquals(Set.of("/v1.0/groups/g1/members", "/v1.0/users/u1"), index.changed(List.of("u1"), true).await(5, TimeUnit.SECONDS));
    assertEquals(Set.of(), index.changed(List.of("u1"), true).await(5, TimeUnit.SECONDS), "forgotten once evicted; a replay finds nothing");
    assertEquals(Set.of("/v1.0/groups/g1/members", "/v1.0/groups/g9/transitiveMembers"),
        index.changed(List.of("g1"), false).await(5, TimeUnit.SECONDS));
    assertEquals(2, index.changed(List.of("g1"), false).await(5, TimeUnit.SECONDS).size(), "kept when not forgotten");
    // An answer read before u2 changed but recorded after the feed looked u2 up: the store is told to evict it.
    long readBefore = System.currentTimeMillis() - 5;
    index.changed(List.of("u2"), true).await(5, TimeUnit.SECONDS);
    assertTrue(index.record("/v1.0/groups/g5/members", List.of("g5", "u2"), 60_000, readBefore).await(5, TimeUnit.SECONDS));
    long readAfter = System.currentTimeMillis() + 1;
    assertFalse(index.record("/v1.0/groups/g6/members", List.of("g6", "u2"), 60_000, readAfter).await(5, TimeUnit.SECONDS),
        "an answer read after the change is fresh");
  }
}
