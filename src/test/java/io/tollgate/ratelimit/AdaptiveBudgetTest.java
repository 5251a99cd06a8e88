package io.tollgate.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.config.RateLimitOptions;
import io.tollgate.metrics.Addresses;
import io.tollgate.sim.SimulatorOptions;
import io.tollgate.testing.GatewayHarness;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * The learned budget over real HTTP: an upstream whose budget the gateway is not told, and a limit that is
 * either an estimate (may learn above its rate) or a ceiling (never).
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class AdaptiveBudgetTest {
  GatewayHarness harness;
  final List<JsonObject> learned = new CopyOnWriteArrayList<>();

  @AfterEach
  void stop() {
    if (harness != null) harness.close();
  }

  void start(String mode) {
    // The upstream allows 60 units/s (20 held), 4x the limit's 15/s: an estimate should find out.
    harness = GatewayHarness.builder()
        .simulator(new SimulatorOptions().setThrottleRate(60).setThrottleBurst(20).setUsers(400))
        .gateway(o -> {
          o.getCache().setEnabled(false);
          o.getRateLimit().setMaxWait(Duration.ofSeconds(30)).setCosts(List.of()).setLimits(List.of(
              new RateLimitOptions.Limit().setName("reads").setKey("global").setRate(15).setBurst(5).setMode(mode)));
        })
        .start();
    harness.gateway().vertx().eventBus().<JsonObject>consumer(Addresses.EVENTS, m -> {
      if ("learned".equals(m.body().getString("type"))) learned.add(m.body());
    });
  }

  /** {@code clients} callers each reading distinct users one after another, as an audit's workers do. */
  List<HttpResponse<String>> readDistinctUsers(int clients, int each) throws Exception {
    List<CompletableFuture<List<HttpResponse<String>>>> workers = new ArrayList<>();
    for (int c = 0; c < clients; c++) {
      int first = c * each + 1;
      CompletableFuture<List<HttpResponse<String>>> chain = CompletableFuture.completedFuture(new ArrayList<>());
      for (int i = 0; i < each; i++) {
        String path = "/v1.0/users/u" + (first + i);
        chain = chain.thenCompose(list -> harness.send("GET", path).thenApply(r -> {
          list.add(r);
          return list;
        }));
      }
      workers.add(chain);
    }
    List<HttpResponse<String>> out = new ArrayList<>();
    for (var w : workers) out.addAll(w.get(60, java.util.concurrent.TimeUnit.SECONDS));
    return out;
  }

  String metrics() throws Exception {
    return harness.http().send(HttpRequest.newBuilder(URI.create(harness.management() + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString()).body();
  }

  @Test
  void an_estimate_learns_the_upstream_allows_more_and_no_429_reaches_the_client() throws Exception {
    start(RateLimitOptions.Limit.ESTIMATE);
    List<HttpResponse<String>> answers = readDistinctUsers(25, 10);

    assertEquals(0, answers.stream().filter(r -> r.statusCode() != 200).count(), "every read answered 200");
    double highest = learned.stream().mapToDouble(e -> e.getDouble("rate")).max().orElse(0);
    assertTrue(highest >= 30, "learned at least twice the configured 15/s: " + learned);
    assertTrue(learned.stream().anyMatch(e -> "slow-start".equals(e.getString("reason"))), learned.toString());
    assertEquals("estimate", learned.get(0).getString("mode"));
    assertEquals(15.0, learned.get(0).getDouble("configured"));
    assertTrue(metrics().contains("tollgate_ratelimit_learned_rate{limit=\"reads\",mode=\"estimate\",scope=\""),
        "the learned rate is on /metrics per limit and scope");
  }

  @Test
  void a_ceiling_is_never_exceeded_however_much_room_the_upstream_has() throws Exception {
    start(RateLimitOptions.Limit.CEILING);
    List<HttpResponse<String>> answers = readDistinctUsers(10, 4);

    assertEquals(0, answers.stream().filter(r -> r.statusCode() != 200).count());
    assertFalse(learned.stream().anyMatch(e -> e.getDouble("rate") > 15), "never above 15/s: " + learned);
    assertEquals(0, harness.sim().stats().throttled(), "at 15/s the upstream had room throughout");
  }
}
