package io.tollgate.bench;

import io.tollgate.Gateway;
import io.tollgate.cache.CacheKey;
import io.tollgate.cache.CachedResponse;
import io.tollgate.config.CacheOptions;
import io.tollgate.config.ConfigLoader;
import io.tollgate.config.TollgateOptions;
import io.tollgate.config.Units;
import io.tollgate.proxy.CallerIdentity;
import io.tollgate.sim.GraphSimulator;
import io.tollgate.sim.SimulatorOptions;
import io.tollgate.sim.SimulatorStats;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Keeping 2,000 groups' {@code transitiveMembers} fresh (issue 13, second "Done when" line), two ways side by side in
 * one run, each against its own simulator with the same seed (the same directory of GROUPS groups of 20 members,
 * 30 % holding a nested group, DIR_USERS users) and the same background change rate, 1 % of the groups per hour
 * times SCALE (a description edit, a member added or a member removed):
 *
 * <ul>
 *   <li>A: the directory routes {@code ttl: 24h, freshness: delta}, the delta feeds ({@code /users/delta},
 *       {@code /groups/delta}) polled every POLL with the simulator's token endpoint;
 *   <li>B: the same routes with a 1 h TTL divided by SCALE, no feed.
 * </ul>
 *
 * A client per gateway reads every group's {@code transitiveMembers}, every page, one pass at most every PASS
 * (CONCURRENCY at a time). Gateway A is started and its feeds' initial sync awaited first (the sync's end evicts
 * every delta-fed route); then both caches are filled by one pass (the fill: identical for A and B, reported, not
 * counted); then the window: MINUTES, plus the fill's duration and two passes, so that every answer B filled expires
 * and is re-read inside it (B's cost in the window is one full re-read: what a 1 h TTL costs per simulated hour).
 *
 * <p>Counted from the simulators' own stats: A = every Graph call on its simulator from the gateway's start to the
 * window's end (the feeds' initial sync and every poll included) except the fill's reads; B = every call in the
 * window. Resource units as the simulator charges them (transitiveMembers 5, a delta page 1). Eviction lag: for every
 * group the simulator changes during the window, the cached answers of gateway A that mention it at that moment (its
 * own transitiveMembers pages and the pages that list it: the client records which page lists which group) are
 * watched in A's L1 every 5 ms until each is gone (evicted; a re-read puts a new entry); the lag of a change is its
 * slowest answer's. After the window the changes stop and the watch goes on for POLL + 3 s.
 */
public final class DeltaScaleBenchmark {
  private static final String CALLER = "Bearer delta-scale-bench";

  private DeltaScaleBenchmark() {}

  /** What a reader knows: the pages of each group's transitiveMembers and which pages list which group. */
  static final class Reader {
    final String name;
    final String gatewayOrigin;
    final String simOrigin;
    final HttpClient http;
    final ExecutorService pool;
    final int groups;
    final Map<String, List<CacheKey>> pagesOf = new ConcurrentHashMap<>();
    final Map<String, Set<CacheKey>> listedIn = new ConcurrentHashMap<>();
    final AtomicLong pages = new AtomicLong();
    final AtomicLong failures = new AtomicLong();
    final AtomicLong passes = new AtomicLong();

    Reader(String name, String gatewayOrigin, String simOrigin, HttpClient http, int concurrency, int groups) {
      this.name = name;
      this.gatewayOrigin = gatewayOrigin;
      this.simOrigin = simOrigin;
      this.http = http;
      this.pool = Executors.newFixedThreadPool(concurrency);
      this.groups = groups;
    }

    void pass() throws Exception {
      List<Future<?>> all = new ArrayList<>(groups);
      for (int g = 1; g <= groups; g++) {
        String id = "g" + g;
        all.add(pool.submit(() -> {
          read(id);
          return null;
        }));
      }
      for (Future<?> f : all) f.get();
      passes.incrementAndGet();
    }

