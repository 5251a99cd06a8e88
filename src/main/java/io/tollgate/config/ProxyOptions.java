package io.tollgate.config;

import io.vertx.core.json.JsonObject;

/**
 * How upstream answers pass through the gateway. YAML section {@code proxy}.
 *
 * <p>An answer whose body fits in {@code bufferSize} is read whole as soon as it arrives, and its upstream
 * connection and bulkhead slot are free at once: a client that reads slowly then holds only memory, never a share
 * of upstream concurrency (nginx's {@code proxy_buffering}). A larger body streams with back-pressure and keeps both
 * until it has been read to the end.
 */
public final class ProxyOptions {
  /** Largest upstream body read whole before it is written to the client, in bytes; 0 streams every body. */
  public static final long DEFAULT_BUFFER_SIZE = 1L << 20;
  /** Upper bound of {@code bufferSize}: a buffered body is one heap buffer. */
  public static final long MAX_BUFFER_SIZE = 256L << 20;

  private long bufferSize = DEFAULT_BUFFER_SIZE;

  public ProxyOptions() {}

  public ProxyOptions(ProxyOptions o) {
    bufferSize = o.bufferSize;
  }

  static ProxyOptions read(ConfigReader r) {
    ProxyOptions o = new ProxyOptions();
    long size = r.size("bufferSize", DEFAULT_BUFFER_SIZE);
    if (size > MAX_BUFFER_SIZE) r.problem("bufferSize", Units.formatSize(size), "a size between 0 and 256MiB");
    else o.bufferSize = size;
    r.rejectUnknown();
    return o;
  }

  public JsonObject toJson() {
    return new JsonObject().put("bufferSize", Units.formatSize(bufferSize));
  }

  public long getBufferSize() { return bufferSize; }
  public ProxyOptions setBufferSize(long bytes) { this.bufferSize = bytes; return this; }
}
