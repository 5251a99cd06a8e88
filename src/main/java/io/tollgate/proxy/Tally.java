package io.tollgate.proxy;

import io.tollgate.metrics.TenantEconomics;
import io.vertx.core.http.HttpMethod;
import java.time.Duration;

/**
 * What one client request cost and saved upstream (issue 11's per-tenant economics): the stages note what happens
 * as it happens ({@link UpstreamSpend} each upstream answer, the limiter its wait and re-queued 429s, the
 * resilience stage its retries, the {@code $batch} stage each sub-request), and {@link ProxyVerticle} books the lot
 * once to the caller's tenant and lane when the answer has gone out ({@link #book}); whatever arrives after that
 * (the upstream call of a stale-while-revalidate refresh) is booked as it arrives. One per client request, shared
 * by its derived {@code $batch} calls; touched only on the proxy verticle's event loop, like its {@link Exchange}.
 *
 * <p>A plain read (GET or HEAD) is one read: from the cache when a cache entry answered ({@code HIT-L1},
 * {@code HIT-L2}, {@code STALE}) or when another request's upstream call did (a coalesced follower makes no call of
 * its own); from the upstream when its own call did ({@code MISS}, {@code BYPASS}, {@code REVALIDATED}: a conditional
 * call is still a call); refused when the client got a 429/503 or an error Tollgate answered itself, which it will
 * send again. A {@code $batch} is no read itself; each of its GET sub-requests is one ({@link #read}).
 */
public final class Tally {
  /** Where a read's answer came from. */
  public enum Source { CACHE, UPSTREAM, REFUSED }

  private int upstreamAnswers;
  private long cacheReads;
  private long upstreamReads;
  private long refusedReads;
  private long ruSpent;
  private long ruSaved;
  private long absorbed;
  private long retries;
  private long waitNanos;
  /** For the access log, kept across bookings: the last upstream status, total upstream time, total wait. */
  private int upstreamStatus;
  private long upstreamNanos;
  private long waitedNanos;
  private TenantEconomics economics;
  private Caller caller;
  private int lane;

  /** An upstream call made for this request answered {@code status} after {@code nanos} (the access log's figures). */
  public void upstreamCall(int status, long nanos) {
    upstreamStatus = status;
    upstreamNanos += nanos;
  }

  /** The last upstream call's status, or 0 when none answered. */
  public int upstreamStatus() { return upstreamStatus; }
  /** Time spent in upstream calls, all attempts. */
  public long upstreamNanos() { return upstreamNanos; }
  /** Time waited for rate-limit tokens, all attempts. */
  public long waitedNanos() { return waitedNanos; }

  /** The upstream answered one call made for this request (not a {@code $batch} chunk), costing {@code resourceUnits}. */
  public void upstreamAnswered(int resourceUnits) {
    upstreamAnswers++;
    ruSpent += resourceUnits;
    flushIfBooked();
  }

  /** A {@code $batch} sub-response came from the upstream, costing {@code resourceUnits} (429s included). */
  public void spent(int resourceUnits) {
    ruSpent += resourceUnits;
    flushIfBooked();
  }

  /** One read answered (a {@code $batch} GET sub-request); {@code cost} is its route's price, saved on a cache read. */
  public void read(Source source, int cost) {
    switch (source) {
      case CACHE -> {
        cacheReads++;
        ruSaved += cost;
      }
      case UPSTREAM -> upstreamReads++;
      case REFUSED -> refusedReads++;
    }
    flushIfBooked();
  }

  /** The request waited this long for rate-limit tokens. */
  public void waited(Duration waited) {
    waitNanos += waited.toNanos();
    waitedNanos += waited.toNanos();
    flushIfBooked();
  }

  /** An upstream 429 the client will not see (answered from a stale entry instead). */
  public void absorbed() {
    absorbed++;
    flushIfBooked();
  }

  /** The request goes upstream again; {@code afterThrottle} when the attempt before was a 429 the client will not see. */
  public void retried(boolean afterThrottle) {
    retries++;
    if (afterThrottle) absorbed++;
    flushIfBooked();
  }

  /**
   * The answer has gone out: counts the read a plain GET/HEAD was and books everything to the caller's tenant now.
   *
   * @param economics the table, or null when nothing is booked
   * @param cache where the answer came from, or null when the client left before it
   * @param ownAnswer the answer is an error Tollgate produced itself
   */
  void book(TenantEconomics economics, Exchange ex, int status, XCache cache, boolean ownAnswer) {
    if (economics == null) return;
    HttpMethod m = ex.method();
    if (cache != null && (m == HttpMethod.GET || m == HttpMethod.HEAD)) {
      Source source;
      if (ownAnswer || status == 429 || status == 503) source = Source.REFUSED;
      else if (cache == XCache.HIT_L1 || cache == XCache.HIT_L2 || cache == XCache.STALE || upstreamAnswers == 0) source = Source.CACHE;
      else source = Source.UPSTREAM;
      switch (source) {
        case CACHE -> {
          cacheReads++;
          ruSaved += ex.route().cost();
        }
        case UPSTREAM -> upstreamReads++;
        case REFUSED -> refusedReads++;
      }
    }
    this.economics = economics;
    this.caller = ex.caller();
    this.lane = ex.lane().ordinal();
    flushIfBooked();
  }

  private void flushIfBooked() {
    if (economics == null) return;
    if ((cacheReads | upstreamReads | refusedReads | ruSpent | ruSaved | absorbed | retries | waitNanos) == 0) return;
    economics.row(caller.verifiedTenant(), lane).add(cacheReads, upstreamReads, refusedReads, ruSpent, ruSaved, absorbed,
        retries, waitNanos);
    cacheReads = upstreamReads = refusedReads = ruSpent = ruSaved = absorbed = retries = waitNanos = 0;
  }
}
