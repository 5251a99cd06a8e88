package io.tollgate.proxy;

import io.tollgate.config.ServerOptions;
import io.tollgate.config.TlsOptions;
import io.tollgate.config.TollgateOptions;
import io.tollgate.metrics.TenantEconomics;
import io.tollgate.metrics.TollgateMetrics;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.net.PemKeyCertOptions;
import java.time.Clock;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The proxy port, one instance per event loop. Each request becomes an {@link Exchange}, runs through the
 * {@link Pipeline} and its {@link Reply} is written back: buffered bodies at once, upstream bodies piped
 * with back-pressure so a 200 MiB download never sits in the heap (through a {@link BodyPump} when they are
 * decoded or rewritten on the way).
 */
public final class ProxyVerticle extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(ProxyVerticle.class);
  private static final CharSequence X_CACHE = HttpHeaders.createOptimized("X-Cache");
  private static final CharSequence AGE = HttpHeaders.createOptimized("Age");
  private static final AtomicLong SEQUENCE = new AtomicLong();
  private static final String NODE = Long.toHexString(Double.doubleToLongBits(Math.random()) & 0xffffffL);

  private final TollgateOptions options;
  private final TollgateMetrics metrics;
  private final TenantEconomics economics;
  private final AccessLog accessLog;
  private final Function<Forwarder, Pipeline> pipelineFactory;
  private final CallerIdentity identity;
  private final RouteTable routes;
  private HttpServer server;
  private Forwarder forwarder;
  private Pipeline pipeline;
  private HeaderTimeout headerTimeout;
  private TollgateMetrics.RequestMeters requestMeters;

  /**
   * @param pipelineFactory builds this verticle's pipeline around its own forwarder (stages are shared or
   *     per-verticle as each needs)
   * @param economics where each request's {@link Tally} is booked, or null
   * @param accessLog where each request's line goes, or null (off)
   */
  public ProxyVerticle(TollgateOptions options, TollgateMetrics metrics, TenantEconomics economics, AccessLog accessLog,
      RouteTable routes, CallerIdentity identity, Function<Forwarder, Pipeline> pipelineFactory) {
    this.economics = economics;
    this.accessLog = accessLog;
    this.routes = routes;
    this.identity = identity;
    this.options = new TollgateOptions(options);
    this.metrics = metrics;
    this.pipelineFactory = pipelineFactory;
  }

  @Override
  public Future<?> start() {
    forwarder = new Forwarder(vertx, options.getUpstream(), options.getProxy(), metrics);
    requestMeters = metrics.requestMeters();
    pipeline = pipelineFactory.apply(forwarder);
    ServerOptions s = options.getServer();
    HttpServerOptions http = new HttpServerOptions()
        .setHost(s.getHost())
        .setPort(s.getPort())
        .setMaxHeaderSize(s.getMaxHeaderSize())
        .setIdleTimeout((int) s.getIdleTimeout().toSeconds())
        .setIdleTimeoutUnit(TimeUnit.SECONDS)
        .setTcpNoDelay(true)
        .setCompressionSupported(false)
        .setHandle100ContinueAutomatically(true)
        // HTTP/1.1 only. With cleartext HTTP/2 on, Vert.x sniffs each connection for the h2c preface and an Upgrade
        // header and makes the connection known only once the first request head is complete: too late for the
        // header timeout, which must be able to close a connection whose first head never ends.
        .setHttp2ClearTextEnabled(false);
    TlsOptions tls = s.getTls();
    if (tls.isEnabled()) {
      // HTTPS with the same protocol as the plain port, HTTP/1.1 (no ALPN, so no h2), for the same reason. The files were
      // checked (or generated) by ProxyCertificate before this verticle deployed. A TLS connection is known to the header
      // timeout once its handshake is done: the handshake gets the same time a request head gets.
      http.setSsl(true)
          .setUseAlpn(false)
          .setKeyCertOptions(new PemKeyCertOptions().setCertPath(tls.getCertFile()).setKeyPath(tls.getKeyFile()))
          .setSslHandshakeTimeout(s.getHeaderTimeout().toMillis())
          .setSslHandshakeTimeoutUnit(TimeUnit.MILLISECONDS);
    }
    headerTimeout = new HeaderTimeout(vertx, s.getHeaderTimeout(), s.getIdleTimeout());
    server = vertx.createHttpServer(http).connectionHandler(headerTimeout::opened).requestHandler(this::handle);
    return server.listen().recover(failure -> Future.failedFuture(new IllegalStateException(
        "proxy port " + s.getHost() + ":" + Math.max(0, s.getPort()) + ": " + failure.getMessage(), failure)));
  }

  public int port() {
    return server.actualPort();
  }

  private void handle(HttpServerRequest request) {
    headerTimeout.headRead(request);
    String requestId = NODE + "-" + Long.toHexString(SEQUENCE.incrementAndGet());
    HttpServerResponse response = request.response();
    metrics.requestStarted();
    Exchange ex = new Exchange(requestId, request, identity.identify(request.headers()), options.getServer().getMaxBodySize(), routes);
    response.closeHandler(v -> ex.cancel());
    GatewayException refused = RequestTarget.refusal(request.uri());
    if (refused != null) {
      LOG.debug("request {} refused: {}", requestId, refused.getMessage());
      if (ex.hasBody()) response.putHeader(HttpHeaders.CONNECTION, "close");
      fail(ex, refused);
      return;
    }
    String length = request.getHeader(HttpHeaders.CONTENT_LENGTH);
    if (length != null && tooLong(length)) {
      response.putHeader(HttpHeaders.CONNECTION, "close");
      fail(ex, GatewayException.BODY_TOO_LARGE);
      return;
    }
    if (ex.hasBody()) request.pause();
    pipeline.run(ex).onComplete(ar -> {
      if (ex.cancelled()) {
        if (ar.succeeded() && ar.result().isStreaming()) ar.result().stream().request().reset();
        finish(ex, 499, null, false);
      } else if (ar.succeeded()) {
        write(ex, ar.result());
      } else {
        GatewayException e = ar.cause() instanceof GatewayException g ? g : GatewayException.BAD_GATEWAY;
        if (!(ar.cause() instanceof GatewayException)) LOG.warn("request {} failed unexpectedly", requestId, ar.cause());
        fail(ex, e);
      }
    });
  }

  private boolean tooLong(String contentLength) {
    try {
      return Long.parseLong(contentLength.trim()) > options.getServer().getMaxBodySize();
    } catch (NumberFormatException e) {
      return false;
    }
  }

  private void fail(Exchange ex, GatewayException e) {
    metrics.gatewayError(e.status(), e.code());
    HttpServerResponse response = ex.request().response();
    if (e == GatewayException.BODY_TOO_LARGE && !response.headWritten()) response.putHeader(HttpHeaders.CONNECTION, "close");
    GraphError.write(response, e, ex.requestId());
    finish(ex, e.status(), XCache.MISS, true);
  }

  private void write(Exchange ex, Reply reply) {
    HttpServerResponse response = ex.request().response();
    if (response.headWritten() || response.closed()) return;
    response.setStatusCode(reply.status());
    response.headers().addAll(reply.headers());
    String retryAfter = response.headers().get(HttpHeaders.RETRY_AFTER);
    if (retryAfter != null) response.headers().set(HttpHeaders.RETRY_AFTER, RetryAfter.normalise(retryAfter, Clock.systemUTC()));
    response.headers().set(X_CACHE, reply.cacheStatus().header());
    if (reply.ageSeconds() >= 0) response.headers().set(AGE, Long.toString(reply.ageSeconds()));
    if (!reply.isStreaming()) {
      response.headers().remove(HttpHeaders.CONTENT_LENGTH);
      if (reply.body() == null) response.end();
      else response.end(reply.body());
      finish(ex, reply.status(), reply.cacheStatus(), false);
      return;
    }
    boolean bodyless = ex.method() == HttpMethod.HEAD || reply.status() == 204 || reply.status() == 304;
    if ((reply.decoder() != null || reply.transform() != null) && !bodyless) {
      // Changed on its way out (decoded, links rewritten): the length of what arrives says nothing about what leaves.
      response.headers().remove(HttpHeaders.CONTENT_LENGTH);
      response.setChunked(true);
      new BodyPump(reply, response).run(reply.prefix()).onComplete(ar -> {
        if (ar.failed() && !ex.cancelled()) LOG.debug("request {}: response stream ended early: {}", ex.requestId(), ar.cause().toString());
        finish(ex, reply.status(), reply.cacheStatus(), false);
      });
      return;
    }
    if (!bodyless && !response.headers().contains(HttpHeaders.CONTENT_LENGTH)) response.setChunked(true);
    if (reply.prefix() != null) response.write(reply.prefix());
    reply.stream().pipeTo(response).onComplete(ar -> {
      if (ar.failed() && !ex.cancelled()) LOG.debug("request {}: response stream ended early: {}", ex.requestId(), ar.cause().toString());
      finish(ex, reply.status(), reply.cacheStatus(), false);
    });
  }

  /**
   * @param cache where the answer came from, or null when the client left before it
   * @param ownAnswer the answer is an error Tollgate produced itself
   */
  private void finish(Exchange ex, int status, XCache cache, boolean ownAnswer) {
    long nanos = System.nanoTime() - ex.startNanos();
    if (accessLog != null) accessLog.log(ex, status, cache);
    ex.tally().book(economics, ex, status, cache, ownAnswer);
    String source = cache == null ? "CANCELLED" : cache.header();
    requestMeters.ended(ex.routeName(), status, source, nanos);
    if (LOG.isDebugEnabled()) {
      LOG.debug("{} {} route={} caller={} status={} cache={} {}ms", ex.requestId(), ex.method(), ex.routeName(),
          ex.caller().shortForm(), status, source, nanos / 1_000_000);
    }
  }

  /** Stops accepting, lets in-flight requests finish up to the drain timeout, then closes. */
  @Override
  public Future<?> stop() {
    if (headerTimeout != null) headerTimeout.stop();
    if (server == null || server.actualPort() <= 0) return forwarder == null ? Future.succeededFuture() : forwarder.close();
    long drainMs = options.getServer().getDrainTimeout().toMillis();
    return server.shutdown(drainMs, TimeUnit.MILLISECONDS).eventually(forwarder::close);
  }
}
