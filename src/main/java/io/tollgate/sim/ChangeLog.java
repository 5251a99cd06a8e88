package io.tollgate.sim;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.UUID;

/**
 * Every change to the simulated directory's users and groups, in order, for the delta feeds: property
 * changes, deletions and membership changes, whoever made them (a Graph write through any client, an
 * out-of-band change through {@code /_sim/directory}, or the background change rate). A delta token is a
 * position in this log of one generation: a {@link GraphSimulator#reset} starts a new log (and a new
 * generation), {@link #expireAll} forgets every position handed out so far, and a log that outgrows its bound
 * forgets its oldest half; a token for a forgotten position gets 410 ({@code syncStateNotFound}), as an
 * identity delta token does after about 7 days in Graph. Not thread-safe: the simulator's event loop only.
 */
final class ChangeLog {
  /** What changed: {@code kind} user or group; {@code member} set for a membership change of group {@code id}. */
  record Change(String kind, String id, boolean deleted, String member, String memberType, boolean memberRemoved) {}

  private static final int MAX = 200_000;
  private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();

  private String generation = UUID.randomUUID().toString().substring(0, 8);
  private final List<Change> entries = new ArrayList<>();
  /** Position of {@code entries.get(0)}. */
  private long base;
  /** Positions below this are forgotten: their tokens get 410. */
  private long oldestValid;

  /** The position after the last change: a token for "now". */
  long head() {
    return base + entries.size();
  }

  void userChanged(String id) {
    add(new Change("user", id, false, null, null, false));
  }

  void userDeleted(String id) {
    add(new Change("user", id, true, null, null, false));
  }

  void groupChanged(String id) {
    add(new Change("group", id, false, null, null, false));
  }

  void memberChanged(String groupId, String memberId, String memberType, boolean removed) {
    add(new Change("group", groupId, false, memberId, memberType, removed));
  }

  private void add(Change c) {
    entries.add(c);
    if (entries.size() > MAX) {
      int drop = MAX / 2;
      entries.subList(0, drop).clear();
      base += drop;
      oldestValid = Math.max(oldestValid, base);
    }
  }

  /** Every position handed out so far is forgotten; the next call with an old token gets 410. */
  void expireAll() {
    generation = UUID.randomUUID().toString().substring(0, 8);
  }

  /** The changes in positions {@code [from, to)}; null when {@code from} is forgotten. */
  List<Change> between(long from, long to) {
    if (from < oldestValid || from < base || to > head() || from > to) return null;
    return entries.subList((int) (from - base), (int) (to - base));
  }

  /** An opaque token for a position. */
  String token(long position) {
    return B64.encodeToString(("d:" + generation + ":" + position).getBytes(StandardCharsets.UTF_8));
  }

  /** An opaque skip token: delta pages {@code from..to} (from -1: initial sync), resuming at {@code offset}. */
  String skipToken(long from, long to, int offset) {
    return B64.encodeToString(("p:" + generation + ":" + from + ":" + to + ":" + offset).getBytes(StandardCharsets.UTF_8));
  }

  /** A decoded delta token's position, or -1 when it is malformed, of another generation or forgotten. */
  long position(String token) {
    String[] parts = decode(token, "d", 3);
    if (parts == null) return -1;
    long p = parse(parts[2]);
    return p < oldestValid || p > head() ? -1 : p;
  }

  /** {from, to, offset} of a skip token, or null when it is malformed, of another generation or forgotten. */
  long[] skip(String token) {
    String[] parts = decode(token, "p", 5);
    if (parts == null) return null;
    long from = parse(parts[2]);
    long to = parse(parts[3]);
    long offset = parse(parts[4]);
    if (from < -1 || to < 0 || offset < 0 || to > head() || (from >= 0 && from < oldestValid)) return null;
    return new long[] {from, to, offset};
  }

  private String[] decode(String token, String kind, int fields) {
    try {
      String[] parts = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8).split(":");
      if (parts.length != fields || !parts[0].equals(kind) || !parts[1].equals(generation)) return null;
      return parts;
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  private static long parse(String s) {
    try {
      return Long.parseLong(s);
    } catch (NumberFormatException e) {
      return -2;
    }
  }
}
