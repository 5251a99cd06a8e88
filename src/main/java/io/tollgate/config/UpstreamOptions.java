package io.tollgate.config;

import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.Set;

/** The one upstream Tollgate may contact. YAML section {@code upstream}. */
public final class UpstreamOptions {
  public static final String DEFAULT_URL = "https://graph.microsoft.com";
  /** TCP (and TLS) connect budget; exceeded gives 504. */
  public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(5);
  /** Time from sending a request to the upstream's response headers; exceeded gives 504. */
  public static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofSeconds(60);
  /** Upstream connections per proxy verticle (HTTP/1.1); HTTP/2 multiplexes over fewer. */
  public static final int DEFAULT_MAX_CONNECTIONS = 64;
  /** Pooled upstream connections idle this long are closed. */
  public static final Duration DEFAULT_KEEP_ALIVE_TIMEOUT = Duration.ofSeconds(60);
  public static final boolean DEFAULT_HTTP2 = true;

  private String url = DEFAULT_URL;
  private Duration connectTimeout = DEFAULT_CONNECT_TIMEOUT;
  private Duration requestTimeout = DEFAULT_REQUEST_TIMEOUT;
  private int maxConnections = DEFAULT_MAX_CONNECTIONS;
  private Duration keepAliveTimeout = DEFAULT_KEEP_ALIVE_TIMEOUT;
  private boolean http2 = DEFAULT_HTTP2;

  public UpstreamOptions() {}

  public UpstreamOptions(UpstreamOptions o) {
    url = o.url; connectTimeout = o.connectTimeout; requestTimeout = o.requestTimeout;
    maxConnections = o.maxConnections; keepAliveTimeout = o.keepAliveTimeout; http2 = o.http2;
  }

  static UpstreamOptions read(ConfigReader r) {
    UpstreamOptions o = new UpstreamOptions();
    o.url = r.url("url", DEFAULT_URL, Set.of("http", "https"));
    o.connectTimeout = r.duration("connectTimeout", DEFAULT_CONNECT_TIMEOUT);
    o.requestTimeout = r.duration("requestTimeout", DEFAULT_REQUEST_TIMEOUT);
    o.maxConnections = r.integer("maxConnections", DEFAULT_MAX_CONNECTIONS, 1, 100_000);
    o.keepAliveTimeout = r.duration("keepAliveTimeout", DEFAULT_KEEP_ALIVE_TIMEOUT);
    o.http2 = r.bool("http2", DEFAULT_HTTP2);
    if (o.connectTimeout.isZero()) r.problem("connectTimeout", "0s", "a duration above 0");
    if (o.requestTimeout.isZero()) r.problem("requestTimeout", "0s", "a duration above 0");
    r.rejectUnknown();
    return o;
  }

  public JsonObject toJson() {
    return new JsonObject().put("url", url).put("connectTimeout", Units.formatDuration(connectTimeout))
        .put("requestTimeout", Units.formatDuration(requestTimeout)).put("maxConnections", maxConnections)
        .put("keepAliveTimeout", Units.formatDuration(keepAliveTimeout)).put("http2", http2);
  }

  public String getUrl() { return url; }
  public UpstreamOptions setUrl(String url) { this.url = url; return this; }
  public Duration getConnectTimeout() { return connectTimeout; }
  public UpstreamOptions setConnectTimeout(Duration d) { this.connectTimeout = d; return this; }
  public Duration getRequestTimeout() { return requestTimeout; }
  public UpstreamOptions setRequestTimeout(Duration d) { this.requestTimeout = d; return this; }
  public int getMaxConnections() { return maxConnections; }
  public UpstreamOptions setMaxConnections(int n) { this.maxConnections = n; return this; }
  public Duration getKeepAliveTimeout() { return keepAliveTimeout; }
  public UpstreamOptions setKeepAliveTimeout(Duration d) { this.keepAliveTimeout = d; return this; }
  public boolean isHttp2() { return http2; }
  public UpstreamOptions setHttp2(boolean http2) { this.http2 = http2; return this; }
}
