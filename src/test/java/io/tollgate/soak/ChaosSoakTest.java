package io.tollgate.soak;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.Gateway;
import io.tollgate.config.CacheOptions;
import io.tollgate.config.PathPattern;
import io.tollgate.config.TollgateOptions;
import io.tollgate.sim.SimulatorOptions;
import io.tollgate.sim.Tokens;
import io.tollgate.testing.Await;
import io.tollgate.testing.GatewayHarness;
import io.tollgate.testing.LogCapture;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * Issue 12's chaos soak: three gateways on one real Redis, many callers sending mixed reads, writes and
 * {@code $batch}, 10 % malformed or hostile requests, while Redis is killed and restarted twice and stalled once
 * and the upstream fails for a while. It counts what must never happen and asserts each count is 0; it prints a
 * report (also written to {@code target/soak-report.txt}). {@code src/bench/soak.sh [seconds]} runs it long.
 *
 * <p>Duration: {@code -Dsoak.seconds} (60 in {@code mvn verify}). The fault schedule is a fraction of it: Redis
 * killed at 10 % (back at 18 %), stalled at 30 % (back at 36 %), the upstream failing from 45 % for
 * min(30 s, duration / 4) (15 s in the 60 s variant, 30 s from 120 s up), Redis killed again at 75 % (back at 83 %).
 *
 * <p>What is counted, conservatively (a doubt is never counted):
 * <ul>
 *   <li><b>crossed</b>: any {@code callerHash} in an answer's body (batch sub-responses included, hostile requests
 *       too) that is not the hash of the {@code Authorization} value the request carried.</li>
 *   <li><b>stale after an acknowledged write</b>: one writer PATCHes the displayName of groups g1..g6 with a rising
 *       number, one write at a time. A read of such a group that began after a write W was acknowledged (2xx) and
 *       shows an older number is stale when it went through W's gateway (that instance never serves the old
 *       answer), or through any gateway once W counts as replayed and heard: at least 1 s after W's answer, the test
 *       saw Redis up (its own flag), every gateway's L2 connected and W's gateway's outbox empty, and, when a Redis
 *       fault began since W was sent, every gateway had seen Redis return (and so emptied its L1) at least 1 s
 *       earlier.</li>
 *   <li><b>avoidable failure</b>: a GET of a user (route TTL 3 s, staleIfError the default 10 min) by caller C
 *       through gateway G that did not get a 2xx although the same GET by C through G got a 2xx that began less
 *       than staleIfError earlier, more than 0.5 s after G last saw Redis return (a return empties L1, and a
 *       killed Redis keeps no L2), with G seeing no return while the failing request ran. Users are never
 *       written, so nothing invalidated the entry.</li>
 *   <li><b>tokens</b>: the signature segment of every bearer token used (callers and the writer; forged tokens
 *       reuse them) in any log line at DEBUG and up, or in any Redis key or value (gzip bodies decoded).</li>
 * </ul>
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ChaosSoakTest {
  static final int SECONDS = Integer.getInteger("soak.seconds", 60);
  /**
   * Whether stale reads after acknowledged writes fail the test (they are counted and reported always): yes,
   * in {@code mvn verify} as under {@code src/bench/soak.sh}. The first runs found them in every run with Redis,
   * no fault needed: an L2 read sent between a write's L1 eviction and its Redis delete could promote the old
   * answer to L1 after the eviction had passed (the writing instance now evicts its L1 again once Redis has
   * deleted; {@code ReadAfterAcknowledgedWriteTest} is the focused repro). {@code -Dsoak.strict=false} only
   * reports the count, for investigating.
   */
  static final boolean STRICT = Boolean.parseBoolean(System.getProperty("soak.strict", "true"));
  static final int CALLERS = 40;
  static final int USERS = 50;
  static final int GROUPS = 30;
  /** Groups g1..g6 are written; the others only read. */
  static final int WRITTEN_GROUPS = 6;
  static final int WORKERS = 12;
  static final Duration USER_TTL = Duration.ofSeconds(3);
  static final long STALE_IF_ERROR_NANOS = CacheOptions.DEFAULT_STALE_IF_ERROR.toNanos();
  static final long SECOND = TimeUnit.SECONDS.toNanos(1);
  static final Pattern CALLER_HASH = Pattern.compile("\"callerHash\"\\s*:\\s*\"([^\"]*)\"");
  static final Pattern SEQ = Pattern.compile("soak #(\\d+)");

  record Caller(int index, String authorization, String hash, String signature) {}

  /** A write acknowledged: its number, the gateway it went through, when it was sent and answered, faults begun before it was sent. */
  record Ack(long seq, int gateway, long sentAt, long ackAt, long faultsBefore) {}

  /** The highest acknowledged number that counts as replayed and heard everywhere, and since when. */
  record Cleared(long seq, long at) {}

  GatewayHarness harness;
  List<Gateway> gateways;
  Vertx vertx;
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();
  final List<Caller> callers = new ArrayList<>();
  Caller writer;
  SimulatorOptions simOptions;
  long t0;

  // Fault state, written by the test thread.
  volatile boolean redisUp = true;
  final AtomicLong faultsBegun = new AtomicLong();
  volatile long lastFaultEnd;
  // Per gateway, written by the monitor: when it last saw L2 come back.
  final AtomicLongArray lastReturn = new AtomicLongArray(3);
  final boolean[] connected = {true, true, true};

  // Writes.
  final AtomicReferenceArray<Ack> latest = new AtomicReferenceArray<>(WRITTEN_GROUPS + 1);
  final AtomicReferenceArray<Cleared> cleared = new AtomicReferenceArray<>(WRITTEN_GROUPS + 1);
  /** [group * 3 + gateway]: the highest number acknowledged through that gateway. */
  final AtomicLongArray ackedVia = new AtomicLongArray((WRITTEN_GROUPS + 1) * 3);
  final Map<String, Long> lastOk = new ConcurrentHashMap<>();

  // Counts.
  final LongAdder requests = new LongAdder();
  final LongAdder clientFailures = new LongAdder();
  final LongAdder crossed = new LongAdder();
  final LongAdder stale = new LongAdder();
  final LongAdder staleChecked = new LongAdder();
  final LongAdder avoidable = new LongAdder();
  final LongAdder avoidableChecked = new LongAdder();
  final LongAdder writesAcked = new LongAdder();
  final LongAdder writesFailed = new LongAdder();
  final LongAdder batches = new LongAdder();
  final LongAdder forgedAccepted = new LongAdder();
  final LongAdder bridgeOpened = new LongAdder();
  final LongAdder tokensInLogs = new LongAdder();
  final LongAdder logLines = new LongAdder();
  final Map<String, LongAdder> statuses = new ConcurrentHashMap<>();
  final Map<String, LongAdder> hostile = new ConcurrentHashMap<>();
  final List<String> examples = new CopyOnWriteArrayList<>();
  final AtomicLong peakHeap = new AtomicLong();
  volatile boolean running = true;

  @AfterEach
  void stop() {
    if (harness != null) {
      if (harness.redis().alive()) harness.redis().resume();
      harness.close();
    }
    if (vertx != null) vertx.close();
  }

  long now() {
    return System.nanoTime();
  }

  String at(long nanos) {
    return String.format("%.1fs", (nanos - t0) / 1e9);
  }

  void example(String what) {
    if (examples.size() < 20) examples.add(what);
  }

  @Test
  void three_gateways_through_redis_kills_a_stall_and_an_upstream_outage_never_cross_callers_serve_stale_writes_leak_tokens_or_fail_avoidably()
      throws Exception {
    for (int i = 0; i < CALLERS; i++) callers.add(caller(i, "app-" + i));
    writer = caller(CALLERS, "writer-app");
    Set<String> signatures = ConcurrentHashMap.newKeySet();
    for (Caller c : callers) signatures.add(c.signature());
    signatures.add(writer.signature());

    simOptions = new SimulatorOptions().setUsers(USERS).setGroups(GROUPS).setSites(5);
    java.util.function.Consumer<TollgateOptions> tune = o -> {
      o.getCache().setL2Timeout(Duration.ofMillis(200));
      List<CacheOptions.Route> routes = new ArrayList<>(o.getCache().getRoutes());
      // Short-lived user entries, so the upstream outage meets expired entries that only staleIfError can serve.
      routes.add(0, new CacheOptions.Route("soak-user", PathPattern.compile("/v1.0/users/{id}"), USER_TTL,
          Duration.ZERO, CacheOptions.DEFAULT_STALE_IF_ERROR, Duration.ZERO));
      o.getCache().setRoutes(routes);
    };
    try (LogCapture logs = new LogCapture(line -> {
      logLines.increment();
      for (String s : signatures) {
        if (line.contains(s)) {
          tokensInLogs.increment();
          example("token in log: " + line.substring(0, Math.min(200, line.length())).replace(s, "<signature>"));
        }
      }
    })) {
      harness = GatewayHarness.builder().simulator(simOptions).redis().gateway(tune).start();
      harness.another(tune);
      harness.another(tune);
      gateways = harness.gateways();
      for (var pool : ManagementFactory.getMemoryPoolMXBeans()) pool.resetPeakUsage();

      ScheduledExecutorService monitor = Executors.newSingleThreadScheduledExecutor();
      ExecutorService load = Executors.newFixedThreadPool(WORKERS + 1);
      t0 = now();
      monitor.scheduleAtFixedRate(this::watch, 0, 20, TimeUnit.MILLISECONDS);
      for (int w = 0; w < WORKERS; w++) load.submit(this::callerLoop);
      load.submit(this::writerLoop);

      Duration outage = Duration.ofSeconds(Math.min(30, SECONDS / 4));
      phase(0.10, "Redis killed");
      redisFault(() -> harness.redis().kill());
      phase(0.18, "Redis restarted");
      redisBack(() -> harness.redis().restart());
      phase(0.30, "Redis stalled");
      redisFault(() -> harness.redis().stall());
      phase(0.36, "Redis resumed");
      redisBack(() -> harness.redis().resume());
      phase(0.45, "upstream failing for " + outage.toSeconds() + "s");
      harness.sim().reconfigure(new SimulatorOptions(simOptions).setErrorRate(1.0));
      double outageEnds = 0.45 + outage.toSeconds() / (double) SECONDS;
      phase(outageEnds, "upstream healthy");
      harness.sim().reconfigure(simOptions);
      phase(Math.max(0.75, outageEnds + 0.02), "Redis killed");
      redisFault(() -> harness.redis().kill());
      phase(Math.max(0.83, outageEnds + 0.10), "Redis restarted");
      redisBack(() -> harness.redis().restart());
      phase(1.0, "load stops");
      running = false;
      load.shutdown();
      assertTrue(load.awaitTermination(60, TimeUnit.SECONDS), "the callers finished");

      // Every acknowledged write replayed and heard, then each written group read through every gateway.
      Await.until(() -> {
        for (int g = 1; g <= WRITTEN_GROUPS; g++) {
          Ack a = latest.get(g);
          Cleared c = cleared.get(g);
          if (a != null && (c == null || c.seq() < a.seq())) return false;
        }
        return true;
      }, Duration.ofSeconds(60), "every acknowledged write counts as replayed and heard");
      monitor.shutdown();
      for (int g = 1; g <= WRITTEN_GROUPS; g++) {
        for (int gw = 0; gw < 3; gw++) {
          for (int k = 0; k < 3; k++) groupRead(gw, callers.get((g * 7 + gw * 3 + k) % CALLERS), g);
        }
      }

      long tokensInRedis = tokensInRedis(signatures);
      String report = report(tokensInRedis);
      System.out.println(report);
      Files.writeString(Path.of("target", "soak-report.txt"), report);

      assertEquals(0, crossed.sum(), "answers that crossed callers\n" + report);
      if (STRICT) assertEquals(0, stale.sum(), "stale reads after acknowledged writes\n" + report);
      assertEquals(0, tokensInLogs.sum() + tokensInRedis, "tokens in logs or Redis\n" + report);
      assertEquals(0, avoidable.sum(), "avoidable failures\n" + report);
      assertTrue(staleChecked.sum() > 0 && avoidableChecked.sum() > 0 && writesAcked.sum() > 0,
          "the soak checked something\n" + report);
    }
  }

  // ---- the schedule (test thread) ----

  void phase(double fraction, String what) {
    long due = t0 + (long) (fraction * SECONDS * SECOND);
    Await.until(() -> now() >= due, Duration.ofSeconds(SECONDS + 60), "the soak reaches " + what);
    example(at(now()) + " " + what);
  }

  void redisFault(Runnable fault) {
    redisUp = false;
    faultsBegun.incrementAndGet();
    fault.run();
  }

  void redisBack(Runnable back) {
    back.run();
    lastFaultEnd = now();
    redisUp = true;
  }

  /** Every 20 ms: peak heap, each gateway's L2 returns, and which acknowledged writes count as replayed and heard. */
  void watch() {
    try {
      long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
      peakHeap.accumulateAndGet(heap, Math::max);
      long t = now();
      boolean all = true;
      long latestReturn = 0;
      for (int i = 0; i < 3; i++) {
        boolean c = gateways.get(i).cache().stats().l2Connected();
        if (c && !connected[i]) lastReturn.set(i, t);
        connected[i] = c;
        all &= c;
        latestReturn = Math.max(latestReturn, lastReturn.get(i));
      }
      if (!redisUp || !all) return;
      for (int g = 1; g <= WRITTEN_GROUPS; g++) {
        Ack a = latest.get(g);
        Cleared c = cleared.get(g);
        if (a == null || (c != null && c.seq() >= a.seq())) continue;
        if (t < a.ackAt() + SECOND || gateways.get(a.gateway()).cache().pendingInvalidations() != 0) continue;
        if (faultsBegun.get() > a.faultsBefore()) {
          boolean everyoneReturned = true;
          for (int i = 0; i < 3; i++) everyoneReturned &= lastReturn.get(i) > lastFaultEnd;
          if (!everyoneReturned || t < latestReturn + SECOND) continue;
        }
        cleared.set(g, new Cleared(a.seq(), t));
      }
    } catch (RuntimeException e) {
      example("monitor: " + e);
    }
  }

  // ---- load ----

  void callerLoop() {
    ThreadLocalRandom r = ThreadLocalRandom.current();
    while (running) {
      int gw = r.nextInt(3);
      Caller c = callers.get(r.nextInt(CALLERS));
      double p = r.nextDouble();
      try {
        if (p < 0.10) hostileRequest(r, gw, c);
        else if (p < 0.15) batch(r, gw, c);
        else if (p < 0.25) groupRead(gw, c, 1 + r.nextInt(WRITTEN_GROUPS));
        else if (p < 0.35) plainRead(gw, c, "/v1.0/groups/g" + (WRITTEN_GROUPS + 1 + r.nextInt(GROUPS - WRITTEN_GROUPS)));
        else userRead(gw, c, "/v1.0/users/u" + (1 + r.nextInt(USERS)));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (Exception e) {
        clientFailures.increment();
        example(at(now()) + " client: " + e);
      }
    }
  }

  /** One writer, one write at a time, so each group's numbers rise in the order they were acknowledged. */
  void writerLoop() {
    ThreadLocalRandom r = ThreadLocalRandom.current();
    long seq = 0;
    while (running) {
      int g = 1 + (int) (seq % WRITTEN_GROUPS);
      seq++;
      int gw = r.nextInt(3);
      long faults = faultsBegun.get();
      long sent = now();
      try {
        HttpResponse<String> w = http.send(request(gw, "/v1.0/groups/g" + g, writer)
            .header("Content-Type", "application/json")
            .method("PATCH", HttpRequest.BodyPublishers.ofString(new JsonObject().put("displayName", "soak #" + seq).encode()))
            .build(), HttpResponse.BodyHandlers.ofString());
        requests.increment();
        count("PATCH", w.statusCode());
        checkCrossed(w.body(), writer, "PATCH");
        if (w.statusCode() / 100 == 2) {
          writesAcked.increment();
          ackedVia.accumulateAndGet(g * 3 + gw, seq, Math::max);
          latest.set(g, new Ack(seq, gw, sent, now(), faults));
        } else {
          writesFailed.increment();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (Exception e) {
        writesFailed.increment();
        clientFailures.increment();
      }
    }
  }

  HttpRequest.Builder request(int gw, String path, Caller c) {
    return HttpRequest.newBuilder(URI.create(GatewayHarness.proxy(gateways.get(gw)) + path))
        .timeout(Duration.ofSeconds(30)).header("Authorization", c.authorization());
  }

  HttpResponse<String> get(int gw, String path, Caller c) throws Exception {
    HttpResponse<String> r = http.send(request(gw, path, c).GET().build(), HttpResponse.BodyHandlers.ofString());
    requests.increment();
    count("GET", r.statusCode());
    checkCrossed(r.body(), c, "GET " + path);
    return r;
  }

  void plainRead(int gw, Caller c, String path) throws Exception {
    get(gw, path, c);
  }

  void groupRead(int gw, Caller c, int g) throws Exception {
    long start = now();
    long bound = ackedVia.get(g * 3 + gw);
    Cleared cl = cleared.get(g);
    if (cl != null && cl.at() <= start) bound = Math.max(bound, cl.seq());
    HttpResponse<String> r = get(gw, "/v1.0/groups/g" + g, c);
    if (r.statusCode() != 200) return;
    staleChecked.increment();
    Matcher m = SEQ.matcher(String.valueOf(new JsonObject(r.body()).getString("displayName")));
    long seen = m.find() ? Long.parseLong(m.group(1)) : 0;
    if (seen < bound) {
      stale.increment();
      example(at(start) + " stale: g" + g + " via gateway " + gw + " showed #" + seen + ", #" + bound
          + " acknowledged (X-Cache " + GatewayHarness.xCache(r) + ", Age " + r.headers().firstValue("Age").orElse("-") + ")");
    }
  }

  void userRead(int gw, Caller c, String path) throws Exception {
    String key = gw + "|" + c.index() + "|" + path;
    long start = now();
    Long ok = lastOk.get(key);
    boolean tracked = ok != null && ok > lastReturn.get(gw) + SECOND / 2 && start - ok < STALE_IF_ERROR_NANOS;
    int status;
    String xCache = "none";
    try {
      HttpResponse<String> r = get(gw, path, c);
      status = r.statusCode();
      xCache = GatewayHarness.xCache(r);
    } catch (IOException e) {
      clientFailures.increment();
      status = -1;
    }
    if (status / 100 == 2) {
      lastOk.merge(key, start, Math::max);
      if (tracked) avoidableChecked.increment();
    } else if (tracked && lastReturn.get(gw) < start) {
      avoidableChecked.increment();
      avoidable.increment();
      example(at(start) + " avoidable: " + path + " via gateway " + gw + " got " + status + " (X-Cache " + xCache
          + "), 2xx " + String.format("%.1fs", (start - ok) / 1e9) + " before");
    }
  }

  void batch(ThreadLocalRandom r, int gw, Caller c) throws Exception {
    JsonArray subs = new JsonArray();
    int n = 2 + r.nextInt(4);
    for (int i = 0; i < n; i++) {
      String url = r.nextBoolean() ? "/users/u" + (1 + r.nextInt(USERS)) : "/groups/g" + (1 + r.nextInt(GROUPS));
      subs.add(new JsonObject().put("id", String.valueOf(i + 1)).put("method", "GET").put("url", url));
    }
    HttpResponse<String> resp = http.send(request(gw, "/v1.0/$batch", c).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(new JsonObject().put("requests", subs).encode())).build(),
        HttpResponse.BodyHandlers.ofString());
    requests.increment();
    batches.increment();
    count("BATCH", resp.statusCode());
    checkCrossed(resp.body(), c, "$batch");
  }

  // ---- hostile requests: raw HTTP/1.1, since a proper client refuses to send them ----

  void hostileRequest(ThreadLocalRandom r, int gw, Caller c) throws Exception {
    Gateway g = gateways.get(gw);
    String user = "u" + (1 + r.nextInt(USERS));
    switch (r.nextInt(6)) {
      case 0 -> hostile("bad-percent", raw(g.proxyPort(), "GET /v1.0/users/" + user + (r.nextBoolean() ? "%zz" : "%") + " HTTP/1.1",
          c.authorization(), null), c);
      case 1 -> hostile("absolute-form", raw(g.proxyPort(), "GET http://evil.example/v1.0/users/" + user + " HTTP/1.1",
          c.authorization(), null), c);
      case 2 -> hostile("dot-segments", raw(g.proxyPort(), "GET " + (r.nextBoolean()
          ? "/v1.0/users/" + user + "/../../groups/g1" : "/v1.0/groups/g7/%2e%2e/g8") + " HTTP/1.1", c.authorization(), null), c);
      case 3 -> {
        // Another caller's claims under this caller's signature: a token nobody issued.
        Caller victim = callers.get((c.index() + 1 + r.nextInt(CALLERS - 1)) % CALLERS);
        String[] parts = c.authorization().substring(7).split("\\.");
        String[] theirs = victim.authorization().substring(7).split("\\.");
        String forged = "Bearer " + parts[0] + "." + theirs[1] + "." + parts[2];
        Caller as = new Caller(-1, forged, hash(forged), c.signature());
        String answer = raw(g.proxyPort(), "GET /v1.0/users/" + user + " HTTP/1.1", forged, null);
        if (status(answer) / 100 == 2) {
          forgedAccepted.increment();
          example(at(now()) + " forged JWT got " + status(answer));
        }
        hostile("forged-jwt", answer, as);
      }
      case 4 -> {
        String answer = raw(g.managementPort(), "GET /eventbus/info HTTP/1.1", null, "https://evil.example");
        if (status(answer) != 403) {
          bridgeOpened.increment();
          example(at(now()) + " foreign Origin on the bridge got " + status(answer));
        }
        hostile("bridge-foreign-origin", answer, c);
      }
      // Both framings at once (request smuggling), the chunked body complete so no side waits for more.
      default -> hostile("te-and-cl", raw(g.proxyPort(), "GET /v1.0/users/" + user + " HTTP/1.1\r\nTransfer-Encoding: chunked"
          + "\r\nContent-Length: 5", c.authorization(), null, "0\r\n\r\n"), c);
    }
  }

  void hostile(String kind, String answer, Caller as) {
    requests.increment();
    hostile.computeIfAbsent(kind + " " + status(answer), k -> new LongAdder()).increment();
    checkCrossed(answer, as, kind);
  }

  /** Sends one raw request (Connection: close) and returns the whole answer as text, or "" when refused. */
  static String raw(int port, String requestLine, String authorization, String origin) throws IOException {
    return raw(port, requestLine, authorization, origin, "");
  }

  static String raw(int port, String requestLine, String authorization, String origin, String body) throws IOException {
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(30_000);
      StringBuilder req = new StringBuilder(requestLine).append("\r\nHost: 127.0.0.1:").append(port);
      if (authorization != null) req.append("\r\nAuthorization: ").append(authorization);
      if (origin != null) req.append("\r\nOrigin: ").append(origin);
      req.append("\r\nConnection: close\r\n\r\n").append(body);
      OutputStream out = s.getOutputStream();
      out.write(req.toString().getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
    }
  }

  static int status(String answer) {
    if (!answer.startsWith("HTTP/1.1 ") || answer.length() < 12) return -1;
    return Integer.parseInt(answer.substring(9, 12));
  }

  // ---- checks ----

  void checkCrossed(String body, Caller c, String what) {
    if (body == null) return;
    Matcher m = CALLER_HASH.matcher(body);
    while (m.find()) {
      if (!m.group(1).equals(c.hash())) {
        crossed.increment();
        example(at(now()) + " crossed: " + what + " answered with callerHash " + m.group(1) + ", requester " + c.hash());
      }
    }
  }

  void count(String method, int status) {
    statuses.computeIfAbsent(method + " " + status, k -> new LongAdder()).increment();
  }

  /** Values of every key in Redis (gzip bodies decoded) that contain a token's signature. */
  long tokensInRedis(Set<String> signatures) throws Exception {
    vertx = Vertx.vertx();
    Redis redis = Redis.createClient(vertx, harness.redisUrl());
    long found = 0;
    long keys = 0;
    try {
      Response all = redis.send(Request.cmd(Command.KEYS).arg("*")).await(10, TimeUnit.SECONDS);
      for (Response k : all) {
        keys++;
        String key = k.toString();
        String type = redis.send(Request.cmd(Command.TYPE).arg(key)).await(10, TimeUnit.SECONDS).toString();
        Request read = switch (type) {
          case "string" -> Request.cmd(Command.GET).arg(key);
          case "hash" -> Request.cmd(Command.HVALS).arg(key);
          case "set" -> Request.cmd(Command.SMEMBERS).arg(key);
          case "zset" -> Request.cmd(Command.ZRANGE).arg(key).arg(0).arg(-1);
          case "list" -> Request.cmd(Command.LRANGE).arg(key).arg(0).arg(-1);
          default -> null;
        };
        StringBuilder text = new StringBuilder(key).append('\n');
        Response value = read == null ? null : redis.send(read).await(10, TimeUnit.SECONDS);
        append(value, text);
        for (String s : signatures) {
          if (text.indexOf(s) >= 0) {
            found++;
            example("token in Redis under " + key);
          }
        }
      }
    } finally {
      redis.close();
    }
    redisKeys = keys;
    return found;
  }

  long redisKeys;

  static void append(Response value, StringBuilder text) throws IOException {
    if (value == null) return;
    switch (value.type()) {
      case BULK -> text.append(decoded(value.toBuffer().getBytes())).append('\n');
      case MULTI -> {
        for (Response v : value) append(v, text);
      }
      default -> text.append(value).append('\n');
    }
  }

  static String decoded(byte[] bytes) throws IOException {
    if (bytes.length > 2 && (bytes[0] & 0xff) == 0x1f && (bytes[1] & 0xff) == 0x8b) {
      try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(bytes))) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        in.transferTo(out);
        bytes = out.toByteArray();
      } catch (IOException notGzip) {
        // Not gzip after all: searched as it is.
      }
    }
    return new String(bytes, StandardCharsets.ISO_8859_1);
  }

  String report(long tokensInRedis) throws IOException {
    long rssKb = 0;
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmHWM:")) rssKb = Long.parseLong(line.replaceAll("[^0-9]", ""));
    }
    long poolPeak = 0;
    for (var pool : ManagementFactory.getMemoryPoolMXBeans()) {
      if (pool.getType() == java.lang.management.MemoryType.HEAP && pool.getPeakUsage() != null) poolPeak += pool.getPeakUsage().getUsed();
    }
    var sim = harness.sim().stats();
    StringBuilder b = new StringBuilder("== chaos soak: " + SECONDS + " s, 3 gateways, 1 Redis, " + CALLERS + " callers, "
        + WORKERS + " workers + 1 writer ==\n");
    b.append(String.format("requests                  %d (client-side failures %d)%n", requests.sum(), clientFailures.sum()));
    b.append(String.format("writes acknowledged       %d (not acknowledged %d), $batch %d%n", writesAcked.sum(), writesFailed.sum(), batches.sum()));
    b.append(String.format("avoidable failures        %d (of %d tracked user GETs)%n", avoidable.sum(), avoidableChecked.sum()));
    b.append(String.format("crossed answers           %d%n", crossed.sum()));
    b.append(String.format("stale after ack'd write   %d (of %d written-group reads)%n", stale.sum(), staleChecked.sum()));
    b.append(String.format("tokens in logs            %d (%d log lines scanned)%n", tokensInLogs.sum(), logLines.sum()));
    b.append(String.format("tokens in Redis           %d (%d keys scanned)%n", tokensInRedis, redisKeys));
    b.append(String.format("forged JWT answered 2xx   %d; foreign Origin not refused on the bridge %d%n", forgedAccepted.sum(), bridgeOpened.sum()));
    b.append(String.format("peak heap                 %d MiB sampled (MemoryMXBean), %d MiB pool peaks; -Xmx %d MiB%n",
        peakHeap.get() >> 20, poolPeak >> 20, Runtime.getRuntime().maxMemory() >> 20));
    b.append(String.format("peak RSS (VmHWM)          %d MiB (whole test JVM: simulator, 3 gateways, clients)%n", rssKb >> 10));
    b.append(String.format("upstream calls            %d (injected 503s %d, 401s %d)%n", sim.total(), sim.errors(), sim.unauthorized()));
    b.append("statuses                  ").append(new TreeMap<>(sums(statuses))).append('\n');
    b.append("hostile (kind status)     ").append(new TreeMap<>(sums(hostile))).append('\n');
    for (String e : examples) b.append("  ").append(e).append('\n');
    return b.toString();
  }

  static Map<String, Long> sums(Map<String, LongAdder> m) {
    Map<String, Long> out = new TreeMap<>();
    m.forEach((k, v) -> out.put(k, v.sum()));
    return out;
  }

  static Caller caller(int index, String app) {
    String authorization = Tokens.issue(new JsonObject().put("tid", "soak-tenant").put("appid", app)
        .put("oid", "oid-" + index).put("idtyp", "app").put("exp", System.currentTimeMillis() / 1000 + 3600));
    return new Caller(index, authorization, hash(authorization), authorization.substring(authorization.lastIndexOf('.') + 1));
  }

  static String hash(String authorization) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(authorization.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d, 0, 6);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
