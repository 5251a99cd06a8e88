package io.tollgate.sim;

import io.vertx.core.json.JsonObject;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * What the simulator saw, live. Written on the simulator's event loop, read from any thread (tests, the
 * benchmark driver), hence adders and a concurrent map rather than plain fields.
 *
 * <p>Keys of {@link #count(String)} are {@code "<METHOD> <path>"} without the query string, for example
 * {@code "GET /v1.0/groups/g1/transitiveMembers"}; a {@code $batch} sub-request is counted under its own
 * method and versioned path, and the outer batch under {@code "POST /v1.0/$batch"}.
 */
public final class SimulatorStats {
  private final LongAdder total = new LongAdder();
  private final LongAdder throttled = new LongAdder();
  private final LongAdder units = new LongAdder();
  private final LongAdder sharepointUnits = new LongAdder();
  private final LongAdder errors = new LongAdder();
  private final LongAdder cancelled = new LongAdder();
  private final LongAdder unauthorized = new LongAdder();
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicInteger maxInFlight = new AtomicInteger();
  private final ConcurrentHashMap<String, LongAdder> byPath = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, LongAdder> byPriority = new ConcurrentHashMap<>();
  private final LongAdder gatewayHeaders = new LongAdder();
  private final LongAdder tokensIssued = new LongAdder();
  private final LongAdder directoryChanges = new LongAdder();
  private final LongAdder notModified = new LongAdder();
  private final LongAdder bodyBytes = new LongAdder();

  SimulatorStats() {}

  /** Graph requests received: {@code /v1.0}, {@code /beta}, and each {@code $batch} sub-request plus the batch. */
  public long total() { return total.sum(); }

  /** Requests counted under this exact {@code "METHOD /path"}; 0 when never seen. */
  public long count(String methodAndPath) {
    LongAdder n = byPath.get(methodAndPath);
    return n == null ? 0 : n.sum();
  }

  /** Sum of {@link #count(String)} over every key starting with the prefix, e.g. {@code "GET /v1.0/users"}. */
  public long countPrefix(String methodAndPathPrefix) {
    long sum = 0;
    for (Map.Entry<String, LongAdder> e : byPath.entrySet()) {
      if (e.getKey().startsWith(methodAndPathPrefix)) sum += e.getValue().sum();
    }
    return sum;
  }

  /** Throttle answers sent (429, or 503 when configured like SharePoint), sub-requests included. */
  public long throttled() { return throttled.sum(); }

  /**
   * Resource units charged to budgets while throttling is on, refused requests included (Graph charges them
   * too): what a budget floor, (units - capacity) / rate, is computed from.
   */
  public long units() { return units.sum(); }

  /** The part of {@link #units()} charged to the SharePoint budget. */
  public long sharepointUnits() { return sharepointUnits.sum(); }

  void charged(int cost, boolean sharepoint) {
    units.add(cost);
    if (sharepoint) sharepointUnits.add(cost);
  }

  /** 503 answers injected by {@code errorRate}. */
  public long errors() { return errors.sum(); }

  /** 401 answers to tokens the simulator does not accept (forged, expired, revoked). */
  public long unauthorized() { return unauthorized.sum(); }

  /** Requests whose client closed the connection before an answer was written. */
  public long cancelled() { return cancelled.sum(); }

  /** Requests open right now, test-support endpoints included, from arrival until the answer is written. */
  public int inFlight() { return inFlight.get(); }

  /** Highest {@link #inFlight()} seen since start or the last reset. */
  public int maxInFlight() { return maxInFlight.get(); }

  /** 304 answers sent to a GET whose {@code If-None-Match} matched the drive item's current ETag. */
  public long notModified() { return notModified.sum(); }

  /**
   * Bytes of Graph answer bodies written (before any gzip the server applies), sub-responses inside their
   * {@code $batch}: what a client read from "Graph", for measuring what revalidation saves.
   */
  public long bodyBytes() { return bodyBytes.sum(); }

  void notModifiedOne() { notModified.increment(); }

  void bodyBytes(long n) { bodyBytes.add(n); }

  /** {"total":n,"throttled":n,"errors":n,"cancelled":n,"unauthorized":n,"maxInFlight":n,"inFlight":n,"byPath":{"GET /v1.0/users":n}} */
  public JsonObject toJson() {
    JsonObject paths = new JsonObject();
    new TreeMap<>(byPath).forEach((k, v) -> paths.put(k, v.sum()));
    return new JsonObject().put("total", total()).put("throttled", throttled()).put("units", units()).put("sharepointUnits", sharepointUnits()).put("errors", errors())
        .put("cancelled", cancelled()).put("unauthorized", unauthorized()).put("maxInFlight", maxInFlight()).put("inFlight", inFlight())
        .put("tokensIssued", tokensIssued()).put("directoryChanges", directoryChanges())
        .put("notModified", notModified()).put("bodyBytes", bodyBytes())
        .put("byPath", paths);
  }

  /** Access tokens issued by the client-credentials endpoint. */
  public long tokensIssued() { return tokensIssued.sum(); }

  /** Users and groups changed out of band ({@code /_sim/directory}) or by the background change rate. */
  public long directoryChanges() { return directoryChanges.sum(); }

  void tokenIssued() { tokensIssued.increment(); }

  void directoryChanged() { directoryChanges.increment(); }

  @Override
  public String toString() {
    return toJson().encode();
  }

  /**
   * Requests (not sub-requests) by their {@code x-ms-throttle-priority} value, lowercase ({@code low}, {@code
   * normal}, {@code high}); 0 when never seen. Requests without the header are not counted here.
   */
  public long priority(String value) {
    LongAdder n = byPriority.get(value);
    return n == null ? 0 : n.sum();
  }

  /** Requests that arrived carrying a header whose name starts with {@code X-Tollgate-} (a gateway leaked its own). */
  public long gatewayHeaders() { return gatewayHeaders.sum(); }

  void headers(String priority, boolean gatewayHeader) {
    if (priority != null) byPriority.computeIfAbsent(priority.trim().toLowerCase(java.util.Locale.ROOT), k -> new LongAdder()).increment();
    if (gatewayHeader) gatewayHeaders.increment();
  }

  void received(String methodAndPath) {
    total.increment();
    byPath.computeIfAbsent(methodAndPath, k -> new LongAdder()).increment();
  }

  void throttledOne() { throttled.increment(); }

  void errorOne() { errors.increment(); }

  void cancelledOne() { cancelled.increment(); }

  void unauthorizedOne() { unauthorized.increment(); }

  void opened() {
    int now = inFlight.incrementAndGet();
    maxInFlight.accumulateAndGet(now, Math::max);
  }

  void closed() { inFlight.decrementAndGet(); }

  /** Zeroes the counters; requests still open stay counted in flight so the gauge cannot go negative. */
  void reset() {
    total.reset();
    throttled.reset();
    units.reset();
    sharepointUnits.reset();
    errors.reset();
    cancelled.reset();
    unauthorized.reset();
    byPath.clear();
    byPriority.clear();
    gatewayHeaders.reset();
    tokensIssued.reset();
    directoryChanges.reset();
    notModified.reset();
    bodyBytes.reset();
    maxInFlight.set(inFlight.get());
  }
}
