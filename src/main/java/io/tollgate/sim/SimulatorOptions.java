package io.tollgate.sim;

import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Settings of the {@link GraphSimulator}: where it listens, how it misbehaves (latency, throttling, errors,
 * hangs) and the shape of its deterministic data set.
 *
 * <p>JSON keys equal the setter names. Durations are written as {@code 250ms}, {@code 5s}, {@code 2m}; a bare
 * number is milliseconds. The misbehaviour settings can be swapped at runtime with
 * {@link GraphSimulator#reconfigure(SimulatorOptions)}; the data-set settings apply at start only.
 */
public final class SimulatorOptions {
  /** Loopback: the simulator is a test tool and serves this machine only. */
  public static final String DEFAULT_HOST = "127.0.0.1";
  /** 0 picks a free port; read it back with {@link GraphSimulator#port()}. */
  public static final int DEFAULT_PORT = 0;
  public static final Duration DEFAULT_LATENCY = Duration.ZERO;
  public static final Duration DEFAULT_LATENCY_JITTER = Duration.ZERO;
  /** Tokens per second per caller; 0 disables throttling. */
  public static final double DEFAULT_THROTTLE_RATE = 0;
  /** Bucket capacity in tokens (resource units when {@code resourceUnits} is on); 0 = Graph's 10 s of the rate. */
  public static final int DEFAULT_THROTTLE_BURST = 0;
  /** 429 like the directory; 503 like SharePoint. */
  public static final int DEFAULT_THROTTLE_STATUS = 429;
  /** 0 = Graph's: the time until the refused cost is back in the bucket (whole seconds, rounded up, >= 1). */
  public static final Duration DEFAULT_RETRY_AFTER = Duration.ZERO;
  public static final boolean DEFAULT_RESOURCE_UNITS = true;
  /** {@code x-ms-resource-unit} on every answer, and the budget's usage past 80 %. */
  public static final boolean DEFAULT_USAGE_HEADERS = true;
  /** Gzip for clients that send {@code Accept-Encoding: gzip}, as Graph does. */
  public static final boolean DEFAULT_COMPRESSION = true;
  /** SharePoint's throttling: 120 s pauses and {@code RateLimit-*} usage headers. */
  public static final boolean DEFAULT_SHAREPOINT = false;
  /** SharePoint's usual pause, within the 70..315 s Graph's docs give. */
  public static final Duration SHAREPOINT_RETRY_AFTER = Duration.ofSeconds(120);
  public static final double DEFAULT_ERROR_RATE = 0;
  public static final double DEFAULT_HANG_RATE = 0;
  /** Items per page when the caller sends no {@code $top}. */
  public static final int DEFAULT_PAGE_SIZE = 100;
  /** Largest {@code $top} honoured, as in Graph. */
  public static final int MAX_PAGE_SIZE = 999;
  public static final int DEFAULT_USERS = 500;
  public static final int DEFAULT_GROUPS = 200;
  public static final int DEFAULT_SITES = 100;
  public static final int DEFAULT_GROUPS_PER_SITE = 3;
  public static final int DEFAULT_MEMBERS_PER_GROUP = 20;
  public static final double DEFAULT_NESTED_GROUP_RATE = 0.2;
  public static final long DEFAULT_SEED = 42;
  /** Fraction of the groups changed per hour in the background (a description edit or a membership change). */
  public static final double DEFAULT_GROUP_CHANGE_RATE = 0.01;
  /**
   * Fraction of the drive items changed per hour in the background (a new version, so new ETags, and one
   * permission's role changed). Time is scaled through the rate itself, as with the groups: 6x faster is 0.3.
   */
  public static final double DEFAULT_DRIVE_ITEM_CHANGE_RATE = 0.05;
  /** The app the client-credentials token endpoint accepts, and its secret (simulator-only values). */
  public static final String DEFAULT_CLIENT_ID = "tollgate-simulator-app";
  public static final String DEFAULT_CLIENT_SECRET = "tollgate-simulator-secret";
  /** Lifetime of the access tokens the token endpoint issues ({@code expires_in}). */
  public static final Duration DEFAULT_TOKEN_LIFETIME = Duration.ofSeconds(3599);

  private String host = DEFAULT_HOST;
  private int port = DEFAULT_PORT;
  private Duration latency = DEFAULT_LATENCY;
  private Duration latencyJitter = DEFAULT_LATENCY_JITTER;
  private double throttleRate = DEFAULT_THROTTLE_RATE;
  private int throttleBurst = DEFAULT_THROTTLE_BURST;
  private int throttleStatus = DEFAULT_THROTTLE_STATUS;
  private Duration retryAfter = DEFAULT_RETRY_AFTER;
  private boolean resourceUnits = DEFAULT_RESOURCE_UNITS;
  private boolean usageHeaders = DEFAULT_USAGE_HEADERS;
  private double sharepointRate;
  private boolean compression = DEFAULT_COMPRESSION;
  private boolean sharepoint = DEFAULT_SHAREPOINT;
  private double errorRate = DEFAULT_ERROR_RATE;
  private double hangRate = DEFAULT_HANG_RATE;
  private int pageSize = DEFAULT_PAGE_SIZE;
  private int users = DEFAULT_USERS;
  private int groups = DEFAULT_GROUPS;
  private int sites = DEFAULT_SITES;
  private int groupsPerSite = DEFAULT_GROUPS_PER_SITE;
  private int membersPerGroup = DEFAULT_MEMBERS_PER_GROUP;
  private double nestedGroupRate = DEFAULT_NESTED_GROUP_RATE;
  private long seed = DEFAULT_SEED;
  private String publicOrigin;
  private double groupChangeRate = DEFAULT_GROUP_CHANGE_RATE;
  private double driveItemChangeRate = DEFAULT_DRIVE_ITEM_CHANGE_RATE;
  private String clientId = DEFAULT_CLIENT_ID;
  private String clientSecret = DEFAULT_CLIENT_SECRET;
  private Duration tokenLifetime = DEFAULT_TOKEN_LIFETIME;
  /** How long after a directory change its change notification is sent to subscribers (Graph: unknown for users and groups). */
  private Duration notificationDelay = Duration.ZERO;
  private String clientCertificate;

  public SimulatorOptions() {}

  public SimulatorOptions(SimulatorOptions o) {
    host = o.host; port = o.port; latency = o.latency; latencyJitter = o.latencyJitter;
    throttleRate = o.throttleRate; throttleBurst = o.throttleBurst; throttleStatus = o.throttleStatus;
    retryAfter = o.retryAfter; resourceUnits = o.resourceUnits; usageHeaders = o.usageHeaders;
    compression = o.compression; sharepoint = o.sharepoint; sharepointRate = o.sharepointRate; errorRate = o.errorRate; hangRate = o.hangRate;
    pageSize = o.pageSize; users = o.users; groups = o.groups; sites = o.sites; groupsPerSite = o.groupsPerSite;
    membersPerGroup = o.membersPerGroup; nestedGroupRate = o.nestedGroupRate; seed = o.seed;
    publicOrigin = o.publicOrigin;
    groupChangeRate = o.groupChangeRate; clientId = o.clientId; clientSecret = o.clientSecret; tokenLifetime = o.tokenLifetime;
    notificationDelay = o.notificationDelay;
    driveItemChangeRate = o.driveItemChangeRate;
    clientCertificate = o.clientCertificate;
  }

  /**
   * Reads the same keys as the setters; absent keys keep their defaults.
   *
   * @throws IllegalArgumentException when a value has the wrong type or a duration cannot be read
   */
  public SimulatorOptions(JsonObject json) {
    try {
      read(json);
    } catch (ClassCastException e) {
      throw new IllegalArgumentException("simulator options: a value has the wrong type: " + e.getMessage(), e);
    }
  }

  private void read(JsonObject json) {
    host = json.getString("host", host);
    port = json.getInteger("port", port);
    latency = duration(json, "latency", latency);
    latencyJitter = duration(json, "latencyJitter", latencyJitter);
    throttleRate = json.getDouble("throttleRate", throttleRate);
    throttleBurst = json.getInteger("throttleBurst", throttleBurst);
    throttleStatus = json.getInteger("throttleStatus", throttleStatus);
    retryAfter = duration(json, "retryAfter", retryAfter);
    resourceUnits = json.getBoolean("resourceUnits", resourceUnits);
    usageHeaders = json.getBoolean("usageHeaders", usageHeaders);
    compression = json.getBoolean("compression", compression);
    sharepoint = json.getBoolean("sharepoint", sharepoint);
    sharepointRate = json.getDouble("sharepointRate", sharepointRate);
    errorRate = json.getDouble("errorRate", errorRate);
    hangRate = json.getDouble("hangRate", hangRate);
    pageSize = json.getInteger("pageSize", pageSize);
    users = json.getInteger("users", users);
    groups = json.getInteger("groups", groups);
    sites = json.getInteger("sites", sites);
    groupsPerSite = json.getInteger("groupsPerSite", groupsPerSite);
    membersPerGroup = json.getInteger("membersPerGroup", membersPerGroup);
    nestedGroupRate = json.getDouble("nestedGroupRate", nestedGroupRate);
    seed = json.getLong("seed", seed);
    publicOrigin = json.getString("publicOrigin", publicOrigin);
    groupChangeRate = json.getDouble("groupChangeRate", groupChangeRate);
    driveItemChangeRate = json.getDouble("driveItemChangeRate", driveItemChangeRate);
    clientCertificate = json.getString("clientCertificate", clientCertificate);
    clientId = json.getString("clientId", clientId);
    String secret = json.getString("clientSecret", clientSecret);
    // toJson masks it: a masked copy read back keeps the secret it has.
    if (!"****".equals(secret)) clientSecret = secret;
    tokenLifetime = duration(json, "tokenLifetime", tokenLifetime);
    notificationDelay = duration(json, "notificationDelay", notificationDelay);
  }

  public JsonObject toJson() {
    JsonObject j = new JsonObject()
        .put("host", host).put("port", port)
        .put("latency", formatDuration(latency)).put("latencyJitter", formatDuration(latencyJitter))
        .put("throttleRate", throttleRate).put("throttleBurst", throttleBurst).put("throttleStatus", throttleStatus)
        .put("retryAfter", formatDuration(retryAfter)).put("resourceUnits", resourceUnits)
        .put("usageHeaders", usageHeaders).put("compression", compression).put("sharepoint", sharepoint).put("sharepointRate", sharepointRate)
        .put("errorRate", errorRate).put("hangRate", hangRate).put("pageSize", pageSize)
        .put("users", users).put("groups", groups).put("sites", sites).put("groupsPerSite", groupsPerSite)
        .put("membersPerGroup", membersPerGroup).put("nestedGroupRate", nestedGroupRate).put("seed", seed);
    if (publicOrigin != null) j.put("publicOrigin", publicOrigin);
    // The secret is the simulator's own test value, masked all the same: options get logged.
    j.put("groupChangeRate", groupChangeRate).put("clientId", clientId).put("clientSecret", "****")
        .put("tokenLifetime", formatDuration(tokenLifetime));
    j.put("notificationDelay", formatDuration(notificationDelay));
    j.put("driveItemChangeRate", driveItemChangeRate);
    // The certificate block only: a PEM that also holds the app's private key must not reach a log through this.
    if (clientCertificate != null) j.put("clientCertificate", TokenEndpoint.certificateBlock(clientCertificate));
    return j;
  }

  /**
   * Every problem with these options, one line each ({@code key: got value, expected ...}); empty when usable.
   * {@link GraphSimulator#start} fails with all of them rather than the first.
   */
  public List<String> validate() {
    List<String> out = new ArrayList<>();
    if (host == null || host.isBlank()) out.add(problem("host", host, "a host name or address"));
    if (port < 0 || port > 65535) out.add(problem("port", port, "an integer between 0 and 65535"));
    if (latency == null || latency.isNegative()) out.add(problem("latency", latency, "a duration >= 0"));
    if (latencyJitter == null || latencyJitter.isNegative()) {
      out.add(problem("latencyJitter", latencyJitter, "a duration >= 0"));
    }
    if (!(throttleRate >= 0) || Double.isInfinite(throttleRate)) {
      out.add(problem("throttleRate", throttleRate, "a number of tokens per second >= 0"));
    }
    if (!(sharepointRate >= 0) || Double.isInfinite(sharepointRate)) {
      out.add(problem("sharepointRate", sharepointRate, "units per second >= 0 (0: throttleRate)"));
    }
    if (throttleBurst < 0) out.add(problem("throttleBurst", throttleBurst, "an integer >= 1, or 0 for 10 s of throttleRate"));
    if (throttleStatus != 429 && throttleStatus != 503) out.add(problem("throttleStatus", throttleStatus, "429 or 503"));
    if (retryAfter == null || retryAfter.isNegative()) out.add(problem("retryAfter", retryAfter, "a duration >= 0"));
    if (!(errorRate >= 0 && errorRate <= 1)) out.add(problem("errorRate", errorRate, "a fraction between 0 and 1"));
    if (!(hangRate >= 0 && hangRate <= 1)) out.add(problem("hangRate", hangRate, "a fraction between 0 and 1"));
    if (pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
      out.add(problem("pageSize", pageSize, "an integer between 1 and " + MAX_PAGE_SIZE));
    }
    if (users < 1) out.add(problem("users", users, "an integer >= 1"));
    if (groups < 0) out.add(problem("groups", groups, "an integer >= 0"));
    if (sites < 0) out.add(problem("sites", sites, "an integer >= 0"));
    if (groupsPerSite < 0) out.add(problem("groupsPerSite", groupsPerSite, "an integer >= 0"));
    if (membersPerGroup < 0) out.add(problem("membersPerGroup", membersPerGroup, "an integer >= 0"));
    if (!(nestedGroupRate >= 0 && nestedGroupRate <= 1)) {
      out.add(problem("nestedGroupRate", nestedGroupRate, "a fraction between 0 and 1"));
    }
    if (publicOrigin != null && !(publicOrigin.startsWith("http://") || publicOrigin.startsWith("https://"))) {
      out.add(problem("publicOrigin", publicOrigin, "an http:// or https:// origin"));
    }
    if (!(groupChangeRate >= 0 && groupChangeRate <= 3600)) {
      out.add(problem("groupChangeRate", groupChangeRate, "a fraction of the groups per hour, 0 (off) to 3600"));
    }
    if (!(driveItemChangeRate >= 0 && driveItemChangeRate <= 3600)) {
      out.add(problem("driveItemChangeRate", driveItemChangeRate, "a fraction of the drive items per hour, 0 (off) to 3600"));
    }
    if (clientCertificate != null && TokenEndpoint.certificate(clientCertificate) == null) {
      out.add(problem("clientCertificate", "(PEM)", "a PEM text with a BEGIN CERTIFICATE block (X.509, RSA key)"));
    }
    if (clientId == null || clientId.isBlank()) out.add(problem("clientId", clientId, "a non-empty client id"));
    if (clientSecret == null || clientSecret.isEmpty()) out.add(problem("clientSecret", "", "a non-empty secret"));
    if (tokenLifetime == null || tokenLifetime.getSeconds() < 1) out.add(problem("tokenLifetime", tokenLifetime, "a duration >= 1s"));
    if (notificationDelay == null || notificationDelay.isNegative() || notificationDelay.compareTo(Duration.ofHours(1)) > 0) {
      out.add(problem("notificationDelay", notificationDelay, "a duration between 0s and 1h"));
    }
    return out;
  }

  /** Fraction of the groups changed per hour in the background, recorded in the delta feed; 0 turns it off. */
  public double getGroupChangeRate() { return groupChangeRate; }
  public SimulatorOptions setGroupChangeRate(double rate) { this.groupChangeRate = rate; return this; }
  /** Fraction of the drive items changed per hour in the background (new ETags); 0 turns it off. */
  public double getDriveItemChangeRate() { return driveItemChangeRate; }
  public SimulatorOptions setDriveItemChangeRate(double rate) { this.driveItemChangeRate = rate; return this; }
  /**
   * The app's registered certificate (PEM text; the first {@code BEGIN CERTIFICATE} block counts, a private key
   * beside it is ignored): the token endpoint then also accepts client assertions signed with its key. Null: secret only.
   */
  public String getClientCertificate() { return clientCertificate; }
  public SimulatorOptions setClientCertificate(String pem) { this.clientCertificate = pem; return this; }
  /** The client id the token endpoint accepts. */
  public String getClientId() { return clientId; }
  public SimulatorOptions setClientId(String clientId) { this.clientId = clientId; return this; }
  /** The client secret the token endpoint accepts. */
  public String getClientSecret() { return clientSecret; }
  public SimulatorOptions setClientSecret(String clientSecret) { this.clientSecret = clientSecret; return this; }
  /** Lifetime of issued access tokens. */
  /** Delay between a directory change and its change notification to subscribers (default 0). */
  public Duration getNotificationDelay() { return notificationDelay; }
  public SimulatorOptions setNotificationDelay(Duration d) { this.notificationDelay = d; return this; }
  public Duration getTokenLifetime() { return tokenLifetime; }
  public SimulatorOptions setTokenLifetime(Duration d) { this.tokenLifetime = d; return this; }

  public String getHost() { return host; }
  public SimulatorOptions setHost(String host) { this.host = host; return this; }
  public int getPort() { return port; }
  public SimulatorOptions setPort(int port) { this.port = port; return this; }
  /** Added before every {@code /v1.0} and {@code /beta} answer. */
  public Duration getLatency() { return latency; }
  public SimulatorOptions setLatency(Duration latency) { this.latency = latency; return this; }
  /** A uniformly random extra delay between 0 and this, on top of {@link #getLatency()}. */
  public Duration getLatencyJitter() { return latencyJitter; }
  public SimulatorOptions setLatencyJitter(Duration latencyJitter) { this.latencyJitter = latencyJitter; return this; }
  /** Tokens (or resource units) refilled per second in each caller's bucket; 0 = no throttling. */
  public double getThrottleRate() { return throttleRate; }
  public SimulatorOptions setThrottleRate(double throttleRate) { this.throttleRate = throttleRate; return this; }
  public int getThrottleBurst() { return throttleBurst; }
  public SimulatorOptions setThrottleBurst(int throttleBurst) { this.throttleBurst = throttleBurst; return this; }
  public int getThrottleStatus() { return throttleStatus; }
  public SimulatorOptions setThrottleStatus(int throttleStatus) { this.throttleStatus = throttleStatus; return this; }
  /**
   * A fixed {@code Retry-After} for throttled and injected-error answers (whole seconds, rounded up, at least 1);
   * 0, the default, answers as Graph does: a throttled request is told the time until its cost is refilled
   * (decimal inside {@code $batch}, such as {@code 0.249}), an injected error 1 s.
   */
  public Duration getRetryAfter() { return retryAfter; }
  public SimulatorOptions setRetryAfter(Duration retryAfter) { this.retryAfter = retryAfter; return this; }
  /** When on, requests cost Graph's resource units (transitiveMembers 5, members 3, ...); otherwise 1 each. */
  public boolean isResourceUnits() { return resourceUnits; }
  public SimulatorOptions setResourceUnits(boolean resourceUnits) { this.resourceUnits = resourceUnits; return this; }
  /**
   * When on (Graph's way), every answer says its cost ({@code x-ms-resource-unit}) and an admitted request past
   * 80 % of the budget says how much is used ({@code x-ms-throttle-limit-percentage}, or in SharePoint mode
   * {@code RateLimit-Limit/-Remaining/-Reset}). Off: a gateway learns only from 429s.
   */
  public boolean isUsageHeaders() { return usageHeaders; }
  public SimulatorOptions setUsageHeaders(boolean usageHeaders) { this.usageHeaders = usageHeaders; return this; }
  /** Gzip answers (including {@code $batch}) for clients that ask; off: an upstream that never compresses. */
  public boolean isCompression() { return compression; }
  public SimulatorOptions setCompression(boolean compression) { this.compression = compression; return this; }
  /** SharePoint's throttling: {@code Retry-After} 120 s unless {@code retryAfter} is set, usage as {@code RateLimit-*}. */
  public boolean isSharepoint() { return sharepoint; }
  /**
   * Graph meters SharePoint/OneDrive ({@code /sites}, {@code /drives}, {@code /shares}) apart from the directory:
   * the rate of that second budget per app+tenant; 0 (the default) = {@code throttleRate}.
   */
  public double getSharepointRate() { return sharepointRate; }
  public SimulatorOptions setSharepointRate(double sharepointRate) { this.sharepointRate = sharepointRate; return this; }
  public SimulatorOptions setSharepoint(boolean sharepoint) { this.sharepoint = sharepoint; return this; }
  /**
   * Fraction of Graph requests answered 503 with {@code Retry-After}. Like throttling it applies to each
   * {@code $batch} sub-request; the batch envelope itself always answers 200 when it parses.
   */
  public double getErrorRate() { return errorRate; }
  public SimulatorOptions setErrorRate(double errorRate) { this.errorRate = errorRate; return this; }
  /** Fraction of Graph requests that never get an answer; the connection stays open until the client leaves. */
  public double getHangRate() { return hangRate; }
  public SimulatorOptions setHangRate(double hangRate) { this.hangRate = hangRate; return this; }
  public int getPageSize() { return pageSize; }
  public SimulatorOptions setPageSize(int pageSize) { this.pageSize = pageSize; return this; }
  public int getUsers() { return users; }
  public SimulatorOptions setUsers(int users) { this.users = users; return this; }
  public int getGroups() { return groups; }
  public SimulatorOptions setGroups(int groups) { this.groups = groups; return this; }
  public int getSites() { return sites; }
  public SimulatorOptions setSites(int sites) { this.sites = sites; return this; }
  public int getGroupsPerSite() { return groupsPerSite; }
  public SimulatorOptions setGroupsPerSite(int groupsPerSite) { this.groupsPerSite = groupsPerSite; return this; }
  public int getMembersPerGroup() { return membersPerGroup; }
  public SimulatorOptions setMembersPerGroup(int membersPerGroup) { this.membersPerGroup = membersPerGroup; return this; }
  /** Chance that a group has another (higher-numbered) group among its direct members. */
  public double getNestedGroupRate() { return nestedGroupRate; }
  public SimulatorOptions setNestedGroupRate(double nestedGroupRate) { this.nestedGroupRate = nestedGroupRate; return this; }
  /** Seeds the data set and the random choices (errors, hangs, jitter, batch order). */
  public long getSeed() { return seed; }
  public SimulatorOptions setSeed(long seed) { this.seed = seed; return this; }
  /** Origin written into {@code @odata.nextLink} and {@code @odata.id}; null = {@code http://127.0.0.1:<port>}. */
  public String getPublicOrigin() { return publicOrigin; }
  public SimulatorOptions setPublicOrigin(String publicOrigin) { this.publicOrigin = publicOrigin; return this; }

  @Override
  public String toString() {
    return toJson().encode();
  }

  private static String problem(String key, Object value, String expected) {
    String shown = value == null ? "nothing" : value instanceof String s ? "'" + s + "'" : String.valueOf(value);
    return key + ": got " + shown + ", expected " + expected;
  }

  private static Duration duration(JsonObject json, String key, Duration fallback) {
    Object value = json.getValue(key);
    if (value == null) return fallback;
    if (value instanceof Number n) return Duration.ofMillis(n.longValue());
    if (value instanceof String s) return parseDuration(key, s);
    throw new IllegalArgumentException(key + ": got " + value + ", expected a duration such as 250ms or 5s");
  }

  /** Accepts {@code 250ms}, {@code 1.5s}, {@code 2m}, {@code 1h} or a bare number of milliseconds. */
  static Duration parseDuration(String key, String text) {
    String s = text.trim().toLowerCase(Locale.ROOT);
    int split = 0;
    while (split < s.length() && (Character.isDigit(s.charAt(split)) || s.charAt(split) == '.')) split++;
    try {
      double amount = Double.parseDouble(s.substring(0, split));
      double millis = switch (s.substring(split).trim()) {
        case "", "ms" -> amount;
        case "s" -> amount * 1_000;
        case "m" -> amount * 60_000;
        case "h" -> amount * 3_600_000;
        default -> throw new NumberFormatException();
      };
      return Duration.ofMillis(Math.round(millis));
    } catch (NumberFormatException | StringIndexOutOfBoundsException e) {
      throw new IllegalArgumentException(key + ": got '" + text + "', expected a duration such as 250ms or 5s");
    }
  }

  static String formatDuration(Duration d) {
    if (d == null) return null;
    long ms = d.toMillis();
    if (ms == 0) return "0s";
    if (ms % 3_600_000 == 0) return ms / 3_600_000 + "h";
    if (ms % 60_000 == 0) return ms / 60_000 + "m";
    if (ms % 1_000 == 0) return ms / 1_000 + "s";
    return ms + "ms";
  }
}
