package io.tollgate.ratelimit;

import io.tollgate.proxy.Charge;
import io.tollgate.proxy.RouteTable;
import io.vertx.core.http.HttpMethod;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tollgate.config.RateLimitOptions;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** The shipped Graph cost table, read from configuration, and the JWT claims that choose buckets. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class CostTest {
  static Vertx vertx;
  static RouteTable routes;

  @BeforeAll
  static void start() {
    vertx = Vertx.vertx();
    RateLimitOptions o = new RateLimitOptions();
    routes = RouteTable.compile(null, o);
  }

  @AfterAll
  static void stop() {
    vertx.close().await();
  }

  static int cost(String method, String path, String query) {
    return routes.match(HttpMethod.valueOf(method), path, query).cost();
  }

  @Test
  void graph_prices_come_from_the_default_table() {
    assertEquals(5, cost("GET", "/v1.0/groups/g1/transitiveMembers", null));
    assertEquals(5, cost("GET", "/beta/groups/g1/transitiveMembers/microsoft.graph.user", null));
    assertEquals(3, cost("GET", "/v1.0/groups/g1/members", null));
    assertEquals(2, cost("GET", "/v1.0/users/u1", null));
    assertEquals(5, cost("GET", "/v1.0/sites/s1/permissions", null));
    assertEquals(1, cost("GET", "/v1.0/organization", null));
    assertEquals(1, cost("DELETE", "/v1.0/groups/g1/members/u1/$ref", null));
  }

  @Test
  void select_lowers_and_expand_raises_the_price_which_never_goes_below_one() {
    assertEquals(2, cost("GET", "/v1.0/groups/g1/members", "$select=id"));
    assertEquals(2, cost("GET", "/v1.0/groups/g1/members", "%24select=id&$top=5"));
    assertEquals(4, cost("GET", "/v1.0/groups/g1/members", "$expand=manager"));
    assertEquals(1, cost("GET", "/v1.0/organization", "$select=id"));
    assertEquals(3, cost("GET", "/v1.0/groups/g1/members", "$selected=x"));
  }

  @Test
  void idle_buckets_are_forgotten_so_many_keys_cannot_exhaust_memory() {
    RateLimitOptions o = new RateLimitOptions().setMaxBuckets(1000);
    LocalRateLimiter limiter = new LocalRateLimiter(vertx, o, System::nanoTime, 1);
    for (int i = 0; i < 50_000; i++) limiter.bucket(new Charge("tenant", "t" + i, 10, 10, 1)).tryTake(1);
    assertTrue(limiter.size() <= 1000, "held " + limiter.size());
  }
}
