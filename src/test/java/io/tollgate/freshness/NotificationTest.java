package io.tollgate.freshness;

import static io.tollgate.freshness.DeltaTesting.ALICE;
import static io.tollgate.freshness.DeltaTesting.BOB;
import static io.tollgate.testing.GatewayHarness.xCache;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.Gateway;
import io.tollgate.config.TollgateOptions;
import io.tollgate.metrics.Addresses;
import io.tollgate.sim.SimulatorOptions;
import io.tollgate.testing.Await;
import io.tollgate.testing.GatewayHarness;
import io.tollgate.testing.LogCapture;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * Change notifications over real HTTP: the simulator's subscriptions API validates the gateway's listener with the
 * handshake and posts notifications on directory changes; the gateway's delta feed polls hourly here, so what
 * evicts is the notification path.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class NotificationTest {
  static final String CLIENT_STATE = "client-state-secret-3f9a2c71b0";
  private static final Duration WAIT = Duration.ofSeconds(10);
  private GatewayHarness h;
  private String listener;

  @AfterEach
  void stop() {
    if (h != null) h.close();
  }

  static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /** The delta feed of {@link DeltaTesting#following()}, polling hourly, and notifications on a listener at {@code port}. */
  static Consumer<TollgateOptions> notified(int port) {
    return DeltaTesting.following().andThen(o -> {
      o.getFreshness().getDelta().setPollInterval(Duration.ofHours(1)).setMaxLag(Duration.ofHours(2));
      o.getFreshness().getNotifications().setEnabled(true).setPort(port).setNotificationUrl("http://127.0.0.1:" + port + "/notifications")
          .setClientState(CLIENT_STATE).setCheckInterval(Duration.ofMillis(200));
    });
  }

  private void start(Consumer<TollgateOptions> more) throws Exception {
    int port = freePort();
    listener = "http://127.0.0.1:" + port + "/notifications";
    h = GatewayHarness.builder().simulator(DeltaTesting.simulator()).gateway(notified(port).andThen(more)).start();
    Await.until(() -> syncedOnce(h, h.management()), WAIT, "both feeds synced once");
    Await.until(() -> h.sim().subscriptions().active().size() == 2, WAIT, "both subscriptions created");
  }

  static boolean syncedOnce(GatewayHarness h, String management) throws Exception {
    String m = metrics(h, management);
    return m.contains("tollgate_freshness_delta_polls_total{feed=\"users\",outcome=\"ok\"} 1.0")
        && m.contains("tollgate_freshness_delta_polls_total{feed=\"groups\",outcome=\"ok\"} 1.0");
  }

  static String metrics(GatewayHarness h, String management) throws Exception {
    return h.http().send(HttpRequest.newBuilder(URI.create(management + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
  }

  /** The value of one sample on /metrics, 0 when absent. */
  static double sample(String metrics, String sample) {
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(sample) + " ([0-9.E]+)$").matcher(metrics);
    return m.find() ? Double.parseDouble(m.group(1)) : 0;
  }

  private HttpResponse<String> post(String url, String contentType, String body) throws Exception {
    return h.http().send(HttpRequest.newBuilder(URI.create(url)).header("Content-Type", contentType)
        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private static JsonObject notification(String clientState, String userId) {
    return new JsonObject().put("value", new JsonArray().add(new JsonObject().put("subscriptionId", "s-1")
        .put("subscriptionExpirationDateTime", "2030-01-01T00:00:00Z").put("clientState", clientState).put("changeType", "updated")
        .put("resource", "Users/" + userId).put("tenantId", "t")
        .put("resourceData", new JsonObject().put("@odata.type", "#Microsoft.Graph.User").put("@odata.id", "Users/" + userId).put("id", userId))));
  }

  private void cached(String authorization, String path) throws Exception {
    h.getAs(authorization, path);
    assertEquals("HIT-L1", xCache(h.getAs(authorization, path)), path);
  }

  /** Batches the gateway processed (evicted and read the feed for), in order. */
  private static List<JsonObject> processed(Gateway g) {
    List<JsonObject> seen = new CopyOnWriteArrayList<>();
    g.vertx().eventBus().<JsonObject>localConsumer(Addresses.FRESHNESS_NOTIFIED, m -> seen.add(m.body()));
    return seen;
  }

  @Test
  void the_listener_answers_the_handshake_with_the_decoded_token_and_refuses_what_is_not_a_notification() throws Exception {
    start(o -> o.getFreshness().getNotifications().setMaxBodyBytes(2048));
    for (JsonObject s : h.sim().subscriptions().active()) {
      assertEquals(listener, s.getString("notificationUrl"), "created after the simulator's handshake with the listener");
      assertEquals(CLIENT_STATE, s.getString("clientState"));
    }
    HttpResponse<String> echo = post(listener + "?validationToken=Validation%3A%20a+b%26c%3Cd%3E", "text/plain", "");
    assertEquals(200, echo.statusCode());
    assertEquals("Validation: a b&c<d>", echo.body(), "the decoded token, nothing escaped");
    assertTrue(echo.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));

    HttpResponse<String> get = h.http().send(HttpRequest.newBuilder(URI.create(listener)).GET().build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(405, get.statusCode());
    assertEquals("POST", get.headers().firstValue("Allow").orElse(""));
    assertEquals(404, post(listener.replace("/notifications", "/other"), "application/json", "{}").statusCode());
    HttpResponse<String> malformed = post(listener, "application/json", "{\"value\": [");
    assertEquals(400, malformed.statusCode());
    assertEquals("BadRequest", new JsonObject(malformed.body()).getJsonObject("error").getString("code"));
    assertEquals(413, post(listener, "application/json", "{\"value\":[\"" + "x".repeat(4096) + "\"]}").statusCode());
    // Chunked, no Content-Length: counted as it arrives.
    HttpResponse<String> chunked = h.http().send(HttpRequest.newBuilder(URI.create(listener)).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new java.io.ByteArrayInputStream(("{\"value\":[\"" + "y".repeat(4096) + "\"]}")
            .getBytes(java.nio.charset.StandardCharsets.UTF_8)))).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(413, chunked.statusCode());
    String m = metrics(h, h.management());
    assertEquals(1.0, sample(m, "tollgate_freshness_notifications_rejected_total{reason=\"malformed\"}"), m);
    assertEquals(2.0, sample(m, "tollgate_freshness_notifications_rejected_total{reason=\"tooLarge\"}"), m);
    assertEquals(1.0, sample(m, "tollgate_freshness_subscriptions_total{outcome=\"created\",resource=\"users\"}"), m);
    assertEquals(1.0, sample(m, "tollgate_freshness_subscriptions_total{outcome=\"created\",resource=\"groups\"}"), m);
  }

  @Test
  void a_notification_with_a_wrong_client_state_is_acknowledged_counted_and_evicts_nothing() throws Exception {
    start(o -> { });
    List<JsonObject> batches = processed(h.gateway());
    cached(ALICE, "/v1.0/users/u5");
    long reads = h.sim().stats().count("GET /v1.0/users/delta");
    assertEquals(202, post(listener, "application/json", notification("not-the-secret", "u5").encode()).statusCode());
    // Batches are processed in order: once a later, genuine one is done, the forged one would have been too.
    assertEquals(202, post(listener, "application/json", notification(CLIENT_STATE, "u6").encode()).statusCode());
    Await.until(() -> !batches.isEmpty(), WAIT, "the genuine notification processed");
    assertEquals(1, batches.size(), batches.toString());
    assertEquals(1, batches.get(0).getInteger("ids"), "only the genuine notification's id");
    assertEquals("HIT-L1", xCache(h.getAs(ALICE, "/v1.0/users/u5")), "the forged notification evicted nothing");
    assertEquals(reads + 1, h.sim().stats().count("GET /v1.0/users/delta"), "one feed read, for the genuine one");
    String m = metrics(h, h.management());
    assertEquals(1.0, sample(m, "tollgate_freshness_notifications_rejected_total{reason=\"clientState\"}"), m);
    assertEquals(1.0, sample(m, "tollgate_freshness_notifications_received_total{resource=\"users\"}"), m);
  }

  @Test
  void an_out_of_band_change_delivered_as_a_notification_evicts_the_user_in_every_partition_although_the_feed_polls_hourly()
      throws Exception {
    try (LogCapture logs = new LogCapture()) {
      start(o -> { });
      cached(ALICE, "/v1.0/users/u7");
      cached(BOB, "/v1.0/users/u7");
      cached(ALICE, "/v1.0/users/u8");
      DeltaTesting.change(h, DeltaTesting.rename("u7", "Renamed And Notified"));
      Await.until(() -> xCache(h.getAs(ALICE, "/v1.0/users/u7")).equals("MISS"), WAIT, "u7 evicted by the notification");
      HttpResponse<String> bob = h.getAs(BOB, "/v1.0/users/u7");
      assertEquals("MISS", xCache(bob), "every partition");
      assertTrue(bob.body().contains("Renamed And Notified"));
      assertEquals("HIT-L1", xCache(h.getAs(ALICE, "/v1.0/users/u8")), "an answer not mentioning u7 stays");
      assertTrue(h.sim().subscriptions().acknowledged() >= 1);
      assertEquals(0, h.sim().subscriptions().failed());
      String m = metrics(h, h.management());
      assertTrue(sample(m, "tollgate_freshness_notifications_received_total{resource=\"users\"}") >= 1, m);
      assertTrue(sample(m, "tollgate_freshness_notifications_evictions_total") >= 2, m);
      assertFalse(logs.all().contains(CLIENT_STATE), "the clientState secret never reaches a log");
      assertFalse(logs.all().contains(SimulatorOptions.DEFAULT_CLIENT_SECRET), "nor the client secret");
    }
  }

  @Test
  void the_acknowledgement_reaches_the_sender_before_the_processing_ends() throws Exception {
    start(o -> { });
    cached(ALICE, "/v1.0/users/u9");
    // The feed read the notification triggers now takes a second: the sender must have its 202 before that ends.
    h.sim().reconfigure(DeltaTesting.simulator().setLatency(Duration.ofSeconds(1)));
    List<Long> ackedWhenProcessed = new CopyOnWriteArrayList<>();
    h.gateway().vertx().eventBus().<JsonObject>localConsumer(Addresses.FRESHNESS_NOTIFIED,
        msg -> ackedWhenProcessed.add(h.sim().subscriptions().acknowledged()));
    DeltaTesting.change(h, DeltaTesting.rename("u9", "Slow Feed"));
    Await.until(() -> !ackedWhenProcessed.isEmpty(), WAIT, "the notification processed");
    assertEquals(1L, ackedWhenProcessed.get(0), "the sender had its 202 when processing ended");
    assertEquals(0, h.sim().subscriptions().slow(), "answered well within 3 s");
    h.sim().reconfigure(DeltaTesting.simulator());
    assertEquals("MISS", xCache(h.getAs(ALICE, "/v1.0/users/u9")));
  }

  @Test
  void lifecycle_notifications_renew_at_once_or_read_the_feed_and_a_forged_one_does_nothing() throws Exception {
    start(o -> { });
    String users = h.sim().subscriptions().active().stream().filter(s -> s.getString("resource").equals("users")).findFirst()
        .orElseThrow().getString("id");
    long reads = h.sim().stats().count("GET /v1.0/users/delta");
    assertEquals(202, post(listener, "application/json", lifecycle(users, "not-the-secret", "subscriptionRemoved").encode()).statusCode());
    assertEquals(202, post(listener, "application/json", lifecycle(users, CLIENT_STATE, "reauthorizationRequired").encode()).statusCode());
    Await.until(() -> h.sim().subscriptions().renewed() == 1, WAIT, "renewed at Graph's request");
    assertEquals(202, post(listener, "application/json", lifecycle(users, CLIENT_STATE, "missed").encode()).statusCode());
    Await.until(() -> h.sim().stats().count("GET /v1.0/users/delta") == reads + 1, WAIT, "the feed read after missed notifications");
    assertEquals(2, h.sim().subscriptions().created(), "the forged subscriptionRemoved recreated nothing");
    assertTrue(h.sim().subscriptions().active().stream().anyMatch(s -> s.getString("id").equals(users)));
  }

  private static JsonObject lifecycle(String subscriptionId, String clientState, String event) {
    return new JsonObject().put("value", new JsonArray().add(new JsonObject().put("subscriptionId", subscriptionId)
        .put("subscriptionExpirationDateTime", "2030-01-01T00:00:00Z").put("tenantId", "t").put("clientState", clientState)
        .put("lifecycleEvent", event).put("resource", "users")));
  }

  @Test
  void subscriptions_are_renewed_before_they_expire_and_recreated_when_graph_drops_them() throws Exception {
    start(o -> o.getFreshness().getNotifications().setLifetime(Duration.ofSeconds(3)).setRenewBefore(Duration.ofMillis(2500)));
    List<JsonObject> events = DeltaTesting.events(h.gateway());
    h.sim().subscriptions().setMaxLifetime(Duration.ofSeconds(3));
    Await.until(() -> h.sim().subscriptions().renewed() >= 4, WAIT, "renewals");
    assertEquals(0, h.sim().subscriptions().expired(), "none expired: each was renewed in time");
    assertEquals(2, h.sim().subscriptions().created());

    // Graph drops the users subscription and says so: recreated, and the feed read to catch up.
    String users = h.sim().subscriptions().active().stream().filter(s -> s.getString("resource").equals("users")).findFirst()
        .orElseThrow().getString("id");
    long reads = h.sim().stats().count("GET /v1.0/users/delta");
    assertTrue(h.sim().subscriptions().remove(users, true).toCompletionStage().toCompletableFuture().get());
    Await.until(() -> h.sim().subscriptions().created() == 3, WAIT, "the users subscription recreated");
    String again = h.sim().subscriptions().active().stream().filter(s -> s.getString("resource").equals("users")).findFirst()
        .orElseThrow().getString("id");
    assertNotEquals(users, again);
    Await.until(() -> h.sim().stats().count("GET /v1.0/users/delta") > reads, WAIT, "the feed read after subscriptionRemoved");

    // Dropped silently: the renewal's 404 recreates it.
    assertTrue(h.sim().subscriptions().remove(again, false).toCompletionStage().toCompletableFuture().get());
    Await.until(() -> h.sim().subscriptions().created() == 4, WAIT, "recreated after a 404 on renewal");
    assertEquals(2, h.sim().subscriptions().active().size());
    String m = metrics(h, h.management());
    assertEquals(2.0, sample(m, "tollgate_freshness_subscriptions_total{outcome=\"recreated\",resource=\"users\"}"), m);
    assertTrue(sample(m, "tollgate_freshness_subscriptions_total{outcome=\"renewed\",resource=\"groups\"}") >= 2, m);
    assertTrue(events.stream().filter(e -> e.getString("state").equals("recreated")).count() == 2, events.toString());
    assertTrue(events.stream().anyMatch(e -> e.getString("state").equals("lost") && e.getString("reason").contains("subscriptionRemoved")),
        events.toString());
    assertTrue(events.stream().anyMatch(e -> e.getString("state").equals("lost") && e.getString("reason").contains("404")), events.toString());
  }
}
