package io.tollgate.cache;

import static io.tollgate.testing.GatewayHarness.xCache;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.config.CacheOptions;
import io.tollgate.config.ConfigException;
import io.tollgate.config.PathPattern;
import io.tollgate.config.TollgateOptions;
import io.tollgate.testing.GatewayHarness;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * {@code cache.semantics: http} over real HTTP: a gateway whose one route covers every path, in front of a small
 * origin (a Vert.x server started here) whose answers carry the caching headers each test needs. What is stored, for
 * how long and for which requests follows those headers (RFC 9111), not the route's TTL. Each test uses paths of its
 * own, so one gateway serves them all. The clock is the real one: staleness comes from {@code Age}, past
 * {@code Expires} and {@code max-age=0}, never from waiting.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HttpSemanticsTest {
  /** An origin answer: status, headers as name, value pairs, body. */
  record Answer(int status, String body, String... headers) {}

  static final class Origin implements AutoCloseable {
    final Vertx vertx = Vertx.vertx();
    final Map<String, Function<HttpServerRequest, Answer>> answers = new ConcurrentHashMap<>();
    final Map<String, AtomicInteger> counts = new ConcurrentHashMap<>();
    final Map<String, MultiMap> lastRequest = new ConcurrentHashMap<>();
    final HttpServer server;

    Origin() throws Exception {
      server = vertx.createHttpServer().requestHandler(req -> {
        String path = req.path();
        counts.computeIfAbsent(req.method().name() + " " + path, k -> new AtomicInteger()).incrementAndGet();
        lastRequest.put(path, MultiMap.caseInsensitiveMultiMap().addAll(req.headers()));
        Function<HttpServerRequest, Answer> f = answers.get(path);
        Answer a = f == null ? new Answer(404, "none") : f.apply(req);
        var response = req.response().setStatusCode(a.status());
        for (int i = 0; i < a.headers().length; i += 2) response.headers().add(a.headers()[i], a.headers()[i + 1]);
        req.body().onComplete(ignored -> response.end(a.body() == null ? "" : a.body()));
      }).listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS);
    }

    String url() { return "http://127.0.0.1:" + server.actualPort(); }

    int count(String methodAndPath) {
      AtomicInteger n = counts.get(methodAndPath);
      return n == null ? 0 : n.get();
    }

    @Override
    public void close() throws Exception {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
  }

  static String httpDate(Duration fromNow) {
    return DateTimeFormatter.RFC_1123_DATE_TIME.format(ZonedDateTime.now(ZoneOffset.UTC).plus(fromNow));
  }

  Origin origin;
  GatewayHarness harness;

  @BeforeAll
  void start() throws Exception {
    origin = new Origin();
    harness = GatewayHarness.builder().gateway(o -> {
      o.getUpstream().setUrl(origin.url());
      o.getRetry().setEnabled(false);
      o.getRateLimit().setEnabled(false);
      o.getCache().setSemantics(CacheOptions.Semantics.HTTP)
          .setRoutes(List.of(new CacheOptions.Route("all", PathPattern.compile("/**"), Duration.ofDays(1),
              Duration.ofSeconds(30), Duration.ofMinutes(10), Duration.ZERO)))
          .setInvalidations(List.of());
    }).start();
  }

  @AfterAll
  void stop() throws Exception {
    harness.close();
    origin.close();
  }

  private HttpResponse<String> get(String path, String... headers) throws Exception {
    return harness.get(path, headers);
  }

  private HttpResponse<String> send(String method, String path) throws Exception {
    return harness.http().send(HttpRequest.newBuilder(URI.create(harness.proxy() + path))
        .method(method, HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
  }

  private void answer(String path, Answer a) {
    origin.answers.put(path, req -> a);
  }

  @Test
  void max_age_minus_the_age_it_arrived_with_decides_freshness_and_hits_report_the_full_age() throws Exception {
    answer("/fresh/max-age", new Answer(200, "a", "Cache-Control", "max-age=3600", "Age", "100"));
    answer("/fresh/too-old", new Answer(200, "b", "Cache-Control", "max-age=60", "Age", "100"));
    assertEquals("MISS", xCache(get("/fresh/max-age")));
    HttpResponse<String> hit = get("/fresh/max-age");
    assertEquals("HIT-L1", xCache(hit));
    assertEquals("a", hit.body());
    assertTrue(Long.parseLong(hit.headers().firstValue("Age").orElseThrow()) >= 100, "Age counts the upstream's Age");
    get("/fresh/too-old");
    assertEquals("MISS", xCache(get("/fresh/too-old")), "older than its max-age on arrival: never fresh");
    assertEquals(2, origin.count("GET /fresh/too-old"));
  }

  @Test
  void s_maxage_wins_over_max_age_in_a_shared_cache() throws Exception {
    answer("/fresh/s-maxage", new Answer(200, "a", "Cache-Control", "max-age=3600, s-maxage=0"));
    get("/fresh/s-maxage");
    assertEquals("MISS", xCache(get("/fresh/s-maxage")));
    assertEquals(2, origin.count("GET /fresh/s-maxage"));
  }

  @Test
  void expires_after_date_is_fresh_and_expires_in_the_past_is_not() throws Exception {
    answer("/fresh/expires", new Answer(200, "a", "Date", httpDate(Duration.ZERO), "Expires", httpDate(Duration.ofHours(1))));
    answer("/fresh/expired", new Answer(200, "a", "Date", httpDate(Duration.ZERO), "Expires", httpDate(Duration.ofHours(-1))));
    get("/fresh/expires");
    assertEquals("HIT-L1", xCache(get("/fresh/expires")));
    get("/fresh/expired");
    assertEquals("MISS", xCache(get("/fresh/expired")));
  }

  @Test
  void an_answer_without_freshness_information_is_not_stored_even_a_201() throws Exception {
    answer("/store/created", new Answer(201, "a"));
    get("/store/created");
    assertEquals("MISS", xCache(get("/store/created")));
    assertEquals(2, origin.count("GET /store/created"));
  }

  @Test
  void no_store_and_private_are_never_stored_whatever_their_case() throws Exception {
    answer("/store/no-store", new Answer(200, "a", "Cache-Control", "max-age=3600, No-Store"));
    answer("/store/private", new Answer(200, "a", "Cache-Control", "private, max-age=3600"));
    for (String path : List.of("/store/no-store", "/store/private")) {
      get(path);
      assertEquals("MISS", xCache(get(path)), path);
      assertEquals(2, origin.count("GET " + path), path);
    }
  }

  @Test
  void a_404_and_a_301_with_max_age_are_served_from_the_cache() throws Exception {
    answer("/status/gone", new Answer(404, "nothing here", "Cache-Control", "max-age=600"));
    answer("/status/moved", new Answer(301, "", "Cache-Control", "max-age=600", "Location", "/status/new-home"));
    get("/status/gone");
    HttpResponse<String> notFound = get("/status/gone");
    assertEquals(404, notFound.statusCode());
    assertEquals("HIT-L1", xCache(notFound));
    get("/status/moved");
    HttpResponse<String> moved = get("/status/moved");
    assertEquals(301, moved.statusCode());
    assertEquals("HIT-L1", xCache(moved));
    assertEquals("/status/new-home", moved.headers().firstValue("Location").orElse(null));
    assertEquals(1, origin.count("GET /status/gone"));
    assertEquals(1, origin.count("GET /status/moved"));
  }

  @Test
  void vary_from_the_answer_picks_which_requests_the_entry_answers() throws Exception {
    answer("/vary/flavour", new Answer(200, "a", "Cache-Control", "max-age=3600", "Vary", "X-Flavour"));
    answer("/vary/star", new Answer(200, "a", "Cache-Control", "max-age=3600", "Vary", "*"));
    assertEquals("MISS", xCache(get("/vary/flavour", "X-Flavour", "vanilla")));
    assertEquals("HIT-L1", xCache(get("/vary/flavour", "X-Flavour", "vanilla")));
    assertEquals("MISS", xCache(get("/vary/flavour", "X-Flavour", "mint")), "another value is another answer");
    assertEquals("MISS", xCache(get("/vary/flavour")), "and so is none at all");
    assertEquals(3, origin.count("GET /vary/flavour"));
    get("/vary/star");
    assertEquals("MISS", xCache(get("/vary/star")), "Vary: * matches no later request");
  }

  @Test
  void a_clients_conditional_request_is_answered_304_from_a_fresh_entry() throws Exception {
    String lastModified = httpDate(Duration.ofDays(-2));
    answer("/cond/item", new Answer(200, "body", "Cache-Control", "max-age=3600", "ETag", "\"v1\"", "Last-Modified", lastModified));
    get("/cond/item");
    HttpResponse<String> byTag = get("/cond/item", "If-None-Match", "\"v1\"");
    assertEquals(304, byTag.statusCode());
    assertEquals("\"v1\"", byTag.headers().firstValue("ETag").orElse(null));
    HttpResponse<String> byDate = get("/cond/item", "If-Modified-Since", httpDate(Duration.ofDays(-1)));
    assertEquals(304, byDate.statusCode());
    HttpResponse<String> otherTag = get("/cond/item", "If-None-Match", "\"v0\"");
    assertEquals(200, otherTag.statusCode());
    assertEquals("body", otherTag.body());
    assertEquals(1, origin.count("GET /cond/item"), "all answered by the cache");
    assertNull(origin.lastRequest.get("/cond/item").get("If-None-Match"));
  }

  @Test
  void a_stale_entry_is_revalidated_with_its_etag_and_the_304_updates_its_headers_and_freshness() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    origin.answers.put("/reval/etag", req -> calls.incrementAndGet() == 1
        ? new Answer(200, "payload", "Cache-Control", "max-age=0", "ETag", "\"e1\"", "X-Version", "1")
        : "\"e1\"".equals(req.getHeader("If-None-Match"))
            ? new Answer(304, null, "Cache-Control", "max-age=3600", "ETag", "\"e1\"", "X-Version", "2")
            : new Answer(500, "unconditional"));
    assertEquals("MISS", xCache(get("/reval/etag")));
    HttpResponse<String> revalidated = get("/reval/etag");
    assertEquals(200, revalidated.statusCode());
    assertEquals("REVALIDATED", xCache(revalidated));
    assertEquals("payload", revalidated.body());
    assertEquals("2", revalidated.headers().firstValue("X-Version").orElse(null), "the 304's headers replace the stored ones");
    HttpResponse<String> hit = get("/reval/etag");
    assertEquals("HIT-L1", xCache(hit), "the 304's max-age made it fresh");
    assertEquals("2", hit.headers().firstValue("X-Version").orElse(null));
    assertEquals(2, origin.count("GET /reval/etag"));
  }

  @Test
  void an_entry_with_only_last_modified_is_revalidated_with_if_modified_since() throws Exception {
    String lastModified = httpDate(Duration.ofDays(-3));
    origin.answers.put("/reval/lm", req -> lastModified.equals(req.getHeader("If-Modified-Since"))
        ? new Answer(304, null, "Cache-Control", "no-cache")
        : new Answer(200, "payload", "Cache-Control", "no-cache", "Last-Modified", lastModified));
    get("/reval/lm");
    HttpResponse<String> second = get("/reval/lm");
    assertEquals("REVALIDATED", xCache(second), "no-cache: revalidated before every use");
    assertEquals("payload", second.body());
  }

  @Test
  void a_requests_own_no_cache_and_max_age_revalidate_and_only_if_cached_never_goes_upstream() throws Exception {
    origin.answers.put("/req/directives", req -> "\"d1\"".equals(req.getHeader("If-None-Match"))
        ? new Answer(304, null, "Cache-Control", "max-age=3600", "ETag", "\"d1\"", "Age", "5")
        : new Answer(200, "payload", "Cache-Control", "max-age=3600", "ETag", "\"d1\""));
    get("/req/directives");
    assertEquals("HIT-L1", xCache(get("/req/directives")));
    assertEquals("REVALIDATED", xCache(get("/req/directives", "Cache-Control", "no-cache")));
    assertEquals("\"d1\"", origin.lastRequest.get("/req/directives").get("If-None-Match"), "revalidated with its validator");
    assertEquals("REVALIDATED", xCache(get("/req/directives", "Cache-Control", "max-age=3")),
        "5 s old (the 304's Age): older than the client allows");
    assertEquals(3, origin.count("GET /req/directives"));
    assertEquals(200, get("/req/directives", "Cache-Control", "only-if-cached").statusCode());
    assertEquals(504, get("/req/never-fetched", "Cache-Control", "only-if-cached").statusCode());
    assertEquals(0, origin.count("GET /req/never-fetched"));
  }

  @Test
  void a_post_evicts_its_own_path_and_the_one_its_location_names() throws Exception {
    answer("/things/1", new Answer(200, "one", "Cache-Control", "max-age=3600"));
    answer("/things", new Answer(200, "list", "Cache-Control", "max-age=3600"));
    get("/things/1");
    get("/things");
    assertEquals("HIT-L1", xCache(get("/things/1")));
    origin.answers.put("/things", req -> req.method().name().equals("POST")
        ? new Answer(201, "created", "Location", "/things/1")
        : new Answer(200, "list", "Cache-Control", "max-age=3600"));
    assertEquals(201, send("POST", "/things").statusCode());
    assertEquals("MISS", xCache(get("/things/1")), "named by Location");
    assertEquals("MISS", xCache(get("/things")), "the POST's own path");
  }

  @Test
  void an_error_answer_to_a_write_evicts_nothing() throws Exception {
    answer("/things/2", new Answer(200, "two", "Cache-Control", "max-age=3600"));
    get("/things/2");
    origin.answers.put("/things/2", req -> req.method().name().equals("PUT") ? new Answer(409, "conflict")
        : new Answer(200, "two", "Cache-Control", "max-age=3600"));
    assertEquals(409, send("PUT", "/things/2").statusCode());
    assertEquals("HIT-L1", xCache(get("/things/2")));
  }

  @Test
  void requests_without_authorization_share_one_partition_and_authorized_ones_need_explicit_permission() throws Exception {
    answer("/auth/plain", new Answer(200, "a", "Cache-Control", "max-age=3600"));
    answer("/auth/public", new Answer(200, "a", "Cache-Control", "public, max-age=3600"));
    get("/auth/plain");
    assertEquals("HIT-L1", xCache(get("/auth/plain")), "anonymous callers are cached in http mode");
    harness.getAs("Bearer t1", "/auth/plain");
    assertEquals("MISS", xCache(harness.getAs("Bearer t1", "/auth/plain")),
        "RFC 9111 3.5: not stored for a request with Authorization without public, s-maxage or must-revalidate");
    harness.getAs("Bearer t1", "/auth/public");
    assertEquals("HIT-L1", xCache(harness.getAs("Bearer t1", "/auth/public")));
  }

  @Test
  void honour_upstream_cache_control_is_the_old_name_of_semantics_http() {
    TollgateOptions old = TollgateOptions.fromJson(new JsonObject().put("cache", new JsonObject().put("honourUpstreamCacheControl", true)));
    assertTrue(old.getCache().isHttpSemantics());
    assertEquals("http", old.getCache().toJson().getString("semantics"));
    assertFalse(TollgateOptions.fromJson(new JsonObject()).getCache().isHttpSemantics(), "graph stays the default");
    Exception bad = assertThrows(Exception.class,
        () -> TollgateOptions.fromJson(new JsonObject().put("cache", new JsonObject().put("semantics", "rfc"))));
    ConfigException problems = assertInstanceOf(ConfigException.class, bad);
    assertTrue(problems.problems().toString().contains("cache.semantics"), problems.problems().toString());
    Exception conflict = assertThrows(Exception.class, () -> TollgateOptions.fromJson(new JsonObject().put("cache",
        new JsonObject().put("semantics", "graph").put("honourUpstreamCacheControl", true))));
    assertTrue(assertInstanceOf(ConfigException.class, conflict).problems().toString().contains("cache.honourUpstreamCacheControl"));
  }

  @Test
  void vary_values_and_the_initial_age_survive_the_l2_form_of_an_entry() {
    MultiMap headers = MultiMap.caseInsensitiveMultiMap().add("Vary", "X-Flavour").add("ETag", "\"a\"");
    MultiMap request = MultiMap.caseInsensitiveMultiMap().add("X-Flavour", "vanilla");
    CachedResponse entry = CachedResponse.http(200, headers, Buffer.buffer("x"), 1_000, 5_000, 0, 0, 60_000, 7_000,
        List.of("x-flavour"), HttpCaching.varyValues(List.of("x-flavour"), request));
    CachedResponse back = CachedResponse.fromMeta(new JsonObject(entry.meta().encode()), Buffer.buffer("x"));
    assertTrue(back.varyMatches(request));
    assertFalse(back.varyMatches(MultiMap.caseInsensitiveMultiMap().add("X-Flavour", "mint")));
    assertEquals(8, back.ageSeconds(2_000), "7 s old on arrival, 1 s in the cache");
    assertTrue(back.revalidatableAt(6_500));
  }
}
