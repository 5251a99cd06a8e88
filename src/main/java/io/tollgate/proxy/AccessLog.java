package io.tollgate.proxy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.AsyncAppender;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.rolling.FixedWindowRollingPolicy;
import ch.qos.logback.core.rolling.RollingFileAppender;
import ch.qos.logback.core.rolling.SizeBasedTriggeringPolicy;
import ch.qos.logback.core.util.FileSize;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.tollgate.config.AccessLogOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.LoggerFactory;

/**
 * One line per request (SPEC 2, "access log"), handed to Logback's {@link AsyncAppender}: the event loop only
 * formats the line and offers it to a bounded queue, and a Logback thread writes it (to stdout, or to a file
 * rolled over by size). When the writer falls behind, lines are dropped rather than waited for. A line holds the
 * request id, method, route name, query parameter names (never their values), status, {@code X-Cache}, the
 * upstream's status and time, the rate-limit wait, bytes in and out, the total time, the caller's short form
 * (8 hex digits of its partition hash, never a token) and the lane; the path only when configured. Thread-safe.
 */
public final class AccessLog {
  private static final AtomicInteger INSTANCES = new AtomicInteger();
  private static final int MAX_NAMES = 32;
  private static final int MAX_NAME = 64;

  private final Logger logger;
  private final AsyncAppender async;
  private final boolean json;
  private final boolean paths;

  private AccessLog(Logger logger, AsyncAppender async, boolean json, boolean paths) {
    this.logger = logger;
    this.async = async;
    this.json = json;
    this.paths = paths;
  }

  /** The log the options ask for, or null when it is off. */
  public static AccessLog open(AccessLogOptions o) {
    if (AccessLogOptions.OFF.equals(o.getDestination())) return null;
    LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
    PatternLayoutEncoder encoder = new PatternLayoutEncoder();
    encoder.setContext(ctx);
    encoder.setPattern("%msg%n");
    encoder.start();
    OutputStreamAppender<ILoggingEvent> out;
    if (AccessLogOptions.STDOUT.equals(o.getDestination())) {
      ConsoleAppender<ILoggingEvent> console = new ConsoleAppender<>();
      console.setContext(ctx);
      console.setEncoder(encoder);
      out = console;
    } else {
      RollingFileAppender<ILoggingEvent> file = new RollingFileAppender<>();
      file.setContext(ctx);
      file.setFile(o.getPath());
      file.setEncoder(encoder);
      FixedWindowRollingPolicy rolling = new FixedWindowRollingPolicy();
      rolling.setContext(ctx);
      rolling.setParent(file);
      rolling.setFileNamePattern(o.getPath() + ".%i");
      rolling.setMinIndex(1);
      rolling.setMaxIndex(Math.max(1, o.getMaxFiles()));
      rolling.start();
      SizeBasedTriggeringPolicy<ILoggingEvent> trigger = new SizeBasedTriggeringPolicy<>();
      trigger.setContext(ctx);
      trigger.setMaxFileSize(new FileSize(o.getMaxFileSize()));
      // Logback looks at the size once a minute by default: a busy gateway would write far past maxFileSize.
      trigger.setCheckIncrement(ch.qos.logback.core.util.Duration.buildByMilliseconds(250));
      trigger.start();
      file.setRollingPolicy(rolling);
      file.setTriggeringPolicy(trigger);
      out = file;
    }
    out.start();
    AsyncAppender async = new AsyncAppender();
    async.setContext(ctx);
    async.setName("tollgate-access-" + INSTANCES.incrementAndGet());
    async.setQueueSize(o.getQueueSize());
    async.setDiscardingThreshold(0);
    async.setNeverBlock(true);
    async.addAppender(out);
    async.start();
    Logger logger = ctx.getLogger("tollgate.access." + INSTANCES.get());
    logger.setAdditive(false);
    logger.setLevel(Level.INFO);
    logger.addAppender(async);
    return new AccessLog(logger, async, "json".equals(o.getFormat()), o.isPaths());
  }

  /**
   * Writes the line of a request whose answer has gone out.
   *
   * @param cache where the answer came from, or null when the client left first
   */
  public void log(Exchange ex, int status, XCache cache) {
    Tally t = ex.tally();
    long nanos = System.nanoTime() - ex.startNanos();
    long in = ex.request().bytesRead();
    long out = ex.request().response().bytesWritten();
    String xcache = cache == null ? "CANCELLED" : cache.header();
    int upstream = t.upstreamStatus();
    String line;
    if (json) {
      JsonObject o = new JsonObject().put("time", Instant.now().toString()).put("requestId", ex.requestId())
          .put("method", ex.method().name()).put("route", ex.routeName());
      if (paths) o.put("path", ex.path());
      o.put("query", new JsonArray(queryNames(ex.query()))).put("status", status).put("cache", xcache)
          .put("upstreamStatus", upstream == 0 ? null : upstream)
          .put("upstreamMs", upstream == 0 ? null : millis(t.upstreamNanos()))
          .put("waitMs", millis(t.waitedNanos())).put("bytesIn", in).put("bytesOut", out).put("ms", millis(nanos))
          .put("caller", ex.caller().shortForm()).put("lane", ex.lane().label());
      line = o.encode();
    } else {
      StringBuilder b = new StringBuilder(160).append(Instant.now()).append(' ').append(ex.requestId()).append(' ')
          .append(ex.method().name());
      if (paths) b.append(' ').append(ex.path());
      b.append(" route=").append(ex.routeName()).append(" query=").append(String.join(",", queryNames(ex.query())))
          .append(" status=").append(status).append(" cache=").append(xcache)
          .append(" upstream=").append(upstream == 0 ? "-" : Integer.toString(upstream))
          .append(" upstream_ms=").append(upstream == 0 ? "-" : Double.toString(millis(t.upstreamNanos())))
          .append(" wait_ms=").append(millis(t.waitedNanos())).append(" in=").append(in).append(" out=").append(out)
          .append(" ms=").append(millis(nanos)).append(" caller=").append(ex.caller().shortForm())
          .append(" lane=").append(ex.lane().label());
      line = b.toString();
    }
    logger.info(line);
  }

  /** Stops the writer after it has written what it holds. */
  public void close() {
    logger.detachAppender(async);
    async.stop();
  }

  private static double millis(long nanos) {
    return Math.round(nanos / 1_000.0) / 1_000.0;
  }

  /** The parameter names of a query string, decoded, in order; values are personal data and never logged. */
  static java.util.List<String> queryNames(String query) {
    if (query == null || query.isEmpty()) return java.util.List.of();
    java.util.List<String> names = new java.util.ArrayList<>();
    for (String part : query.split("&")) {
      if (part.isEmpty()) continue;
      int eq = part.indexOf('=');
      String name = eq < 0 ? part : part.substring(0, eq);
      try {
        name = QueryStringDecoder.decodeComponent(name);
      } catch (IllegalArgumentException e) {
        name = "?";
      }
      if (name.length() > MAX_NAME) name = name.substring(0, MAX_NAME);
      // A name never carries a value, but keep the line one line and its separators meaningful.
      names.add(name.replaceAll("[\\s,=\"]", "_"));
      if (names.size() == MAX_NAMES) break;
    }
    return names;
  }
}
