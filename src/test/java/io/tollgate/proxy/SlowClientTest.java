package io.tollgate.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

  /** Everything a socket receives, as text. */
  static StringBuffer received(NetSocket socket) {
    StringBuffer in = new StringBuffer();
    socket.handler(b -> in.append(b.toString("ISO-8859-1")));
    return in;
  }

  static int count(CharSequence text, String of) {
    int n = 0;
    for (int i = text.toString().indexOf(of); i >= 0; i = text.toString().indexOf(of, i + 1)) n++;
    return n;
  }

  @Test
  void a_keep_alive_connection_may_wait_longer_than_the_header_timeout_for_its_next_request() throws Exception {
    NetSocket socket = connect();
    StringBuffer in = received(socket);
    String request = "GET /_sim/headers HTTP/1.1\r\nHost: x\r\n\r\n";
    socket.write(request);
    Await.until(() -> count(in, "HTTP/1.1 200") == 1, Duration.ofSeconds(10), "the first answer arrived");
    // The next request one and a half header timeouts later: a keep-alive wait, not a slow head.
    vertx.setTimer(1500, id -> socket.write(request));
    Await.until(() -> count(in, "HTTP/1.1 200") == 2, Duration.ofSeconds(10), "the second answer arrived on the same connection");
  }

  @Test
  void a_slow_body_is_not_a_slow_head() throws Exception {
    NetSocket socket = connect();
    StringBuffer in = received(socket);
    socket.write("POST /_sim/count HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n");
    // One byte every 100 ms: the body takes twice the header timeout.
    int[] sent = {0};
    vertx.setPeriodic(100, id -> {
      socket.write("x");
      if (++sent[0] == 20) vertx.cancelTimer(id);
    });
    Await.until(() -> in.toString().contains("\"bytes\":20"), Duration.ofSeconds(15), "the upstream counted the whole body");
    assertTrue(in.toString().startsWith("HTTP/1.1 200"), in.toString());
  }
}
