package io.tollgate.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tollgate.testing.Await;
import io.tollgate.testing.GatewayHarness;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetSocket;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * Clients that hold a connection to the proxy port without finishing what they send (slowloris): the request head
 * must be complete within {@code server.headerTimeout}. The clients are raw sockets on a Vert.x of the test's own,
 * pacing their bytes with its timers.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class SlowClientTest {
  GatewayHarness harness;
  Vertx vertx;
  NetClient client;

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
    client = vertx.createNetClient();
    harness = GatewayHarness.builder()
        .config(new JsonObject().put("server", new JsonObject().put("headerTimeout", "1s")))
        .start();
  }

  @AfterEach
  void stop() {
    if (harness != null) harness.close();
    vertx.close().await();
  }

  NetSocket connect() throws Exception {
    return client.connect(harness.gateway().proxyPort(), "127.0.0.1").await(10, TimeUnit.SECONDS);
  }

  @Test
  void a_client_that_trickles_its_request_head_is_closed_after_the_header_timeout() throws Exception {
    NetSocket socket = connect();
    AtomicBoolean closed = new AtomicBoolean();
    socket.closeHandler(v -> closed.set(true));
    socket.write("GET /_sim/headers HTTP/1.1\r\nHost: x\r\n");
    // A header line every 100 ms: never idle, never done.
    long trickle = vertx.setPeriodic(100, id -> {
      if (!closed.get()) socket.write(Buffer.buffer("X-Trickle: " + id + "\r\n"));
    });
    try {
      Await.until(closed::get, Duration.ofSeconds(15), "the gateway closed the connection whose head never ended");
    } finally {
      vertx.cancelTimer(trickle);
    }
    assertEquals(0, harness.sim().stats().inFlight(), "nothing reached the upstream");
  }
}
