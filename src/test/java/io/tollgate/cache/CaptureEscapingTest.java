package io.tollgate.cache;

import static io.tollgate.testing.GatewayHarness.inL1;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.Gateway;
import io.tollgate.redis.RedisLink;
import io.tollgate.testing.Await;
import io.tollgate.testing.GatewayHarness;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * A write's captured id evicts exactly that id, on every instance: the value is a literal, also after it has
 * travelled to the other instances (pub/sub) and into the invalidation log in Redis, whatever characters it
 * holds ({@code *} must not widen the eviction, {@code [} must not make the others drop it).
 *
 * <p>An upstream of the test's own answers every id (the simulator knows only its directory): a read gets
 * {@code {"path":...,"version":n}}, n counting the writes so far; a write gets 204.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class CaptureEscapingTest {
  static final String ALICE = "Bearer alice-token";

  final Vertx vertx = Vertx.vertx();
  final AtomicInteger writes = new AtomicInteger();
  final AtomicInteger writesReceived = new AtomicInteger();
  HttpServer upstream;
  HttpClient client;
  GatewayHarness harness;
  Gateway writer;
  Gateway peer;

  @BeforeEach
  void start() throws Exception {
    upstream = vertx.createHttpServer().requestHandler(req -> {
      if (req.method() == HttpMethod.GET) {
        req.response().putHeader("Content-Type", "application/json")
            .end(new JsonObject().put("path", req.path()).put("version", writes.get()).encode());
      } else {
        writesReceived.incrementAndGet();
        req.body().onComplete(b -> {
          writes.incrementAndGet();
          req.response().setStatusCode(204).end();
        });
      }
    }).listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS);
    String origin = "http://127.0.0.1:" + upstream.actualPort();
    harness = GatewayHarness.builder().redis().gateway(o -> o.getUpstream().setUrl(origin)).start();
    writer = harness.gateway();
    peer = harness.another(o -> o.getUpstream().setUrl(origin));
    client = vertx.createHttpClient();
    // The peer hears the writer's invalidation over Redis pub/sub: both must be on Redis before the test writes.
    for (Gateway g : List.of(writer, peer)) {
      Await.until(() -> "UP".equals(g.readiness().toJson().getJsonObject("components").getJsonObject(RedisLink.COMPONENT)
          .getString("status")), Duration.ofSeconds(10), "the gateway is on Redis");
    }
  }

  @AfterEach
  void stop() throws Exception {
    harness.close();
    vertx.close().await(30, TimeUnit.SECONDS);
  }

  /** Sends through {@code via} as written (the JDK client refuses some of these characters in a URI). */
  JsonObject send(Gateway via, HttpMethod method, String path) throws Exception {
    return client.request(method, via.proxyPort(), "127.0.0.1", path)
        .compose(req -> {
          req.putHeader("Authorization", ALICE);
          return method == HttpMethod.GET ? req.send() : req.putHeader("Content-Type", "application/json").send("{}");
        })
        .compose(resp -> resp.body().map(body -> new JsonObject().put("status", resp.statusCode())
            .put("xCache", resp.getHeader("X-Cache")).put("body", body.length() == 0 ? null : new JsonObject(body))))
        // Generous: a full verify on a loaded 2-core machine once took over 10 s for one of these.
        .await(30, TimeUnit.SECONDS);
  }

  /**
   * {@link #send}, failing with what the upstream saw and where the gateway's threads are when no answer came: a
   * write through the writer has twice (in ~30 full runs) gone unanswered for 30 s, and this says on which side.
   */
  JsonObject sendOrExplain(Gateway via, HttpMethod method, String path) throws Exception {
    try {
      return send(via, method, path);
    } catch (java.util.concurrent.TimeoutException e) {
      StringBuilder threads = new StringBuilder();
      Thread.getAllStackTraces().forEach((t, stack) -> {
        if (!t.getName().startsWith("vert.x-") && !t.getName().startsWith("tollgate-")) return;
        threads.append('\n').append(t.getName()).append(' ').append(t.getState());
        for (int i = 0; i < Math.min(8, stack.length); i++) threads.append("\n    at ").append(stack[i]);
      });
      throw new AssertionError(method + " " + path + " via :" + via.proxyPort() + " unanswered after 30 s; the upstream had received "
          + writesReceived.get() + " writes and answered " + writes.get() + "; readiness " + via.readiness().toJson().encode() + threads, e);
    }
  }

  @Test
  void an_id_with_a_character_outside_the_pattern_dialect_is_evicted_on_the_other_instance_too() throws Exception {
    String path = "/v1.0/groups/a[b";
    assertEquals(200, send(peer, HttpMethod.GET, path).getInteger("status"));
    assertEquals("HIT-L1", send(peer, HttpMethod.GET, path).getString("xCache"), "the peer holds the old answer");

    assertEquals(204, sendOrExplain(writer, HttpMethod.PATCH, path).getInteger("status"));
    Await.until(() -> !inL1(peer, path, ALICE), Duration.ofSeconds(5), "the peer evicts the written id");
    JsonObject after = send(peer, HttpMethod.GET, path);
    assertEquals(1, after.getJsonObject("body").getInteger("version"), "the peer serves the answer after the write: " + after);
  }

  @Test
  void an_id_holding_a_star_evicts_only_itself_on_the_other_instance() throws Exception {
    String star = "/v1.0/groups/g*";
    String other = "/v1.0/groups/g2";
    send(peer, HttpMethod.GET, star);
    send(peer, HttpMethod.GET, other);
    assertTrue(inL1(peer, star, ALICE) && inL1(peer, other, ALICE));

    assertEquals(204, sendOrExplain(writer, HttpMethod.PATCH, star).getInteger("status"));
    Await.until(() -> !inL1(peer, star, ALICE), Duration.ofSeconds(5), "the peer evicts the written id");
    assertTrue(inL1(peer, other, ALICE), "g* is an id, not a pattern: g2 stays");
    assertEquals("HIT-L1", send(peer, HttpMethod.GET, other).getString("xCache"));
  }
}
