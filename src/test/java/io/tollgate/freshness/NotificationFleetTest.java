package io.tollgate.freshness;

import static io.tollgate.freshness.DeltaTesting.ALICE;
import static io.tollgate.freshness.DeltaTesting.BOB;
import static io.tollgate.testing.GatewayHarness.xCache;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.Gateway;
import io.tollgate.testing.Await;
import io.tollgate.testing.GatewayHarness;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * Two gateways on one real redis-server, each with a notification listener, the subscriptions registering the
 * first one's (as an ingress would route them): one instance manages the subscriptions, a notification received by
 * one evicts on both, and when the manager goes the other adopts the live subscriptions instead of duplicating them.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class NotificationFleetTest {
  private static final Duration WAIT = Duration.ofSeconds(10);
  private GatewayHarness h;

  @AfterEach
  void stop() {
    if (h != null) h.close();
  }

  private static double created(GatewayHarness h, Gateway g) throws Exception {
    String m = NotificationTest.metrics(h, "http://127.0.0.1:" + g.managementPort());
    return NotificationTest.sample(m, "tollgate_freshness_subscriptions_total{outcome=\"created\",resource=\"users\"}")
        + NotificationTest.sample(m, "tollgate_freshness_subscriptions_total{outcome=\"created\",resource=\"groups\"}");
  }

  @Test
  void one_instance_keeps_the_subscriptions_a_notification_evicts_on_both_and_the_survivor_adopts_them() throws Exception {
    int firstPort = NotificationTest.freePort();
    String url = "http://127.0.0.1:" + firstPort + "/notifications";
    h = GatewayHarness.builder().simulator(DeltaTesting.simulator()).redis()
        .gateway(NotificationTest.notified(firstPort).andThen(o -> o.getFreshness().getNotifications()
            .setLifetime(Duration.ofSeconds(4)).setRenewBefore(Duration.ofSeconds(3)))).start();
    Gateway first = h.gateway();
    Await.until(() -> h.sim().subscriptions().active().size() == 2, WAIT, "both subscriptions created");
    int secondPort = NotificationTest.freePort();
    Gateway second = h.another(NotificationTest.notified(secondPort).andThen(o -> o.getFreshness().getNotifications()
        .setNotificationUrl(url).setLifetime(Duration.ofSeconds(4)).setRenewBefore(Duration.ofSeconds(3))));

    // Received by the first, evicted on the second too (the index and the eviction go through Redis).
    h.getAs(second, ALICE, "/v1.0/users/u3");
    assertTrue(xCache(h.getAs(second, ALICE, "/v1.0/users/u3")).startsWith("HIT"));
    h.getAs(first, BOB, "/v1.0/users/u3");
    assertTrue(xCache(h.getAs(first, BOB, "/v1.0/users/u3")).startsWith("HIT"));
    long renewals = h.sim().subscriptions().renewed();
    DeltaTesting.change(h, DeltaTesting.rename("u3", "Seen By The Fleet"));
    Await.until(() -> xCache(h.getAs(second, ALICE, "/v1.0/users/u3")).equals("MISS")
        && xCache(h.getAs(first, BOB, "/v1.0/users/u3")).equals("MISS"), WAIT, "u3 evicted on both instances");
    Await.until(() -> h.sim().subscriptions().renewed() >= renewals + 2, WAIT, "renewals while both run");
    assertEquals(2, h.sim().subscriptions().created(), "one instance manages the subscriptions: no duplicates");
    assertEquals(2.0, created(h, first));
    assertEquals(0.0, created(h, second), "the second instance never wrote one");

    // A notification received by the instance that does not poll users: it evicts, and the poller reads the feed now.
    Gateway poller = first.deltaFeeds().leading().contains("users") ? first : second;
    Gateway other = poller == first ? second : first;
    assertTrue(poller.deltaFeeds().leading().contains("users") && !other.deltaFeeds().leading().contains("users"));
    java.util.List<io.vertx.core.json.JsonObject> batches = new java.util.concurrent.CopyOnWriteArrayList<>();
    other.vertx().eventBus().<io.vertx.core.json.JsonObject>localConsumer(io.tollgate.metrics.Addresses.FRESHNESS_NOTIFIED,
        msg -> batches.add(msg.body()));
    long reads = h.sim().stats().count("GET /v1.0/users/delta");
    String otherListener = "http://127.0.0.1:" + (other == first ? firstPort : secondPort) + "/notifications";
    java.net.http.HttpResponse<String> ack = h.http().send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(otherListener))
        .header("Content-Type", "application/json").POST(java.net.http.HttpRequest.BodyPublishers.ofString(new io.vertx.core.json.JsonObject()
            .put("value", new io.vertx.core.json.JsonArray().add(new io.vertx.core.json.JsonObject().put("clientState", NotificationTest.CLIENT_STATE)
                .put("changeType", "updated").put("resource", "Users/u4").put("resourceData", new io.vertx.core.json.JsonObject().put("id", "u4"))))
            .encode())).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
    assertEquals(202, ack.statusCode());
    Await.until(() -> !batches.isEmpty(), WAIT, "processed by the instance that received it");
    assertEquals(false, batches.get(0).getBoolean("polled"), batches.toString());
    Await.until(() -> h.sim().stats().count("GET /v1.0/users/delta") > reads, WAIT, "the feed read by its poller, asked through Redis");

    // The manager stops: the survivor takes the lease over, adopts the live subscriptions and renews them.
    h.kill(first);
    long before = h.sim().subscriptions().renewed();
    Await.until(() -> h.sim().subscriptions().renewed() >= before + 2, WAIT, "renewals by the survivor");
    assertEquals(2, h.sim().subscriptions().created(), "adopted, not recreated");
    assertEquals(0, h.sim().subscriptions().expired());
    assertEquals(2, h.sim().subscriptions().active().size());
    assertEquals(0.0, created(h, second));
  }
}