    private void read(String group) throws Exception {
      String url = gatewayOrigin + "/v1.0/groups/" + group + "/transitiveMembers";
      List<CacheKey> keys = new ArrayList<>(1);
      while (url != null) {
        URI uri = URI.create(url);
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri).header("Authorization", CALLER).GET().build(),
            HttpResponse.BodyHandlers.ofString());
        pages.incrementAndGet();
        if (r.statusCode() != 200) {
          failures.incrementAndGet();
          return;
        }
        CacheKey key = key(uri.getRawPath(), uri.getRawQuery());
        keys.add(key);
        JsonObject body = new JsonObject(r.body());
        for (Object o : body.getJsonArray("value", new JsonArray())) {
          if (o instanceof JsonObject member && member.getString("id", "").startsWith("g")) {
            listedIn.computeIfAbsent(member.getString("id"), k -> ConcurrentHashMap.newKeySet()).add(key);
          }
        }
        String next = body.getString("@odata.nextLink");
        if (next != null && next.startsWith(simOrigin)) throw new IllegalStateException("a nextLink that skips the gateway: " + next);
        url = next;
      }
      pagesOf.put(group, keys);
    }
  }

  /** One cached answer of A that mentioned a changed group when it changed. */
  record Watched(int change, CacheKey key, CachedResponse entry, long changedNanos, AtomicLong goneNanos) {}

  public static void main(String[] args) throws Exception {
    double minutes = Double.parseDouble(args[0]);
    double scale = Double.parseDouble(args[1]);
    Duration poll = Units.parseDuration(args[2]);
    int groups = Integer.parseInt(args[3]);
    int users = Integer.parseInt(args[4]);
    Duration passPeriod = Units.parseDuration(args[5]);
    int concurrency = Integer.parseInt(args[6]);
    Duration ttlB = Duration.ofMillis(Math.round(3_600_000 / scale));
    double changeRate = 0.01 * scale;

    Vertx simVertx = Vertx.vertx();
    SimulatorOptions so = new SimulatorOptions().setUsers(users).setGroups(groups).setSites(0).setMembersPerGroup(20)
        .setNestedGroupRate(0.3).setGroupChangeRate(changeRate).setDriveItemChangeRate(0)
        // Throttling on but out of reach, so that the simulator counts resource units.
        .setThrottleRate(1_000_000).setThrottleBurst(100_000_000);
    GraphSimulator simA = GraphSimulator.start(simVertx, so).await(30, TimeUnit.SECONDS);
    GraphSimulator simB = GraphSimulator.start(simVertx, so).await(30, TimeUnit.SECONDS);
    Vertx loader = Vertx.vertx();
    TollgateOptions shipped = ConfigLoader.load(loader, null, Map.of(), Map.of()).await(20, TimeUnit.SECONDS);
    loader.close().await(10, TimeUnit.SECONDS);
    Gateway a = Gateway.start(options(shipped, simA, Duration.ofHours(24), true, poll), Clock.systemUTC()).await(30, TimeUnit.SECONDS);
    Gateway b = null;
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    Reader readerA = null;
    Reader readerB = null;
    try {
      long started = System.nanoTime();
      int syncPages = (users + so.getPageSize() - 1) / so.getPageSize() + (groups + so.getPageSize() - 1) / so.getPageSize();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      while (delta(simA.stats()) < syncPages) {
        if (System.nanoTime() > deadline) throw new IllegalStateException("the feeds never finished their initial sync");
        Thread.sleep(50);
      }
      Thread.sleep(1000);
      long syncCalls = delta(simA.stats());
      double syncSeconds = (System.nanoTime() - started) / 1e9;
      b = Gateway.start(options(shipped, simB, ttlB, false, poll), Clock.systemUTC()).await(30, TimeUnit.SECONDS);
      readerA = new Reader("A", "http://127.0.0.1:" + a.proxyPort(), simA.origin(), http, concurrency, groups);
      readerB = new Reader("B", "http://127.0.0.1:" + b.proxyPort(), simB.origin(), http, concurrency, groups);

      // The fill: one pass through each, at the same time.
      long[] beforeFillA = snapshot(simA.stats());
      long[] beforeFillB = snapshot(simB.stats());
      long fillStart = System.nanoTime();
      Reader ra = readerA;
      Reader rb = readerB;
      ExecutorService drivers = Executors.newFixedThreadPool(3);
      Future<?> fa = drivers.submit(() -> {
        ra.pass();
        return null;
      });
      rb.pass();
      fa.get();
      long fillEnd = System.nanoTime();
      long[] afterFillA = snapshot(simA.stats());
      long[] afterFillB = snapshot(simB.stats());
      long fillCallsA = (afterFillA[0] - beforeFillA[0]) - (afterFillA[2] - beforeFillA[2]);
      long fillUnitsA = (afterFillA[1] - beforeFillA[1]) - (afterFillA[2] - beforeFillA[2]);
      long fillCallsB = afterFillB[0] - beforeFillB[0];
      long fillUnitsB = afterFillB[1] - beforeFillB[1];
      long fillChangesA = simA.stats().directoryChanges();

      // The window: changes on A are watched from now on.
      ConcurrentLinkedQueue<Watched> watched = new ConcurrentLinkedQueue<>();
      List<long[]> changes = new ArrayList<>();
      AtomicBoolean watching = new AtomicBoolean(true);
      Gateway gatewayA = a;
      simA.onBackgroundGroupChange(group -> {
        long now = System.nanoTime();
        int index;
        synchronized (changes) {
          index = changes.size();
          changes.add(new long[] {now, 0});
        }
        Set<CacheKey> keys = new java.util.LinkedHashSet<>(ra.pagesOf.getOrDefault(group, List.of()));
        keys.addAll(ra.listedIn.getOrDefault(group, Set.of()));
        int n = 0;
        for (CacheKey k : keys) {
          CachedResponse e = gatewayA.cache().l1().get(k);
          if (e != null) {
            watched.add(new Watched(index, k, e, now, new AtomicLong()));
            n++;
          }
        }
        synchronized (changes) {
          changes.get(index)[1] = n;
        }
      });
      Thread watcher = new Thread(() -> {
        while (watching.get()) {
          for (Watched w : watched) {
            if (w.goneNanos().get() == 0 && gatewayA.cache().l1().get(w.key()) != w.entry()) w.goneNanos().set(System.nanoTime());
          }
          try {
            Thread.sleep(5);
          } catch (InterruptedException e) {
            return;
          }
        }
      }, "eviction-watcher");
      watcher.setDaemon(true);
      watcher.start();

      long windowNanos = TimeUnit.SECONDS.toNanos(Math.round(minutes * 60)) + (fillEnd - fillStart) + 2 * passPeriod.toNanos();
      long windowEnd = fillEnd + windowNanos;
      AtomicBoolean reading = new AtomicBoolean(true);
      List<Future<?>> loops = new ArrayList<>();
      for (Reader r : List.of(ra, rb)) {
        loops.add(drivers.submit(() -> {
          while (reading.get()) {
            long passStart = System.nanoTime();
            r.pass();
            long rest = passPeriod.toNanos() - (System.nanoTime() - passStart);
            long untilEnd = windowEnd - System.nanoTime();
            if (untilEnd <= 0) break;
            if (rest > 0) TimeUnit.NANOSECONDS.sleep(Math.min(rest, untilEnd));
          }
          return null;
        }));
      }
      while (System.nanoTime() < windowEnd) Thread.sleep(100);
      long[] endA = snapshot(simA.stats());
      long[] endB = snapshot(simB.stats());
      long tmWindowA = transitive(simA.stats()) - transitive(afterFillA);
      reading.set(false);
      for (Future<?> f : loops) f.get();
      // No more changes; the last ones get POLL + 3 s to be evicted.
      simA.reconfigure(new SimulatorOptions(so).setGroupChangeRate(0));
      simB.reconfigure(new SimulatorOptions(so).setGroupChangeRate(0));
      simA.onBackgroundGroupChange(null);
      Thread.sleep(poll.toMillis() + 3000);
      watching.set(false);
      watcher.join();
      drivers.shutdownNow();

      long costCallsA = endA[0] - fillCallsA;
      long costUnitsA = endA[1] - fillUnitsA;
      long costCallsB = endB[0] - afterFillB[0];
      long costUnitsB = endB[1] - afterFillB[1];
      long deltaCallsA = endA[2];
      long windowMs = TimeUnit.NANOSECONDS.toMillis(windowNanos);
      List<long[]> changed;
      synchronized (changes) {
        changed = new ArrayList<>(changes);
      }
      long[] lagByChange = new long[changed.size()];
      java.util.Arrays.fill(lagByChange, -1);
      int answers = 0;
      int notEvicted = 0;
      for (Watched w : watched) {
        answers++;
        long gone = w.goneNanos().get();
        if (gone == 0) {
          notEvicted++;
          lagByChange[w.change()] = Long.MAX_VALUE;
        } else {
          lagByChange[w.change()] = Math.max(lagByChange[w.change()], (gone - w.changedNanos()) / 1_000_000);
        }
      }
      List<Long> lags = new ArrayList<>();
      int withoutAnswers = 0;
      for (long l : lagByChange) {
        if (l < 0) withoutAnswers++;
        else if (l != Long.MAX_VALUE) lags.add(l);
      }
      lags.sort(null);

      System.out.printf("directory: %d groups (20 members, 30 %% with a nested group), %d users; change rate %.2f %% of the groups"
          + " per hour (1 %% x %s); poll %s; B's TTL %s (1 h / %s)%n", groups, users, changeRate * 100, fmt(scale),
          Units.formatDuration(poll), Units.formatDuration(ttlB), fmt(scale));
      System.out.printf("A's initial sync: %d delta pages in %.1f s; the fill: %d calls / %d RU on A, %d calls / %d RU on B"
          + " (%.1f s; not counted)%n", syncCalls, syncSeconds, fillCallsA, fillUnitsA, fillCallsB, fillUnitsB, (fillEnd - fillStart) / 1e9);
      System.out.printf("window: %.1f min (%.2f simulated h); client passes A %d, B %d; failed reads A %d, B %d%n",
          windowMs / 60000.0, windowMs / 3_600_000.0 * scale, ra.passes.get(), rb.passes.get(), ra.failures.get(), rb.failures.get());
      System.out.printf("A (delta feed, 24 h TTL): %d calls (%d delta pages: sync + polls; %d transitiveMembers re-reads), %d RU;"
          + " tokens %d%n", costCallsA, deltaCallsA, tmWindowA, costUnitsA, simA.stats().tokensIssued());
      System.out.printf("B (%s TTL, no feed): %d calls, %d RU%n", Units.formatDuration(ttlB), costCallsB, costUnitsB);
      System.out.printf("A / B: calls %.1f %%, RU %.1f %% (target < 10 %%)%n", 100.0 * costCallsA / Math.max(1, costCallsB),
          100.0 * costUnitsA / Math.max(1, costUnitsB));
      System.out.printf("changes in the window: %d on A (%d before it), %d on B in all; with cached answers on A: %d (%d answers),"
          + " without: %d%n", changed.size(), fillChangesA, simB.stats().directoryChanges(), changed.size() - withoutAnswers,
          answers, withoutAnswers);
      if (!lags.isEmpty()) {
        System.out.printf("eviction lag per change (its slowest answer), ms: p50 %d, max %d (allowed: poll + 1000 = %d);"
            + " answers NOT evicted: %d%n", lags.get(lags.size() / 2), lags.get(lags.size() - 1), poll.toMillis() + 1000, notEvicted);
      } else {
        System.out.printf("no change had a cached answer; answers NOT evicted: %d%n", notEvicted);
      }
    } finally {
      if (readerA != null) readerA.pool.shutdownNow();
      if (readerB != null) readerB.pool.shutdownNow();
      a.close().await(30, TimeUnit.SECONDS);
      if (b != null) b.close().await(30, TimeUnit.SECONDS);
      simA.close().await(10, TimeUnit.SECONDS);
      simB.close().await(10, TimeUnit.SECONDS);
      simVertx.close().await(10, TimeUnit.SECONDS);
    }
  }

  private static TollgateOptions options(TollgateOptions shipped, GraphSimulator sim, Duration ttl, boolean delta, Duration poll) {
    TollgateOptions o = new TollgateOptions(shipped);
    o.getServer().setPort(0).setInstances(1);
    o.getManagement().setPort(0);
    o.getUpstream().setUrl(sim.origin());
    o.getRateLimit().setEnabled(false);
    if (delta) {
      o.getFreshness().getDelta().setEnabled(true).setTenantId("contoso").setClientId(SimulatorOptions.DEFAULT_CLIENT_ID)
          .setClientSecret(SimulatorOptions.DEFAULT_CLIENT_SECRET).setTokenOrigin(sim.origin()).setPollInterval(poll);
    }
    List<CacheOptions.Route> routes = new ArrayList<>();
    for (CacheOptions.Route r : o.getCache().getRoutes()) {
      boolean directory = r.name().equals("user") || r.name().startsWith("group") || r.name().equals("transitive-members");
      routes.add(directory ? new CacheOptions.Route(r.name(), r.path(), ttl, r.staleWhileRevalidate(), r.staleIfError(),
          r.negativeTtl(), delta) : r);
    }
    o.getCache().setRoutes(routes);
    return o;
  }

  /** {Graph calls, resource units, delta pages, transitiveMembers calls}. */
  private static long[] snapshot(SimulatorStats s) {
    return new long[] {s.total(), s.units(), delta(s), transitive(s)};
  }

  private static long delta(SimulatorStats s) {
    return s.count("GET /v1.0/users/delta") + s.count("GET /v1.0/groups/delta");
  }

  private static long transitive(SimulatorStats s) {
    long n = 0;
    JsonObject byPath = s.toJson().getJsonObject("byPath");
    for (String k : byPath.fieldNames()) if (k.endsWith("/transitiveMembers")) n += byPath.getLong(k);
    return n;
  }

  private static long transitive(long[] snapshot) {
    return snapshot[3];
  }

  private static String fmt(double d) {
    return d == Math.rint(d) ? String.valueOf((long) d) : String.valueOf(d);
  }

  private static CacheKey key(String path, String query) {
    MultiMap h = MultiMap.caseInsensitiveMultiMap().add("Authorization", CALLER);
    String partition = new CallerIdentity(List.of("Authorization")).partition(h);
    return CacheKey.of("GET", path, query, h, CacheOptions.DEFAULT_VARY_HEADERS, partition);
  }
}
