// Example: a consumer of Tollgate's event bus in another process, with no dependency but the JDK (11+).
//
// It connects to the SockJS event-bus bridge on the management port (its raw WebSocket endpoint), registers
// for tollgate.cache.stats and tollgate.events, and prints each message it receives as one JSON line.
//
//   java src/bench/StatsConsumer.java ws://127.0.0.1:9901/eventbus/websocket       # until Ctrl-C
//   java src/bench/StatsConsumer.java ws://127.0.0.1:9901/eventbus/websocket 3     # exit after 3 messages
//
// Frames are JSON: {"type":"register","address":...} out, {"type":"rec","address":...,"body":{...}} back.
// The bridge is read-only for this consumer: sending to tollgate.cache needs "headers":{"authorization":
// "Bearer <admin token>"} in the frame, and with no admin token configured every inbound frame is refused.
// The management port binds 127.0.0.1 unless management.host says otherwise.

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

public class StatsConsumer {
  public static void main(String[] args) throws Exception {
    URI uri = URI.create(args.length > 0 ? args[0] : "ws://127.0.0.1:9901/eventbus/websocket");
    long limit = args.length > 1 ? Long.parseLong(args[1]) : Long.MAX_VALUE;
    CountDownLatch done = new CountDownLatch(1);
    WebSocket ws = HttpClient.newHttpClient().newWebSocketBuilder().buildAsync(uri, new WebSocket.Listener() {
      private final StringBuilder frame = new StringBuilder();
      private long seen;

      @Override
      public CompletionStage<?> onText(WebSocket socket, CharSequence data, boolean last) {
        frame.append(data);
        if (last) {
          System.out.println(frame);
          frame.setLength(0);
          if (++seen >= limit) done.countDown();
        }
        socket.request(1);
        return CompletableFuture.completedFuture(null);
      }

      // The bridge sends its JSON frames as binary WebSocket messages.
      @Override
      public CompletionStage<?> onBinary(WebSocket socket, ByteBuffer data, boolean last) {
        return onText(socket, StandardCharsets.UTF_8.decode(data), last);
      }

      @Override
      public CompletionStage<?> onClose(WebSocket socket, int status, String reason) {
        done.countDown();
        return null;
      }

      @Override
      public void onError(WebSocket socket, Throwable error) {
        System.err.println("bridge error: " + error);
        done.countDown();
      }
    }).get(10, TimeUnit.SECONDS);
    for (String address : new String[] {"tollgate.cache.stats", "tollgate.events"}) {
      ws.sendText("{\"type\":\"register\",\"address\":\"" + address + "\"}", true).get(5, TimeUnit.SECONDS);
    }
    // The bridge closes sockets that stay silent past its ping timeout; a ping every 5 s keeps this one open.
    var pinger = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "ping");
      t.setDaemon(true);
      return t;
    });
    pinger.scheduleAtFixedRate(() -> ws.sendText("{\"type\":\"ping\"}", true), 5, 5, TimeUnit.SECONDS);
    done.await();
    ws.sendClose(WebSocket.NORMAL_CLOSURE, "bye").get(5, TimeUnit.SECONDS);
  }
}
