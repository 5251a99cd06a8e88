package io.tollgate.testing;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Waits on something a test can observe (a simulator count, a cache statistic, an {@code X-Cache} value, a
 * breaker state) instead of sleeping a fixed time and hoping it has happened. Called on the test thread.
 */
public final class Await {
  /** First pause between checks; it doubles up to {@link #MAX_POLL} so slow conditions are not hammered. */
  private static final long FIRST_POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
  private static final long MAX_POLL = TimeUnit.MILLISECONDS.toNanos(20);

  private Await() {}

  /** What a test waits for; may do I/O (an HTTP call, a Redis command). */
  @FunctionalInterface
  public interface Condition {
    boolean holds() throws Exception;
  }

  /**
   * Returns as soon as {@code condition} holds, checking at once and then every few milliseconds.
   *
   * <p>A condition that throws an {@link Exception} has not held yet (a server still starting refuses
   * connections); the last such exception is the cause of the timeout. One that throws an {@link Error} (a
   * failed assertion, a process that died) ends the wait at once.
   *
   * @param description what is awaited, finishing "timed out after 5s waiting until ..."
   * @throws AssertionError when {@code timeout} passes first, or the thread is interrupted
   */
  public static void until(Condition condition, Duration timeout, String description) {
    long deadline = System.nanoTime() + timeout.toNanos();
    long pause = FIRST_POLL_NANOS;
    Exception last = null;
    while (true) {
      try {
        if (condition.holds()) return;
      } catch (Exception notYet) {
        last = notYet;
      }
      long left = deadline - System.nanoTime();
      if (left <= 0) throw new AssertionError("timed out after " + timeout + " waiting until " + description, last);
      try {
        // The poll interval of this helper, the one pause in the tests: a few ms, never a guess at how long work takes.
        Thread.sleep(TimeUnit.NANOSECONDS.toMillis(Math.min(pause, left)) + 1);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted waiting until " + description, e);
      }
      pause = Math.min(pause * 2, MAX_POLL);
    }
  }
}
