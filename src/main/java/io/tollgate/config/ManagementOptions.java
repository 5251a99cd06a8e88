package io.tollgate.config;

import io.vertx.core.json.JsonObject;

/** Health, metrics and admin port. YAML section {@code management}. */
public final class ManagementOptions {
  /** Loopback: metrics and admin never face the network unless asked. */
  public static final String DEFAULT_HOST = "127.0.0.1";
  public static final int DEFAULT_PORT = 9901;

  private String host = DEFAULT_HOST;
  private int port = DEFAULT_PORT;
  private String adminToken;
  /** The SockJS event-bus bridge at /eventbus: stats and events out; the cache API in, with the admin token. */
  private boolean eventBusBridge = true;
  private java.util.List<String> bridgeOrigins = java.util.List.of();

  public ManagementOptions() {}

  public ManagementOptions(ManagementOptions o) {
    host = o.host; port = o.port; adminToken = o.adminToken; eventBusBridge = o.eventBusBridge;
    bridgeOrigins = o.bridgeOrigins;
  }

  static ManagementOptions read(ConfigReader r) {
    ManagementOptions o = new ManagementOptions();
    o.host = r.string("host", DEFAULT_HOST);
    o.port = r.integer("port", DEFAULT_PORT, 0, 65535);
    o.adminToken = r.string("adminToken", null);
    o.eventBusBridge = r.bool("eventBusBridge", true);
    o.bridgeOrigins = r.strings("bridgeOrigins", java.util.List.of());
    for (String origin : o.bridgeOrigins) {
      if (!origin.matches("https?://[A-Za-z0-9.\\[\\]:-]+")) r.problem("bridgeOrigins", origin, "origins such as https://dashboard.example:8443 (scheme, host, optional port)");
    }
    if (o.adminToken != null && o.adminToken.isBlank()) o.adminToken = null;
    if (o.adminToken != null && o.adminToken.length() < 16) {
      r.problem("adminToken", "(" + o.adminToken.length() + " characters)", "at least 16 characters");
    }
    r.rejectUnknown();
    return o;
  }

  /** The admin token is masked: configuration dumps end up in logs. */
  public JsonObject toJson() {
    JsonObject j = new JsonObject().put("host", host).put("port", port).put("eventBusBridge", eventBusBridge);
    if (!bridgeOrigins.isEmpty()) j.put("bridgeOrigins", new io.vertx.core.json.JsonArray(bridgeOrigins));
    if (adminToken != null) j.put("adminToken", "****");
    return j;
  }

  public String getHost() { return host; }
  public ManagementOptions setHost(String host) { this.host = host; return this; }
  public int getPort() { return port; }
  public ManagementOptions setPort(int port) { this.port = port; return this; }
  /** Bearer token for /admin routes; null closes them (403). */
  public String getAdminToken() { return adminToken; }
  public ManagementOptions setAdminToken(String adminToken) { this.adminToken = adminToken; return this; }
  /**
   * Browser origins, besides the management port's own, allowed to open the event-bus bridge; none by
   * default. Clients that send no {@code Origin} (other processes, not browsers) are not affected.
   */
  public java.util.List<String> getBridgeOrigins() { return bridgeOrigins; }
  public ManagementOptions setBridgeOrigins(java.util.List<String> origins) { this.bridgeOrigins = java.util.List.copyOf(origins); return this; }
  public boolean isEventBusBridge() { return eventBusBridge; }
  public ManagementOptions setEventBusBridge(boolean on) { this.eventBusBridge = on; return this; }
}
