package io.tollgate.config;

import io.vertx.core.json.JsonObject;
import java.time.Duration;

/** The proxy port: where applications send their Graph calls. YAML section {@code server}. */
public final class ServerOptions {
  /** Loopback by default: a sidecar serves its own pod; set 0.0.0.0 to serve others deliberately. */
  public static final String DEFAULT_HOST = "127.0.0.1";
  public static final int DEFAULT_PORT = 8080;
  /**
   * Proxy verticle instances; 0 means one per core, as nginx and Envoy run one worker per core. Vert.x's own default
   * (2 x cores) made two event loops share each core: on a core pinned to the gateway, L1 hits then cost ~20 % more
   * CPU and their p99 rose several-fold (time slices, not work; src/bench/README.md, "Event loops per core").
   */
  public static final int DEFAULT_INSTANCES = 0;
  /** Largest request body accepted; larger gets 413 before anything reaches the upstream. */
  public static final long DEFAULT_MAX_BODY_SIZE = 256L << 20;
  /** Largest request header block; larger gets 431. */
  public static final int DEFAULT_MAX_HEADER_SIZE = 16 << 10;
  /** Longest a shutdown waits for in-flight requests before closing them. */
  public static final Duration DEFAULT_DRAIN_TIMEOUT = Duration.ofSeconds(30);
  /** Client connections idle this long are closed. */
  public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(120);
  /**
   * A request head (request line and headers) must be complete this long after its connection opened, or after the
   * keep-alive wait that follows an answer; a connection that trickles one (slowloris) is closed.
   */
  public static final Duration DEFAULT_HEADER_TIMEOUT = Duration.ofSeconds(10);

  private String host = DEFAULT_HOST;
  private int port = DEFAULT_PORT;
  private int instances = DEFAULT_INSTANCES;
  private long maxBodySize = DEFAULT_MAX_BODY_SIZE;
  private int maxHeaderSize = DEFAULT_MAX_HEADER_SIZE;
  private Duration drainTimeout = DEFAULT_DRAIN_TIMEOUT;
  private Duration idleTimeout = DEFAULT_IDLE_TIMEOUT;
  private Duration headerTimeout = DEFAULT_HEADER_TIMEOUT;
  private String publicUrl;
  private java.util.List<String> trustedProxies = java.util.List.of();
  private TlsOptions tls = new TlsOptions();

  public ServerOptions() {}

  public ServerOptions(ServerOptions o) {
    host = o.host; port = o.port; instances = o.instances; maxBodySize = o.maxBodySize;
    maxHeaderSize = o.maxHeaderSize; drainTimeout = o.drainTimeout; idleTimeout = o.idleTimeout; publicUrl = o.publicUrl;
    headerTimeout = o.headerTimeout;
    trustedProxies = o.trustedProxies;
    tls = new TlsOptions(o.tls);
  }

  static ServerOptions read(ConfigReader r) {
    ServerOptions o = new ServerOptions();
    o.host = r.string("host", DEFAULT_HOST);
    o.port = r.integer("port", DEFAULT_PORT, 0, 65535);
    o.instances = r.integer("instances", DEFAULT_INSTANCES, 0, 1024);
    o.maxBodySize = r.size("maxBodySize", DEFAULT_MAX_BODY_SIZE);
    long header = r.size("maxHeaderSize", DEFAULT_MAX_HEADER_SIZE);
    if (header < 1024 || header > (1 << 20)) r.problem("maxHeaderSize", Units.formatSize(header), "a size between 1KiB and 1MiB");
    else o.maxHeaderSize = (int) header;
    o.drainTimeout = r.duration("drainTimeout", DEFAULT_DRAIN_TIMEOUT);
    o.idleTimeout = r.duration("idleTimeout", DEFAULT_IDLE_TIMEOUT);
    o.headerTimeout = r.duration("headerTimeout", DEFAULT_HEADER_TIMEOUT);
    if (o.headerTimeout.isZero()) r.problem("headerTimeout", "0s", "a duration above 0");
    o.publicUrl = r.url("publicUrl", null, java.util.Set.of("http", "https"));
    o.trustedProxies = r.strings("trustedProxies", java.util.List.of());
    for (String ip : o.trustedProxies) {
      if (!ip.matches("[0-9.]+|[0-9a-fA-F:]+")) r.problem("trustedProxies", ip, "IP addresses of proxies in front of Tollgate");
    }
    o.tls = TlsOptions.read(r.section("tls"));
    r.rejectUnknown();
    return o;
  }

  public JsonObject toJson() {
    JsonObject j = new JsonObject().put("host", host).put("port", port).put("instances", instances)
        .put("maxBodySize", Units.formatSize(maxBodySize)).put("maxHeaderSize", Units.formatSize(maxHeaderSize))
        .put("drainTimeout", Units.formatDuration(drainTimeout)).put("idleTimeout", Units.formatDuration(idleTimeout))
        .put("headerTimeout", Units.formatDuration(headerTimeout));
    if (publicUrl != null) j.put("publicUrl", publicUrl);
    if (!trustedProxies.isEmpty()) j.put("trustedProxies", new io.vertx.core.json.JsonArray(trustedProxies));
    j.put("tls", tls.toJson());
    return j;
  }

  public String getHost() { return host; }
  public ServerOptions setHost(String host) { this.host = host; return this; }
  public int getPort() { return port; }
  public ServerOptions setPort(int port) { this.port = port; return this; }
  public int getInstances() { return instances; }
  public ServerOptions setInstances(int instances) { this.instances = instances; return this; }
  public long getMaxBodySize() { return maxBodySize; }
  public ServerOptions setMaxBodySize(long maxBodySize) { this.maxBodySize = maxBodySize; return this; }
  public int getMaxHeaderSize() { return maxHeaderSize; }
  public ServerOptions setMaxHeaderSize(int maxHeaderSize) { this.maxHeaderSize = maxHeaderSize; return this; }
  public Duration getDrainTimeout() { return drainTimeout; }
  public ServerOptions setDrainTimeout(Duration drainTimeout) { this.drainTimeout = drainTimeout; return this; }
  public Duration getHeaderTimeout() { return headerTimeout; }
  public ServerOptions setHeaderTimeout(Duration headerTimeout) { this.headerTimeout = headerTimeout; return this; }
  public Duration getIdleTimeout() { return idleTimeout; }
  public ServerOptions setIdleTimeout(Duration idleTimeout) { this.idleTimeout = idleTimeout; return this; }
  /** Origin clients use to reach Tollgate, for rewritten links; null = taken from each request's Host. */
  /** Peers whose {@code X-Forwarded-Host}/{@code -Proto} Tollgate believes when it rewrites links; none by default. */
  public java.util.List<String> getTrustedProxies() { return trustedProxies; }
  public ServerOptions setTrustedProxies(java.util.List<String> ips) { this.trustedProxies = java.util.List.copyOf(ips); return this; }
  /** The optional TLS listener of the proxy port ({@code server.tls}); off by default. */
  public TlsOptions getTls() { return tls; }
  public ServerOptions setTls(TlsOptions tls) { this.tls = tls; return this; }
  public String getPublicUrl() { return publicUrl; }
  public ServerOptions setPublicUrl(String publicUrl) { this.publicUrl = publicUrl; return this; }
}
