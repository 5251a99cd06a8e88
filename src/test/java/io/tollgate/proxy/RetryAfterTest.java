package io.tollgate.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** Every Retry-After Tollgate sends is whole seconds, rounded up, 1 to 180: the only form every Graph SDK reads. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class RetryAfterTest {
  final Clock clock = Clock.fixed(Instant.parse("2026-12-02T10:00:00Z"), ZoneOffset.UTC);

  @Test
  void waits_are_written_as_whole_seconds_rounded_up_between_1_and_180() {
    assertEquals("1", RetryAfter.header(Duration.ZERO));
    assertEquals("1", RetryAfter.header(Duration.ofMillis(249)));
    assertEquals("2", RetryAfter.header(Duration.ofMillis(1001)));
    assertEquals("120", RetryAfter.header(Duration.ofSeconds(120)));
    assertEquals("180", RetryAfter.header(Duration.ofSeconds(315)), "SharePoint's long pauses are capped where the SDKs cap");
  }

  @Test
  void upstream_values_in_any_form_are_passed_on_in_that_one_form() {
    assertEquals("1", RetryAfter.normalise("0.249", clock));
    assertEquals("3", RetryAfter.normalise("2.5", clock));
    assertEquals("7", RetryAfter.normalise(ZonedDateTime.now(clock).plusSeconds(7).format(DateTimeFormatter.RFC_1123_DATE_TIME), clock));
    assertEquals("180", RetryAfter.normalise("315", clock));
    assertEquals("1", RetryAfter.normalise("soon", clock));
  }
}
