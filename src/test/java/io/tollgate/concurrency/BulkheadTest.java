package io.tollgate.concurrency;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tollgate.config.BulkheadOptions;
import io.tollgate.proxy.GatewayException;
import io.tollgate.testing.GatewayHarness;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** Stage 4: bounded upstream concurrency, bounded queue, shedding. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class BulkheadTest {
  GatewayHarness harness;
  Vertx vertx;

  @AfterEach
  void stop() {
    if (harness != null) harness.close();
    if (vertx != null) vertx.close().await();
  }

  static List<HttpResponse<String>> all(List<CompletableFuture<HttpResponse<String>>> pending) throws Exception {
    List<HttpResponse<String>> out = new ArrayList<>();
    for (var f : pending) out.add(f.get(30, TimeUnit.SECONDS));
    return out;
  }

  @Test
  void upstream_calls_in_flight_never_exceed_max_in_flight() throws Exception {
    harness = GatewayHarness.builder().gateway(o -> {
      o.getRateLimit().setEnabled(false);
      o.getBulkhead().setMaxInFlight(4).setMaxQueue(100).setQueueTimeout(Duration.ofSeconds(20));
    }).start();
    List<CompletableFuture<HttpResponse<String>>> pending = new ArrayList<>();
    for (int i = 0; i < 16; i++) pending.add(harness.send("GET", "/_sim/slow?ms=300"));
    List<HttpResponse<String>> answers = all(pending);
    assertTrue(answers.stream().allMatch(r -> r.statusCode() == 200), "all served, the extra ones queued");
    assertEquals(4, harness.sim().stats().maxInFlight(), "the simulator never saw more than 4 at once");
  }

  @Test
  void requests_beyond_the_queue_are_shed_at_once_with_503_and_retry_after() throws Exception {
    harness = GatewayHarness.builder().gateway(o -> {
      o.getRateLimit().setEnabled(false);
      o.getRetry().setEnabled(false);
      o.getBulkhead().setMaxInFlight(2).setMaxQueue(2).setQueueTimeout(Duration.ofSeconds(20));
    }).start();
    List<CompletableFuture<HttpResponse<String>>> pending = new ArrayList<>();
    for (int i = 0; i < 10; i++) pending.add(harness.send("GET", "/_sim/slow?ms=500"));
    List<HttpResponse<String>> answers = all(pending);
    List<HttpResponse<String>> shed = answers.stream().filter(r -> r.statusCode() == 503).toList();
    assertEquals(4, answers.stream().filter(r -> r.statusCode() == 200).count(), "2 in flight + 2 queued");
    assertEquals(6, shed.size());
    assertEquals("1", shed.get(0).headers().firstValue("Retry-After").orElseThrow());
    assertTrue(shed.get(0).body().contains("ServiceUnavailable"));
    assertTrue(harness.sim().stats().maxInFlight() <= 2);
  }

  @Test
  void a_queued_caller_past_queue_timeout_is_shed_and_a_freed_slot_goes_to_the_oldest_waiter() throws Exception {
    vertx = Vertx.vertx();
    Bulkhead b = new Bulkhead(vertx, new BulkheadOptions().setMaxInFlight(1).setMaxQueue(2).setQueueTimeout(Duration.ofMillis(200)),
        new SimpleMeterRegistry());
    Bulkhead.Slot first = b.acquire().await();
    Future<Bulkhead.Slot> second = b.acquire();
    Future<Bulkhead.Slot> third = b.acquire();
    assertTrue(b.acquire().failed(), "queue of 2 is full");
    assertEquals(2, b.queued());
    first.release();
    first.release();
    Bulkhead.Slot s2 = second.await(2, TimeUnit.SECONDS);
    assertEquals(1, b.inFlight(), "the slot passed on; a double release freed nothing extra");
    Throwable timedOut = third.transform(ar -> Future.succeededFuture(ar.cause())).await(2, TimeUnit.SECONDS);
    assertEquals(GatewayException.BULKHEAD_TIMEOUT, timedOut);
    s2.release();
    assertEquals(0, b.inFlight());
    assertEquals(0, b.queued());
  }
}
