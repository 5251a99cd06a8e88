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
  private String cacheStatus = "MISS";
  private long ageSeconds = -1;

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
    MultiMap headers = MultiMap.caseInsensitiveMultiMap();
    HopByHop.copy(response.headers(), headers);
    return new Reply(response.statusCode(), headers, null, response);
  }

  public int status() { return status; }
  public MultiMap headers() { return headers; }
  /** @return the whole body, or null while it is still a stream */
  public Buffer body() { return body; }
  /** @return the upstream response to pipe, or null when buffered */
  public HttpClientResponse stream() { return stream; }
  public boolean isStreaming() { return stream != null; }

  /** {@code X-Cache} value: HIT-L1, HIT-L2, MISS, STALE or BYPASS. */
  public String cacheStatus() { return cacheStatus; }
  public Reply cacheStatus(String value) { this.cacheStatus = value; return this; }
  /** Seconds since the answer was fetched from the upstream, or -1 for a fresh one. */
  public long ageSeconds() { return ageSeconds; }
  public Reply ageSeconds(long value) { this.ageSeconds = value; return this; }
}
