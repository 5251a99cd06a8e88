package io.tollgate.sim;

import static io.tollgate.sim.SimTesting.get;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(VertxExtension.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ThrottlingTest {
  /** Slow enough that no token comes back during a test. */
  private static final double TRICKLE = 0.001;
  private GraphSimulator sim;
  private WebClient client;

  @AfterEach
  void stop() throws Exception {
    if (client != null) client.close();
    if (sim != null) sim.close().await(10, TimeUnit.SECONDS);
  }

  @Test
  void the_fourth_immediate_request_with_a_burst_of_three_is_429_told_when_its_cost_is_back(Vertx vertx, VertxTestContext test)
      throws Exception {
    // 1 unit a second, 3 held: the refused fourth is charged too (debt of about 1), so its cost of 1 is back
    // in about 2 s, rounded up.
    start(vertx, new SimulatorOptions().setThrottleRate(1).setThrottleBurst(3).setResourceUnits(false));
    sequential(4, "/v1.0/users/u1", "alice").onComplete(test.succeeding(answers -> test.verify(() -> {
      for (int i = 0; i < 3; i++) assertEquals(200, answers.get(i).statusCode(), "request " + (i + 1));
      HttpResponse<Buffer> fourth = answers.get(3);
      assertEquals(429, fourth.statusCode());
      assertEquals("2", fourth.getHeader("Retry-After"));
      assertTrue(fourth.getHeader("x-ms-throttle-scope").startsWith("Tenant_Application/ReadWrite/"),
          fourth.getHeader("x-ms-throttle-scope"));
      assertEquals("ResourceUnitLimitExceeded", fourth.getHeader("x-ms-throttle-information"));
      JsonObject error = fourth.bodyAsJsonObject().getJsonObject("error");
      assertEquals("TooManyRequests", error.getString("code"));
      assertEquals(fourth.getHeader("request-id"), error.getJsonObject("innerError").getString("request-id"));
      assertEquals(1, sim.stats().throttled());
      assertEquals(4, sim.stats().count("GET /v1.0/users/u1"), "throttled requests are still counted");
      test.completeNow();
    })));
  }

  @Test
  void the_budget_holds_ten_seconds_of_its_rate_and_says_its_usage_only_past_eighty_percent(Vertx vertx, VertxTestContext test)
      throws Exception {
    start(vertx, new SimulatorOptions().setThrottleRate(TRICKLE * 1000).setResourceUnits(false));
    sequential(11, "/v1.0/users/u1", "alice").onComplete(test.succeeding(answers -> test.verify(() -> {
      for (int i = 0; i < 10; i++) assertEquals(200, answers.get(i).statusCode(), "request " + (i + 1) + " of 10 s x 1/s");
      for (int i = 0; i < 7; i++) assertNull(answers.get(i).getHeader("x-ms-throttle-limit-percentage"), "request " + (i + 1));
      // 0.9 and 1.0 of 10 tokens, less what refilled while the requests ran (a loaded machine takes 100s of ms).
      assertEquals(0.9, Double.parseDouble(answers.get(8).getHeader("x-ms-throttle-limit-percentage")), 0.05);
      assertEquals(1.0, Double.parseDouble(answers.get(9).getHeader("x-ms-throttle-limit-percentage")), 0.05);
      assertEquals("1", answers.get(0).getHeader("x-ms-resource-unit"), "every answer says its cost");
      assertEquals(429, answers.get(10).statusCode());
      test.completeNow();
    })));
  }

  @Test
  void with_usage_headers_off_only_a_429_says_anything(Vertx vertx, VertxTestContext test) throws Exception {
    start(vertx, new SimulatorOptions().setThrottleRate(TRICKLE).setThrottleBurst(5).setUsageHeaders(false));
    sequential(2, "/v1.0/groups/g1/transitiveMembers", "alice").onComplete(test.succeeding(answers -> test.verify(() -> {
      assertEquals(200, answers.get(0).statusCode(), "transitiveMembers costs Graph's 5 units: all the budget holds");
      assertNull(answers.get(0).getHeader("x-ms-resource-unit"));
      assertNull(answers.get(0).getHeader("x-ms-throttle-limit-percentage"));
      assertEquals(429, answers.get(1).statusCode());
      test.completeNow();
    })));
  }

  @Test
  void tokens_of_one_tenant_and_app_share_one_budget(Vertx vertx, VertxTestContext test) throws Exception {
    start(vertx, new SimulatorOptions().setThrottleRate(TRICKLE).setThrottleBurst(1).setResourceUnits(false));
    String first = Tokens.issue(new JsonObject().put("tid", "t1").put("appid", "a1").put("oid", "one")).substring(7);
    String second = Tokens.issue(new JsonObject().put("tid", "t1").put("appid", "a1").put("oid", "two")).substring(7);
    String otherApp = Tokens.issue(new JsonObject().put("tid", "t1").put("appid", "a2")).substring(7);
    sequential(1, "/v1.0/users/u1", first)
        .compose(a -> sequential(1, "/v1.0/users/u1", second).compose(b -> sequential(1, "/v1.0/users/u1", otherApp)
            .map(c -> List.of(a.get(0), b.get(0), c.get(0)))))
        .onComplete(test.succeeding(answers -> test.verify(() -> {
          assertEquals(200, answers.get(0).statusCode());
          assertEquals(429, answers.get(1).statusCode(), "another token of the same app and tenant pays the same budget");
          assertEquals(200, answers.get(2).statusCode(), "another app has its own");
          test.completeNow();
        })));
  }

  @Test
  void sharepoint_is_metered_apart_from_the_directory(Vertx vertx, VertxTestContext test) throws Exception {
    start(vertx, new SimulatorOptions().setThrottleRate(TRICKLE).setThrottleBurst(1).setResourceUnits(false));
    sequential(2, "/v1.0/users/u1", "alice")
        .compose(directory -> sequential(1, "/v1.0/sites/s1", "alice").map(sites -> List.of(directory.get(1), sites.get(0))))
        .onComplete(test.succeeding(answers -> test.verify(() -> {
          assertEquals(429, answers.get(0).statusCode(), "the directory budget is spent");
          assertEquals(200, answers.get(1).statusCode(), "SharePoint has its own");
          test.completeNow();
        })));
  }

  @Test
  void callers_have_separate_buckets(Vertx vertx, VertxTestContext test) throws Exception {
    start(vertx, new SimulatorOptions().setThrottleRate(TRICKLE).setThrottleBurst(1).setResourceUnits(false));
    sequential(2, "/v1.0/users/u1", "alice")
        .compose(alice -> sequential(1, "/v1.0/users/u1", "bob").map(bob -> List.of(alice.get(1), bob.get(0))))
        .onComplete(test.succeeding(answers -> test.verify(() -> {
          assertEquals(429, answers.get(0).statusCode(), "alice spent her only token");
          assertEquals(200, answers.get(1).statusCode(), "bob still has his");
          test.completeNow();
        })));
  }

  @Test
  void resource_units_make_transitive_members_cost_five(Vertx vertx, VertxTestContext test) throws Exception {
    start(vertx, new SimulatorOptions().setThrottleRate(TRICKLE).setThrottleBurst(10).setResourceUnits(true));
    sequential(3, "/v1.0/groups/g1/transitiveMembers", "alice").onComplete(test.succeeding(answers -> test.verify(() -> {
      assertEquals(200, answers.get(0).statusCode());
      assertEquals("5", answers.get(0).getHeader("x-ms-resource-unit"));
      assertNull(answers.get(0).getHeader("x-ms-throttle-limit-percentage"), "only past 80 % of the budget");
      assertEquals(200, answers.get(1).statusCode(), "10 units buy exactly two");
      assertEquals("1.0", answers.get(1).getHeader("x-ms-throttle-limit-percentage"));
      assertEquals(429, answers.get(2).statusCode());
      test.completeNow();
    })));
  }

  @Test
  void a_too_early_retry_is_charged_too(Vertx vertx, VertxTestContext test) throws Exception {
    // Two tokens a second, one at most. After 700 ms one token is back (1.4), enough if refusals were free,
    // but the refused retries left a debt of one token, so the fourth request is still refused.
    start(vertx, new SimulatorOptions().setThrottleRate(2).setThrottleBurst(1).setResourceUnits(false));
    sequential(3, "/v1.0/users/u1", "alice")
        .compose(first -> vertx.timer(700).compose(v -> sequential(1, "/v1.0/users/u1", "alice"))
            .map(second -> List.of(first.get(0), first.get(1), first.get(2), second.get(0))))
        .onComplete(test.succeeding(answers -> test.verify(() -> {
          assertEquals(200, answers.get(0).statusCode());
          assertEquals(429, answers.get(1).statusCode());
          assertEquals(429, answers.get(2).statusCode());
          assertEquals(429, answers.get(3).statusCode(), "one refill does not cover the refused retries' debt");
          test.completeNow();
        })));
  }

  @Test
  void sharepoint_mode_throttles_with_503_and_a_120_second_pause(Vertx vertx, VertxTestContext test) throws Exception {
    start(vertx, new SimulatorOptions().setThrottleRate(TRICKLE).setThrottleBurst(5).setThrottleStatus(503).setSharepoint(true));
    sequential(2, "/v1.0/sites/s1/permissions", "alice").onComplete(test.succeeding(answers -> test.verify(() -> {
      assertEquals(200, answers.get(0).statusCode());
      assertEquals("5", answers.get(0).getHeader("x-ms-resource-unit"), "a permission read costs 5");
      assertEquals("5", answers.get(0).getHeader("RateLimit-Limit"), "past 80 %, SharePoint says RateLimit-*");
      assertEquals("0", answers.get(0).getHeader("RateLimit-Remaining"));
      assertEquals(503, answers.get(1).statusCode());
      assertEquals("120", answers.get(1).getHeader("Retry-After"));
      assertEquals(1, sim.stats().throttled());
      assertEquals(0, sim.stats().errors(), "a throttle is not an injected error");
      test.completeNow();
    })));
  }

  @Test
  void error_rate_one_answers_every_request_503_with_retry_after(Vertx vertx, VertxTestContext test) throws Exception {
    start(vertx, new SimulatorOptions().setErrorRate(1.0).setRetryAfter(Duration.ofSeconds(5)));
    sequential(3, "/v1.0/groups/g1", "alice").onComplete(test.succeeding(answers -> test.verify(() -> {
      for (HttpResponse<Buffer> answer : answers) {
        assertEquals(503, answer.statusCode());
        assertEquals("5", answer.getHeader("Retry-After"));
        assertEquals("ServiceUnavailable", answer.bodyAsJsonObject().getJsonObject("error").getString("code"));
      }
      assertEquals(3, sim.stats().errors());
      test.completeNow();
    })));
  }

  @Test
  void reconfigure_switches_throttling_on_and_reset_refills_the_buckets(Vertx vertx, VertxTestContext test)
      throws Exception {
    start(vertx, new SimulatorOptions());
    List<Integer> statuses = new ArrayList<>();
    sequential(3, "/v1.0/users/u1", "alice")
        .compose(free -> {
          free.forEach(r -> statuses.add(r.statusCode()));
          sim.reconfigure(new SimulatorOptions().setThrottleRate(TRICKLE).setThrottleBurst(1));
          return sequential(2, "/v1.0/users/u1", "alice");
        })
        .compose(limited -> {
          limited.forEach(r -> statuses.add(r.statusCode()));
          sim.reset();
          return sequential(1, "/v1.0/users/u1", "alice");
        })
        .onComplete(test.succeeding(afterReset -> test.verify(() -> {
          statuses.add(afterReset.get(0).statusCode());
          assertEquals(List.of(200, 200, 200, 200, 429, 200), statuses);
          assertEquals(0, sim.stats().throttled(), "reset zeroed the throttle count");
          test.completeNow();
        })));
  }

  @Test
  void latency_delays_answers_by_at_least_the_configured_time(Vertx vertx, VertxTestContext test) throws Exception {
    start(vertx, new SimulatorOptions().setLatency(Duration.ofMillis(300)));
    long started = System.nanoTime();
    sequential(1, "/v1.0/users/u1", "alice").onComplete(test.succeeding(answers -> test.verify(() -> {
      long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
      assertEquals(200, answers.get(0).statusCode());
      assertTrue(elapsedMs >= 300, "answered after " + elapsedMs + " ms");
      test.completeNow();
    })));
  }

  @Test
  void invalid_options_fail_the_start_listing_every_problem(Vertx vertx, VertxTestContext test) {
    GraphSimulator.start(vertx, new SimulatorOptions().setThrottleStatus(500).setErrorRate(2).setPageSize(0))
        .onComplete(test.failing(failure -> test.verify(() -> {
          String message = failure.getMessage();
          assertTrue(message.contains("throttleStatus"), message);
          assertTrue(message.contains("errorRate"), message);
          assertTrue(message.contains("pageSize"), message);
          test.completeNow();
        })));
  }

  @Test
  void options_survive_a_json_round_trip() {
    SimulatorOptions options = new SimulatorOptions().setLatency(Duration.ofMillis(250)).setThrottleRate(2.5)
        .setRetryAfter(Duration.ofSeconds(3)).setResourceUnits(true).setUsers(7).setPublicOrigin("https://graph.test");
    JsonObject json = options.toJson();
    assertEquals("250ms", json.getString("latency"));
    assertEquals(json, new SimulatorOptions(json).toJson());
    assertEquals(Duration.ofSeconds(2), new SimulatorOptions(new JsonObject().put("latency", "2s")).getLatency());
    assertEquals(Duration.ofMillis(40), new SimulatorOptions(new JsonObject().put("latency", 40)).getLatency());
  }

  private void start(Vertx vertx, SimulatorOptions options) throws Exception {
    sim = SimTesting.start(vertx, options.setUsers(20).setGroups(5).setSites(3));
    client = SimTesting.client(vertx);
  }

  /** Sends {@code n} requests one after another, so bucket arithmetic is exact. */
  private Future<List<HttpResponse<Buffer>>> sequential(int n, String path, String token) {
    List<HttpResponse<Buffer>> answers = new ArrayList<>();
    Future<Void> chain = Future.succeededFuture();
    for (int i = 0; i < n; i++) {
      chain = chain.compose(v -> get(client, sim.origin() + path, token).send().map(r -> {
        answers.add(r);
        return null;
      }));
    }
    return chain.map(v -> answers);
  }
}
