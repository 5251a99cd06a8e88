package io.tollgate.testing;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicLong;

/** A clock tests move by hand, so TTLs and stale windows are tested without sleeping. */
public final class FakeClock extends Clock {
  private final AtomicLong millis = new AtomicLong(1_800_000_000_000L);

  public void advance(Duration d) {
    millis.addAndGet(d.toMillis());
  }

  @Override public long millis() { return millis.get(); }
  @Override public Instant instant() { return Instant.ofEpochMilli(millis.get()); }
  @Override public ZoneId getZone() { return ZoneOffset.UTC; }
  @Override public Clock withZone(ZoneId zone) { return this; }
}
