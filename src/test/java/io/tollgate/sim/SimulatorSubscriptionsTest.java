package io.tollgate.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** The simulator's subscriptions API and notification sender, over HTTP, with a receiver of the test's own. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class SimulatorSubscriptionsTest {
  private Vertx vertx;
  private GraphSimulator sim;
  private WebClient client;
  private HttpServer receiver;
  private volatile boolean echoRight = true;
  private final List<JsonObject> received = new CopyOnWriteArrayList<>();
  private String url;

  @BeforeEach
  void start() throws Exception {
    vertx = Vertx.vertx();
    sim = SimTesting.start(vertx, new SimulatorOptions().setUsers(20).setGroups(5).setSites(1).setGroupChangeRate(0));
    client = SimTesting.client(vertx);
    receiver = vertx.createHttpServer().requestHandler(req -> {
      String token = req.getParam("validationToken");
      if (token != null) {
        req.response().putHeader("Content-Type", "text/plain").end(echoRight ? token : token + "x");
        return;
      }
      req.body().onSuccess(b -> {
        received.add(b.toJsonObject());
        req.response().setStatusCode(202).end();
      });
    }).listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS);
    url = "http://127.0.0.1:" + receiver.actualPort() + "/hook";
  }

  @AfterEach
  void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  private HttpResponse<Buffer> send(String method, String path, JsonObject body) throws Exception {
    var request = client.requestAbs(io.vertx.core.http.HttpMethod.valueOf(method), sim.origin() + path)
        .putHeader("Authorization", "Bearer app");
    return (body == null ? request.send() : request.sendJsonObject(body)).await(15, TimeUnit.SECONDS);
  }

  private JsonObject subscription(String resource, Duration lifetime) {
    return new JsonObject().put("changeType", "updated,deleted").put("notificationUrl", url).put("resource", resource)
        .put("expirationDateTime", Instant.now().plus(lifetime).toString()).put("clientState", "state-" + resource);
  }

  private static String code(HttpResponse<Buffer> r) {
    return r.bodyAsJsonObject().getJsonObject("error").getString("code");
  }

  @Test
  void a_subscription_needs_the_handshake_echo_and_a_lifetime_within_the_cap_and_can_be_renewed_and_deleted() throws Exception {
    echoRight = false;
    HttpResponse<Buffer> refused = send("POST", "/v1.0/subscriptions", subscription("users", Duration.ofHours(1)));
    assertEquals(400, refused.statusCode());
    assertEquals("ValidationError", code(refused));
    assertEquals(1, sim.subscriptions().validationsFailed());
    echoRight = true;
    HttpResponse<Buffer> tooLong = send("POST", "/v1.0/subscriptions", subscription("users", Duration.ofDays(30)));
    assertEquals(400, tooLong.statusCode(), "past 41,760 minutes");
    assertEquals(400, send("POST", "/v1.0/subscriptions", subscription("drives", Duration.ofHours(1))).statusCode());
    assertTrue(sim.subscriptions().active().isEmpty());

    HttpResponse<Buffer> created = send("POST", "/v1.0/subscriptions", subscription("users", Duration.ofHours(1)));
    assertEquals(201, created.statusCode(), created.bodyAsString());
    String id = created.bodyAsJsonObject().getString("id");
    assertEquals(id, send("GET", "/v1.0/subscriptions", null).bodyAsJsonObject().getJsonArray("value").getJsonObject(0).getString("id"));
    String later = Instant.now().plus(Duration.ofHours(2)).toString();
    HttpResponse<Buffer> renewed = send("PATCH", "/v1.0/subscriptions/" + id, new JsonObject().put("expirationDateTime", later));
    assertEquals(200, renewed.statusCode());
    assertEquals(later, renewed.bodyAsJsonObject().getString("expirationDateTime"));
    assertEquals(1, sim.subscriptions().renewed());
    assertEquals(404, send("PATCH", "/v1.0/subscriptions/nope", new JsonObject().put("expirationDateTime", later)).statusCode());
    assertEquals(204, send("DELETE", "/v1.0/subscriptions/" + id, null).statusCode());
    assertEquals(404, send("GET", "/v1.0/subscriptions/" + id, null).statusCode());
  }

  @Test
  void a_directory_change_is_posted_to_the_matching_subscriber_with_its_client_state_and_an_unrenewed_subscription_expires()
      throws Exception {
    assertEquals(201, send("POST", "/v1.0/subscriptions", subscription("users", Duration.ofHours(1))).statusCode());
    HttpResponse<Buffer> groups = send("POST", "/v1.0/subscriptions", subscription("groups", Duration.ofSeconds(1)));
    assertEquals(201, groups.statusCode());
    String groupsId = groups.bodyAsJsonObject().getString("id");
    HttpResponse<Buffer> changed = client.postAbs(sim.origin() + "/_sim/directory")
        .sendJsonObject(new JsonObject().put("op", "renameUser").put("id", "u3")).await(10, TimeUnit.SECONDS);
    assertEquals(200, changed.statusCode());
    SimTesting.eventually(vertx, () -> sim.subscriptions().acknowledged() >= 1, 10_000, "delivered").await(15, TimeUnit.SECONDS);
    JsonObject n = received.get(0).getJsonArray("value").getJsonObject(0);
    assertEquals("Users/u3", n.getString("resource"));
    assertEquals("u3", n.getJsonObject("resourceData").getString("id"));
    assertEquals("state-users", n.getString("clientState"));
    assertEquals("updated", n.getString("changeType"));
    assertEquals(1, received.size(), "the groups subscriber heard nothing of a user");

    SimTesting.eventually(vertx, () -> sim.subscriptions().expired() == 1, 10_000, "the groups subscription expired")
        .await(15, TimeUnit.SECONDS);
    assertEquals(1, sim.subscriptions().active().size());
    assertEquals(404, send("PATCH", "/v1.0/subscriptions/" + groupsId,
        new JsonObject().put("expirationDateTime", Instant.now().plusSeconds(60).toString())).statusCode());
  }
}
