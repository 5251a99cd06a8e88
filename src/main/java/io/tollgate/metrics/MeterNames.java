package io.tollgate.metrics;

/** Every meter Tollgate registers: {@code tollgate.<component>.<thing>}, base units, low-cardinality tags. */
public final class MeterNames {
  /** Timer: proxied requests; tags route (rule name), status (2xx..5xx), cache (X-Cache value). */
  public static final String REQUESTS = "tollgate.requests";
  /** Counter: answers Tollgate produced itself; tags status, code (Graph error code). */
  public static final String GATEWAY_ERRORS = "tollgate.gateway.errors";
  /** Gauge: requests in flight on the proxy port. */
  public static final String IN_FLIGHT = "tollgate.requests.in.flight";

  public static final String TAG_ROUTE = "route";
  public static final String TAG_STATUS = "status";
  public static final String TAG_CACHE = "cache";
  public static final String TAG_CODE = "code";

  private MeterNames() {}
}
