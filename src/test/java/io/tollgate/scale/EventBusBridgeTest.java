package io.tollgate.scale;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.metrics.Addresses;
import io.tollgate.testing.Await;
import io.tollgate.testing.GatewayHarness;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** The event-bus bridge on the management port, spoken to by real clients outside the gateway's Vert.x. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class EventBusBridgeTest {
  GatewayHarness harness;

  @AfterEach
  void stop() {
    if (harness != null) harness.close();
  }

  void start(String adminToken) {
    harness = GatewayHarness.builder().gateway(o -> {
      o.getCache().setStatsInterval(Duration.ofMillis(200));
      o.getManagement().setAdminToken(adminToken);
    }).start();
  }

  /** A raw WebSocket to /eventbus/websocket; every text frame lands in {@link #frames}. */
  final class BridgeClient implements AutoCloseable {
    final BlockingQueue<JsonObject> frames = new LinkedBlockingQueue<>();
    final WebSocket ws;

    BridgeClient() throws Exception {
      ws = HttpClient.newHttpClient().newWebSocketBuilder()
          .buildAsync(URI.create("ws://127.0.0.1:" + harness.gateway().managementPort() + "/eventbus/websocket"), new WebSocket.Listener() {
            final StringBuilder frame = new StringBuilder();

            @Override
            public CompletionStage<?> onText(WebSocket socket, CharSequence data, boolean last) {
              frame.append(data);
              if (last) {
                frames.add(new JsonObject(frame.toString()));
                frame.setLength(0);
              }
              socket.request(1);
              return CompletableFuture.completedFuture(null);
            }

            /** The bridge writes its frames as binary WebSocket messages holding JSON text. */
            @Override
            public CompletionStage<?> onBinary(WebSocket socket, java.nio.ByteBuffer data, boolean last) {
              return onText(socket, java.nio.charset.StandardCharsets.UTF_8.decode(data), last);
            }
          }).get(5, TimeUnit.SECONDS);
    }

    void send(JsonObject frame) throws Exception {
      ws.sendText(frame.encode(), true).get(5, TimeUnit.SECONDS);
    }

    /** The next frame matching {@code type} (and address, when given), skipping stats messages in between. */
    JsonObject next(String type, String address) throws Exception {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (System.nanoTime() < deadline) {
        JsonObject f = frames.poll(100, TimeUnit.MILLISECONDS);
        if (f != null && type.equals(f.getString("type")) && (address == null || address.equals(f.getString("address")))) return f;
      }
      throw new AssertionError("no " + type + " frame" + (address == null ? "" : " for " + address));
    }

    @Override
    public void close() {
      ws.abort();
    }
  }

  @Test
  void a_client_in_another_process_receives_cache_statistics() throws Exception {
    start(Fleet.ADMIN);
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Path out = Files.createTempFile("stats-consumer", ".log");
    Process consumer = new ProcessBuilder(java, "src/bench/StatsConsumer.java",
        "ws://127.0.0.1:" + harness.gateway().managementPort() + "/eventbus/websocket", "1")
        .redirectErrorStream(true).redirectOutput(out.toFile()).start();
    assertTrue(consumer.waitFor(30, TimeUnit.SECONDS), "the example consumer exits after one message");
    String printed = Files.readString(out);
    assertEquals(0, consumer.exitValue(), printed);
    JsonObject message = new JsonObject(printed.lines().filter(l -> l.startsWith("{")).findFirst().orElseThrow());
    assertEquals(Addresses.CACHE_STATS, message.getString("address"));
    assertTrue(message.getJsonObject("body").containsKey("l1"), printed);
  }

  @Test
  void inbound_messages_need_the_admin_token_and_never_carry_it_onto_the_bus() throws Exception {
    start(Fleet.ADMIN);
    List<JsonObject> seenOnBus = new java.util.concurrent.CopyOnWriteArrayList<>();
    harness.gateway().vertx().eventBus().addInboundInterceptor(ctx -> {
      if (Addresses.CACHE.equals(ctx.message().address())) {
        seenOnBus.add(new JsonObject().put("headers", ctx.message().headers().toString()));
      }
      ctx.next();
    });
    try (BridgeClient client = new BridgeClient()) {
      JsonObject clear = new JsonObject().put("action", "clear");
      client.send(new JsonObject().put("type", "send").put("address", Addresses.CACHE).put("body", clear).put("replyAddress", "r0"));
      assertEquals("rejected", client.next("err", null).getString("body"), "no token");
      client.send(new JsonObject().put("type", "send").put("address", Addresses.CACHE).put("body", clear).put("replyAddress", "r1")
          .put("headers", new JsonObject().put("authorization", "Bearer wrong-token-0123456789")));
      assertEquals("rejected", client.next("err", null).getString("body"), "wrong token");
      client.send(new JsonObject().put("type", "register").put("address", Addresses.CACHE));
      assertEquals("access_denied", client.next("err", null).getString("body"), "the cache API is not readable");
      assertTrue(seenOnBus.isEmpty(), "nothing refused reached the bus");

      client.send(new JsonObject().put("type", "send").put("address", Addresses.CACHE).put("replyAddress", "r2")
          .put("body", new JsonObject().put("action", "invalidate").put("pattern", "/v1.0/users/*"))
          .put("headers", new JsonObject().put("authorization", "Bearer " + Fleet.ADMIN)));
      JsonObject reply = client.next("rec", "r2");
      assertTrue(reply.getJsonObject("body").containsKey("removed"), reply.encode());
      assertEquals(1, seenOnBus.size());
      assertTrue(!seenOnBus.get(0).encode().contains(Fleet.ADMIN), "the token stays at the bridge: " + seenOnBus);
    }
  }

  @Test
  void a_page_from_a_foreign_origin_cannot_open_the_bridge_while_configured_and_same_origin_pages_can() throws Exception {
    harness = io.tollgate.testing.GatewayHarness.builder()
        .gateway(o -> o.getManagement().setBridgeOrigins(java.util.List.of("https://dashboard.example"))).start();
    String ws = "ws://127.0.0.1:" + harness.gateway().managementPort() + "/eventbus/websocket";
    java.util.concurrent.CompletableFuture<WebSocket> foreign = HttpClient.newHttpClient().newWebSocketBuilder()
        .header("Origin", "https://evil.example").buildAsync(URI.create(ws), new WebSocket.Listener() { });
    java.util.concurrent.ExecutionException refused = org.junit.jupiter.api.Assertions.assertThrows(
        java.util.concurrent.ExecutionException.class, () -> foreign.get(10, java.util.concurrent.TimeUnit.SECONDS));
    assertTrue(String.valueOf(refused.getCause()).contains("403") || refused.getCause() instanceof java.net.http.WebSocketHandshakeException,
        String.valueOf(refused.getCause()));
    for (String origin : List.of("https://dashboard.example", "http://127.0.0.1:" + harness.gateway().managementPort())) {
      WebSocket ok = HttpClient.newHttpClient().newWebSocketBuilder().header("Origin", origin)
          .buildAsync(URI.create(ws), new WebSocket.Listener() { }).get(10, java.util.concurrent.TimeUnit.SECONDS);
      ok.abort();
    }
  }

  /**
   * One SockJS session spoken over plain HTTP requests, as a browser or proxy without WebSocket uses it: frames
   * arrive by {@code xhr} (polling) or {@code xhr_streaming}, and go out by {@code xhr_send}.
   */
  final class XhrSession {
    final String base = "http://127.0.0.1:" + harness.gateway().managementPort() + "/eventbus/000/"
        + UUID.randomUUID().toString().substring(0, 8);

    HttpResponse<String> post(String transport, String body, String... headers) throws Exception {
      HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + "/" + transport))
          .timeout(Duration.ofSeconds(10)).POST(HttpRequest.BodyPublishers.ofString(body));
      for (int i = 0; i < headers.length; i += 2) b.header(headers[i], headers[i + 1]);
      return harness.http().send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** Sends bridge messages the way SockJS clients do: a JSON array of JSON-encoded strings. */
    HttpResponse<String> send(JsonObject... messages) throws Exception {
      JsonArray frame = new JsonArray();
      for (JsonObject m : messages) frame.add(m.encode());
      return post("xhr_send", frame.encode());
    }
  }

  /** The bridge messages in one SockJS frame ({@code a[...]}); none for open, heartbeat and close frames. */
  static List<JsonObject> messages(String frame) {
    String f = frame.strip();
    if (!f.startsWith("a")) return List.of();
    return new JsonArray(f.substring(1)).stream().map(m -> new JsonObject((String) m)).toList();
  }

  @Test
  void the_xhr_polling_transport_carries_the_bridge_both_ways_and_keeps_the_origin_allow_list() throws Exception {
    start(Fleet.ADMIN);
    XhrSession session = new XhrSession();
    HttpResponse<String> open = session.post("xhr", "");
    assertEquals(200, open.statusCode());
    assertEquals("o", open.body().strip(), "the open frame");
    HttpResponse<String> sent = session.send(
        new JsonObject().put("type", "register").put("address", Addresses.CACHE_STATS),
        new JsonObject().put("type", "send").put("address", Addresses.CACHE).put("replyAddress", "r1")
            .put("body", new JsonObject().put("action", "invalidate").put("pattern", "/v1.0/users/*"))
            .put("headers", new JsonObject().put("authorization", "Bearer " + Fleet.ADMIN)));
    assertEquals(204, sent.statusCode(), sent.body());
    List<JsonObject> received = new CopyOnWriteArrayList<>();
    Await.until(() -> {
      received.addAll(messages(session.post("xhr", "").body()));
      return received.stream().anyMatch(m -> Addresses.CACHE_STATS.equals(m.getString("address")))
          && received.stream().anyMatch(m -> "r1".equals(m.getString("address")));
    }, Duration.ofSeconds(10), "a stats message and the cache's reply arrived by polling");
    JsonObject reply = received.stream().filter(m -> "r1".equals(m.getString("address"))).findFirst().orElseThrow();
    assertTrue(reply.getJsonObject("body").containsKey("removed"), reply.encode());

    HttpResponse<String> foreign = session.post("xhr_send", "[]", "Origin", "https://evil.example");
    assertEquals(403, foreign.statusCode(), "the origin allow-list covers every transport");
    HttpResponse<String> own = session.post("xhr_send", "[]",
        "Origin", "http://127.0.0.1:" + harness.gateway().managementPort());
    assertEquals(204, own.statusCode(), own.body());
  }

  @Test
  void the_xhr_streaming_transport_streams_bridge_messages() throws Exception {
    start(null);
    XhrSession session = new XhrSession();
    HttpResponse<Stream<String>> stream = harness.http().sendAsync(
        HttpRequest.newBuilder(URI.create(session.base + "/xhr_streaming")).timeout(Duration.ofSeconds(10))
            .POST(HttpRequest.BodyPublishers.noBody()).build(),
        HttpResponse.BodyHandlers.ofLines()).get(10, TimeUnit.SECONDS);
    assertEquals(200, stream.statusCode());
    Iterator<String> lines = stream.body().iterator();
    // Lines arrive as the server sends them; a reader thread keeps a broken stream from hanging the test.
    BlockingQueue<String> frames = new LinkedBlockingQueue<>();
    Thread reader = new Thread(() -> {
      try {
        while (lines.hasNext()) frames.add(lines.next());
      } catch (java.io.UncheckedIOException closedByTheTest) {
        // The finally block below closes the stream under the reader's feet: that ends it.
      }
    }, "xhr-streaming-reader");
    reader.setDaemon(true);
    reader.start();
    try {
      String first;
      do {
        first = frames.poll(10, TimeUnit.SECONDS);
        assertTrue(first != null, "the stream opened");
      } while (first.chars().allMatch(c -> c == 'h'));
      assertEquals("o", first.strip(), "the open frame follows the prelude");
      HttpResponse<String> sent = session.send(new JsonObject().put("type", "register").put("address", Addresses.CACHE_STATS));
      assertEquals(204, sent.statusCode(), sent.body());
      JsonObject stats = null;
      while (stats == null) {
        String frame = frames.poll(10, TimeUnit.SECONDS);
        assertTrue(frame != null, "a stats message streamed within the stats interval");
        stats = messages(frame).stream().filter(m -> Addresses.CACHE_STATS.equals(m.getString("address"))).findFirst().orElse(null);
      }
      assertTrue(stats.getJsonObject("body").containsKey("l1"), stats.encode());
    } finally {
      stream.body().close();
      reader.interrupt();
    }
  }

  @Test
  void without_an_admin_token_every_inbound_message_is_refused_but_events_flow() throws Exception {
    start(null);
    try (BridgeClient client = new BridgeClient()) {
      client.send(new JsonObject().put("type", "register").put("address", Addresses.EVENTS));
      client.send(new JsonObject().put("type", "register").put("address", Addresses.CACHE_STATS));
      assertTrue(client.next("rec", Addresses.CACHE_STATS).getJsonObject("body").containsKey("l2"));
      client.send(new JsonObject().put("type", "publish").put("address", Addresses.CACHE).put("body", new JsonObject().put("action", "clear"))
          .put("headers", new JsonObject().put("authorization", "Bearer anything-at-all-0123456789")));
      assertEquals("rejected", client.next("err", null).getString("body"));
      harness.gateway().vertx().eventBus().publish(Addresses.EVENTS, new JsonObject().put("type", "l2").put("connected", true));
      assertEquals("l2", client.next("rec", Addresses.EVENTS).getJsonObject("body").getString("type"));
    }
  }
}
