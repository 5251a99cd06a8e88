package io.tollgate.ratelimit;

import io.tollgate.proxy.Flow;
import io.tollgate.proxy.Lane;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * The requests waiting for one bucket, in the order they should get its tokens (SPEC 2.3): two priority lanes;
 * inside each, deficit round robin by cost over flows (tenant and app), and inside a flow, over its jobs. A flow
 * that sends ten times its share only lengthens its own queue, and more job ids never raise a flow's share,
 * because jobs only divide their flow's turn.
 *
 * <p>Lanes: while both have waiters, {@code interactive} goes first as long as its share of the recently served
 * cost is at most {@code interactiveShare} (a decaying sum, time constant {@link #LANE_MEMORY_NANOS}), so
 * background always keeps the rest and gets all that interactive leaves.
 *
 * <p>Bounded by its owner: at most {@code maxFlows} flows per lane (further ones share one overflow flow), and
 * a flow or job with nothing waiting is forgotten at once, so memory follows the waiters, not the identities
 * ever seen. Not thread-safe: {@link FairGate} holds its lock around every call. Removal is lazy: a waiter
 * that gave up is marked {@link Item#dead()} and skipped when it comes up.
 */
final class FairQueue<T extends FairQueue.Waiter> {
  /** How long served cost counts towards a lane's recent share (1/e after this long). */
  static final long LANE_MEMORY_NANOS = 2_000_000_000L;
  static final String OVERFLOW = "overflow";

  /** What waits: its cost and flow, and where it sits (kept by the queue, so that giving up is O(1)). */
  abstract static class Waiter {
    Fifo job;
    Drr.Slot flowSlot;
    boolean dead;
    /** Taken by {@link #poll}: no longer the queue's, so {@link #remove} leaves it alone. */
    boolean polled;

    abstract int cost();
    abstract Flow flow();

    /** Gave up (deadline, evicted) while queued: skipped when it comes up. */
    final boolean dead() { return dead; }
  }

  private final Drr interactive;
  private final Drr background;
  private final double interactiveShare;
  private final int maxFlows;
  private final int quantum;
  private double servedInteractive;
  private double servedBackground;
  private long decayedAt;
  private int size;

  /**
   * @param interactiveShare the most of the served cost interactive takes while background waits too (0..1)
   * @param quantum cost credited to a flow per round (about the largest single request's cost)
   * @param maxFlows flows per lane (and jobs per flow) with their own turn; more share one
   */
  FairQueue(double interactiveShare, int quantum, int maxFlows) {
    this.interactiveShare = interactiveShare;
    this.quantum = Math.max(1, quantum);
    this.maxFlows = Math.max(1, maxFlows);
    this.interactive = new Drr(this.quantum);
    this.background = new Drr(this.quantum);
  }

  /** Live waiters. */
  int size() { return size; }

  boolean isEmpty() { return size == 0; }

  /**
   * Queues a waiter behind the others of its job.
   *
   * @return the cost already waiting ahead of it in its own job (it cannot go before that is served)
   */
  long add(T w) {
    Flow f = w.flow();
    Drr lane = lane(f.lane());
    Drr.Slot flowSlot = lane.slot(lane.has(f.flow()) || lane.count() < maxFlows ? f.flow() : OVERFLOW,
        () -> new Drr(quantum));
    Drr flow = (Drr) flowSlot.child;
    Fifo job = (Fifo) flow.slot(flow.has(f.job()) || flow.count() < maxFlows ? f.job() : OVERFLOW, Fifo::new).child;
    long ahead = job.cost;
    job.add(w);
    w.job = job;
    w.flowSlot = flowSlot;
    flowSlot.live++;
    size++;
    return ahead;
  }

  /** The next waiter to serve (counted as served for the lane shares), or null when none waits. */
  @SuppressWarnings("unchecked")
  T poll(long nowNanos) {
    if (size == 0) return null;
    Lane lane = pick(nowNanos);
    Waiter w = lane(lane).poll();
    if (w == null) return null;
    w.polled = true;
    size--;
    w.flowSlot.live--;
    served(lane, w.cost(), nowNanos);
    return (T) w;
  }

  /** A queued waiter gives up: it is no longer counted, and skipped when it comes up (no-op once polled or removed). */
  void remove(T w) {
    if (w.dead || w.polled) return;
    w.dead = true;
    size--;
    w.flowSlot.live--;
    w.job.cost -= w.cost();
  }

  /**
   * The newest waiter of the flow with the most waiters, when that flow has more than {@code than} (the arriving
   * request's own flow's count): making room for a lighter flow costs the heaviest one, never the light one.
   */
  @SuppressWarnings("unchecked")
  T newestOfLargestFlow(int than) {
    Drr.Slot largest = null;
    for (Drr lane : new Drr[] {interactive, background}) {
      for (Drr.Slot s : lane.ring) if (largest == null || s.live > largest.live) largest = s;
    }
    if (largest == null || largest.live <= than) return null;
    Fifo fullest = null;
    for (Drr.Slot j : ((Drr) largest.child).ring) {
      Fifo job = (Fifo) j.child;
      if (fullest == null || job.cost > fullest.cost) fullest = job;
    }
    return fullest == null ? null : (T) fullest.newest();
  }

  /** Waiters of this flow now (in its lane). */
  int waiting(Flow f) {
    Drr lane = lane(f.lane());
    Drr.Slot s = lane.index.get(f.flow());
    if (s == null && lane.count() >= maxFlows) s = lane.index.get(OVERFLOW);
    return s == null ? 0 : s.live;
  }

  private Drr lane(Lane l) {
    return l == Lane.BACKGROUND ? background : interactive;
  }

  /**
   * While both lanes wait, interactive goes first up to its share of the recently served cost; background gets
   * the rest, and everything while interactive has nothing waiting.
   */
  private Lane pick(long now) {
    boolean i = !interactive.isEmpty();
    boolean b = !background.isEmpty();
    if (i && b) {
      decay(now);
      return servedInteractive <= interactiveShare * (servedInteractive + servedBackground) ? Lane.INTERACTIVE : Lane.BACKGROUND;
    }
    return i ? Lane.INTERACTIVE : Lane.BACKGROUND;
  }

  private void served(Lane lane, int cost, long now) {
    decay(now);
    if (lane == Lane.INTERACTIVE) servedInteractive += cost;
    else servedBackground += cost;
  }

  private void decay(long now) {
    long dt = now - decayedAt;
    if (dt <= 0) return;
    double f = Math.exp(-(double) dt / LANE_MEMORY_NANOS);
    servedInteractive *= f;
    servedBackground *= f;
    decayedAt = now;
  }

  /** A node of the tree: serves its waiters in its own order. */
  private interface Node {
    int headCost();
    Waiter poll();
    boolean isEmpty();
  }

  /** One job's waiters, first come first served. */
  private static final class Fifo implements Node {
    final ArrayDeque<Waiter> items = new ArrayDeque<>();
    /** Cost of the live waiters queued. */
    long cost;

    void add(Waiter w) {
      items.addLast(w);
      cost += w.cost();
    }

    private void skipDead() {
      while (!items.isEmpty() && items.peekFirst().dead) items.pollFirst();
    }

    @Override public int headCost() {
      skipDead();
      return items.isEmpty() ? 0 : items.peekFirst().cost();
    }

    @Override public Waiter poll() {
      skipDead();
      Waiter w = items.pollFirst();
      if (w != null) cost -= w.cost();
      return w;
    }

    @Override public boolean isEmpty() {
      skipDead();
      return items.isEmpty();
    }

    Waiter newest() {
      for (var it = items.descendingIterator(); it.hasNext(); ) {
        Waiter w = it.next();
        if (!w.dead) return w;
      }
      return null;
    }
  }

  /**
   * Deficit round robin by cost over children: the child at the front is served while its credit covers its
   * head's cost; otherwise it is credited a quantum and goes to the back. A new child starts with one quantum,
   * so a newcomer does not wait a whole round; an emptied child is forgotten.
   */
  private static final class Drr implements Node {
    static final class Slot {
      final String key;
      final Node child;
      long credit;
      /** Live waiters under it (kept for flows). */
      int live;

      Slot(String key, Node child, long credit) {
        this.key = key;
        this.child = child;
        this.credit = credit;
      }
    }

    private final int quantum;
    final ArrayDeque<Slot> ring = new ArrayDeque<>();
    final Map<String, Slot> index = new HashMap<>();

    Drr(int quantum) {
      this.quantum = quantum;
    }

    boolean has(String key) { return index.containsKey(key); }
    int count() { return index.size(); }

    Slot slot(String key, java.util.function.Supplier<Node> make) {
      Slot s = index.get(key);
      if (s == null) {
        s = new Slot(key, make.get(), quantum);
        index.put(key, s);
        ring.addLast(s);
      }
      return s;
    }

    /** The child to serve next, crediting and rotating as needed; null when all are empty. */
    private Slot select() {
      int turns = 0;
      while (!ring.isEmpty()) {
        Slot s = ring.peekFirst();
        if (s.child.isEmpty()) {
          ring.pollFirst();
          index.remove(s.key);
          continue;
        }
        if (s.credit >= s.child.headCost()) return s;
        // A whole round found nobody able to pay (costly heads, small quantum): credit the rounds it would take at once.
        if (++turns > ring.size()) {
          skipRounds();
          turns = 0;
        }
        s.credit += quantum;
        ring.addLast(ring.pollFirst());
      }
      return null;
    }

    /** Credits every child the full rounds that would pass before the first of them can pay for its head. */
    private void skipRounds() {
      long rounds = Long.MAX_VALUE;
      for (Slot s : ring) {
        if (s.child.isEmpty()) continue;
        rounds = Math.min(rounds, (s.child.headCost() - s.credit + quantum - 1) / quantum);
      }
      if (rounds == Long.MAX_VALUE || rounds <= 1) return;
      for (Slot s : ring) s.credit += (rounds - 1) * quantum;
    }

    @Override public int headCost() {
      Slot s = select();
      return s == null ? 0 : s.child.headCost();
    }

    @Override public Waiter poll() {
      Slot s = select();
      if (s == null) return null;
      Waiter w = s.child.poll();
      s.credit -= w.cost();
      if (s.child.isEmpty()) {
        ring.pollFirst();
        index.remove(s.key);
      }
      return w;
    }

    @Override public boolean isEmpty() {
      return select() == null;
    }
  }
}
