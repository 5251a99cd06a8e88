package io.tollgate.proxy;

import io.tollgate.config.ProxyOptions;
import io.tollgate.config.UpstreamOptions;
import io.tollgate.metrics.TollgateMetrics;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.net.SocketAddress;
import java.net.URI;
import java.util.List;
import java.util.concurrent.TimeoutException;

/**
 * The last stage: sends an exchange to the configured upstream over a pooled keep-alive client and returns its
 * answer, read whole when its body fits in {@code proxy.bufferSize} (the upstream connection and the bulkhead slot
 * are then free whatever pace the client reads at), else still streaming. Only the configured origin is ever
 * contacted: the target host comes from configuration, never from the request. One Forwarder per proxy verticle;
 * its client is a field because Vert.x 5 may close an unreachable client mid-call.
 */
public final class Forwarder implements Stage.Chain {
  private static final CharSequence X_FORWARDED_FOR = HttpHeaders.createOptimized("x-forwarded-for");
  private static final CharSequence X_FORWARDED_PROTO = HttpHeaders.createOptimized("x-forwarded-proto");
  private static final CharSequence X_FORWARDED_HOST = HttpHeaders.createOptimized("x-forwarded-host");
  private static final CharSequence GZIP = HttpHeaders.createOptimized("gzip");
  private static final CharSequence IDENTITY = HttpHeaders.createOptimized("identity");
  private static final CharSequence RANGE = HttpHeaders.createOptimized("range");
  private static final CharSequence X_ACCEL_BUFFERING = HttpHeaders.createOptimized("x-accel-buffering");

  private final HttpClientAgent client;
  private final String host;
  private final int port;
  /** The upstream's address, made once: it is the same for every request. */
  private final SocketAddress server;
  private final boolean ssl;
  private final String basePath;
  private final String authority;
  private final long connectTimeoutMs;
  private final long readTimeoutMs;
  private final long bufferBytes;
  private final TollgateMetrics.UpstreamTimers timers;

  public Forwarder(Vertx vertx, UpstreamOptions options, ProxyOptions proxy, TollgateMetrics metrics) {
    URI uri = URI.create(options.getUrl());
    this.ssl = "https".equalsIgnoreCase(uri.getScheme());
    this.host = uri.getHost();
    this.port = uri.getPort() > 0 ? uri.getPort() : (ssl ? 443 : 80);
    this.server = SocketAddress.inetSocketAddress(port, host);
    String path = uri.getRawPath() == null ? "" : uri.getRawPath();
    this.basePath = path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
    this.authority = uri.getPort() > 0 ? host + ":" + port : host;
    this.connectTimeoutMs = options.getConnectTimeout().toMillis();
    this.readTimeoutMs = options.getRequestTimeout().toMillis();
    this.bufferBytes = proxy.getBufferSize();
    this.timers = metrics.upstreamTimers(origin());
    HttpClientOptions http = new HttpClientOptions()
        .setKeepAlive(true)
        .setKeepAliveTimeout((int) Math.max(1, options.getKeepAliveTimeout().toSeconds()))
        .setConnectTimeout((int) connectTimeoutMs)
        .setDecompressionSupported(false)
        .setSsl(ssl)
        .setVerifyHost(true)
        .setForceSni(true)
        .setTcpNoDelay(true);
    if (ssl && options.isHttp2()) {
      // ALPN offers h2 and falls back to http/1.1; plain-text upstreams stay on 1.1 (no h2c upgrade dance).
      http.setUseAlpn(true).setProtocolVersion(HttpVersion.HTTP_2).setAlpnVersions(List.of(HttpVersion.HTTP_2, HttpVersion.HTTP_1_1));
    }
    PoolOptions pool = new PoolOptions().setHttp1MaxSize(options.getMaxConnections())
        .setHttp2MaxSize(Math.max(1, options.getMaxConnections() / 16))
        .setMaxWaitQueueSize(-1);
    // Every HTTP/1.1 connection gets Tollgate's codec before its first request: interim answers never end an exchange.
    this.client = vertx.httpClientBuilder().with(http).with(pool)
        .withConnectHandler(connection -> UpstreamCodec.install(connection, http))
        .build();
  }

  /** {@code scheme://host[:port]} of the upstream, as configured. */
  public String origin() {
    return (ssl ? "https://" : "http://") + authority;
  }

  @Override
  public Future<Reply> proceed(Exchange ex) {
    RequestOptions request = new RequestOptions()
        .setMethod(ex.method())
        .setServer(server)
        .setHost(host)
        .setPort(port)
        .setSsl(ssl)
        .setURI(target(ex))
        .setConnectTimeout(connectTimeoutMs);
    long began = System.nanoTime();
    return client.request(request)
        .compose(upstream -> send(ex, upstream))
        .compose(response -> {
          timers.record(response.statusCode(), System.nanoTime() - began);
          return finalAnswer(response);
        })
        .map(Reply::streaming)
        .compose(reply -> buffered(ex, reply))
        .recover(failure -> Future.failedFuture(classify(ex, failure)));
  }

  /**
   * Reads a body up to {@code proxy.bufferSize} now, while the upstream sends it at its own pace, so that neither the
   * upstream connection nor the caller's bulkhead slot waits for a slow client; a larger one comes back streaming
   * with what was read as its prefix. A body that stalls or breaks while it is read fails the attempt (504 or 502,
   * retryable) instead of reaching the client cut. Answers that have no body, or that are meant to trickle (event
   * streams, {@code X-Accel-Buffering: no}), stream as they are.
   */
  private Future<Reply> buffered(Exchange ex, Reply reply) {
    if (bufferBytes <= 0 || ex.method() == HttpMethod.HEAD || reply.status() == 204 || reply.status() == 304) {
      return Future.succeededFuture(reply);
    }
    MultiMap headers = reply.headers();
    String type = headers.get(HttpHeaders.CONTENT_TYPE);
    if ((type != null && type.regionMatches(true, 0, "text/event-stream", 0, 17)) || "no".equalsIgnoreCase(headers.get(X_ACCEL_BUFFERING))) {
      return Future.succeededFuture(reply);
    }
    return BodyBuffer.upTo(reply, bufferBytes);
  }

