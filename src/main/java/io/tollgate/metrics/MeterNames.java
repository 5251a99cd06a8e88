package io.tollgate.metrics;

/** Every meter Tollgate registers: {@code tollgate.<component>.<thing>}, base units, low-cardinality tags. */
public final class MeterNames {
  /** Timer: proxied requests; tags route (rule name), status (2xx..5xx), cache (X-Cache value). */
  public static final String REQUESTS = "tollgate.requests";
  /** Counter: answers sent to clients; tag code (the exact status). */
  public static final String RESPONSES = "tollgate.responses";
  /** Counter: answers Tollgate produced itself; tags status, code (Graph error code). */
  public static final String GATEWAY_ERRORS = "tollgate.gateway.errors";
  /**
   * Timer: HTTP requests to the upstream, retries included, until the answer's head; tags origin, code (the status).
   * Tollgate's own, in place of Vert.x's HTTP client metrics, which a profile showed costing ~4 % of pass-through.
   */
  public static final String UPSTREAM_REQUESTS = "tollgate.upstream.requests";
  /** Gauge: requests in flight on the proxy port. */
  public static final String IN_FLIGHT = "tollgate.requests.in.flight";

  /** Counter: requests that waited for rate-limit tokens. */
  public static final String RATELIMIT_WAITS = "tollgate.ratelimit.waits";
  /** Counter: tokens those requests waited for. */
  public static final String RATELIMIT_TOKENS_WAITED = "tollgate.ratelimit.tokens.waited";
  /** Timer: time waited for tokens (histogram). */
  public static final String RATELIMIT_WAIT = "tollgate.ratelimit.wait";
  /** Counter: 429s the rate limiter produced. */
  public static final String RATELIMIT_REJECTED = "tollgate.ratelimit.rejected";
  /** Counter: bucket pauses learned from an upstream Retry-After. */
  public static final String RATELIMIT_PAUSES = "tollgate.ratelimit.pauses";
  /** Counter: upstream 429s absorbed: the request waited in its bucket's queue again instead of seeing the 429. */
  public static final String RATELIMIT_REQUEUED = "tollgate.ratelimit.requeued";
  /** Counter: requests answered from a stale entry (X-Cache: STALE) instead of waiting out an upstream pause. */
  public static final String RATELIMIT_STALE_WHILE_THROTTLED = "tollgate.ratelimit.stale.while.throttled";
  /** Gauge: 1 while distributed buckets fell back to local ones (Redis lost), else 0. */
  public static final String RATELIMIT_FALLBACK = "tollgate.ratelimit.fallback";
  /** Counter: tokens admitted (spent) by each configured limit; tag limit. Its rate over the limit's rate is the
   *  budget's use (the dashboard shows it). */
  public static final String RATELIMIT_TOKENS = "tollgate.ratelimit.tokens";
  /** Requests waiting for rate-limit tokens now (queued or sleeping on a reservation), this gateway. */
  public static final String RATELIMIT_WAITING = "tollgate.ratelimit.waiting";
  /** Counter: upstream 429s (and 503s with Retry-After); tags route, status. */
  public static final String UPSTREAM_THROTTLED = "tollgate.upstream.throttled";
  /** Gauge: the rate a bucket has learned, tokens per second; tags limit, scope (bucket hash), mode. */
  public static final String RATELIMIT_LEARNED_RATE = "tollgate.ratelimit.learned.rate";
  /** Counter: learned-rate changes; tags limit, reason (slow-start, increase, usage, throttled). */
  public static final String RATELIMIT_RATE_CHANGES = "tollgate.ratelimit.rate.changes";
  /** Counter: tokens taken (or given back, negative) because x-ms-resource-unit differed from the estimate. */
  public static final String RATELIMIT_SETTLED_TOKENS = "tollgate.ratelimit.settled.tokens";
  /** Gauge: upstream calls holding a bulkhead slot. */
  public static final String BULKHEAD_IN_FLIGHT = "tollgate.bulkhead.in.flight";
  /** Gauge: requests waiting for a bulkhead slot. */
  public static final String BULKHEAD_QUEUE = "tollgate.bulkhead.queue";
  /** Counter: requests shed with 503; tag reason (full, timeout). */
  public static final String BULKHEAD_SHED = "tollgate.bulkhead.shed";
  /** Gauge: breaker state per origin: 0 closed, 1 half-open, 2 open. */
  public static final String BREAKER_STATE = "tollgate.breaker.state";
  /** Counter: breaker transitions; tags origin, state (the new one). */
  public static final String BREAKER_TRANSITIONS = "tollgate.breaker.transitions";
  /** Counter: retries; tag cause (connect, timeout, 429, 502, 503, 504). */
  public static final String RETRIES = "tollgate.retry.attempts";
  /** Counter: retries refused by the retry budget. */
  public static final String RETRY_BUDGET_EXHAUSTED = "tollgate.retry.budget.exhausted";

