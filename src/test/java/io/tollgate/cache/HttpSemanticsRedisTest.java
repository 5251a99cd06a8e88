package io.tollgate.cache;

import static io.tollgate.testing.GatewayHarness.xCache;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tollgate.Gateway;
import io.tollgate.config.CacheOptions;
import io.tollgate.config.PathPattern;
import io.tollgate.config.TollgateOptions;
import io.tollgate.testing.Await;
import io.tollgate.testing.GatewayHarness;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * HTTP semantics across two instances on one real {@code redis-server}: an entry stored with a {@code Vary} answers
 * the other instance from L2 only for requests that send what the storing one sent (the stored request values survive
 * the round trip through Redis).
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class HttpSemanticsRedisTest {
  HttpSemanticsTest.Origin origin;
  GatewayHarness harness;

  @AfterEach
  void stop() throws Exception {
    if (harness != null) harness.close();
    if (origin != null) origin.close();
  }

  @Test
  void a_vary_entry_from_redis_answers_only_the_variant_it_was_stored_for() throws Exception {
    origin = new HttpSemanticsTest.Origin();
    origin.answers.put("/shared/flavoured", req -> new HttpSemanticsTest.Answer(200, "for " + req.getHeader("X-Flavour"),
        "Cache-Control", "max-age=3600", "Vary", "X-Flavour"));
    Consumer<TollgateOptions> http = o -> {
      o.getUpstream().setUrl(origin.url());
      o.getRetry().setEnabled(false);
      o.getRateLimit().setEnabled(false);
      o.getCache().setSemantics(CacheOptions.Semantics.HTTP).setInvalidations(List.of())
          .setRoutes(List.of(new CacheOptions.Route("all", PathPattern.compile("/**"), Duration.ofDays(1),
              Duration.ZERO, Duration.ZERO, Duration.ZERO)));
    };
    harness = GatewayHarness.builder().redis().gateway(http).start();
    Gateway b = harness.another(http);

    assertEquals("MISS", xCache(harness.get("/shared/flavoured", "X-Flavour", "vanilla")));
    // The store in Redis completes after the answer went back (it never delays a client).
    try (RedisClientCheck redis = new RedisClientCheck(harness.gateway())) {
      Await.until(() -> redis.exists("/shared/flavoured"), Duration.ofSeconds(10), "the entry in Redis");
    }
    HttpResponse<String> fromRedis = harness.get(b, "/shared/flavoured", "X-Flavour", "vanilla");
    assertEquals("HIT-L2", xCache(fromRedis));
    assertEquals("for vanilla", fromRedis.body());
    HttpResponse<String> other = harness.get(b, "/shared/flavoured", "X-Flavour", "mint");
    assertEquals("MISS", xCache(other), "the stored request value came back from Redis and does not match");
    assertEquals("for mint", other.body());
    assertEquals(2, origin.count("GET /shared/flavoured"));
  }
}
