package io.tollgate.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Delta-fed invalidation (YAML {@code freshness.delta}): Tollgate follows Graph's delta feeds for the
 * configured directory resources with its own app credentials (client-credentials flow against
 * {@code tokenOrigin}, the second configured origin) and evicts every cached answer that mentions a changed or
 * removed object. Delta bodies are only read to evict: never stored, never served. With Redis, one instance of
 * a fleet polls (a lease in Redis) and the cursor lives in Redis; without, each instance polls on its own.
 */
public final class DeltaOptions {
  /** Resources whose delta feeds can be followed. */
  public static final List<String> RESOURCES = List.of("users", "groups");
  public static final Duration DEFAULT_POLL_INTERVAL = Duration.ofSeconds(30);
  /** The Microsoft identity platform; the only origin besides the upstream that Tollgate contacts. */
  public static final String DEFAULT_TOKEN_ORIGIN = "https://login.microsoftonline.com";
  public static final String DEFAULT_SCOPE = "https://graph.microsoft.com/.default";
  /** Delta pages read per poll and resource at most; past it the poll resumes from its nextLink next time. */
  public static final int DEFAULT_MAX_PAGES = 500;
  /**
   * When a feed has not reached its deltaLink for this long (errors, token trouble, Redis away), every delta-fed
   * route is evicted, and again every maxLag while it stays lost: a long TTL never outlives a broken feed by more.
   */
  public static final Duration DEFAULT_MAX_LAG = Duration.ofMinutes(5);
  private static final String MASK = "****";

  private boolean enabled;
  private List<String> resources = RESOURCES;
  private Duration pollInterval = DEFAULT_POLL_INTERVAL;
  private Duration lease = Duration.ZERO;
  private String tenantId;
  private String clientId;
  private String clientSecret;
  private String clientSecretEnv;
  private String clientCertificateFile;
  private String clientCertificateEnv;
  private ClientCertificate clientCertificate;
  private String tokenOrigin = DEFAULT_TOKEN_ORIGIN;
  private String scope = DEFAULT_SCOPE;
  private int maxPages = DEFAULT_MAX_PAGES;
  private Duration maxLag = DEFAULT_MAX_LAG;

  public DeltaOptions() {}

  public DeltaOptions(DeltaOptions o) {
    enabled = o.enabled; resources = o.resources; pollInterval = o.pollInterval; lease = o.lease; tenantId = o.tenantId;
    clientId = o.clientId; clientSecret = o.clientSecret; clientSecretEnv = o.clientSecretEnv; tokenOrigin = o.tokenOrigin;
    clientCertificateFile = o.clientCertificateFile; clientCertificateEnv = o.clientCertificateEnv; clientCertificate = o.clientCertificate;
    scope = o.scope; maxPages = o.maxPages; maxLag = o.maxLag;
  }

