package io.tollgate.testing;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetSocket;
import io.vertx.core.parsetools.RecordParser;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * An upstream that writes raw bytes, for answers the Graph simulator cannot give because a well-behaved HTTP server
 * never sends them: interim {@code 1xx} answers before the real one, a body longer than its {@code Content-Length}.
 * A Vert.x {@link NetServer} on a free loopback port reads each request head (and a {@code Content-Length} body),
 * records its request line, and writes whatever {@code answer} returns for it, keeping the connection open for the
 * next request (keep-alive). Runs on the Vert.x it is given; {@link #close()} stops the server.
 * <pre>{@code
 * upstream = RawUpstream.start(vertx, requestLine -> "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
 * harness.another(o -> o.getUpstream().setUrl(upstream.url()));
 * }</pre>
 */
public final class RawUpstream implements AutoCloseable {
  /** How long after an answer its {@code later} bytes are written: long enough to arrive as a packet of their own. */
  private static final long LATER_MS = 100;

  private final Vertx vertx;
  private final NetServer server;
  private final Function<String, String> answer;
  private final Function<String, String> later;
  private final List<String> requests = new CopyOnWriteArrayList<>();
  private final List<String> heads = new CopyOnWriteArrayList<>();
  private final AtomicInteger closed = new AtomicInteger();

  private RawUpstream(Vertx vertx, Function<String, String> answer, Function<String, String> later) {
    this.vertx = vertx;
    this.answer = answer;
    this.later = later;
    this.server = vertx.createNetServer().connectHandler(this::serve);
  }

  /** @param answer the bytes (ISO-8859-1) to write for a request line such as {@code GET /raw/a HTTP/1.1} */
  public static RawUpstream start(Vertx vertx, Function<String, String> answer) {
    return start(vertx, answer, line -> null);
  }

  /**
   * @param later bytes to write on the same connection a little after the answer (on a timer, so they arrive by
   *     themselves), or null for none
   */
  public static RawUpstream start(Vertx vertx, Function<String, String> answer, Function<String, String> later) {
    RawUpstream upstream = new RawUpstream(vertx, answer, later);
    try {
      upstream.server.listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("the raw upstream did not start", e);
    }
    return upstream;
  }

  private void serve(NetSocket socket) {
    RecordParser parser = RecordParser.newDelimited("\r\n\r\n");
    String[] line = new String[1];
    parser.handler(record -> {
      if (line[0] != null) {
        // The body of the request whose head came before.
        respond(socket, line[0]);
        line[0] = null;
        parser.delimitedMode("\r\n\r\n");
        return;
      }
      String head = record.toString("ISO-8859-1");
      heads.add(head);
      String requestLine = head.lines().findFirst().orElse("");
      long length = head.lines().skip(1)
          .filter(h -> h.toLowerCase(Locale.ROOT).startsWith("content-length:"))
          .mapToLong(h -> Long.parseLong(h.substring(h.indexOf(':') + 1).trim())).findFirst().orElse(0);
      if (length > 0) {
        line[0] = requestLine;
        parser.fixedSizeMode((int) length);
      } else {
        respond(socket, requestLine);
      }
    });
    socket.handler(parser);
    socket.closeHandler(v -> closed.incrementAndGet());
  }

  private void respond(NetSocket socket, String requestLine) {
    requests.add(requestLine);
    socket.write(Buffer.buffer(answer.apply(requestLine), "ISO-8859-1"));
    String more = later.apply(requestLine);
    if (more != null) vertx.setTimer(LATER_MS, t -> socket.write(Buffer.buffer(more, "ISO-8859-1")));
  }

  /** {@code http://127.0.0.1:<port>}, for {@code upstream.url}. */
  public String url() {
    return "http://127.0.0.1:" + server.actualPort();
  }

  /** Connections closed so far, by either side. */
  public int closedConnections() {
    return closed.get();
  }

  /** Every request head received so far (request line and header lines, ISO-8859-1), in order. */
  public List<String> heads() {
    return List.copyOf(heads);
  }

  /** Every request line answered so far, in order. */
  public List<String> requests() {
    return List.copyOf(requests);
  }

  @Override
  public void close() {
    try {
      server.close().await(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
