package io.tollgate.concurrency;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tollgate.config.BulkheadOptions;
import io.tollgate.proxy.GatewayException;
import io.tollgate.testing.GatewayHarness;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** Stage 4: bounded upstream concurrency, bounded queue, shedding. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class BulkheadTest {
  GatewayHarness harness;
  Vertx vertx;

  @AfterEach
  void stop() {
    if (harness != null) harness.close();
    if (vertx != null) vertx.close().await();
  }

  static List<HttpResponse<String>> all(List<CompletableFuture<HttpResponse<String>>> pending) throws Exception {
    List<HttpResponse<String>> out = new ArrayList<>();
    for (var f : pending) out.add(f.get(30, TimeUnit.SECONDS));
    return out;
  }

  @Test
  void upstream_calls_in_flight_never_exceed_max_in_flight() throws Exception {
    harness = GatewayHarness.builder().gateway(o -> {
      o.getRateLimit().setEnabled(false);
      o.getBulkhead().setMaxInFlight(4).setMaxQueue(100).setQueueTimeout(Duration.ofSeconds(20));
    }).start();
    List<CompletableFuture<HttpResponse<String>>> pending = new ArrayList<>();
    for (int i = 0; i < 16; i++) pending.add(harness.send("GET", "/_sim/slow?ms=300"));
    List<HttpResponse<String>> answers = all(pending);
    assertTrue(answers.stream().allMatch(r -> r.statusCode() == 200), "all served, the extra ones queued");
    assertEquals(4, harness.sim().stats().maxInFlight(), "the simulator never saw more than 4 at once");
  }

  @Test
  void requests_beyond_the_queue_are_shed_at_once_with_503_and_retry_after() throws Exception {
    harness = GatewayHarness.builder().gateway(o -> {
      o.getRateLimit().setEnabled(false);
      o.getRetry().setEnabled(false);
      o.getBulkhead().setMaxInFlight(2).setMaxQueue(2).setQueueTimeout(Duration.ofSeconds(20));
    }).start();
    List<CompletableFuture<HttpResponse<String>>> pending = new ArrayList<>();
    for (int i = 0; i < 10; i++) pending.add(harness.send("GET", "/_sim/slow?ms=500"));
    List<HttpResponse<String>> answers = all(pending);
    List<HttpResponse<String>> shed = answers.stream().filter(r -> r.statusCode() == 503).toList();
    assertEquals(4, answers.stream().filter(r -> r.statusCode() == 200).count(), "2 in flight + 2 queued");
    assertEquals(6, shed.size());
    assertEquals("1", shed.get(0).headers().firstValue("Retry-After").orElseThrow());
    assertTrue(shed.get(0).body().contains("ServiceUnavailable"));
    assertTrue(harness.sim().stats().maxInFlight() <= 2);
  }

  /**
   * A client that asks for a body and then does not read it, on a socket with a small receive buffer: its answer
   * backs up into the gateway as far as the gateway lets it.
   */
  static Socket slowReader(int port, String path) throws Exception {
    Socket s = new Socket();
    s.setReceiveBufferSize(4096);
    s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
    s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
    return s;
  }

  /** Reads the first line of the answer and nothing after it. */
  static String statusLine(Socket s) throws Exception {
    s.setSoTimeout(10_000);
    return line(s.getInputStream());
  }

  /** One header line, without its CRLF, read byte by byte (nothing after it is consumed). */
  static String line(InputStream in) throws Exception {
    StringBuilder line = new StringBuilder();
    for (int b; (b = in.read()) >= 0 && b != '\n'; ) if (b != '\r') line.append((char) b);
    return line.toString();
  }

  @Test
  void a_slow_reading_client_gives_its_slot_back_once_its_answer_is_buffered() throws Exception {
    harness = GatewayHarness.builder().gateway(o -> {
      o.getRateLimit().setEnabled(false);
      o.getRetry().setEnabled(false);
      o.getBulkhead().setMaxInFlight(1).setMaxQueue(10).setQueueTimeout(Duration.ofSeconds(3));
    }).config(new JsonObject().put("proxy", new JsonObject().put("bufferSize", "32MiB"))).start();
    // 16 MiB: within this proxy.bufferSize, and more than the loopback sockets between the upstream, the gateway and
    // the client hold, so the answer cannot leave the gateway while the client does not read.
    try (Socket stalled = slowReader(harness.gateway().proxyPort(), "/_sim/bytes?size=" + (16 << 20))) {
      assertTrue(statusLine(stalled).startsWith("HTTP/1.1 200"), "the answer began: its slot was taken");
      HttpResponse<String> next = harness.get("/_sim/headers");
      assertEquals(200, next.statusCode(), "the one slot is free again while the first client has not read: " + next.body());
    }
  }

  @Test
  void a_body_larger_than_the_buffer_size_streams_and_keeps_its_slot_until_it_is_read() throws Exception {
    harness = GatewayHarness.builder().gateway(o -> {
      o.getRateLimit().setEnabled(false);
      o.getRetry().setEnabled(false);
      o.getBulkhead().setMaxInFlight(1).setMaxQueue(10).setQueueTimeout(Duration.ofMillis(500));
    }).start();
    int size = 16 << 20;
    try (Socket stalled = slowReader(harness.gateway().proxyPort(), "/_sim/bytes?size=" + size)) {
      assertTrue(statusLine(stalled).startsWith("HTTP/1.1 200"), "the answer began: its slot was taken");
      HttpResponse<String> shed = harness.get("/_sim/headers");
      assertEquals(503, shed.statusCode(), "16 MiB is over the default proxy.bufferSize: the stream keeps the slot");
      InputStream in = stalled.getInputStream();
      boolean chunked = false;
      long length = -1;
      for (String header; !(header = line(in)).isEmpty(); ) {
        chunked |= header.equalsIgnoreCase("transfer-encoding: chunked");
        if (header.regionMatches(true, 0, "content-length:", 0, 15)) length = Long.parseLong(header.substring(15).trim());
      }
      long body = 0;
      if (chunked) {
        for (int n; (n = Integer.parseInt(line(in).trim(), 16)) > 0; body += n) {
          in.readNBytes(n);
          line(in);
        }
      } else {
        // Asked for as identity (the client takes no gzip and nothing keeps it), it streams with its length.
        assertEquals(size, length, "a stream that is neither chunked nor of known length could not end");
        for (byte[] chunk; body < length && (chunk = in.readNBytes((int) Math.min(1 << 20, length - body))).length > 0; ) body += chunk.length;
      }
      assertEquals(size, body, "the body arrives whole");
      HttpResponse<String> next = harness.get("/_sim/headers");
      assertEquals(200, next.statusCode(), "read to the end, the stream gave its slot back: " + next.body());
    }
  }

  @Test
  void a_queued_caller_past_queue_timeout_is_shed_and_a_freed_slot_goes_to_the_oldest_waiter() throws Exception {
    vertx = Vertx.vertx();
    Bulkhead b = new Bulkhead(vertx, new BulkheadOptions().setMaxInFlight(1).setMaxQueue(2).setQueueTimeout(Duration.ofMillis(200)),
        new SimpleMeterRegistry());
    Bulkhead.Slot first = b.acquire().await();
    Future<Bulkhead.Slot> second = b.acquire();
    Future<Bulkhead.Slot> third = b.acquire();
    assertTrue(b.acquire().failed(), "queue of 2 is full");
    assertEquals(2, b.queued());
    first.release();
    first.release();
    Bulkhead.Slot s2 = second.await(2, TimeUnit.SECONDS);
    assertEquals(1, b.inFlight(), "the slot passed on; a double release freed nothing extra");
    Throwable timedOut = third.transform(ar -> Future.succeededFuture(ar.cause())).await(2, TimeUnit.SECONDS);
    assertEquals(GatewayException.BULKHEAD_TIMEOUT, timedOut);
    s2.release();
    assertEquals(0, b.inFlight());
    assertEquals(0, b.queued());
  }
}
