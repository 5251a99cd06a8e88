package io.tollgate.ratelimit;

import io.tollgate.proxy.Charge;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.config.RateLimitOptions;
import io.tollgate.proxy.GatewayException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** The limiter's waiting: timers, FIFO order, bounds, several buckets per request. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class LocalRateLimiterTest {
  final Vertx vertx = Vertx.vertx();

  @AfterEach
  void stop() {
    vertx.close().await();
  }

  static List<Charge> one(String id, double rate, int burst) {
    return List.of(new Charge("l", id, rate, burst, 1));
  }

  @Test
  void waiters_are_admitted_in_arrival_order_and_those_beyond_max_wait_are_refused_at_once() throws Exception {
    RateLimiter limiter = RateLimiter.local(vertx, new RateLimitOptions().setMaxWait(Duration.ofMillis(600)), System::nanoTime, 1);
    List<Integer> order = new CopyOnWriteArrayList<>();
    List<Future<Permit>> all = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      int n = i;
      all.add(limiter.acquire(one("x", 10, 2)).onSuccess(p -> order.add(n)));
    }
    // burst 2 at once, then one per 100 ms: 2 + 6 within 600 ms; the ninth would wait 700 ms.
    Future<Permit> ninth = limiter.acquire(one("x", 10, 2));
    assertTrue(ninth.failed(), "refused without waiting");
    Future.join(all).await(5, TimeUnit.SECONDS);
    assertEquals(List.of(0, 1, 2, 3, 4, 5, 6, 7), order);
    GatewayException e = (GatewayException) ninth.cause();
    assertEquals(429, e.status());
    assertEquals("2", e.headers().get("RateLimit-Limit"));
    assertEquals("0", e.headers().get("RateLimit-Remaining"));
  }

  @Test
  void a_request_paying_two_buckets_refused_by_one_gives_the_other_its_tokens_back() {
    AtomicLong now = new AtomicLong();
    RateLimiter limiter = RateLimiter.local(vertx, new RateLimitOptions().setMaxWait(Duration.ZERO), now::get, 1);
    Charge roomy = new Charge("roomy", "g", 1, 5, 1);
    Charge tight = new Charge("tight", "g", 1, 1, 1);
    assertTrue(limiter.acquire(List.of(roomy, tight)).succeeded());
    for (int i = 0; i < 3; i++) assertTrue(limiter.acquire(List.of(roomy, tight)).failed());
    // roomy paid once only: 4 left.
    for (int i = 0; i < 4; i++) assertTrue(limiter.acquire(List.of(roomy)).succeeded(), "roomy token " + i);
    assertTrue(limiter.acquire(List.of(roomy)).failed());
  }

  @Test
  void the_waiter_queue_is_bounded() {
    AtomicLong now = new AtomicLong();
    RateLimiter limiter = RateLimiter.local(vertx, new RateLimitOptions().setMaxWait(Duration.ofSeconds(30)).setMaxWaiters(3), now::get, 1);
    assertTrue(limiter.acquire(one("x", 1, 1)).succeeded());
    for (int i = 0; i < 3; i++) assertTrue(!limiter.acquire(one("x", 1, 1)).isComplete(), "waiting " + i);
    assertTrue(limiter.acquire(one("x", 1, 1)).failed(), "the fourth waiter is refused");
  }

  @Test
  void a_pause_learned_while_waiting_holds_the_waiter_back() throws Exception {
    RateLimiter limiter = RateLimiter.local(vertx, new RateLimitOptions().setMaxWait(Duration.ofSeconds(5)), System::nanoTime, 1);
    assertTrue(limiter.acquire(one("x", 20, 1)).succeeded());
    long start = System.nanoTime();
    Future<Permit> waiting = limiter.acquire(one("x", 20, 1));
    assertEquals(1, limiter.pause(one("x", 20, 1), Duration.ofMillis(400)).size());
    Permit p = waiting.await(5, TimeUnit.SECONDS);
    // 50 ms reservation + 400 ms pause pushed in front of it.
    assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(440), "went after " + p.waited());
  }
}
