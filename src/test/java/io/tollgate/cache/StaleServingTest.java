package io.tollgate.cache;

import static io.tollgate.testing.GatewayHarness.xCache;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tollgate.sim.SimulatorOptions;
import io.tollgate.testing.Await;
import io.tollgate.testing.FakeClock;
import io.tollgate.testing.GatewayHarness;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** Expiry and the stale windows of the shipped routes (TTL 1 h, staleWhileRevalidate 30 s, staleIfError 10 min), on a fake clock. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class StaleServingTest {
  static final String ALICE = "Bearer alice-token";
  final FakeClock clock = new FakeClock();
  GatewayHarness harness;

  @BeforeEach
  void start() {
    // The simulator's failures carry Retry-After: 1; a retry, or the limiter pausing on it, would only wait that out.
    harness = GatewayHarness.builder().clock(clock).gateway(o -> {
      o.getRetry().setEnabled(false);
      o.getRateLimit().setEnabled(false);
    }).start();
  }

  @AfterEach
  void stop() {
    harness.close();
  }

  @Test
  void entries_expire_after_their_ttl_and_stale_windows() throws Exception {
    harness.getAs(ALICE, "/v1.0/users/u2");
    clock.advance(Duration.ofMinutes(59));
    assertEquals("HIT-L1", xCache(harness.getAs(ALICE, "/v1.0/users/u2")));
    clock.advance(Duration.ofMinutes(12));
    assertEquals("MISS", xCache(harness.getAs(ALICE, "/v1.0/users/u2")), "1 h TTL + 10 min staleIfError passed");
    assertEquals(2, harness.sim().stats().count("GET /v1.0/users/u2"));
  }

  @Test
  void stale_while_revalidate_serves_the_old_entry_and_refreshes_once() throws Exception {
    harness.getAs(ALICE, "/v1.0/sites/s1");
    clock.advance(Duration.ofMinutes(60).plusSeconds(10));
    HttpResponse<String> stale = harness.getAs(ALICE, "/v1.0/sites/s1");
    assertEquals("STALE", xCache(stale));
    assertEquals("3610", stale.headers().firstValue("Age").orElse(null));
    Await.until(() -> harness.sim().stats().count("GET /v1.0/sites/s1") == 2, Duration.ofSeconds(10), "one background refresh");
    Await.until(() -> "HIT-L1".equals(xCache(harness.getAs(ALICE, "/v1.0/sites/s1"))), Duration.ofSeconds(10),
        "the refreshed entry is served fresh");
    assertEquals(2, harness.sim().stats().count("GET /v1.0/sites/s1"));
  }

  @Test
  void stale_if_error_serves_the_old_entry_when_the_upstream_fails() throws Exception {
    harness.getAs(ALICE, "/v1.0/sites/s2");
    clock.advance(Duration.ofMinutes(65));
    harness.sim().reconfigure(new SimulatorOptions().setErrorRate(1.0));
    HttpResponse<String> r = harness.getAs(ALICE, "/v1.0/sites/s2");
    assertEquals(200, r.statusCode());
    assertEquals("STALE", xCache(r));
    assertEquals(503, harness.getAs(ALICE, "/v1.0/sites/s3").statusCode(), "nothing stale to serve: the error passes");
    clock.advance(Duration.ofMinutes(10));
    assertEquals(503, harness.getAs(ALICE, "/v1.0/sites/s2").statusCode(), "past staleIfError");
  }
}
