package io.tollgate.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Graph change notifications (YAML {@code freshness.notifications}): a listener of its own that Graph posts
 * change notifications to, and subscriptions for the configured resources that Tollgate creates and renews with
 * the delta feed's credentials ({@code freshness.delta}, which must be enabled: the notifications evict through
 * its content index and ask it to read the feed at once). Notifications only shorten the lag; the delta feed
 * stays the backbone. The {@code clientState} secret comes from an environment variable or a file, never the
 * YAML itself, and is masked everywhere.
 */
public final class NotificationOptions {
  /** Resources that can be subscribed to (their notifications evict through the delta feeds' index). */
  public static final List<String> RESOURCES = DeltaOptions.RESOURCES;
  public static final Set<String> CHANGE_TYPES = Set.of("created", "updated", "deleted");
  public static final String DEFAULT_HOST = "127.0.0.1";
  public static final int DEFAULT_PORT = 9902;
  public static final String DEFAULT_PATH = "/notifications";
  public static final String DEFAULT_CHANGE_TYPE = "updated,deleted";
  /** Requested subscription lifetime; Graph caps users and groups at 29 days (41,760 minutes). */
  public static final Duration DEFAULT_LIFETIME = Duration.ofDays(3);
  public static final Duration MAX_LIFETIME = Duration.ofMinutes(41_760);
  /** A subscription is renewed once it expires within this. */
  public static final Duration DEFAULT_RENEW_BEFORE = Duration.ofDays(1);
  /** How often the managing instance checks its subscriptions (and renews its Redis lease on the job). */
  public static final Duration DEFAULT_CHECK_INTERVAL = Duration.ofMinutes(1);
  /** Pause between two subscription writes; Graph allows 500 per 20 s per app and tenant (one per 40 ms). */
  public static final Duration DEFAULT_WRITE_INTERVAL = Duration.ofMillis(200);
  /** Largest notification body accepted (413 beyond). */
  public static final long DEFAULT_MAX_BODY_BYTES = 1L << 20;
  /** Graph's limit on clientState. */
  public static final int MAX_CLIENT_STATE_CHARS = 128;
  private static final String MASK = "****";

  private boolean enabled;
  private String host = DEFAULT_HOST;
  private int port = DEFAULT_PORT;
  private String path = DEFAULT_PATH;
  private String notificationUrl;
  private String clientState;
  private String clientStateEnv;
  private String clientStateFile;
  private List<String> resources = RESOURCES;
  private String changeType = DEFAULT_CHANGE_TYPE;
  private Duration lifetime = DEFAULT_LIFETIME;
  private Duration renewBefore = DEFAULT_RENEW_BEFORE;
  private Duration checkInterval = DEFAULT_CHECK_INTERVAL;
  private Duration writeInterval = DEFAULT_WRITE_INTERVAL;
  private long maxBodyBytes = DEFAULT_MAX_BODY_BYTES;

  public NotificationOptions() {}

  public NotificationOptions(NotificationOptions o) {
    enabled = o.enabled; host = o.host; port = o.port; path = o.path; notificationUrl = o.notificationUrl;
    clientState = o.clientState; clientStateEnv = o.clientStateEnv; clientStateFile = o.clientStateFile;
    resources = o.resources; changeType = o.changeType; lifetime = o.lifetime; renewBefore = o.renewBefore;
    checkInterval = o.checkInterval; writeInterval = o.writeInterval; maxBodyBytes = o.maxBodyBytes;
  }

  static NotificationOptions read(ConfigReader r, Map<String, String> env) {
    NotificationOptions o = new NotificationOptions();
    o.enabled = r.bool("enabled", false);
    o.host = r.string("host", DEFAULT_HOST);
    o.port = r.integer("port", DEFAULT_PORT, 0, 65_535);
    o.path = r.string("path", DEFAULT_PATH);
    if (!o.path.matches("/[A-Za-z0-9._~/-]*")) r.problem("path", o.path, "an absolute path such as /notifications");
    o.notificationUrl = r.url("notificationUrl", null, Set.of("http", "https"));
    o.clientStateEnv = blankToNull(r.string("clientStateEnv", null));
    o.clientStateFile = blankToNull(r.string("clientStateFile", null));
    o.resources = r.strings("resources", RESOURCES);
    for (String res : o.resources) {
      if (!RESOURCES.contains(res)) r.problem("resources", res, "users and/or groups");
    }
    o.changeType = r.string("changeType", DEFAULT_CHANGE_TYPE).replace(" ", "");
    for (String t : o.changeType.split(",", -1)) {
      if (!CHANGE_TYPES.contains(t)) r.problem("changeType", o.changeType, "a comma-separated list of created, updated, deleted");
    }
    o.lifetime = r.duration("lifetime", DEFAULT_LIFETIME);
    if (o.lifetime.toMillis() < 1000 || o.lifetime.compareTo(MAX_LIFETIME) > 0) {
      r.problem("lifetime", Units.formatDuration(o.lifetime), "between 1s and 41760m (Graph's cap for users and groups, about 29 days)");
    }
    o.renewBefore = r.duration("renewBefore", DEFAULT_RENEW_BEFORE);
    if (o.renewBefore.isZero() || o.renewBefore.compareTo(o.lifetime) >= 0) {
      r.problem("renewBefore", Units.formatDuration(o.renewBefore), "a duration above 0 and shorter than lifetime");
    }
    o.checkInterval = r.duration("checkInterval", DEFAULT_CHECK_INTERVAL);
    if (o.checkInterval.toMillis() < 100 || o.checkInterval.compareTo(o.renewBefore) >= 0) {
      r.problem("checkInterval", Units.formatDuration(o.checkInterval), "at least 100ms and shorter than renewBefore");
    }
    o.writeInterval = r.duration("writeInterval", DEFAULT_WRITE_INTERVAL);
    if (o.writeInterval.toMillis() < 40) {
      r.problem("writeInterval", Units.formatDuration(o.writeInterval), "at least 40ms (Graph: 500 subscription writes per 20 s)");
    }
    o.maxBodyBytes = r.size("maxBodySize", DEFAULT_MAX_BODY_BYTES);
    if (o.maxBodyBytes < 1024 || o.maxBodyBytes > (64L << 20)) r.problem("maxBodySize", o.maxBodyBytes, "between 1KiB and 64MiB");
    r.rejectUnknown();
    if (o.clientStateEnv != null) o.clientState = blankToNull(env.get(o.clientStateEnv));
    else if (o.clientStateFile != null) o.clientState = readSecret(o.clientStateFile);
    if (o.enabled) {
      if (o.notificationUrl == null) {
        r.problem("notificationUrl", null, "the public https URL Graph posts notifications to (it reaches this listener's path)");
      }
      if (o.resources.isEmpty()) r.problem("resources", "[]", "users and/or groups");
      if ((o.clientStateEnv == null) == (o.clientStateFile == null)) {
        r.problem("clientStateEnv", o.clientStateEnv, "exactly one of clientStateEnv or clientStateFile");
      } else if (o.clientState == null) {
        if (o.clientStateEnv != null) {
          r.problem("clientStateEnv", o.clientStateEnv, "the name of a set, non-empty environment variable holding the clientState secret");
        } else {
          r.problem("clientStateFile", o.clientStateFile, "a readable, non-empty file holding the clientState secret");
        }
      } else if (!validClientState(o.clientState)) {
        r.problem(o.clientStateEnv != null ? "clientStateEnv" : "clientStateFile", MASK,
            "a secret of 16 to 128 printable ASCII characters (Graph's limit)");
      }
    }
    return o;
  }

