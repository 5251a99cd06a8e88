package io.tollgate.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.config.CacheOptions;
import io.tollgate.config.PathPattern;
import io.tollgate.sim.SimulatorOptions;
import io.tollgate.testing.GatewayHarness;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Content encoding, every route kind × a client that accepts gzip or not × an upstream that compresses or not,
 * over real HTTP through the gateway in front of the simulator.
 *
 * <p>The client is {@code java.net.http}, which never decodes a body: what the test reads is exactly what the
 * gateway sent. Every cell checks the same contract (SPEC §2, content encoding): a client that did not ask for
 * gzip gets an identity body; one that did gets either identity or gzip labelled {@code Content-Encoding: gzip};
 * {@code Content-Length}, when sent, counts the bytes sent; the body parses. Then each route kind checks its own
 * promise: links rewritten, one cache entry for both kinds of client, sub-responses, writes and errors.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ContentEncodingMatrixTest {
  static final String ALICE = "Bearer alice";
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
  GatewayHarness harness;

  /**
   * The kinds of route a request can take through the gateway.
   *
   * <p>{@code readsNothing}: the gateway has no reason to read the body (not stored, no paging links), so a
   * gzip client gets the upstream's compressed bytes as they came when the upstream compresses.
   */
  enum Route {
    CACHED_GET(false),
    UNCACHED_GET(false),
    PAGED_UNCACHED_GET(false),
    PAGED_CACHED_GET(false),
    BATCH(false),
    POST(true),
    PATCH(true),
    DELETE(true),
    NOT_FOUND_ON_A_CACHED_ROUTE(true),
    BAD_REQUEST_PASSED_THROUGH(true),
    SERVER_ERROR(true);

    final boolean readsNothing;

    Route(boolean readsNothing) {
      this.readsNothing = readsNothing;
    }
  }

  static List<Arguments> cells() {
    List<Arguments> cells = new ArrayList<>();
    for (Route route : Route.values()) {
      for (boolean clientGzip : new boolean[] {true, false}) {
        for (boolean upstreamCompresses : new boolean[] {true, false}) cells.add(Arguments.of(route, clientGzip, upstreamCompresses));
      }
    }
    return cells;
  }

  @AfterEach
  void stop() {
    if (harness != null) harness.close();
  }

  @ParameterizedTest(name = "{0}, client accepts gzip: {1}, upstream compresses: {2}")
  @MethodSource("cells")
  void every_client_gets_a_body_it_can_read(Route route, boolean clientGzip, boolean upstreamCompresses) throws Exception {
    harness = GatewayHarness.builder().simulator(new SimulatorOptions().setCompression(upstreamCompresses)).start();
    Client client = new Client(clientGzip);
    switch (route) {
      case CACHED_GET -> cachedGet(client);
      case UNCACHED_GET -> uncachedGet(client);
      case PAGED_UNCACHED_GET -> pagedGet(client, "/v1.0/users?$top=5", "GET /v1.0/users");
      case PAGED_CACHED_GET -> pagedGet(client, "/v1.0/groups/g1/members?$top=5", "GET /v1.0/groups/g1/members");
      case BATCH -> batch(client);
      case POST -> post(client, upstreamCompresses);
      case PATCH -> patch(client);
      case DELETE -> delete(client);
      case NOT_FOUND_ON_A_CACHED_ROUTE -> error(client, "/v1.0/users/nobody", 404, upstreamCompresses);
      case BAD_REQUEST_PASSED_THROUGH -> error(client, "/v1.0/users?$top=0", 400, upstreamCompresses);
      case SERVER_ERROR -> error(client, "/_sim/status/500", 500, upstreamCompresses);
    }
  }

  @ParameterizedTest(name = "client accepts gzip: {0}")
  @ValueSource(booleans = {true, false})
  void the_gateway_asks_the_upstream_for_gzip_for_an_answer_it_may_keep_whatever_the_client_accepts(boolean clientGzip) throws Exception {
    harness = GatewayHarness.builder().gateway(o -> {
      List<CacheOptions.Route> routes = new ArrayList<>(o.getCache().getRoutes());
      routes.add(0, new CacheOptions.Route("echoed-headers", PathPattern.compile("/_sim/headers"), Duration.ofMinutes(1),
          Duration.ZERO, CacheOptions.DEFAULT_STALE_IF_ERROR, Duration.ZERO));
      o.getCache().setRoutes(routes);
    }).start();
    assertEquals("gzip", upstreamAskedFor(new Client(clientGzip).get("/_sim/headers")),
        "one decoded entry serves both kinds of client, so the upstream's bytes come compressed");
  }

  @ParameterizedTest(name = "client accepts gzip: {0}")
  @ValueSource(booleans = {true, false})
  void an_answer_only_this_client_reads_is_asked_for_in_the_coding_the_client_takes(boolean clientGzip) throws Exception {
    harness = GatewayHarness.builder().start();
    assertEquals(clientGzip ? "gzip" : "identity", upstreamAskedFor(new Client(clientGzip).get("/_sim/headers")),
        "gzip only when the client takes it as it comes; otherwise the gateway would decode it for this client alone");
  }

  private static String upstreamAskedFor(Answer seen) {
    assertEquals(200, seen.status, seen.text());
    JsonArray asked = seen.json().getJsonObject("headers").getJsonArray("accept-encoding");
    assertNotNull(asked, "the upstream was asked for an encoding: " + seen.text());
    assertEquals(1, asked.size(), "one Accept-Encoding: " + asked);
    return asked.getString(0).toLowerCase(Locale.ROOT);
  }

  // ---- the route kinds ----

  /** Filled by one kind of client, the entry is a hit for the other kind: one upstream call for both. */
  void cachedGet(Client client) throws Exception {
    Answer filled = client.get("/v1.0/users/u1");
    assertEquals(200, filled.status, filled.text());
    assertEquals("MISS", filled.xCache);
    assertEquals("u1", filled.json().getString("id"));
    Answer hit = client.other().get("/v1.0/users/u1");
    assertEquals(200, hit.status, hit.text());
    assertEquals("HIT-L1", hit.xCache, "one entry serves both kinds of client");
    assertEquals("u1", hit.json().getString("id"));
    Answer again = client.get("/v1.0/users/u1");
    assertEquals("HIT-L1", again.xCache);
    assertEquals(filled.json().getString("displayName"), again.json().getString("displayName"));
    assertEquals(1, harness.sim().stats().count("GET /v1.0/users/u1"), "one upstream call");
  }

  /** A collection no route rule caches, on one page (500 users, $top 999): passed through, read by each client. */
  void uncachedGet(Client client) throws Exception {
    Answer r = client.get("/v1.0/users?$top=999");
    assertEquals(200, r.status, r.text());
    assertEquals("MISS", r.xCache);
    assertEquals(500, r.json().getJsonArray("value").size());
    assertTrue(!r.json().containsKey("@odata.nextLink"), "one page");
    Answer other = client.other().get("/v1.0/users?$top=999");
    assertEquals(500, other.json().getJsonArray("value").size());
    assertEquals(2, harness.sim().stats().count("GET /v1.0/users"), "not cached: both went upstream");
  }

  /** The next page's link points at the gateway, for either kind of client, and following it works. */
  void pagedGet(Client client, String firstPage, String counted) throws Exception {
    Answer first = client.get(firstPage);
    assertEquals(200, first.status, first.text());
    String next = first.json().getString("@odata.nextLink");
    assertNotNull(next, first.text());
    assertTrue(next.startsWith(harness.proxy() + "/"), "nextLink rewritten to the gateway: " + next);
    Answer second = client.getAbsolute(next);
    assertEquals(200, second.status, second.text());
    assertEquals(5, second.json().getJsonArray("value").size());
    assertTrue(second.json().getString("@odata.nextLink", harness.proxy()).startsWith(harness.proxy() + "/"), second.text());
    Answer byOther = client.other().get(firstPage);
    assertEquals(next, byOther.json().getString("@odata.nextLink"), "the other kind of client is sent to the gateway too");
    assertEquals(first.json().getJsonArray("value"), byOther.json().getJsonArray("value"));
    long upstreamCalls = harness.sim().stats().count(counted);
    assertTrue(upstreamCalls == 2 || upstreamCalls == 3, "two pages, the first maybe cached: " + upstreamCalls);
  }

  /** Sub-responses readable: a cached read (filled before by the other kind of client), a miss, and a page. */
  void batch(Client client) throws Exception {
    assertEquals(200, client.other().get("/v1.0/users/u2").status);
    JsonObject body = new JsonObject().put("requests", new JsonArray()
        .add(new JsonObject().put("id", "1").put("method", "GET").put("url", "/users/u2"))
        .add(new JsonObject().put("id", "2").put("method", "GET").put("url", "/groups/g3"))
        .add(new JsonObject().put("id", "3").put("method", "GET").put("url", "/users?$top=2")));
    Answer r = client.send("POST", "/v1.0/$batch", body);
    assertEquals(200, r.status, r.text());
    JsonArray responses = r.json().getJsonArray("responses");
    assertEquals(3, responses.size(), r.text());
    JsonObject u2 = byId(responses, "1");
    assertEquals(200, u2.getInteger("status"), u2.encode());
    assertEquals("u2", u2.getJsonObject("body").getString("id"));
    assertEquals("g3", byId(responses, "2").getJsonObject("body").getString("id"));
    JsonObject page = byId(responses, "3").getJsonObject("body");
    assertEquals(2, page.getJsonArray("value").size(), page.encode());
    assertTrue(page.getString("@odata.nextLink").startsWith(harness.proxy() + "/"), "links inside a batch rewritten: " + page);
    assertEquals(1, harness.sim().stats().count("GET /v1.0/users/u2"), "the cached step was answered locally");
  }

  void post(Client client, boolean upstreamCompresses) throws Exception {
    JsonObject grant = new JsonObject().put("roles", new JsonArray().add("read"))
        .put("grantedToV2", new JsonObject().put("user", new JsonObject().put("id", "u3")));
    Answer r = client.send("POST", "/v1.0/sites/s1/permissions", grant);
    assertEquals(201, r.status, r.text());
    assertNotNull(r.json().getString("id"), r.text());
    assertTrue(r.location.startsWith(harness.proxy() + "/v1.0/sites/s1/permissions/"), "Location rewritten: " + r.location);
    assertPassedCompressed(r, client, upstreamCompresses);
  }

  /** A write's 204 has no body to decode; the read after it is fresh and readable by both kinds of client. */
  void patch(Client client) throws Exception {
    assertEquals(200, client.other().get("/v1.0/users/u4").status);
    Answer r = client.send("PATCH", "/v1.0/users/u4", new JsonObject().put("jobTitle", "Auditor"));
    assertEquals(204, r.status, r.text());
    assertEquals(0, r.bytes.length);
    assertEquals("Auditor", client.get("/v1.0/users/u4").json().getString("jobTitle"), "the write evicted the cached read");
  }

  void delete(Client client) throws Exception {
    Answer members = client.get("/v1.0/groups/g2/members?$top=1");
    String member = members.json().getJsonArray("value").getJsonObject(0).getString("id");
    Answer r = client.send("DELETE", "/v1.0/groups/g2/members/" + member + "/$ref", null);
    assertEquals(204, r.status, r.text());
    Answer gone = client.send("DELETE", "/v1.0/groups/g2/members/" + member + "/$ref", null);
    assertEquals(404, gone.status, gone.text());
    assertNotNull(gone.json().getJsonObject("error").getString("code"), "a write's error body is readable: " + gone.text());
  }

  void error(Client client, String path, int status, boolean upstreamCompresses) throws Exception {
    Answer r = client.get(path);
    assertEquals(status, r.status, r.text());
    JsonObject error = r.json().getJsonObject("error");
    assertNotNull(error, r.text());
    assertNotNull(error.getString("code"), r.text());
    assertNotNull(error.getString("message"), r.text());
    assertPassedCompressed(r, client, upstreamCompresses);
  }

  /** A body the gateway has no reason to read reaches a gzip client compressed, as the upstream sent it. */
  static void assertPassedCompressed(Answer r, Client client, boolean upstreamCompresses) {
    if (client.gzip && upstreamCompresses) assertEquals("gzip", r.encoding, "streamed through compressed, not decoded and re-sent");
  }

  static JsonObject byId(JsonArray responses, String id) {
    for (Object o : responses) if (id.equals(((JsonObject) o).getString("id"))) return (JsonObject) o;
    throw new AssertionError("no response " + id + " in " + responses.encode());
  }

  // ---- the raw client and the contract every answer keeps ----

  /** One kind of client: sends {@code Accept-Encoding: gzip} or no Accept-Encoding at all. */
  final class Client {
    final boolean gzip;

    Client(boolean gzip) {
      this.gzip = gzip;
    }

    Client other() {
      return new Client(!gzip);
    }

    Answer get(String path) throws Exception {
      return getAbsolute(harness.proxy() + path);
    }

    Answer getAbsolute(String url) throws Exception {
      return exchange(builder(url).GET());
    }

    Answer send(String method, String path, JsonObject body) throws Exception {
      HttpRequest.Builder b = builder(harness.proxy() + path);
      if (body == null) b.method(method, HttpRequest.BodyPublishers.noBody());
      else b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(body.encode()));
      return exchange(b);
    }

    private HttpRequest.Builder builder(String url) {
      HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30)).header("Authorization", ALICE);
      if (gzip) b.header("Accept-Encoding", "gzip");
      return b;
    }

    private Answer exchange(HttpRequest.Builder b) throws Exception {
      HttpResponse<byte[]> r = http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
      return Answer.of(r, gzip);
    }
  }

  /** An answer as the client can read it, after checking the encoding contract. */
  record Answer(int status, String xCache, String encoding, String location, byte[] bytes) {
    static Answer of(HttpResponse<byte[]> r, boolean clientGzip) {
      byte[] wire = r.body();
      r.headers().firstValue("Content-Length").ifPresent(length ->
          assertEquals(wire.length, Long.parseLong(length), "Content-Length counts the bytes sent"));
      String encoding = r.headers().firstValue("Content-Encoding").map(e -> e.trim().toLowerCase(Locale.ROOT)).orElse("identity");
      byte[] readable;
      if (encoding.equals("identity")) {
        readable = wire;
      } else {
        assertTrue(clientGzip, "a client that did not ask for gzip got Content-Encoding: " + encoding);
        assertEquals("gzip", encoding, "the only coding the client accepted");
        readable = gunzip(wire);
      }
      return new Answer(r.statusCode(), r.headers().firstValue("X-Cache").orElse("none"), encoding,
          r.headers().firstValue("Location").orElse(""), readable);
    }

    String text() {
      return new String(bytes, StandardCharsets.UTF_8);
    }

    /** The body as JSON; fails the test with the text when it does not parse. */
    JsonObject json() {
      try {
        return new JsonObject(text());
      } catch (RuntimeException e) {
        throw new AssertionError("not JSON (" + encoding + ", " + bytes.length + " bytes): "
            + text().substring(0, Math.min(200, text().length())), e);
      }
    }

    private static byte[] gunzip(byte[] packed) {
      try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(packed))) {
        return in.readAllBytes();
      } catch (IOException e) {
        throw new UncheckedIOException("labelled gzip but does not decode", e);
      }
    }
  }
}
