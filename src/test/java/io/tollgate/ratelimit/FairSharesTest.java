package io.tollgate.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.Gateway;
import io.tollgate.config.LaneOptions;
import io.tollgate.config.RateLimitOptions;
import io.tollgate.config.TollgateOptions;
import io.tollgate.sim.SimulatorOptions;
import io.tollgate.testing.Await;
import io.tollgate.testing.GatewayHarness;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * Fair shares and priority lanes over real HTTP (SPEC 2.3): one budget of 10 requests a second, a flood queued
 * in it, and a few requests of another tenant or lane arriving after. What is asserted is order, not time: how
 * many of the flood's requests were answered between the newcomers' sending and their last answer. In arrival
 * order (what the limiter did before) that is the whole queued flood; served fairly, a handful.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class FairSharesTest {
  static final double RATE = 10;
  static final int FLOOD = 30;
  static final int NEWCOMERS = 3;
  GatewayHarness harness;

  @AfterEach
  void stop() {
    if (harness != null) harness.close();
  }

  /** One limit on the users paths keyed as given, nothing cached (every request is admitted by the limiter). */
  static Consumer<TollgateOptions> budget(String key, Consumer<LaneOptions> lanes) {
    return o -> {
      o.getCache().setEnabled(false);
      o.getRetry().setEnabled(false);
      LaneOptions l = new LaneOptions().setHeader("X-Tollgate-Priority");
      lanes.accept(l);
      o.getRateLimit().setMaxWait(Duration.ofSeconds(20)).setCosts(List.of()).setLanes(l)
          .setRedisTimeout(Duration.ofSeconds(1))
          .setLimits(List.of(new RateLimitOptions.Limit().setName("budget").setKey(key).setRate(RATE).setBurst(1)
              .setPaths(List.of("/v1.0/users/**"))));
    };
  }

  /** Answers in the order they came back, as "flood" or "newcomer". */
  final ConcurrentLinkedQueue<String> answered = new ConcurrentLinkedQueue<>();

  CompletableFuture<HttpResponse<String>> send(Gateway via, String who, String authorization, String... headers) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(GatewayHarness.proxy(via) + "/v1.0/users"))
        .timeout(Duration.ofSeconds(30)).header("Authorization", authorization);
    for (int i = 0; i + 1 < headers.length; i += 2) b.header(headers[i], headers[i + 1]);
    return harness.http().sendAsync(b.GET().build(), HttpResponse.BodyHandlers.ofString()).whenComplete((r, e) -> answered.add(who));
  }

  /** Flood answers that came between the first newcomer's sending and the last newcomer's answer. */
  int floodAnsweredWhileNewcomersWaited(int floodBefore) {
    List<String> order = new ArrayList<>(answered);
    int lastNewcomer = order.lastIndexOf("newcomer");
    int flood = 0;
    for (int i = 0; i < lastNewcomer; i++) if (order.get(i).equals("flood")) flood++;
    return flood - floodBefore;
  }

  static List<Integer> statuses(List<CompletableFuture<HttpResponse<String>>> all) throws Exception {
    List<Integer> out = new ArrayList<>();
    for (var f : all) out.add(f.get(40, TimeUnit.SECONDS).statusCode());
    return out;
  }

  int floodSoFar() {
    return (int) answered.stream().filter("flood"::equals).count();
  }

  /** Requests waiting for tokens in a gateway now, as its {@code /metrics} says ({@code tollgate_ratelimit_waiting}). */
  int waiting(Gateway g) throws Exception {
    String metrics = harness.http().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + g.managementPort() + "/metrics"))
        .build(), HttpResponse.BodyHandlers.ofString()).body();
    for (String line : metrics.split("\n")) {
      if (line.startsWith("tollgate_ratelimit_waiting ")) return (int) Double.parseDouble(line.substring(line.indexOf(' ') + 1));
    }
    throw new AssertionError("no tollgate_ratelimit_waiting on /metrics");
  }

  /** Runs the flood, then the newcomers once the flood waits; returns the flood answers that overtook the newcomers. */
  int overtaking(List<Gateway> floodVia, String floodAuth, String[] floodHeaders, Gateway newVia, String newAuth,
      String[] newHeaders) throws Exception {
    List<CompletableFuture<HttpResponse<String>>> flood = new ArrayList<>();
    for (int i = 0; i < FLOOD; i++) flood.add(send(floodVia.get(i % floodVia.size()), "flood", floodAuth, floodHeaders));
    // The newcomers arrive behind a queued flood: nearly all of it waiting in the gateways (a few answered already).
    Await.until(() -> {
      int queued = 0;
      for (Gateway g : floodVia) queued += waiting(g);
      return queued + floodSoFar() >= FLOOD - 2 && queued >= FLOOD / 2;
    }, Duration.ofSeconds(10), "the flood waits for tokens");
    int before = floodSoFar();
    List<CompletableFuture<HttpResponse<String>>> newcomers = new ArrayList<>();
    for (int i = 0; i < NEWCOMERS; i++) newcomers.add(send(newVia, "newcomer", newAuth, newHeaders));
    assertEquals(List.of(200, 200, 200), statuses(newcomers));
    assertTrue(statuses(flood).stream().allMatch(s -> s == 200), "the flood is slowed, not refused");
    return floodAnsweredWhileNewcomersWaited(before);
  }

  @Test
  void a_tenant_flooding_a_shared_app_budget_slows_only_itself() throws Exception {
    harness = GatewayHarness.builder().simulator(new SimulatorOptions().setResourceUnits(false))
        .gateway(budget("app", l -> {})).start();
    String a = RateLimitTest.jwt("tenant-a", "app-1");
    String b = RateLimitTest.jwt("tenant-b", "app-1");
    // Flows are keyed by verified identity: one call each verifies the tokens.
    assertEquals(200, harness.getAs(a, "/v1.0/users").statusCode());
    assertEquals(200, harness.getAs(b, "/v1.0/users").statusCode());
    int overtook = overtaking(List.of(harness.gateway()), a, new String[0], harness.gateway(), b, new String[0]);
    System.out.println("tenant flood answers while B waited: " + overtook);
    // Arrival order would put all ~27 queued flood requests first; round robin (quantum 1) alternates: one flood
    // request per newcomer, plus the one holding the door and answers already on their way.
    assertTrue(overtook <= 8, "flood answers while tenant B waited: " + overtook + " " + answered);
  }

  @Test
  void interactive_requests_go_ahead_of_a_queued_background_flood_and_graph_hears_the_priority() throws Exception {
    harness = GatewayHarness.builder().simulator(new SimulatorOptions().setResourceUnits(false))
        .gateway(budget("app", l -> {})).start();
    String t = RateLimitTest.jwt("tenant-a", "app-1");
    assertEquals(200, harness.getAs(t, "/v1.0/users").statusCode());
    int overtook = overtaking(List.of(harness.gateway()), t, new String[] {"X-Tollgate-Priority", "background"},
        harness.gateway(), t, new String[0]);
    System.out.println("background answers while interactive waited: " + overtook);
    assertTrue(overtook <= 4, "background answers while interactive waited: " + overtook + " " + answered);
    assertEquals(0, harness.sim().stats().gatewayHeaders(), "the lane header is never forwarded");
    assertEquals(FLOOD, harness.sim().stats().priority("low"), "background calls carry x-ms-throttle-priority: low");
    assertEquals(NEWCOMERS + 1, harness.sim().stats().priority("high"), "interactive calls carry high");
    // The per-tenant economics book each read in its lane.
    String metrics = harness.http().send(HttpRequest.newBuilder(URI.create(harness.management() + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString()).body();
    assertTrue(metrics.matches("(?s).*tollgate_tenant_reads_total\\{lane=\"background\",source=\"upstream\",tenant=\"[0-9a-f]{8}\"} "
        + FLOOD + "\\.0\n.*"), metrics);
  }

  @Test
  void with_lanes_off_the_same_interactive_requests_wait_behind_the_flood() throws Exception {
    harness = GatewayHarness.builder().simulator(new SimulatorOptions().setResourceUnits(false))
        .gateway(budget("app", l -> l.setEnabled(false))).start();
    String t = RateLimitTest.jwt("tenant-a", "app-1");
    assertEquals(200, harness.getAs(t, "/v1.0/users").statusCode());
    int overtook = overtaking(List.of(harness.gateway()), t, new String[] {"X-Tollgate-Priority", "background"},
        harness.gateway(), t, new String[0]);
    System.out.println("lanes off, answers while interactive waited: " + overtook);
    assertTrue(overtook >= 20, "one lane, one flow: first come first served; overtaken by " + overtook);
    assertEquals(0, harness.sim().stats().gatewayHeaders(), "the lane header is stripped even with lanes off");
  }

  @Test
  void lanes_hold_across_three_gateways_sharing_one_budget_in_redis() throws Exception {
    harness = GatewayHarness.builder().simulator(new SimulatorOptions().setResourceUnits(false)).redis()
        .gateway(budget("app", l -> {}).andThen(o -> o.getRateLimit().setDistributed(true).setInstances(3))).start();
    Gateway second = harness.another(budget("app", l -> {}).andThen(o -> o.getRateLimit().setDistributed(true).setInstances(3)));
    Gateway third = harness.another(budget("app", l -> {}).andThen(o -> o.getRateLimit().setDistributed(true).setInstances(3)));
    String t = RateLimitTest.jwt("tenant-a", "app-1");
    for (Gateway g : List.of(harness.gateway(), second, third)) assertEquals(200, harness.getAs(g, t, "/v1.0/users").statusCode());
    int overtook = overtaking(List.of(harness.gateway(), second), t, new String[] {"X-Tollgate-Priority", "background"},
        third, t, new String[0]);
    // Each gateway queues its own waiters and holds one reservation of the shared bucket at a time: the interactive
    // requests wait behind at most the other gateways' one each, not behind the whole flood.
    System.out.println("three gateways, background answers while interactive waited: " + overtook);
    assertTrue(overtook <= 10, "background answers while interactive waited: " + overtook + " " + answered);
  }
}
