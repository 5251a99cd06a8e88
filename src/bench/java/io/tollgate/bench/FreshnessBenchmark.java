package io.tollgate.bench;

import io.tollgate.Gateway;
import io.tollgate.cache.CacheKey;
import io.tollgate.config.CacheOptions;
import io.tollgate.config.ConfigLoader;
import io.tollgate.config.TollgateOptions;
import io.tollgate.config.Units;
import io.tollgate.proxy.CallerIdentity;
import io.tollgate.sim.GraphSimulator;
import io.tollgate.sim.SimulatorOptions;
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
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Delta-fed invalidation (issue 13, first "Done when" line): out-of-band writes to USERS users (renames) and
 * MEMBERSHIPS group memberships (half added, half removed) in the simulator, with three gateways on one Redis
 * following its delta feeds every POLL. Every cached answer (user by id, group member pages, transitiveMembers)
 * is warmed on each gateway first; the benchmark then applies the changes in one step and watches every gateway's
 * L1 every few ms. An answer is "affected" when the simulator's answer for it changed (compared with the cached body,
 * callerHash aside). Reported: affected answers evicted on every gateway and the eviction lag (from the change to
 * the answer leaving the gateway's L1: max and p50 over answers x gateways), affected answers NOT evicted
 * (must be 0), and unaffected answers evicted (by route).
 *
 * <p>Run: {@code src/bench/freshness.sh} (starts redis-server, compiles this against target/tollgate.jar); env
 * POLL (1s), USERS (100), MEMBERSHIPS (20), DIR_USERS (2000), DIR_GROUPS (200).
 */
public final class FreshnessBenchmark {
  private static final String CALLER = "Bearer freshness-bench";

  private FreshnessBenchmark() {}

  public static void main(String[] args) throws Exception {
    String redisUrl = args[0];
    Duration poll = Units.parseDuration(args[1]);
    int changedUsers = Integer.parseInt(args[2]);
    int memberships = Integer.parseInt(args[3]);
    int users = Integer.parseInt(args[4]);
    int groups = Integer.parseInt(args[5]);
    Vertx simVertx = Vertx.vertx();
    GraphSimulator sim = GraphSimulator.start(simVertx, new SimulatorOptions().setUsers(users).setGroups(groups).setSites(1)
        .setMembersPerGroup(20).setNestedGroupRate(0.3).setPageSize(999).setGroupChangeRate(0).setThrottleRate(0))
        .await(20, TimeUnit.SECONDS);
    Vertx loader = Vertx.vertx();
    TollgateOptions shipped = ConfigLoader.load(loader, null, Map.of(), Map.of()).await(20, TimeUnit.SECONDS);
    loader.close().await(10, TimeUnit.SECONDS);
    String prefix = "frb" + UUID.randomUUID().toString().substring(0, 8) + ":";
    List<Gateway> gateways = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      TollgateOptions o = new TollgateOptions(shipped);
      o.getServer().setPort(0).setInstances(2);
      o.getManagement().setPort(0);
      o.getUpstream().setUrl(sim.origin());
      o.getRedis().setUrl(redisUrl);
      o.getCache().setKeyPrefix(prefix).setL2Timeout(Duration.ofSeconds(2));
      o.getRateLimit().setEnabled(false);
      o.getFreshness().getDelta().setEnabled(true).setTenantId("contoso").setClientId(SimulatorOptions.DEFAULT_CLIENT_ID)
          .setClientSecret(SimulatorOptions.DEFAULT_CLIENT_SECRET).setTokenOrigin(sim.origin()).setPollInterval(poll);
      List<CacheOptions.Route> routes = new ArrayList<>();
      for (CacheOptions.Route r : o.getCache().getRoutes()) {
        boolean directory = r.name().equals("user") || r.name().startsWith("group") || r.name().equals("transitive-members");
        routes.add(directory ? new CacheOptions.Route(r.name(), r.path(), Duration.ofHours(24), r.staleWhileRevalidate(),
            r.staleIfError(), r.negativeTtl(), true) : r);
      }
      o.getCache().setRoutes(routes);
      gateways.add(Gateway.start(o, Clock.systemUTC()).await(30, TimeUnit.SECONDS));
    }
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    ExecutorService pool = Executors.newFixedThreadPool(6);
    try {
      // Past the initial syncs (whose end evicts every delta-fed route).
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (sim.stats().count("GET /v1.0/users/delta") < 2 || sim.stats().count("GET /v1.0/groups/delta") < 2) {
        if (System.nanoTime() > deadline) throw new IllegalStateException("the feeds never finished their initial sync");
        Thread.sleep(50);
      }
      List<String> paths = new ArrayList<>();
      for (int u = 1; u <= users; u++) paths.add("/v1.0/users/u" + u);
      for (int g = 1; g <= groups; g++) {
        paths.add("/v1.0/groups/g" + g + "/members");
        paths.add("/v1.0/groups/g" + g + "/transitiveMembers");
      }
      // Warm every answer on every gateway (a MISS, then checked in L1).
      Map<String, String> before = new HashMap<>();
      List<Future<?>> warming = new ArrayList<>();
      for (Gateway g : gateways) {
        for (String p : paths) {
          warming.add(pool.submit(() -> {
            HttpResponse<String> r = get(http, "http://127.0.0.1:" + g.proxyPort() + p);
            if (r.statusCode() != 200) throw new IllegalStateException(p + " answered " + r.statusCode());
            synchronized (before) {
              before.put(p, strip(r.body()));
            }
            return null;
          }));
        }
      }
      for (Future<?> f : warming) f.get();
      List<CacheKey> keys = new ArrayList<>();
      for (String p : paths) keys.add(key(p));
      int missing = 0;
      for (Gateway g : gateways) for (CacheKey k : keys) if (g.cache().l1().get(k) == null) missing++;
      if (missing > 0) throw new IllegalStateException(missing + " warmed answers are not in L1");
      Thread.sleep(poll.toMillis() * 2);

      // The out-of-band changes, in one step.
      Random random = new Random(7);
      JsonArray changes = new JsonArray();
      Set<Integer> renamed = new LinkedHashSet<>();
      while (renamed.size() < changedUsers) renamed.add(1 + random.nextInt(users));
      for (int u : renamed) changes.add(new JsonObject().put("op", "renameUser").put("id", "u" + u).put("displayName", "Renamed " + u));
      int added = 0;
      int removed = 0;
      while (added + removed < memberships) {
        String g = "g" + (1 + random.nextInt(groups));
        JsonArray members = new JsonObject(before.get("/v1.0/groups/" + g + "/members")).getJsonArray("value");
        if (removed < memberships / 2 && !members.isEmpty()) {
          String m = members.getJsonObject(random.nextInt(members.size())).getString("id");
          changes.add(new JsonObject().put("op", "removeMember").put("group", g).put("member", m));
          removed++;
        } else {
          String u = "u" + (1 + random.nextInt(users));
          if (members.encode().contains("\"" + u + "\"")) continue;
          changes.add(new JsonObject().put("op", "addMember").put("group", g).put("member", u));
          added++;
        }
      }
      long changedAt = System.nanoTime();
      HttpResponse<String> applied = http.send(HttpRequest.newBuilder(URI.create(sim.origin() + "/_sim/directory"))
          .POST(HttpRequest.BodyPublishers.ofString(new JsonObject().put("changes", changes).encode())).build(),
          HttpResponse.BodyHandlers.ofString());
      JsonObject result = new JsonObject(applied.body());
      if (!result.getJsonArray("failed").isEmpty()) throw new IllegalStateException("changes failed: " + result);

      // Watch every gateway's L1 until poll + 3 s: when did each answer leave it?
      long[][] goneAtNanos = new long[gateways.size()][keys.size()];
      long watchEnd = changedAt + poll.toNanos() + TimeUnit.SECONDS.toNanos(3);
      while (System.nanoTime() < watchEnd) {
        for (int gi = 0; gi < gateways.size(); gi++) {
          for (int ki = 0; ki < keys.size(); ki++) {
            if (goneAtNanos[gi][ki] == 0 && gateways.get(gi).cache().l1().get(keys.get(ki)) == null) goneAtNanos[gi][ki] = System.nanoTime();
          }
        }
        Thread.sleep(2);
      }
      // Which answers changed: the simulator's answer now against the cached one.
      boolean[] affected = new boolean[keys.size()];
      List<Future<Boolean>> asks = new ArrayList<>();
      for (String p : paths) asks.add(pool.submit(() -> !strip(get(http, sim.origin() + p).body()).equals(before.get(p))));
      for (int i = 0; i < asks.size(); i++) affected[i] = asks.get(i).get();

      int affectedCount = 0;
      int notEvicted = 0;
      List<Long> lagsMs = new ArrayList<>();
      Map<String, Integer> extra = new HashMap<>();
      int unaffected = 0;
      for (int ki = 0; ki < keys.size(); ki++) {
        if (affected[ki]) affectedCount++;
        else unaffected++;
        for (int gi = 0; gi < gateways.size(); gi++) {
          long gone = goneAtNanos[gi][ki];
          if (affected[ki]) {
            if (gone == 0) notEvicted++;
            else lagsMs.add((gone - changedAt) / 1_000_000);
          } else if (gone != 0) {
            extra.merge(route(paths.get(ki)), 1, Integer::sum);
          }
        }
      }
      lagsMs.sort(null);
      long[] l = lagsMs.stream().mapToLong(Long::longValue).toArray();
      System.out.printf("changes: %d user renames, %d memberships (%d added, %d removed); poll %s; 3 gateways on one Redis%n",
          changedUsers, memberships, added, removed, Units.formatDuration(poll));
      System.out.printf("cached answers per gateway: %d (%d users by id, %d member pages, %d transitiveMembers)%n",
          keys.size(), users, groups, groups);
      System.out.printf("affected answers: %d; evicted on every gateway: %d of %d (answer x gateway); NOT evicted: %d%n",
          affectedCount, lagsMs.size(), affectedCount * gateways.size(), notEvicted);
      if (l.length > 0) {
        System.out.printf("eviction lag after the change (ms): p50 %d, p95 %d, max %d (allowed: poll + 1000 = %d)%n",
            l[l.length / 2], l[(int) (l.length * 0.95)], l[l.length - 1], poll.toMillis() + 1000);
      }
      System.out.printf("unaffected answers: %d; evicted anyway (answer x gateway): %s%n", unaffected,
          extra.isEmpty() ? "0" : extra.toString());
    } finally {
      pool.shutdownNow();
      for (Gateway g : gateways) g.close().await(30, TimeUnit.SECONDS);
      sim.close().await(10, TimeUnit.SECONDS);
      simVertx.close().await(10, TimeUnit.SECONDS);
    }
  }

  private static String route(String path) {
    return path.startsWith("/v1.0/users/") ? "user" : path.endsWith("/transitiveMembers") ? "transitiveMembers" : "members";
  }

  private static HttpResponse<String> get(HttpClient http, String url) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(url)).header("Authorization", CALLER).GET().build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** The body without what differs by caller or by hop. */
  private static String strip(String body) {
    JsonObject j = new JsonObject(body);
    j.remove("callerHash");
    return j.encode();
  }

  private static CacheKey key(String path) {
    MultiMap h = MultiMap.caseInsensitiveMultiMap().add("Authorization", CALLER);
    String partition = new CallerIdentity(List.of("Authorization")).partition(h);
    return CacheKey.of("GET", path, null, h, CacheOptions.DEFAULT_VARY_HEADERS, partition);
  }

}