  static DeltaOptions read(ConfigReader r, Map<String, String> env) {
    DeltaOptions o = new DeltaOptions();
    o.enabled = r.bool("enabled", false);
    o.resources = r.strings("resources", RESOURCES);
    for (String res : o.resources) {
      if (!RESOURCES.contains(res)) r.problem("resources", res, "users and/or groups");
    }
    o.pollInterval = r.duration("pollInterval", DEFAULT_POLL_INTERVAL);
    if (o.pollInterval.toMillis() < 100) r.problem("pollInterval", Units.formatDuration(o.pollInterval), "at least 100ms");
    o.lease = r.duration("lease", Duration.ZERO);
    if (!o.lease.isZero() && o.lease.compareTo(o.pollInterval) <= 0) {
      r.problem("lease", Units.formatDuration(o.lease), "0s (3 x pollInterval) or a duration longer than pollInterval");
    }
    o.tenantId = blankToNull(r.string("tenantId", null));
    o.clientId = blankToNull(r.string("clientId", null));
    Object secret = r.raw("clientSecret");
    o.clientSecret = secret == null ? null : blankToNull(String.valueOf(secret));
    o.clientSecretEnv = blankToNull(r.string("clientSecretEnv", null));
    o.clientCertificateFile = blankToNull(r.string("clientCertificateFile", null));
    o.clientCertificateEnv = blankToNull(r.string("clientCertificateEnv", null));
    o.tokenOrigin = r.url("tokenOrigin", DEFAULT_TOKEN_ORIGIN, Set.of("http", "https"));
    if (o.tokenOrigin != null && !URI.create(o.tokenOrigin).getRawPath().isEmpty()) {
      r.problem("tokenOrigin", o.tokenOrigin, "an origin (scheme, host and port, no path)");
    }
    o.scope = r.string("scope", DEFAULT_SCOPE);
    o.maxPages = r.integer("maxPages", DEFAULT_MAX_PAGES, 1, 100_000);
    o.maxLag = r.duration("maxLag", DEFAULT_MAX_LAG);
    if (o.maxLag.compareTo(o.pollInterval) <= 0) {
      r.problem("maxLag", Units.formatDuration(o.maxLag), "a duration longer than pollInterval");
    }
    r.rejectUnknown();
    if (o.enabled) {
      if (o.resources.isEmpty()) r.problem("resources", "[]", "users and/or groups");
      if (o.tenantId == null) r.problem("tenantId", null, "the directory (tenant) id the sidecar's app reads");
      if (o.clientId == null) r.problem("clientId", null, "the sidecar's app (client) id");
      int credentials = (o.clientSecret == null ? 0 : 1) + (o.clientSecretEnv == null ? 0 : 1)
          + (o.clientCertificateFile == null ? 0 : 1) + (o.clientCertificateEnv == null ? 0 : 1);
      String one = "exactly one of clientSecret, clientSecretEnv, clientCertificateFile or clientCertificateEnv";
      if (credentials != 1) {
        if (o.clientSecret != null || credentials == 0) r.problem("clientSecret", o.clientSecret == null ? null : MASK, one);
        else if (o.clientSecretEnv != null) r.problem("clientSecretEnv", o.clientSecretEnv, one);
        else r.problem("clientCertificateFile", o.clientCertificateFile, one);
      } else if (o.clientSecretEnv != null && blankToNull(env.get(o.clientSecretEnv)) == null) {
        r.problem("clientSecretEnv", o.clientSecretEnv, "the name of a set, non-empty environment variable holding the secret");
      } else if (o.clientCertificateFile != null) {
        o.clientCertificate = certificateFile(r, o.clientCertificateFile);
      } else if (o.clientCertificateEnv != null) {
        String pem = blankToNull(env.get(o.clientCertificateEnv));
        try {
          o.clientCertificate = ClientCertificate.fromPem(pem);
        } catch (IllegalArgumentException e) {
          r.problem("clientCertificateEnv", o.clientCertificateEnv, "the name of a set environment variable holding a PEM "
              + "PKCS#8 private key and its X.509 certificate (" + (pem == null ? "not set" : e.getMessage()) + ")");
        }
      }
    }
    if (o.clientSecretEnv != null && o.clientSecret == null) o.clientSecret = blankToNull(env.get(o.clientSecretEnv));
    return o;
  }

  /** Reads and parses the PEM file (start-up runs on a worker thread); a problem naming the key when it cannot. */
  private static ClientCertificate certificateFile(ConfigReader r, String file) {
    String pem;
    try {
      pem = java.nio.file.Files.readString(java.nio.file.Path.of(file), java.nio.charset.StandardCharsets.US_ASCII);
    } catch (java.io.IOException | RuntimeException e) {
      r.problem("clientCertificateFile", file, "a readable PEM file with a PKCS#8 private key and its X.509 certificate");
      return null;
    }
    try {
      return ClientCertificate.fromPem(pem);
    } catch (IllegalArgumentException e) {
      r.problem("clientCertificateFile", file, "a PEM file with a PKCS#8 private key and its X.509 certificate (" + e.getMessage() + ")");
      return null;
    }
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s.trim();
  }