  private static boolean validClientState(String s) {
    if (s.length() < 16 || s.length() > MAX_CLIENT_STATE_CHARS) return false;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x21 || c > 0x7e) return false;
    }
    return true;
  }

  private static String readSecret(String file) {
    try {
      return blankToNull(Files.readString(Path.of(file), StandardCharsets.UTF_8));
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s.trim();
  }

  /** The secret masked; where it comes from shown. */
  public JsonObject toJson() {
    JsonObject j = new JsonObject().put("enabled", enabled).put("host", host).put("port", port).put("path", path)
        .put("resources", new JsonArray(resources)).put("changeType", changeType)
        .put("lifetime", Units.formatDuration(lifetime)).put("renewBefore", Units.formatDuration(renewBefore))
        .put("checkInterval", Units.formatDuration(checkInterval)).put("writeInterval", Units.formatDuration(writeInterval))
        .put("maxBodySize", maxBodyBytes);
    if (notificationUrl != null) j.put("notificationUrl", notificationUrl);
    if (clientStateEnv != null) j.put("clientStateEnv", clientStateEnv);
    if (clientStateFile != null) j.put("clientStateFile", clientStateFile);
    return j;
  }

  @Override
  public String toString() {
    return toJson().encode();
  }

  public boolean isEnabled() { return enabled; }
  public NotificationOptions setEnabled(boolean on) { this.enabled = on; return this; }
  /** Interface the notification listener binds. */
  public String getHost() { return host; }
  public NotificationOptions setHost(String host) { this.host = host; return this; }
  /** Port of the notification listener (0: a free one). */
  public int getPort() { return port; }
  public NotificationOptions setPort(int port) { this.port = port; return this; }
  /** The one path the listener answers on (POST only). */
  public String getPath() { return path; }
  public NotificationOptions setPath(String path) { this.path = path; return this; }
  /** The public URL subscriptions register (Graph: https with a valid certificate); it must reach {@link #getPath()}. */
  public String getNotificationUrl() { return notificationUrl; }
  public NotificationOptions setNotificationUrl(String url) { this.notificationUrl = url; return this; }
  /** The clientState secret each notification must carry. Never log it. */
  public String getClientState() { return clientState; }
  public NotificationOptions setClientState(String secret) { this.clientState = secret; return this; }
  public String getClientStateEnv() { return clientStateEnv; }
  public String getClientStateFile() { return clientStateFile; }
  /** Resources subscribed to: {@code users}, {@code groups}. */
  public List<String> getResources() { return resources; }
  public NotificationOptions setResources(List<String> resources) { this.resources = List.copyOf(resources); return this; }
  /** Graph's changeType, comma-separated. */
  public String getChangeType() { return changeType; }
  public NotificationOptions setChangeType(String changeType) { this.changeType = changeType; return this; }
  /** The lifetime asked for at creation and each renewal. */
  public Duration getLifetime() { return lifetime; }
  public NotificationOptions setLifetime(Duration d) { this.lifetime = d; return this; }
  /** A subscription expiring within this is renewed. */
  public Duration getRenewBefore() { return renewBefore; }
  public NotificationOptions setRenewBefore(Duration d) { this.renewBefore = d; return this; }
  /** How often subscriptions are checked (created, renewed); the fleet lease on the job lasts 3 x this. */
  public Duration getCheckInterval() { return checkInterval; }
  public NotificationOptions setCheckInterval(Duration d) { this.checkInterval = d; return this; }
  /** Pause between two subscription writes (Graph's quota: 500 per 20 s per app and tenant). */
  public Duration getWriteInterval() { return writeInterval; }
  public NotificationOptions setWriteInterval(Duration d) { this.writeInterval = d; return this; }
  /** Largest notification body, in bytes. */
  public long getMaxBodyBytes() { return maxBodyBytes; }
  public NotificationOptions setMaxBodyBytes(long n) { this.maxBodyBytes = n; return this; }
}
