package io.tollgate.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The optional clustered event bus, YAML section {@code cluster}: off by default. When on, the gateway's Vert.x joins
 * a Hazelcast cluster by TCP/IP on the listed {@code members} (no multicast, no cloud or Kubernetes discovery), so
 * {@code tollgate.cache.stats} and {@code tollgate.events} reach consumers on other machines; the cache API stays
 * local to each instance. Messages between members travel over Vert.x event-bus connections with mutual TLS: every
 * member presents {@code certFile}/{@code keyFile} and accepts only peers whose certificate {@code trustFile} trusts.
 * Tollgate generates nothing for the cluster: without the three files it refuses to start unless {@code insecure: true}
 * says plain TCP is meant (a trusted, isolated network).
 */
public final class ClusterOptions {
  /** The address this member binds and announces, for Hazelcast and the event bus: loopback unless told. */
  public static final String DEFAULT_HOST = "127.0.0.1";
  /** Hazelcast's member port (its own default); fixed, no auto-increment, so members can list each other. */
  public static final int DEFAULT_PORT = 5701;
  /** The event-bus port for messages between members; 0 picks a free port, announced through the cluster. */
  public static final int DEFAULT_EVENT_BUS_PORT = 0;
  public static final String DEFAULT_CLUSTER_NAME = "tollgate";
  private static final Pattern HOST = Pattern.compile("[A-Za-z0-9.:\\[\\]-]+");
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,64}");

  private boolean enabled;
  private String host = DEFAULT_HOST;
  private int port = DEFAULT_PORT;
  private int eventBusPort = DEFAULT_EVENT_BUS_PORT;
  private List<String> members = List.of();
  private String clusterName = DEFAULT_CLUSTER_NAME;
  private String certFile;
  private String keyFile;
  private String trustFile;
  private boolean insecure;

  public ClusterOptions() {}

  public ClusterOptions(ClusterOptions o) {
    enabled = o.enabled; host = o.host; port = o.port; eventBusPort = o.eventBusPort; members = o.members;
    clusterName = o.clusterName; certFile = o.certFile; keyFile = o.keyFile; trustFile = o.trustFile; insecure = o.insecure;
  }

  static ClusterOptions read(ConfigReader r) {
    ClusterOptions o = new ClusterOptions();
    o.enabled = r.bool("enabled", false);
    o.host = r.string("host", DEFAULT_HOST).trim();
    o.port = r.integer("port", DEFAULT_PORT, 1, 65535);
    o.eventBusPort = r.integer("eventBusPort", DEFAULT_EVENT_BUS_PORT, 0, 65535);
    o.members = r.strings("members", List.of());
    o.clusterName = r.string("clusterName", DEFAULT_CLUSTER_NAME).trim();
    o.certFile = blankToNull(r.string("certFile", null));
    o.keyFile = blankToNull(r.string("keyFile", null));
    o.trustFile = blankToNull(r.string("trustFile", null));
    o.insecure = r.bool("insecure", false);
    r.rejectUnknown();
    o.validate(r);
    return o;
  }

  /** Reports every problem of the section; the files themselves are read at start-up, before Vert.x joins. */
  private void validate(ConfigReader r) {
    if (host.isEmpty() || !HOST.matcher(host).matches() || "0.0.0.0".equals(host) || "::".equals(host)) {
      r.problem("host", host, "this member's own IP address or host name (not a wildcard such as 0.0.0.0)");
    }
    if (!NAME.matcher(clusterName).matches()) {
      r.problem("clusterName", clusterName, "1 to 64 letters, digits, '.', '_' or '-'");
    }
    for (int i = 0; i < members.size(); i++) {
      if (member(members.get(i)) == null) {
        r.problem("members[" + i + "]", members.get(i), "host:port, e.g. 10.0.0.12:5701");
      }
    }
    if (eventBusPort != 0 && eventBusPort == port) {
      r.problem("eventBusPort", eventBusPort, "a port other than cluster.port, or 0 for any free port");
    }
    if (!enabled) return;
    if (insecure) {
      if (certFile != null || keyFile != null || trustFile != null) {
        r.problem("insecure", true,
            "false when certFile, keyFile or trustFile are set (TLS between members or not, not both)");
      }
      return;
    }
    if (certFile == null) {
      r.problem("certFile", null,
          "a PEM certificate file for TLS between members (with keyFile and trustFile), or insecure: true, when cluster.enabled");
    }
    if (keyFile == null) r.problem("keyFile", null, "a PEM private key file to go with certFile");
    if (trustFile == null) {
      r.problem("trustFile", null, "a PEM file of the certificates (or CA) that members and consumers present");
    }
  }

  /** {@code host:port} as [host, port], or null when it is not one (IPv6 literals in brackets: {@code [::1]:5701}). */
  public static String[] member(String s) {
    int colon = s.lastIndexOf(':');
    if (colon <= 0 || colon == s.length() - 1) return null;
    String h = s.substring(0, colon);
    if (h.startsWith("[") && h.endsWith("]")) h = h.substring(1, h.length() - 1);
    String p = s.substring(colon + 1);
    if (h.isEmpty() || !HOST.matcher(h).matches() || !p.matches("\\d{1,5}")) return null;
    int n = Integer.parseInt(p);
    return n < 1 || n > 65535 ? null : new String[] {h, p};
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s.trim();
  }

  public JsonObject toJson() {
    JsonObject j = new JsonObject().put("enabled", enabled).put("host", host).put("port", port)
        .put("eventBusPort", eventBusPort).put("members", new JsonArray(members)).put("clusterName", clusterName)
        .put("insecure", insecure);
    if (certFile != null) j.put("certFile", certFile);
    if (keyFile != null) j.put("keyFile", keyFile);
    if (trustFile != null) j.put("trustFile", trustFile);
    return j;
  }

  /** True: the gateway's event bus is clustered (Hazelcast, TCP/IP join). */
  public boolean isEnabled() { return enabled; }
  public ClusterOptions setEnabled(boolean enabled) { this.enabled = enabled; return this; }
  /** This member's address: Hazelcast binds and announces it, and so does the event bus. */
  public String getHost() { return host; }
  public ClusterOptions setHost(String host) { this.host = host; return this; }
  /** Hazelcast's member port (TCP), 1-65535. */
  public int getPort() { return port; }
  public ClusterOptions setPort(int port) { this.port = port; return this; }
  /** The event-bus port (TCP, TLS unless insecure) that carries the messages; 0 picks a free one. */
  public int getEventBusPort() { return eventBusPort; }
  public ClusterOptions setEventBusPort(int port) { this.eventBusPort = port; return this; }
  /** Other members' Hazelcast addresses, {@code host:port}; the first of them up lets this one join. */
  public List<String> getMembers() { return members; }
  public ClusterOptions setMembers(List<String> members) { this.members = List.copyOf(members); return this; }
  /** Members join only a cluster of the same name. */
  public String getClusterName() { return clusterName; }
  public ClusterOptions setClusterName(String clusterName) { this.clusterName = clusterName; return this; }
  /** PEM certificate (then any intermediates) this member presents to the others. */
  public String getCertFile() { return certFile; }
  public ClusterOptions setCertFile(String certFile) { this.certFile = certFile; return this; }
  /** PEM private key (PKCS#8, or PKCS#1 RSA) of {@link #getCertFile()}. */
  public String getKeyFile() { return keyFile; }
  public ClusterOptions setKeyFile(String keyFile) { this.keyFile = keyFile; return this; }
  /** PEM certificates trusted for peers: a private CA, or the members' own certificates. */
  public String getTrustFile() { return trustFile; }
  public ClusterOptions setTrustFile(String trustFile) { this.trustFile = trustFile; return this; }
  /** True: plain TCP between members, no TLS (only on a network nobody else reaches). */
  public boolean isInsecure() { return insecure; }
  public ClusterOptions setInsecure(boolean insecure) { this.insecure = insecure; return this; }
}
