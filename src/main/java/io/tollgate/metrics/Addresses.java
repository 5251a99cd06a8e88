package io.tollgate.metrics;

/** Every event-bus address Tollgate uses (SPEC §4), with its kind, sender, listeners and body. */
public final class Addresses {
  /** Publish, every stats.interval, by CacheVerticle.
   *  {"l1":{"hits":12,"misses":3,"hitRate":0.8,"size":9,"weightBytes":40960,"evictions":0},
   *   "l2":{"hits":2,"misses":1,"errors":0,"connected":true},"coalesced":4,"staleServed":0,
   *   "revalidations":{"notModified":5,"changed":1,"failed":0,"clientNotModified":2},
   *   "tenants":[{"tenant":"contoso","lane":"interactive","reads":{"cache":9,"upstream":3,"refused":0},
   *   "ru":{"spent":6,"saved":18},"throttlesAbsorbed":1,"retries":1,"waitMs":250}],
   *   "instance":"5b0e6c1e-3f0a-4c54-9a34-8f1d2e7b9c10","at":"2026-11-22T10:00:00Z"}
   *  (tenants: {@link TenantEconomics#toJson()}, also on /admin/cache/stats; instance: the publishing gateway's id for
   *  its lifetime, which tells gateways apart when the event bus is clustered). Crosses the cluster. Listeners: the
   *  dashboard (a local consumer of the management verticle, relayed to its viewers), the SockJS bridge. */
  public static final String CACHE_STATS = "tollgate.cache.stats";
  /** Request/reply, CacheVerticle's API: {"action":"get|put|invalidate|clear", ...}. A local consumer: never reachable
   *  from another member of a clustered event bus (only through this instance's bridge, with the admin token). */
  public static final String CACHE = "tollgate.cache";
  /** Publish: {"type":"throttled|circuit|l2|rateLimit", ..., "at":"..."}. The Redis transitions are published
   *  by RedisLink, each in the words of the user it affects: {"type":"l2","connected":false,"at":"..."} (L2Store),
   *  {"type":"rateLimit","mode":"local-fallback|redis","at":"..."} (the distributed limiter). The delta feeds
   *  (freshness package) publish {"type":"freshness","feed":"users","tenant":"t1","state":"synced|resynced|lost|leader|standby",
   *  "reason":"...","evicted":12,"at":"..."} when a feed starts, is lost (410, cursor gone, errors), resyncs or changes hands;
   *  the change notifications publish {"type":"freshness","feed":"users","tenant":"t1","state":"subscribed|renewed|lost|recreated",
   *  "reason":"...","subscription":"<id>","expires":"...","at":"..."} for their subscriptions.
   *  Crosses the cluster.
   *  Listeners: the dashboard (its last 50, relayed to its viewers), the SockJS bridge. */
  public static final String EVENTS = "tollgate.events";

  /** Request/reply, local consumer of DeltaVerticle, sent by NotificationVerticle (2 min send timeout):
   *  {"action":"notified","resource":"users","ids":["u1","u2"]} evicts every cached answer mentioning the ids
   *  (all partitions, all instances), then reads that feed at once (after the poll under way, if any); replies
   *  {"evicted":3,"polled":true} once that read ended (polled false: another instance holds the feed's lease, then
   *  "relayed":true says it was asked through Redis to read now; or the feed is not followed). Fails 400 (a bad request), 503 (stopping). */
  public static final String FRESHNESS_DELTA = "tollgate.freshness.delta";
  /** Publish, local only, by NotificationVerticle after each batch of notifications was processed (evicted, feed read):
   *  {"resource":"users","ids":2,"evicted":3,"polled":true,"at":"..."}. Listeners: tests; nothing else yet. */
  public static final String FRESHNESS_NOTIFIED = "tollgate.freshness.notified";

  private Addresses() {}
}
