package io.tollgate.graph;

import io.tollgate.concurrency.WorkerPool;
import io.tollgate.proxy.Exchange;
import io.tollgate.proxy.Reply;
import io.tollgate.proxy.Stage;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;

/**
 * Graph awareness on the way out: paging links ({@code @odata.nextLink}/{@code deltaLink}, in bodies and
 * {@code $batch} sub-responses) and {@code Location}/{@code Content-Location} headers that point at the
 * upstream are rewritten to point at this gateway, so the next page goes through the cache and the limiter
 * too. Outermost stage: it sees cache hits, misses, {@code $batch} answers and Tollgate's own answers alike.
 *
 * <p>Buffered bodies are rewritten whole (on the worker pool above 256 KiB, never on an event loop);
 * streaming ones get a {@link LinkRewriter.Stream} that the proxy runs chunk by chunk. Bodies that are not
 * plain JSON (binary, or compressed because no link can be in them: {@link #readsBody}) pass through
 * byte-identical. A body the cache already scanned and found
 * without links ({@link Reply#knownToHaveNoLinks()}) is not scanned again.
 */
public final class LinkRewriteStage implements Stage {
  private static final int REWRITE_ON_WORKER_ABOVE = 256 << 10;
  private static final CharSequence X_FORWARDED_PROTO = HttpHeaders.createOptimized("X-Forwarded-Proto");
  private static final CharSequence X_FORWARDED_HOST = HttpHeaders.createOptimized("X-Forwarded-Host");


  private final LinkRewriter links;
  private final String publicUrl;
  private final WorkerPool workers;
  private final java.util.Set<String> trustedProxies;
  private Origin lastOrigin;

  /**
   * @param upstreamOrigin {@code scheme://host[:port]} of the configured upstream: only its links are rewritten
   * @param publicUrl how clients reach this gateway ({@code server.publicUrl}), or null to derive it per request
   * @param trustedProxies peers whose {@code X-Forwarded-Host}/{@code -Proto} are believed ({@code server.trustedProxies})
   */
  public LinkRewriteStage(String upstreamOrigin, String publicUrl, java.util.List<String> trustedProxies, WorkerPool workers) {
    this.trustedProxies = java.util.Set.copyOf(trustedProxies);
    this.links = new LinkRewriter(upstreamOrigin);
    this.publicUrl = publicUrl;
    this.workers = workers;
  }

  @Override
  public Future<Reply> apply(Exchange ex, Chain next) {
    Future<Reply> answered = next.proceed(ex);
    // A hit arrives already complete; most need nothing here, and then no future is added to the chain.
    if (answered.succeeded() && nothingToRewrite(answered.result())) return answered;
    return answered.compose(reply -> rewrite(ex, reply));
  }

  /**
   * True when this stage reads the body on its way out, so a compressed one must reach it decoded
   * ({@code proxy.ContentEncodingStage}): a whole JSON answer (2xx, not a range) to a read, where Graph puts its
   * paging links. Writes' and errors' bodies hold none; they may pass compressed to a client that accepts gzip.
   */
  public static boolean readsBody(Exchange ex, Reply reply) {
    int status = reply.status();
    String type = reply.headers().get(HttpHeaders.CONTENT_TYPE);
    return ex.method() == HttpMethod.GET && status >= 200 && status < 300 && status != 206 && type != null
        && type.contains("json") && !reply.knownToHaveNoLinks();
  }

  private static boolean nothingToRewrite(Reply reply) {
    MultiMap headers = reply.headers();
    if (headers.contains(HttpHeaders.LOCATION) || headers.contains(HttpHeaders.CONTENT_LOCATION)) return false;
    return !reply.isStreaming() && (reply.body() == null || reply.knownToHaveNoLinks());
  }

  private Future<Reply> rewrite(Exchange ex, Reply reply) {
    reply = rewriteHeaders(ex, reply);
    if (!isPlainJson(reply.headers())) return Future.succeededFuture(reply);
    if (!reply.isStreaming()) {
      Buffer body = reply.body();
      if (body == null || reply.knownToHaveNoLinks() || !LinkRewriter.mayContainLinks(body)) return Future.succeededFuture(reply);
      String gateway = gatewayOrigin(ex);
      if (body.length() <= REWRITE_ON_WORKER_ABOVE) return Future.succeededFuture(reply.withBody(links.rewrite(body, gateway)));
      Reply buffered = reply;
      return workers.run(() -> links.rewrite(body, gateway)).map(buffered::withBody);
    }
    boolean bodyless = ex.method() == HttpMethod.HEAD || reply.status() == 204 || reply.status() == 304;
    return Future.succeededFuture(bodyless ? reply : reply.transform(links.stream(gatewayOrigin(ex))));
  }

