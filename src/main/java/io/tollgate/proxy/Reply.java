package io.tollgate.proxy;

import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientResponse;

/**
 * The answer travelling back through the pipeline: either a buffered body (cache hits, stored misses,
 * Tollgate's own answers) or the upstream's response still streaming. Headers are end-to-end only.
 */
public final class Reply {
  private final int status;
  private final MultiMap headers;
  private final Buffer body;
  private final HttpClientResponse stream;
  private Buffer prefix;
  private BodyTransform transform;
  private BodyTransform decoder;
  private Offload decodeOn;
  /** What this answer says about the upstream, classified once (UpstreamOutcome.of). */
  UpstreamOutcome outcome;
  private XCache cacheStatus = XCache.MISS;
  private long ageSeconds = -1;
  private boolean linksChecked;

  private Reply(int status, MultiMap headers, Buffer body, HttpClientResponse stream) {
    this.status = status;
    this.headers = headers;
    this.body = body;
    this.stream = stream;
  }

  public static Reply buffered(int status, MultiMap headers, Buffer body) {
    return new Reply(status, headers, body, null);
  }

  /** Wraps an upstream response whose body has not been read; headers are filtered here once. */
  public static Reply streaming(HttpClientResponse response) {
    // Paused until a stage consumes it: later stages may do async work (store, invalidate) first, and an
    // unpaused body would flow into no handler and be lost.
    response.pause();
    // Until a stage or the writer takes the body over, a reset (client gone, retry drained) has no reader
    // to tell; without a handler Vert.x would log it as an unhandled ERROR with a stack trace.
    response.exceptionHandler(ignored -> { });
    MultiMap headers = MultiMap.caseInsensitiveMultiMap();
    HopByHop.copy(response.headers(), headers);
    return new Reply(response.statusCode(), headers, null, response);
  }

  /**
   * A stream whose first bytes were already read (a body that outgrew the cache's buffer): the prefix is
   * written first, then the rest is piped.
   */
  public static Reply prefixed(Reply streaming, Buffer alreadyRead) {
    Reply r = new Reply(streaming.status, streaming.headers, null, streaming.stream);
    r.prefix = alreadyRead;
    return r;
  }

  /** The same answer with another buffered body (a rewritten one); status, headers and cache facts kept. */
  public Reply withBody(Buffer newBody) {
    Reply r = copy(headers, newBody, null);
    r.linksChecked = true;
    return r;
  }

  /**
   * The same answer with its buffered body decoded: coding headers dropped, cache facts kept, and its links not yet
   * scanned (the compressed bytes could not be).
   */
  public Reply identity(Buffer decodedBody) {
    Reply r = copy(withoutCoding(headers), decodedBody, null);
    r.linksChecked = false;
    return r;
  }

  /**
   * The same streaming answer, decoded on its way to the client: each chunk goes through {@code decoder} on
   * {@code where} (the worker pool), in order, before any {@link #transform()}. Coding headers are dropped.
   */
  public Reply decoded(BodyTransform decoder, Offload where) {
    Reply r = copy(withoutCoding(headers), null, stream);
    r.decoder = decoder;
    r.decodeOn = where;
    return r;
  }

  /** A copy of {@code headers} without {@code Content-Encoding} and {@code Content-Length}: they describe the coded bytes. */
  public static MultiMap withoutCoding(MultiMap headers) {
    MultiMap plain = MultiMap.caseInsensitiveMultiMap().addAll(headers);
    plain.remove("Content-Encoding");
    plain.remove("Content-Length");
    return plain;
  }

  /** The same answer with its headers replaced (they may be shared with a cache entry, so never edit them in place). */
  public Reply withHeaders(MultiMap newHeaders) {
    return copy(newHeaders, body, stream);
  }

  private Reply copy(MultiMap newHeaders, Buffer newBody, HttpClientResponse newStream) {
    Reply r = new Reply(status, newHeaders, newBody, newStream);
    if (newStream != null) {
      r.prefix = prefix;
      r.transform = transform;
      r.decoder = decoder;
      r.decodeOn = decodeOn;
    }
    r.cacheStatus = cacheStatus;
    r.ageSeconds = ageSeconds;
    r.linksChecked = linksChecked;
    return r;
  }

  /** Reads and drops a streaming body nobody will write (a retried or requeued answer), so its connection goes back to the pool. */
  public void discard() {
    if (stream == null) return;
    stream.handler(ignored -> { });
    stream.exceptionHandler(ignored -> { });
    stream.resume();
  }

  /** Rewrites the streaming body chunk by chunk as it is written to the client. */
  public Reply transform(BodyTransform t) {
    this.transform = t;
    return this;
  }

  /** @return the transform the streaming body passes through on its way out, or null */
  public BodyTransform transform() { return transform; }

  /** @return the decoder the streaming body passes through before its transform, or null */
  public BodyTransform decoder() { return decoder; }

  /** @return where {@link #decoder()} runs, or null */
  public Offload decodeOn() { return decodeOn; }

  /** @return bytes already read from {@link #stream()}, to send before it, or null */
  public Buffer prefix() { return prefix; }

  /** Marks a buffered body as already known to hold no paging links (no need to scan it again). */
  public Reply noLinks() { this.linksChecked = true; return this; }
  public boolean knownToHaveNoLinks() { return linksChecked; }

  public int status() { return status; }
  public MultiMap headers() { return headers; }
  /** @return the whole body, or null while it is still a stream */
  public Buffer body() { return body; }
  /** @return the upstream response to pipe, or null when buffered */
  public HttpClientResponse stream() { return stream; }
  public boolean isStreaming() { return stream != null; }

  /** Where the answer came from ({@code X-Cache}). */
  public XCache cacheStatus() { return cacheStatus; }
  public Reply cacheStatus(XCache value) { this.cacheStatus = value; return this; }
  /** Seconds since the answer was fetched from the upstream, or -1 for a fresh one. */
  public long ageSeconds() { return ageSeconds; }
  public Reply ageSeconds(long value) { this.ageSeconds = value; return this; }
}
