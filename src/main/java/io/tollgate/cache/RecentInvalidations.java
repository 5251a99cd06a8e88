package io.tollgate.cache;

import io.tollgate.config.PathPattern;
import java.util.Iterator;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The invalidations this instance applied in the last minutes (its own writes and its peers'), newest last,
 * so that an answer whose upstream read began before one of them is not stored: it may show the data as it
 * was before the write. Bounded in age and count; a store looks only at invalidations newer than its read,
 * which are few. One forgotten for the count bound is not forgotten for good: a store that began before it
 * counts as invalidated, as one older than the age bound does. Thread-safe: stores and invalidations come from
 * every event loop.
 */
final class RecentInvalidations {
  private static final long WINDOW_MS = L2Store.INVALIDATION_WINDOW_MS;
  private static final int MAX = 4096;

  private record Entry(long atMillis, PathPattern pattern) {}

  private final ConcurrentLinkedDeque<Entry> entries = new ConcurrentLinkedDeque<>();
  private final AtomicInteger size = new AtomicInteger();
  /** The time of the newest entry dropped while still within the window (the count bound): 0 when none. */
  private final AtomicLong forgottenAt = new AtomicLong();

  void add(PathPattern pattern) {
    long now;
    // Stamped and appended in one step, never earlier than the last: the deque stays in time order, which
    // invalidatedSince relies on when it stops at the first older entry. (Two threads stamping 100 and 101 and
    // appending in the other order hid the 101 from a check since 101.) Invalidations are rare; the lock is short.
    synchronized (entries) {
      Entry last = entries.peekLast();
      now = Math.max(System.currentTimeMillis(), last == null ? 0 : last.atMillis);
      entries.addLast(new Entry(now, pattern));
    }
    size.incrementAndGet();
    for (Entry oldest = entries.peekFirst(); oldest != null && (oldest.atMillis < now - WINDOW_MS || size.get() > MAX);
        oldest = entries.peekFirst()) {
      // Recorded before it goes, so a concurrent check sees it in one place or the other.
      if (oldest.atMillis >= now - WINDOW_MS) forgottenAt.accumulateAndGet(oldest.atMillis, Math::max);
      if (entries.remove(oldest)) size.decrementAndGet();
    }
  }

  /** True when an invalidation after {@code sinceMillis} covers {@code path}, or when that is too long ago to know. */
  boolean invalidatedSince(long sinceMillis, String path) {
    if (sinceMillis < System.currentTimeMillis() - WINDOW_MS || sinceMillis <= forgottenAt.get()) return true;
    for (Iterator<Entry> it = entries.descendingIterator(); it.hasNext(); ) {
      Entry e = it.next();
      // One in the same millisecond may have come after the read: it counts.
      if (e.atMillis < sinceMillis) return false;
      if (e.pattern.matches(path)) return true;
    }
    return false;
  }
}