  /** The secret masked; the environment variable's name shown. */
  public JsonObject toJson() {
    JsonObject j = new JsonObject().put("enabled", enabled).put("resources", new JsonArray(resources))
        .put("pollInterval", Units.formatDuration(pollInterval)).put("lease", Units.formatDuration(lease))
        .put("tokenOrigin", tokenOrigin).put("scope", scope).put("maxPages", maxPages)
        .put("maxLag", Units.formatDuration(maxLag));
    if (tenantId != null) j.put("tenantId", tenantId);
    if (clientId != null) j.put("clientId", clientId);
    if (clientSecretEnv != null) j.put("clientSecretEnv", clientSecretEnv);
    else if (clientSecret != null) j.put("clientSecret", MASK);
    if (clientCertificateFile != null) j.put("clientCertificateFile", clientCertificateFile);
    if (clientCertificateEnv != null) j.put("clientCertificateEnv", clientCertificateEnv);
    if (clientCertificate != null) j.put("clientCertificateThumbprint", clientCertificate.x5t());
    return j;
  }

  @Override
  public String toString() {
    return toJson().encode();
  }

  public boolean isEnabled() { return enabled; }
  public DeltaOptions setEnabled(boolean on) { this.enabled = on; return this; }
  /** Which delta feeds to follow: {@code users}, {@code groups}. */
  public List<String> getResources() { return resources; }
  public DeltaOptions setResources(List<String> resources) { this.resources = List.copyOf(resources); return this; }
  /** Pause between the end of one poll and the start of the next. */
  public Duration getPollInterval() { return pollInterval; }
  public DeltaOptions setPollInterval(Duration d) { this.pollInterval = d; return this; }
  /** How long a poller's lease in Redis lasts unless renewed (each poll renews it); zero means 3 x pollInterval. */
  public Duration getLease() { return lease; }
  public DeltaOptions setLease(Duration d) { this.lease = d; return this; }
  /** The lease actually used. */
  public Duration effectiveLease() { return lease.isZero() ? pollInterval.multipliedBy(3) : lease; }
  public String getTenantId() { return tenantId; }
  public DeltaOptions setTenantId(String id) { this.tenantId = id; return this; }
  public String getClientId() { return clientId; }
  public DeltaOptions setClientId(String id) { this.clientId = id; return this; }
  /** The client secret (read from {@code clientSecretEnv} when that names the variable). Never log it. */
  public String getClientSecret() { return clientSecret; }
  public DeltaOptions setClientSecret(String secret) { this.clientSecret = secret; return this; }
  public String getClientSecretEnv() { return clientSecretEnv; }
  /**
   * The certificate credential (from {@code clientCertificateFile} or {@code clientCertificateEnv}): the token client
   * then sends a signed client assertion instead of a secret. Null when a secret is used.
   */
  public ClientCertificate getClientCertificate() { return clientCertificate; }
  public DeltaOptions setClientCertificate(ClientCertificate c) { this.clientCertificate = c; return this; }
  public String getClientCertificateFile() { return clientCertificateFile; }
  public String getClientCertificateEnv() { return clientCertificateEnv; }
  /** Origin of the token endpoint {@code POST {tokenOrigin}/{tenantId}/oauth2/v2.0/token}. */
  public String getTokenOrigin() { return tokenOrigin; }
  public DeltaOptions setTokenOrigin(String origin) { this.tokenOrigin = origin; return this; }
  /** The client-credentials scope. */
  public String getScope() { return scope; }
  public DeltaOptions setScope(String scope) { this.scope = scope; return this; }
  /** Delta pages read per poll and resource at most. */
  public int getMaxPages() { return maxPages; }
  public DeltaOptions setMaxPages(int n) { this.maxPages = n; return this; }
  /** How long a feed may fail before every delta-fed route is evicted (and again every maxLag while it fails). */
  public Duration getMaxLag() { return maxLag; }
  public DeltaOptions setMaxLag(Duration d) { this.maxLag = d; return this; }
}
