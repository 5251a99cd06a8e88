package io.tollgate.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.microsoft.graph.core.content.BatchRequestContent;
import com.microsoft.graph.core.content.BatchResponseContent;
import com.microsoft.graph.core.requests.GraphClientFactory;
import com.microsoft.graph.core.tasks.PageIterator;
import com.microsoft.graph.models.User;
import com.microsoft.graph.models.UserCollectionResponse;
import com.microsoft.graph.models.odataerrors.ODataError;
import com.microsoft.graph.serviceclient.GraphServiceClient;
import com.microsoft.kiota.HttpMethod;
import com.microsoft.kiota.RequestInformation;
import com.microsoft.kiota.authentication.AuthenticationProvider;
import io.tollgate.config.CacheOptions;
import io.tollgate.config.PathPattern;
import io.tollgate.config.TollgateOptions;
import io.tollgate.sim.SimulatorOptions;
import io.tollgate.sim.Tokens;
import io.tollgate.testing.GatewayHarness;
import io.tollgate.testing.LogCapture;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import okhttp3.Interceptor;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The official Microsoft Graph Java SDK, with its default middleware (OkHttp's transparent gzip, Kiota's
 * retry, redirect, user-agent, parameter-decoding and header-inspection handlers, Graph's telemetry handler),
 * talks over real HTTP to a gateway in front of the simulator: paging, {@code $batch}, throttling and a failing
 * upstream must look to it exactly like Graph.
 *
 * <p>The SDK is pointed at the gateway by its base URL; the token goes in through a tiny
 * {@link AuthenticationProvider} (Kiota's bearer provider refuses {@code http} hosts). A {@link Wire} at the
 * network end of the OkHttp chain, after the SDK's own RetryHandler, records every exchange as Tollgate
 * answered it: a 429 the SDK's retries would hide is still counted there.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class GraphSdkConformanceTest {
  static final String TOKEN = Tokens.issue(new JsonObject()
      .put("tid", "6d3c4a52-8c1e-4b7a-9f3e-2a1b5c7d9e01").put("appid", "5a1d0e2f-3c4b-4d6e-8f70-9a8b7c6d5e4f")
      .put("oid", "b2c3d4e5-f607-4819-a2b3-c4d5e6f70812").put("idtyp", "app"));

  GatewayHarness harness;
  OkHttpClient http;
  final Wire wire = new Wire();

  @AfterEach
  void stop() {
    if (http != null) {
      http.dispatcher().executorService().shutdown();
      http.connectionPool().evictAll();
    }
    if (harness != null) harness.close();
  }

  @Test
  @Timeout(30)
  void a_page_iterator_sees_every_user_once_through_rewritten_links_and_a_second_walk_comes_from_the_cache()
      throws Exception {
    int users = 300;
    int pageSize = 20;
    int pages = users / pageSize;
    start(new SimulatorOptions().setUsers(users).setPageSize(pageSize), GraphSdkConformanceTest::cacheUserList);
    GraphServiceClient graph = sdk();
    try (LogCapture logs = new LogCapture()) {
      List<String> first = walkUsers(graph);
      assertEquals(users, first.size(), "one callback per user");
      assertEquals(users, new HashSet<>(first).size(), "no user twice");
      assertEquals(pages, harness.sim().stats().count("GET /v1.0/users"), "each page fetched upstream once");
      assertEquals(pages, wire.exchanges.size(), "one exchange per page: " + wire.describe());
      for (Wire.Exchange e : wire.exchanges) {
        assertEquals(harness.gateway().proxyPort(), e.port(), "every page, nextLinks included, went through the gateway: " + e.url());
        assertEquals(200, e.status(), e.url());
      }

      wire.exchanges.clear();
      List<String> second = walkUsers(graph);
      assertEquals(first, second, "the cached walk sees the same users in the same order");
      assertEquals(pages, harness.sim().stats().count("GET /v1.0/users"), "the second walk made no upstream call");
      assertEquals(pages, wire.exchanges.size(), wire.describe());
      for (Wire.Exchange e : wire.exchanges) {
        assertEquals("HIT-L1", e.xCache(), "served from the cache: " + e.url());
        assertEquals(harness.gateway().proxyPort(), e.port(), "a cached page's nextLink points at the gateway: " + e.url());
      }
      assertFalse(logs.all().contains(signature(TOKEN)), "the bearer token never appears in the logs");
    }
  }

  @Test
  @Timeout(30)
  void a_batch_of_cached_and_uncached_steps_succeeds_step_by_step_for_the_sdk() throws Exception {
    start(new SimulatorOptions(), o -> { });
    GraphServiceClient graph = sdk();
    for (int i = 1; i <= 4; i++) {
      assertEquals("u" + i, graph.users().byUserId("u" + i).get().getId(), "warming u" + i);
    }
    wire.exchanges.clear();

    BatchRequestContent batch = new BatchRequestContent(graph);
    Map<String, String> userByStep = new LinkedHashMap<>();
    for (int i = 1; i <= 8; i++) {
      String user = "u" + i;
      userByStep.put(batch.addBatchRequestStep(graph.users().byUserId(user).toGetRequestInformation()), user);
    }
    BatchResponseContent answer = graph.getBatchRequestBuilder().post(batch, null);

    assertEquals(1, wire.exchanges.size(), wire.describe());
    assertEquals(200, wire.exchanges.peek().status(), "the batch envelope");
    Map<String, Integer> statuses = answer.getResponsesStatusCode();
    assertEquals(userByStep.keySet(), statuses.keySet(), "one sub-response per step");
    Map<String, String> failed = new LinkedHashMap<>();
    statuses.forEach((step, status) -> {
      if (status != 200) failed.put(userByStep.get(step), status + " " + body(answer, step));
    });
    assertTrue(failed.isEmpty(), "every step answered 200; these did not: " + failed);
    for (Map.Entry<String, String> step : userByStep.entrySet()) {
      User user = answer.getResponseById(step.getKey(), User::createFromDiscriminatorValue);
      assertNotNull(user, step.getValue());
      assertEquals(step.getValue(), user.getId(), "step " + step.getKey() + " parsed as the SDK's User");
      assertNotNull(user.getDisplayName(), step.getValue());
    }
    for (int i = 1; i <= 8; i++) {
      assertEquals(1, harness.sim().stats().count("GET /v1.0/users/u" + i),
          "u" + i + " fetched upstream once: the warm ones by the GET, the cold ones by the batch");
    }
  }

  @Test
  @Timeout(40)
  void under_graph_throttling_the_sdk_never_receives_a_429_from_many_threads() throws Exception {
    int threads = 25;
    int readsPerThread = 200;
    int distinctUsers = 150;
    start(new SimulatorOptions().setUsers(distinctUsers).setThrottleRate(20).setThrottleBurst(20)
        .setRetryAfter(Duration.ofSeconds(1)), o -> { });
    GraphServiceClient graph = sdk();
    Queue<String> failures = new ConcurrentLinkedQueue<>();
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    long began = System.nanoTime();
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int thread = t;
        done.add(pool.submit(() -> {
          for (int i = 0; i < readsPerThread; i++) {
            // Each round the threads read 25 different users; all 150 are read by round 6, then again and again.
            String id = "u" + ((i * threads + thread) % distinctUsers + 1);
            try {
              User user = graph.users().byUserId(id).get();
              if (user == null || !id.equals(user.getId())) failures.add(id + ": got " + (user == null ? null : user.getId()));
            } catch (RuntimeException e) {
              failures.add(id + ": " + describe(e));
            }
          }
        }));
      }
      for (Future<?> f : done) f.get(35, TimeUnit.SECONDS);
    } finally {
      pool.shutdownNow();
    }
    Duration took = Duration.ofNanos(System.nanoTime() - began);

    assertTrue(harness.sim().stats().throttled() > 0, "the run did meet Graph's throttling: " + harness.sim().stats());
    assertEquals(List.of(), failures.stream().limit(10).toList(), failures.size() + " reads failed in the SDK (" + took + ")");
    assertEquals(0, wire.count(429), "429s Tollgate answered the SDK (its RetryHandler hid them): "
        + wire.describe(429) + "; simulator: " + harness.sim().stats().throttled() + " throttled; " + took);
    assertEquals((long) threads * readsPerThread, wire.exchanges.size(), "one exchange per read, none retried by the SDK: "
        + wire.statusCounts());
  }

  @Test
  @Timeout(30)
  void an_upstream_that_answers_only_errors_gives_the_sdk_an_odata_error_it_can_read() throws Exception {
    start(new SimulatorOptions().setErrorRate(1.0).setRetryAfter(Duration.ofSeconds(1)),
        // One gateway attempt per SDK attempt keeps the run at ~3 s: the SDK's RetryHandler retries a 503 three times
        // after its Retry-After; with the shipped 3 gateway attempts one read takes ~11 s and 12 upstream calls.
        o -> o.getRetry().setMaxAttempts(1));
    GraphServiceClient graph = sdk();
    ODataError error = assertThrows(ODataError.class, () -> graph.users().byUserId("u1").get());
    assertEquals(503, error.getResponseStatusCode(), wire.describe());
    assertNotNull(error.getError(), "the body parsed into the SDK's error shape");
    assertEquals("ServiceUnavailable", error.getError().getCode());
    assertFalse(error.getError().getMessage() == null || error.getError().getMessage().isBlank(), "a message");
    assertTrue(wire.exchanges.stream().allMatch(e -> e.status() == 503), wire.describe());
  }

  @Test
  @Timeout(30)
  void a_stopped_upstream_gives_the_sdk_the_gateways_own_graph_error() throws Exception {
    start(new SimulatorOptions(), o -> { });
    GraphServiceClient graph = sdk();
    harness.sim().close().await(10, TimeUnit.SECONDS);
    ODataError error = assertThrows(ODataError.class, () -> graph.users().byUserId("u1").get(), wire.describe());
    assertTrue(error.getResponseStatusCode() >= 500, "a 5xx: " + error.getResponseStatusCode());
    assertNotNull(error.getError(), "the gateway's body parsed into the SDK's error shape");
    assertFalse(error.getError().getCode() == null || error.getError().getCode().isBlank(), "a code: " + wire.describe());
    assertFalse(error.getError().getMessage() == null || error.getError().getMessage().isBlank(), "a message");
    assertNotNull(error.getError().getInnerError(), "innerError, as Graph sends it");
  }

  @Test
  @Timeout(30)
  void the_sdks_own_headers_reach_the_upstream() throws Exception {
    start(new SimulatorOptions(), o -> { });
    GraphServiceClient graph = sdk();
    RequestInformation echo = new RequestInformation();
    echo.httpMethod = HttpMethod.GET;
    echo.setUri(URI.create(harness.proxy() + "/_sim/headers"));
    echo.headers.add("Accept", "application/json");
    JsonObject seen;
    try (InputStream in = graph.getRequestAdapter().sendPrimitive(echo, null, InputStream.class)) {
      seen = new JsonObject(new String(in.readAllBytes(), StandardCharsets.UTF_8)).getJsonObject("headers");
    }
    assertEquals(TOKEN, first(seen, "authorization"), "the token from the authentication provider");
    seen.remove("authorization");
    Request sent = wire.exchanges.peek().request();
    assertEquals(sent.header("client-request-id"), first(seen, "client-request-id"), "client-request-id kept: " + seen);
    assertTrue(first(seen, "sdkversion").startsWith("graph-java"), "SdkVersion kept: " + seen);
    assertTrue(first(seen, "user-agent").contains("kiota-java"), "User-Agent kept: " + seen);
    assertEquals("gzip", sent.header("Accept-Encoding"), "the SDK (OkHttp) asks for gzip");
  }

  // ---- helpers ----

  void start(SimulatorOptions simulator, Consumer<TollgateOptions> tune) {
    harness = GatewayHarness.builder().simulator(simulator).gateway(tune).start();
  }

  /** The shipped profile caches no collection; the paging test caches {@code GET /v1.0/users} to see a cached walk. */
  static void cacheUserList(TollgateOptions o) {
    List<CacheOptions.Route> routes = new ArrayList<>();
    routes.add(new CacheOptions.Route("users-list", PathPattern.compile("/v1.0/users"), Duration.ofMinutes(10),
        Duration.ofSeconds(30), Duration.ofMinutes(10), Duration.ZERO));
    routes.addAll(o.getCache().getRoutes());
    o.getCache().setRoutes(routes);
  }

  /** The SDK as an application builds it, with its default middleware, plus the {@link #wire} at the network end. */
  GraphServiceClient sdk() {
    http = GraphClientFactory.create().addNetworkInterceptor(wire).build();
    AuthenticationProvider bearer = (request, context) -> request.headers.add("Authorization", TOKEN);
    GraphServiceClient graph = new GraphServiceClient(bearer, http);
    graph.getRequestAdapter().setBaseUrl(harness.proxy() + "/v1.0");
    return graph;
  }

  static List<String> walkUsers(GraphServiceClient graph) throws ReflectiveOperationException {
    List<String> ids = new ArrayList<>();
    UserCollectionResponse firstPage = graph.users().get();
    new PageIterator.Builder<User, UserCollectionResponse>()
        .client(graph)
        .collectionPage(firstPage)
        .collectionPageFactory(UserCollectionResponse::createFromDiscriminatorValue)
        .processPageItemCallback(user -> ids.add(user.getId()))
        .build()
        .iterate();
    return ids;
  }

  static String body(BatchResponseContent answer, String step) {
    try (InputStream in = answer.getResponseStreamById(step)) {
      return in == null ? "(no body)" : new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(unreadable body: " + e + ")";
    }
  }

  static String describe(RuntimeException e) {
    if (e instanceof ODataError o && o.getError() != null) {
      return o.getResponseStatusCode() + " " + o.getError().getCode() + ": " + o.getError().getMessage();
    }
    return e.getClass().getSimpleName() + ": " + e.getMessage();
  }

  static String first(JsonObject headers, String name) {
    JsonArray values = headers.getJsonArray(name);
    return values == null || values.isEmpty() ? "" : values.getString(0);
  }

  static String signature(String bearer) {
    return bearer.substring(bearer.lastIndexOf('.') + 1);
  }

  /**
   * A network interceptor: it runs after every application interceptor of the SDK (its RetryHandler included),
   * so it sees each HTTP exchange exactly as Tollgate answered it.
   */
  static final class Wire implements Interceptor {
    record Exchange(Request request, int status, String xCache, String retryAfter) {
      String url() { return request.url().toString(); }
      int port() { return request.url().port(); }
    }

    final Queue<Exchange> exchanges = new ConcurrentLinkedQueue<>();

    @Override
    public Response intercept(Chain chain) throws IOException {
      Request request = chain.request();
      Response response = chain.proceed(request);
      exchanges.add(new Exchange(request, response.code(), response.header("X-Cache", "none"), response.header("Retry-After")));
      return response;
    }

    long count(int status) {
      return exchanges.stream().filter(e -> e.status() == status).count();
    }

    Map<Integer, Long> statusCounts() {
      return exchanges.stream().collect(Collectors.groupingBy(Exchange::status, Collectors.counting()));
    }

    String describe(int status) {
      return exchanges.stream().filter(e -> e.status() == status).limit(5)
          .map(e -> e.request().method() + " " + e.url() + " -> " + e.status() + " Retry-After " + e.retryAfter())
          .collect(Collectors.joining("; ", "[", "]"));
    }

    String describe() {
      return exchanges.stream().limit(20)
          .map(e -> e.request().method() + " " + e.url() + " -> " + e.status() + " " + e.xCache())
          .collect(Collectors.joining("; ", "[", "]"));
    }
  }
}