  private Reply rewriteHeaders(Exchange ex, Reply reply) {
    String location = reply.headers().get(HttpHeaders.LOCATION);
    String contentLocation = reply.headers().get(HttpHeaders.CONTENT_LOCATION);
    if (location == null && contentLocation == null) return reply;
    String gateway = gatewayOrigin(ex);
    String newLocation = links.rewriteHeader(location, gateway);
    String newContentLocation = links.rewriteHeader(contentLocation, gateway);
    if (newLocation == location && newContentLocation == contentLocation) return reply;
    // A hit's headers belong to its cache entry: rewrite a copy.
    MultiMap headers = MultiMap.caseInsensitiveMultiMap().addAll(reply.headers());
    if (location != null) headers.set(HttpHeaders.LOCATION, newLocation);
    if (contentLocation != null) headers.set(HttpHeaders.CONTENT_LOCATION, newContentLocation);
    return reply.withHeaders(headers);
  }

  /**
   * What a Host or X-Forwarded-Host may be before it is spliced into JSON and headers: letters, digits,
   * {@code . - : [ ]} (a name or an IP literal and a port), nothing that could end a string or a header.
   */
  static boolean plainHost(String host) {
    int n = host.length();
    if (n == 0 || n > 300) return false;
    for (int i = 0; i < n; i++) {
      char c = host.charAt(i);
      boolean ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':'
          || c == '[' || c == ']';
      if (!ok) return false;
    }
    return true;
  }

  /** JSON we can read: a JSON content type and no content encoding (compressed bodies pass untouched). */
  private static boolean isPlainJson(MultiMap headers) {
    String type = headers.get(HttpHeaders.CONTENT_TYPE);
    String encoding = headers.get(HttpHeaders.CONTENT_ENCODING);
    return type != null && type.contains("json") && (encoding == null || "identity".equalsIgnoreCase(encoding));
  }

  /**
   * The origin clients use to reach this gateway: {@code server.publicUrl}; else {@code X-Forwarded-*} when the
   * peer is a configured trusted proxy; else {@code Host}. Whatever a client sent is used only if it is a plain
   * host and port: it ends up inside JSON strings and headers, so nothing else may pass.
   */
  private String gatewayOrigin(Exchange ex) {
    if (publicUrl != null) return publicUrl;
    boolean trusted = !trustedProxies.isEmpty() && ex.request().remoteAddress() != null
        && trustedProxies.contains(ex.request().remoteAddress().hostAddress());
    String proto = trusted ? ex.headers().get(X_FORWARDED_PROTO) : null;
    String host = trusted ? ex.headers().get(X_FORWARDED_HOST) : null;
    if (host == null && proto == null) return fromHost(ex);
    if (host == null) host = authority(ex);
    return origin(proto, host, ex);
  }

  /** From the Host alone, as for most requests: a client sends the same Host every time, so last time's origin is reused. */
  private String fromHost(Exchange ex) {
    String sent = ex.headers().get(HttpHeaders.HOST);
    boolean ssl = ex.request().isSSL();
    Origin last = lastOrigin;
    if (last != null && last.ssl == ssl && last.host.equals(sent)) return last.origin;
    String authority = authority(ex);
    String origin = origin(null, authority, ex);
    // Kept only when made from the Host itself, not from the local port a refused one falls back to.
    if (sent != null && authority != null && plainHost(authority)) lastOrigin = new Origin(sent, ssl, origin);
    return origin;
  }

  private static String authority(Exchange ex) {
    return ex.request().authority() == null ? null : ex.request().authority().toString();
  }

  private static String origin(String proto, String host, Exchange ex) {
    if (host == null || !plainHost(host)) host = "127.0.0.1:" + ex.request().localAddress().port();
    if (!"http".equals(proto) && !"https".equals(proto)) proto = ex.request().isSSL() ? "https" : "http";
    return proto + "://" + host;
  }

  /** The origin derived from a Host header; immutable, so event loops sharing this stage may read any one of them. */
  private record Origin(String host, boolean ssl, String origin) {}
}
