package io.tollgate.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** Bucket arithmetic on a hand-moved nanosecond clock: counts, never wall-clock timing. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class TokenBucketTest {
  static final long MS = 1_000_000L;
  final AtomicLong now = new AtomicLong(5_000_000_000L);

  @Test
  void admits_burst_plus_rate_times_window_and_no_more() {
    TokenBucket b = new TokenBucket(50, 20, now::get);
    int admitted = 0;
    // 10 s in 1 ms steps, trying 3 requests per step: far more demand than supply.
    for (int step = 0; step < 10_000; step++) {
      for (int i = 0; i < 3; i++) if (b.tryTake(1)) admitted++;
      now.addAndGet(MS);
    }
    // 20 at once, then 50/s for the 9.999 s that refilled: 20 + 499 (the last partial token not yet there).
    assertEquals(20 + 499, admitted, 1);
  }

  @Test
  void burst_is_admitted_at_once_and_the_next_token_comes_after_one_over_rate() {
    TokenBucket b = new TokenBucket(10, 5, now::get);
    for (int i = 0; i < 5; i++) assertTrue(b.tryTake(1), "burst token " + i);
    assertFalse(b.tryTake(1));
    now.addAndGet(99 * MS);
    assertFalse(b.tryTake(1));
    now.addAndGet(1 * MS);
    assertTrue(b.tryTake(1));
  }

  @Test
  void reservations_queue_in_arrival_order_and_refuse_beyond_max_wait_without_taking_tokens() {
    TokenBucket b = new TokenBucket(10, 2, now::get);
    long maxWait = 350 * MS;
    assertEquals(0, b.reserve(1, maxWait));
    assertEquals(0, b.reserve(1, maxWait));
    assertEquals(100 * MS, b.reserve(1, maxWait), MS);
    assertEquals(200 * MS, b.reserve(1, maxWait), MS);
    assertEquals(300 * MS, b.reserve(1, maxWait), MS);
    long refused = b.reserve(1, maxWait);
    assertTrue(refused < 0, "the sixth would wait 400 ms > 350 ms");
    assertEquals(400 * MS, -refused, MS);
    // Refusal took nothing: the same request is again 400 ms away.
    assertEquals(400 * MS, -b.reserve(1, maxWait), MS);
  }

  @Test
  void cost_takes_several_tokens() {
    TokenBucket b = new TokenBucket(1, 10, now::get);
    assertTrue(b.tryTake(5));
    assertTrue(b.tryTake(5));
    assertFalse(b.tryTake(1));
  }

  @Test
  void pause_freezes_refill_drops_saved_tokens_and_pushes_back_reservations() {
    TokenBucket b = new TokenBucket(10, 10, now::get);
    assertTrue(b.pauseUntil(now.get() + 1000 * MS));
    assertFalse(b.pauseUntil(now.get() + 500 * MS), "a shorter pause changes nothing");
    assertEquals(1000 * MS, b.shift());
    assertFalse(b.tryTake(1), "a full bucket sends nothing during the pause");
    now.addAndGet(999 * MS);
    assertFalse(b.tryTake(1));
    assertEquals(1000 * MS + 100 * MS, b.reserve(1, Long.MAX_VALUE) + 999 * MS, MS);
    now.addAndGet(1 * MS);
    // After the pause the refill starts from zero: no burst of saved-up tokens.
    assertTrue(b.available() < 0);
  }

  @Test
  void pausing_a_paused_bucket_longer_extends_it_by_the_difference() {
    TokenBucket b = new TokenBucket(10, 10, now::get);
    b.pauseUntil(now.get() + 1000 * MS);
    now.addAndGet(200 * MS);
    assertFalse(b.pauseUntil(now.get() + 1500 * MS), "already paused: not a new episode");
    assertEquals(1000 * MS + 700 * MS, b.shift());
  }

  @Test
  void refund_gives_tokens_back_up_to_burst() {
    TokenBucket b = new TokenBucket(1, 3, now::get);
    assertTrue(b.tryTake(3));
    b.refund(5);
    assertEquals(3.0, b.available(), 1e-9);
  }

  @Test
  void retry_after_parses_seconds_decimals_and_http_dates() {
    Clock clock = Clock.fixed(Instant.parse("2026-01-01T00:00:00Z"), ZoneOffset.UTC);
    assertEquals(Duration.ofSeconds(3), io.tollgate.proxy.RetryAfter.parse("3", clock));
    assertEquals(Duration.ofMillis(249), io.tollgate.proxy.RetryAfter.parse("0.249", clock));
    assertEquals(Duration.ZERO, io.tollgate.proxy.RetryAfter.parse("0", clock));
    String date = DateTimeFormatter.RFC_1123_DATE_TIME.format(ZonedDateTime.parse("2026-01-01T00:00:07Z"));
    assertEquals(Duration.ofSeconds(7), io.tollgate.proxy.RetryAfter.parse(date, clock));
    String past = DateTimeFormatter.RFC_1123_DATE_TIME.format(ZonedDateTime.parse("2025-12-31T23:59:00Z"));
    assertEquals(Duration.ZERO, io.tollgate.proxy.RetryAfter.parse(past, clock));
    assertNull(io.tollgate.proxy.RetryAfter.parse("soon", clock));
    assertNull(io.tollgate.proxy.RetryAfter.parse("-1", clock));
    assertNull(io.tollgate.proxy.RetryAfter.parse(null, clock));
  }
}
