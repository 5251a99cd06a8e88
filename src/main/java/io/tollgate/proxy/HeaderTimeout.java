package io.tollgate.proxy;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServerRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The header-read timeout of the proxy port ({@code server.headerTimeout}), which Vert.x 5 does not have: its idle
 * timeout counts any byte as activity, so a client that trickles a request head one line at a time (slowloris) would
 * hold its connection, and the memory behind it, for ever.
 *
 * <p>Design note. A connection must deliver a complete request head within {@code headerTimeout} of opening, and
 * within {@code idleTimeout + headerTimeout} of its last answer (the keep-alive wait, then the head; Vert.x's idle
 * timeout alone still closes a connection that sends nothing). While a request is being answered there is no
 * deadline: a slow upload or a long answer is not a slow head. Vert.x tells when a connection opens, when a request
 * head is complete and when an answer has ended, but not when bytes arrive, so each connection carries a deadline
 * that those events move, and one periodic sweep per verticle closes the connections past theirs: no timer per
 * request. The proxy port speaks HTTP/1.1 only (see {@code ProxyVerticle}) so that Vert.x reports a connection as
 * it opens. Owned by one proxy verticle and touched only on its event loop.
 */
final class HeaderTimeout {
  private static final Logger LOG = LoggerFactory.getLogger(HeaderTimeout.class);
  private static final long NONE = Long.MAX_VALUE;

  /** One connection's state: requests being answered, and the time its next head must be complete by. */
  private static final class Watch {
    int answering;
    long deadline;
  }

  private final Vertx vertx;
  private final long headNanos;
  /** After an answer: the keep-alive wait, then the head; none when idle connections are kept for ever. */
  private final long nextHeadNanos;
  private final Map<HttpConnection, Watch> watches = new IdentityHashMap<>();
  private final long sweep;

  /**
   * @param idleTimeout the proxy port's idle timeout; zero when idle connections are never closed
   */
  HeaderTimeout(Vertx vertx, Duration headerTimeout, Duration idleTimeout) {
    this.vertx = vertx;
    this.headNanos = headerTimeout.toNanos();
    this.nextHeadNanos = idleTimeout.isZero() ? NONE : idleTimeout.toNanos() + headNanos;
    // A connection is closed at most a quarter of the timeout late (and never sooner than the timeout).
    long periodMs = Math.max(50, Math.min(1000, headerTimeout.toMillis() / 4));
    this.sweep = vertx.setPeriodic(periodMs, id -> closeLate());
  }

  /** A connection opened: its first head is due within the header timeout. */
  void opened(HttpConnection connection) {
    Watch w = new Watch();
    w.deadline = System.nanoTime() + headNanos;
    watches.put(connection, w);
    connection.closeHandler(v -> watches.remove(connection));
  }

  /** A request's head is complete: no deadline until its answer has ended. */
  void headRead(HttpServerRequest request) {
    Watch w = watches.get(request.connection());
    if (w == null) return;
    w.answering++;
    w.deadline = NONE;
    request.response().endHandler(v -> answered(w));
  }

  private void answered(Watch w) {
    if (--w.answering > 0) return;
    w.deadline = nextHeadNanos == NONE ? NONE : System.nanoTime() + nextHeadNanos;
  }

  private void closeLate() {
    if (watches.isEmpty()) return;
    long now = System.nanoTime();
    List<HttpConnection> late = null;
    for (Map.Entry<HttpConnection, Watch> e : watches.entrySet()) {
      long deadline = e.getValue().deadline;
      if (deadline != NONE && deadline - now < 0) {
        if (late == null) late = new ArrayList<>();
        late.add(e.getKey());
      }
    }
    if (late == null) return;
    for (HttpConnection connection : late) {
      watches.remove(connection);
      LOG.debug("closed a connection from {} whose request head was not complete in time", connection.remoteAddress());
      connection.close();
    }
  }

  /** Stops the sweep; the connections close with the server. */
  void stop() {
    vertx.cancelTimer(sweep);
  }
}