  /**
   * The forwarded target: the base path, then exactly the normalised path the cache keyed on, then the
   * query as sent. {@link RequestTarget} has refused anything that is not origin-form before this runs.
   */
  private String target(Exchange ex) {
    String path = ex.route().path();
    String query = ex.query();
    return query == null ? basePath + path : basePath + path + '?' + query;
  }

  private Future<HttpClientResponse> send(Exchange ex, HttpClientRequest upstream) {
    ex.onCancel(upstream::reset);
    // Failures reach the caller through the response future; a reset we caused needs no log line.
    upstream.exceptionHandler(t -> { });
    MultiMap headers = upstream.headers();
    HopByHop.copy(ex.headers(), headers);
    headers.remove(HttpHeaders.HOST);
    headers.remove(HttpHeaders.CONTENT_LENGTH);
    if (ex.ownsIfNoneMatch()) {
      headers.remove(HttpHeaders.IF_NONE_MATCH);
      headers.remove(HttpHeaders.IF_MODIFIED_SINCE);
      if (ex.upstreamIfNoneMatch() != null) headers.set(HttpHeaders.IF_NONE_MATCH, ex.upstreamIfNoneMatch());
      if (ex.upstreamIfModifiedSince() != null) headers.set(HttpHeaders.IF_MODIFIED_SINCE, ex.upstreamIfModifiedSince());
    }
    // A byte-range read keeps the client's own Accept-Encoding: its ranges count bytes of that representation, and
    // a slice of a gzip body cannot be decoded.
    if (!ex.headers().contains(RANGE)) headers.set(HttpHeaders.ACCEPT_ENCODING, upstreamGzip(ex) ? GZIP : IDENTITY);
    String clientHost = ex.headers().get(HttpHeaders.HOST);
    String peer = ex.request().remoteAddress() == null ? null : ex.request().remoteAddress().hostAddress();
    String prior = ex.headers().get(X_FORWARDED_FOR);
    if (peer != null) headers.set(X_FORWARDED_FOR, prior == null ? peer : prior + ", " + peer);
    if (!headers.contains(X_FORWARDED_PROTO)) headers.set(X_FORWARDED_PROTO, ex.request().isSSL() ? "https" : "http");
    if (clientHost != null && !headers.contains(X_FORWARDED_HOST)) headers.set(X_FORWARDED_HOST, clientHost);
    if (!ex.hasBody()) {
      upstream.idleTimeout(readTimeoutMs);
      return upstream.send();
    }
    if (ex.bodyOverride() != null) {
      upstream.idleTimeout(readTimeoutMs);
      headers.set(HttpHeaders.CONTENT_TYPE, "application/json");
      headers.remove(HttpHeaders.TRANSFER_ENCODING);
      return upstream.send(ex.bodyOverride());
    }
    String length = ex.headers().get(HttpHeaders.CONTENT_LENGTH);
    if (length != null) headers.set(HttpHeaders.CONTENT_LENGTH, length);
    else upstream.setChunked(true);
    Future<HttpClientResponse> response = upstream.response();
    // The read timeout starts once the body is sent: a slow 200 MiB upload is not an idle upstream.
    // A body cut for size must not end the upstream request as if it were complete: reset it instead.
    ex.body().pipe().endOnFailure(false).to(upstream)
        .onSuccess(v -> upstream.idleTimeout(readTimeoutMs))
        .onFailure(t -> upstream.reset(0, t));
    return response;
  }

  /**
   * A 1xx that still arrives as the answer (over HTTP/2, where Vert.x takes the first HEADERS for the final answer,
   * or an unasked-for 101) is not one: the attempt fails as a 502 rather than end the exchange with it.
   */
  private static Future<HttpClientResponse> finalAnswer(HttpClientResponse response) {
    if (response.statusCode() >= 200) return Future.succeededFuture(response);
    response.request().reset();
    return Future.failedFuture(GatewayException.BAD_GATEWAY);
  }

  /**
   * Gzip, the one coding Tollgate decodes, when it pays: the client takes the compressed bytes as they come, or the
   * answer may be kept (a cached route: one decoded entry then serves every kind of client) or split (a {@code $batch}).
   * Otherwise the answer would be decoded here only for this one client, so it is asked for as identity, as nginx and
   * Envoy forward a client's own preference: a profile of pass-through for a client without gzip showed the decode
   * and its worker hand-off taking about a fifth of the gateway's CPU (src/bench/profile.sh).
   */
  private static boolean upstreamGzip(Exchange ex) {
    return ex.acceptsGzip() || ex.route().cacheRule() != null || ex.bodyOverride() != null;
  }

  private static Throwable classify(Exchange ex, Throwable failure) {
    if (failure instanceof GatewayException) return failure;
    if (ex.bodyTooLarge()) return GatewayException.BODY_TOO_LARGE;
    for (Throwable t = failure; t != null; t = t.getCause()) {
      String name = t.getClass().getSimpleName();
      if (t instanceof TimeoutException || name.contains("Timeout")) return GatewayException.UPSTREAM_TIMEOUT;
      if (t.getCause() == t) break;
    }
    return GatewayException.BAD_GATEWAY;
  }

  public Future<Void> close() {
    return client.close();
  }
}
