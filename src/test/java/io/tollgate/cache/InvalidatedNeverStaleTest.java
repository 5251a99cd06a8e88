package io.tollgate.cache;

import static io.tollgate.testing.GatewayHarness.inL1;
import static io.tollgate.testing.GatewayHarness.xCache;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.tollgate.Gateway;
import io.tollgate.config.TollgateOptions;
import io.tollgate.sim.SimulatorOptions;
import io.tollgate.testing.Await;
import io.tollgate.testing.FakeClock;
import io.tollgate.testing.GatewayHarness;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * An entry a write invalidated is gone for the stale windows too: neither stale-while-revalidate nor
 * stale-if-error brings it back, on the writer or, once it has heard of the write, on another instance that
 * shares the Redis. The shipped group route: TTL 1 h, staleWhileRevalidate 30 s, staleIfError 10 min.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class InvalidatedNeverStaleTest {
  static final String ALICE = "Bearer alice-token";
  static final String GROUP = "/v1.0/groups/g2";
  static final String RENAMED = "renamed by the write";
  // The simulator's failures carry Retry-After: 1; a retry, or the limiter pausing on it, would only wait that out.
  static final Consumer<TollgateOptions> TUNE = o -> {
    o.getRetry().setEnabled(false);
    o.getRateLimit().setEnabled(false);
  };
  final FakeClock clock = new FakeClock();
  GatewayHarness harness;
  Gateway writer;
  Gateway peer;

  @BeforeEach
  void start() throws Exception {
    harness = GatewayHarness.builder().clock(clock).redis().gateway(TUNE).start();
    writer = harness.gateway();
    peer = harness.another(TUNE);
    assertNotEquals(RENAMED, displayName(harness.getAs(ALICE, GROUP)));
    // HIT-L2 normally; HIT-L1 when the peer's first read came before the writer's L2 store (a busy machine):
    // it then fetched and holds its own copy, which is what the tests need.
    Await.until(() -> xCache(harness.getAs(peer, ALICE, GROUP)).startsWith("HIT-"), Duration.ofSeconds(5),
        "the peer holds the entry too");
  }

  @AfterEach
  void stop() {
    harness.close();
  }

  static String displayName(HttpResponse<String> r) {
    return new JsonObject(r.body()).getString("displayName");
  }

  void write() throws Exception {
    HttpResponse<String> w = harness.http().send(HttpRequest.newBuilder(URI.create(harness.proxy() + GROUP))
        .header("Authorization", ALICE).header("Content-Type", "application/json").timeout(Duration.ofSeconds(20))
        .method("PATCH", HttpRequest.BodyPublishers.ofString("{\"displayName\":\"" + RENAMED + "\"}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(204, w.statusCode(), w.body());
  }

  @Test
  void stale_while_revalidate_never_serves_an_invalidated_entry() throws Exception {
    clock.advance(Duration.ofMinutes(60).plusSeconds(10));
    write();
    HttpResponse<String> here = harness.getAs(ALICE, GROUP);
    assertNotEquals("STALE", xCache(here));
    assertEquals(RENAMED, displayName(here), "the writer");
    Await.until(() -> !inL1(peer, GROUP, ALICE), Duration.ofSeconds(5), "the peer hears of the write");
    HttpResponse<String> there = harness.getAs(peer, ALICE, GROUP);
    assertNotEquals("STALE", xCache(there));
    assertEquals(RENAMED, displayName(there), "the peer");
  }

  @Test
  void stale_if_error_never_serves_an_invalidated_entry() throws Exception {
    clock.advance(Duration.ofMinutes(65));
    write();
    harness.sim().reconfigure(new SimulatorOptions().setErrorRate(1.0));
    HttpResponse<String> here = harness.getAs(ALICE, GROUP);
    assertEquals(503, here.statusCode(), "the writer has nothing stale to serve: " + xCache(here));
    Await.until(() -> !inL1(peer, GROUP, ALICE), Duration.ofSeconds(5), "the peer hears of the write");
    HttpResponse<String> there = harness.getAs(peer, ALICE, GROUP);
    assertEquals(503, there.statusCode(), "neither has the peer: " + xCache(there));
  }
}
