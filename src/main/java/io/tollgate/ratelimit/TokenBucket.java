package io.tollgate.ratelimit;

import java.util.function.LongSupplier;

/**
 * A token bucket that hands out reservations: a request that finds too few tokens still takes them (the
 * balance goes negative) and is told how long to wait until its debt is repaid. Later requests queue behind
 * that debt, which makes waiting FIFO without a waiter list, and a request whose wait would exceed its limit
 * is refused without touching the balance.
 *
 * <p>A pause (learned from an upstream {@code Retry-After}) freezes the refill until an instant and drops any
 * saved-up tokens, so nothing is sent before the upstream asked and no burst follows the pause. Reservations
 * already handed out are pushed back by the same amount: {@link #shift()} grows by it, and a waiter that sees
 * the shift grow since it reserved waits the difference before it goes.
 *
 * <p>Invariants: {@code tokens <= burst}; refill only between {@code max(last, pausedUntil)} and now.
 * Thread-safe: proxy verticles on several event loops share one bucket; every method is a short critical
 * section on the bucket itself. Time comes from the injected nanosecond clock (tests move it by hand).
 */
public final class TokenBucket {
  private double ratePerNano;
  private double ratePerSecond;
  private final int burst;
  private final LongSupplier nanoTime;
  private double tokens;
  private long last;
  private long pausedUntil;
  private long shift;
  private boolean demand;
  /** Since a pause: the upstream has not answered anything but a throttle through this bucket yet. */
  private boolean awaitingProbe;
  /** A request is out as the probe of this pause (stale-capable requests do not follow it). */
  private boolean probeOut;

  /** A full bucket. */
  public TokenBucket(double ratePerSecond, int burst, LongSupplier nanoTime) {
    if (!(ratePerSecond > 0) || burst < 1) throw new IllegalArgumentException("rate > 0 and burst >= 1 required");
    this.ratePerSecond = ratePerSecond;
    this.ratePerNano = ratePerSecond / 1e9;
    this.burst = burst;
    this.nanoTime = nanoTime;
    this.tokens = burst;
    this.last = nanoTime.getAsLong();
    this.pausedUntil = last;
  }

  public synchronized double rate() { return ratePerSecond; }

  /** From now on refills at {@code ratePerSecond} (what was saved up so far was refilled at the old rate). */
  public synchronized void rate(double ratePerSecond) {
    if (!(ratePerSecond > 0)) throw new IllegalArgumentException("rate > 0 required");
    refill(nanoTime.getAsLong());
    this.ratePerSecond = ratePerSecond;
    this.ratePerNano = ratePerSecond / 1e9;
  }

  /** True when a request had to wait for tokens (or was refused) since {@link #clearDemand()}: demand exceeds the rate. */
  public synchronized boolean demand() {
    return demand;
  }

  public synchronized void clearDemand() {
    demand = false;
  }
  public int burst() { return burst; }

  /**
   * Takes {@code cost} tokens now or as a reservation.
   *
   * @return nanoseconds to wait before going (0 = at once); or, when that wait would exceed
   *     {@code maxWaitNanos}, minus the wait needed (nothing taken)
   */
  public synchronized long reserve(int cost, long maxWaitNanos) {
    long now = nanoTime.getAsLong();
    refill(now);
    long wait = Math.max(0, pausedUntil - now);
    double deficit = cost - tokens;
    if (deficit > 0) {
      wait += (long) Math.ceil(deficit / ratePerNano);
      demand = true;
    }
    if (wait > maxWaitNanos) return -Math.max(1, wait);
    tokens -= cost;
    return wait;
  }

  /**
   * Least nanoseconds before {@code cost} tokens could be taken after {@code ahead} more were: the pause left
   * plus the refill of the shortfall. A waiter that cannot go even then is refused at once.
   */
  public synchronized long leastWait(long cost, long ahead) {
    long now = nanoTime.getAsLong();
    refill(now);
    long wait = Math.max(0, pausedUntil - now);
    double deficit = cost + ahead - tokens;
    if (deficit > 0) wait += (long) Math.ceil(deficit / ratePerNano);
    return wait;
  }

  /** Takes the tokens only if they are there now (and the bucket is not paused). */
  public boolean tryTake(int cost) {
    return reserve(cost, 0) >= 0;
  }

  /** Takes tokens a request turned out to cost besides its charge; the balance may go negative (later ones wait). */
  public synchronized void charge(int extra) {
    refill(nanoTime.getAsLong());
    tokens -= extra;
  }

  /** Gives back tokens of a reservation that was not used (another limit refused the request). */
  public synchronized void refund(int cost) {
    tokens = Math.min(burst, tokens + cost);
  }

  /**
   * Freezes the refill until {@code untilNanos} (on this bucket's clock) and drops saved-up tokens.
   *
   * @return true when this extended the pause, false when the bucket was already paused at least that long
   */
  public synchronized boolean pauseUntil(long untilNanos) {
    long now = nanoTime.getAsLong();
    refill(now);
    long from = Math.max(now, pausedUntil);
    if (untilNanos <= from) return false;
    boolean wasPaused = pausedUntil > now;
    shift += untilNanos - from;
    pausedUntil = untilNanos;
    awaitingProbe = true;
    probeOut = false;
    tokens = Math.min(tokens, 0);
    return !wasPaused;
  }

  /** Total nanoseconds by which pauses pushed back reservations, ever. */
  public synchronized long shift() {
    return shift;
  }

  /** Tokens there now; negative while reservations are outstanding. */
  public synchronized double available() {
    refill(nanoTime.getAsLong());
    return tokens;
  }

  public synchronized boolean paused() {
    return pausedUntil > nanoTime.getAsLong();
  }

  /**
   * For a request that has a stale answer at hand: true to answer with it instead of going upstream, which is
   * while the bucket is paused, and after the pause while another request is out as its probe. Otherwise the
   * caller goes, and when a pause still awaits its probe, it is that probe ({@link #probeDone()} afterwards).
   */
  public synchronized boolean holdForProbe() {
    if (pausedUntil > nanoTime.getAsLong()) return true;
    if (!awaitingProbe) return false;
    if (probeOut) return true;
    probeOut = true;
    return false;
  }

  /** The probe came back, whatever it said: a throttle has paused again, an answer has {@link #clearProbe()}. */
  public synchronized void probeDone() {
    probeOut = false;
  }

  /** The upstream answered through this bucket without throttling: the pause is over for everyone. */
  public synchronized void clearProbe() {
    awaitingProbe = false;
    probeOut = false;
  }

  private void refill(long now) {
    long from = Math.max(last, pausedUntil);
    if (now > from) tokens = Math.min(burst, tokens + (now - from) * ratePerNano);
    if (now > last) last = now;
  }
}
