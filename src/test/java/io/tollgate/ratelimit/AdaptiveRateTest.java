package io.tollgate.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class AdaptiveRateTest {
  static final long SECOND = AdaptiveRate.STEP_NANOS;
  static final double NO_USAGE = Double.NaN;
  long now = 1_000 * SECOND;

  AdaptiveRate estimate(double start) {
    return new AdaptiveRate(start, Double.POSITIVE_INFINITY, now);
  }

  @Test
  void an_estimate_grows_fast_at_first_while_demand_waits_and_the_upstream_says_nothing() {
    AdaptiveRate r = estimate(100);
    now += SECOND;
    assertEquals(new AdaptiveRate.Change(100, 150, AdaptiveRate.Reason.SLOW_START), r.answered(now, NO_USAGE, true));
    assertNull(r.answered(now + AdaptiveRate.SLOW_START_STEP_NANOS / 2, NO_USAGE, true), "one step per second");
    now += AdaptiveRate.SLOW_START_STEP_NANOS;
    assertEquals(225, r.answered(now, NO_USAGE, true).to(), 1e-9);
  }

  @Test
  void without_demand_it_does_not_grow_or_an_idle_budget_would_climb_without_limit() {
    AdaptiveRate r = estimate(100);
    for (int i = 0; i < 5; i++) {
      now += SECOND;
      assertNull(r.answered(now, NO_USAGE, false));
    }
    assertEquals(100, r.rate(), 1e-9);
  }

  @Test
  void a_throttle_cuts_by_thirty_percent_once_per_step_and_growth_after_it_is_additive() {
    AdaptiveRate r = estimate(100);
    now += SECOND;
    r.answered(now, NO_USAGE, true); // 150
    AdaptiveRate.Change cut = r.throttled(now + 1);
    assertEquals(75, cut.to(), 1e-9, "the first throttle ends slow start with a halving");
    assertNull(r.throttled(now + 2), "answers already in flight say the same again: no second cut");
    assertNull(r.answered(now + SECOND / 2, NO_USAGE, true), "no growth right after a cut");
    now += 2 * SECOND;
    AdaptiveRate.Change grown = r.answered(now, NO_USAGE, true);
    assertEquals(AdaptiveRate.Reason.INCREASE, grown.reason());
    assertEquals(75 + 75 * AdaptiveRate.ADDITIVE_SHARE, grown.to(), 1e-9);
    now += SECOND;
    assertEquals(0.7 * grown.to(), r.throttled(now).to(), 1e-9, "later throttles cut by 30 %");
  }

  @Test
  void usage_past_eighty_percent_holds_and_past_ninety_five_slows_before_the_429s() {
    AdaptiveRate r = estimate(200);
    now += SECOND;
    assertEquals(new AdaptiveRate.Change(200, 100, AdaptiveRate.Reason.USAGE), r.answered(now, 0.81, true),
        "the first sign of a spent budget ends slow start with a halving");
    now += SECOND;
    assertNull(r.answered(now, 0.85, true), "near the limit: hold");
    now += SECOND;
    assertNull(r.answered(now, 0.9, true));
    assertEquals(100, r.rate(), 1e-9);
    now += SECOND;
    assertEquals(new AdaptiveRate.Change(100, 90, AdaptiveRate.Reason.USAGE), r.answered(now, 0.97, false));
    now += 2 * SECOND;
    AdaptiveRate.Change after = r.answered(now, 0.5, true);
    assertEquals(AdaptiveRate.Reason.INCREASE, after.reason(), "slow start ended when the upstream said it was near");
  }

  @Test
  void a_ceiling_is_never_exceeded_and_learns_back_up_to_it_after_a_throttle() {
    AdaptiveRate r = new AdaptiveRate(100, 100, now);
    now += SECOND;
    assertNull(r.answered(now, NO_USAGE, true), "already at its ceiling");
    assertEquals(70, r.throttled(now).to(), 1e-9);
    for (int i = 0; i < 20; i++) {
      now += SECOND;
      r.answered(now, NO_USAGE, true);
    }
    assertEquals(100, r.rate(), 1e-9);
  }

  @Test
  void max_growth_caps_an_estimate() {
    AdaptiveRate r = new AdaptiveRate(100, 200, now);
    for (int i = 0; i < 10; i++) {
      now += SECOND;
      r.answered(now, NO_USAGE, true);
    }
    assertEquals(200, r.rate(), 1e-9);
  }

  @Test
  void it_never_falls_below_a_hundredth_of_the_configured_rate() {
    AdaptiveRate r = estimate(100);
    for (int i = 0; i < 50; i++) {
      now += SECOND;
      r.throttled(now);
    }
    assertEquals(1, r.rate(), 1e-9);
    assertNull(r.throttled(now + 2 * SECOND), "at the floor nothing changes");
    assertNotNull(r.answered(now + 4 * SECOND, NO_USAGE, true));
  }
}