  /** Counter: ETag revalidations of expired or soft-purged entries sent upstream ({@code If-None-Match}); tag outcome:
   *  not-modified (304: the entry made fresh without a body), changed (a new answer replaced it), failed (anything
   *  else: an error, a failed call). */
  public static final String CACHE_REVALIDATIONS = "tollgate.cache.revalidations";
  /** Counter: 304s the cache answered itself to a client's own matching {@code If-None-Match}. */
  public static final String CACHE_NOT_MODIFIED = "tollgate.cache.not.modified";
  /** Outcome of a revalidation: not-modified, changed, failed. */
  public static final String TAG_OUTCOME = "outcome";

  /** Counter: reads per tenant and lane; tag source: cache (a cache entry or a coalesced call), upstream, refused
   *  (a 429/503 or Tollgate's own error: the client sends it again). A $batch sub-request is one read. */
  public static final String TENANT_READS = "tollgate.tenant.reads";
  /** Counter: resource units per tenant and lane; tag kind: spent (upstream calls, x-ms-resource-unit when said,
   *  else the route's cost), saved (reads the cache answered x the route's cost). */
  public static final String TENANT_RU = "tollgate.tenant.ru";
  /** Counter: upstream 429s (and 503s with Retry-After) the tenant's clients never saw: re-queued, retried,
   *  $batch sub-requests resent, answered stale instead. */
  public static final String TENANT_THROTTLES_ABSORBED = "tollgate.tenant.throttles.absorbed";
  /** Counter: upstream calls made again for the same request (retries, re-queued 429s, $batch sub-requests resent). */
  public static final String TENANT_RETRIES = "tollgate.tenant.retries";
  /** Counter, seconds: time the tenant's requests waited for rate-limit tokens. */
  public static final String TENANT_WAIT = "tollgate.tenant.wait";

  /** Counter, tag {@code feed} (users|groups) and {@code outcome} (ok|gone|error|standby): delta feed polls. */
  public static final String FRESHNESS_DELTA_POLLS = "tollgate.freshness.delta.polls";
  /** Counter, tag {@code feed}: changed or removed objects the delta feed reported (replays included). */
  public static final String FRESHNESS_DELTA_CHANGES = "tollgate.freshness.delta.objects.changed";
  /** Counter, tag {@code feed}: cached entries (all partitions, this instance's L1 and L2) the delta feed evicted. */
  public static final String FRESHNESS_DELTA_EVICTIONS = "tollgate.freshness.delta.evictions";
  /** Gauge, seconds, tag {@code feed}: time since this instance's feed last reached its deltaLink (0 before the first; standby instances report their last). */
  public static final String FRESHNESS_DELTA_LAG = "tollgate.freshness.delta.lag";
  /** Counter: stored answers of delta-fed routes indexed by the object ids they mention. */
  public static final String FRESHNESS_DELTA_INDEXED = "tollgate.freshness.delta.indexed";
  /** Counter, tag {@code feed}: resyncs (410, lost cursor) that evicted every delta-fed route. */
  public static final String FRESHNESS_DELTA_RESYNCS = "tollgate.freshness.delta.resyncs";
  /** Counter, tag {@code resource} (users|groups|lifecycle|other): change notifications accepted (clientState matched). */
  public static final String FRESHNESS_NOTIFICATIONS_RECEIVED = "tollgate.freshness.notifications.received";
  /** Counter, tag {@code reason} (clientState|malformed|tooLarge): notifications or bodies refused or ignored. */
  public static final String FRESHNESS_NOTIFICATIONS_REJECTED = "tollgate.freshness.notifications.rejected";
  /** Counter: cached entries (all partitions, this instance's L1 and L2) evicted because of a notification. */
  public static final String FRESHNESS_NOTIFICATIONS_EVICTIONS = "tollgate.freshness.notifications.evictions";
  /** Counter, tag {@code resource} and {@code outcome} (created|renewed|recreated|failed): subscription writes. */
  public static final String FRESHNESS_SUBSCRIPTIONS = "tollgate.freshness.subscriptions";
  public static final String TAG_ROUTE = "route";
  public static final String TAG_LIMIT = "limit";
  public static final String TAG_SCOPE = "scope";
  public static final String TAG_MODE = "mode";
  public static final String TAG_ORIGIN = "origin";
  public static final String TAG_STATE = "state";
  public static final String TAG_CAUSE = "cause";
  public static final String TAG_REASON = "reason";
  public static final String TAG_STATUS = "status";
  public static final String TAG_CACHE = "cache";
  public static final String TAG_CODE = "code";
  /** A tenant's alias, the first 8 hex of SHA-256 of its id, {@code unverified} or {@code other}: never the id. */
  public static final String TAG_TENANT = "tenant";
  public static final String TAG_LANE = "lane";
  public static final String TAG_SOURCE = "source";
  public static final String TAG_KIND = "kind";

  private MeterNames() {}
}
