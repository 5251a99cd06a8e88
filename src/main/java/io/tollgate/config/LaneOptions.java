package io.tollgate.config;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Fair queuing and priority lanes of the rate limiter (SPEC 2.3). YAML section {@code rateLimit.lanes}. While a
 * bucket is short, its waiters are served by lane ({@code interactive} first up to {@link #getInteractiveShare()}
 * of the budget, {@code background} always keeping the rest), then by deficit round robin over flows (verified
 * tenant and app) and jobs, by cost. Which lane a request takes is decided here: the first matching
 * {@link Rule}, else the trusted header (off by default: any caller could promote itself), else the default.
 */
public final class LaneOptions {
  public static final boolean DEFAULT_ENABLED = true;
  public static final double DEFAULT_INTERACTIVE_SHARE = 0.8;
  public static final String DEFAULT_LANE = "interactive";
  /**
   * Cost credited to a flow per round. 1: a light flow's request waits behind at most one request of each other
   * flow (a larger quantum lets a flood send that many in a row); costlier requests wait for more rounds.
   */
  public static final int DEFAULT_QUANTUM = 1;
  public static final int DEFAULT_MAX_FLOWS = 1000;
  static final Set<String> LANES = Set.of("interactive", "background");

  private boolean enabled = DEFAULT_ENABLED;
  private double interactiveShare = DEFAULT_INTERACTIVE_SHARE;
  private String defaultLane = DEFAULT_LANE;
  private String header = "";
  private String jobHeader = "";
  private int quantum = DEFAULT_QUANTUM;
  private int maxFlows = DEFAULT_MAX_FLOWS;
  private List<Rule> rules = List.of();
  private boolean priorityHint = true;
  private List<String> priorityHintPaths = List.of("/*/users/**", "/*/groups/**", "/*/me/**", "/*/applications/**",
      "/*/directoryObjects/**");
  private String interactiveUserAgent = "";
  private String backgroundUserAgent = "";
  private List<String> userAgentPaths = List.of("/*/sites/**", "/*/drives/**", "/*/shares/**");

  public LaneOptions() {}

  public LaneOptions(LaneOptions o) {
    enabled = o.enabled; interactiveShare = o.interactiveShare; defaultLane = o.defaultLane; header = o.header;
    jobHeader = o.jobHeader; quantum = o.quantum; maxFlows = o.maxFlows; rules = List.copyOf(o.rules);
    priorityHint = o.priorityHint; priorityHintPaths = o.priorityHintPaths; interactiveUserAgent = o.interactiveUserAgent;
    backgroundUserAgent = o.backgroundUserAgent; userAgentPaths = o.userAgentPaths;
  }

  static LaneOptions read(ConfigReader r) {
    LaneOptions o = new LaneOptions();
    o.enabled = r.bool("enabled", DEFAULT_ENABLED);
    o.interactiveShare = r.decimal("interactiveShare", DEFAULT_INTERACTIVE_SHARE, 0.0, 1.0);
    o.defaultLane = lane(r, "default", DEFAULT_LANE);
    o.header = r.string("header", "").trim();
    o.jobHeader = r.string("jobHeader", "").trim();
    o.quantum = r.integer("quantum", DEFAULT_QUANTUM, 1, 100_000);
    o.maxFlows = r.integer("maxFlows", DEFAULT_MAX_FLOWS, 1, 1_000_000);
    o.priorityHint = r.bool("priorityHint", true);
    o.priorityHintPaths = r.strings("priorityHintPaths", o.priorityHintPaths);
    o.interactiveUserAgent = r.string("interactiveUserAgent", "");
    o.backgroundUserAgent = r.string("backgroundUserAgent", "");
    o.userAgentPaths = r.strings("userAgentPaths", o.userAgentPaths);
    for (String ua : new String[] {o.interactiveUserAgent, o.backgroundUserAgent}) {
      if (ua.chars().anyMatch(ch -> ch < 0x20 || ch == 0x7f)) r.problem("interactiveUserAgent", ua, "a header value without control characters");
    }
    JsonArray rules = r.array("rules");
    if (rules != null) {
      List<Rule> list = new ArrayList<>();
      for (int i = 0; i < rules.size(); i++) {
        String at = r.key("rules") + "[" + i + "]";
        if (!(rules.getValue(i) instanceof JsonObject item)) {
          r.problems().add(new ConfigProblem(at, rules.getValue(i), "a mapping with lane and apps, paths, methods or userAgent"));
          continue;
        }
        list.add(Rule.read(new ConfigReader(item, at, r.problems())));
      }
      o.rules = List.copyOf(list);
    }
    r.rejectUnknown();
    return o;
  }

  private static String lane(ConfigReader r, String name, String def) {
    String v = r.string(name, def).trim().toLowerCase(Locale.ROOT);
    if (!LANES.contains(v)) {
      r.problem(name, v, "interactive or background");
      return def;
    }
    return v;
  }

  public JsonObject toJson() {
    JsonArray rs = new JsonArray();
    rules.forEach(x -> rs.add(x.toJson()));
    return new JsonObject().put("enabled", enabled).put("interactiveShare", interactiveShare).put("default", defaultLane)
        .put("header", header).put("jobHeader", jobHeader).put("quantum", quantum).put("maxFlows", maxFlows)
        .put("rules", rs).put("priorityHint", priorityHint).put("priorityHintPaths", new JsonArray(priorityHintPaths))
        .put("interactiveUserAgent", interactiveUserAgent).put("backgroundUserAgent", backgroundUserAgent)
        .put("userAgentPaths", new JsonArray(userAgentPaths));
  }

  /** False: one lane for all (fair queuing over flows still applies). */
  public boolean isEnabled() { return enabled; }
  public LaneOptions setEnabled(boolean enabled) { this.enabled = enabled; return this; }
  public double getInteractiveShare() { return interactiveShare; }
  public LaneOptions setInteractiveShare(double share) { this.interactiveShare = share; return this; }
  public String getDefault() { return defaultLane; }
  public LaneOptions setDefault(String lane) { this.defaultLane = lane; return this; }
  /** A request header naming the lane (e.g. {@code X-Tollgate-Priority}); empty = not trusted. Never forwarded. */
  public String getHeader() { return header; }
  public LaneOptions setHeader(String header) { this.header = header; return this; }
  /** A request header carrying the client's job id, which divides its flow's share; empty = off. Never forwarded. */
  public String getJobHeader() { return jobHeader; }
  public LaneOptions setJobHeader(String jobHeader) { this.jobHeader = jobHeader; return this; }
  public int getQuantum() { return quantum; }
  public LaneOptions setQuantum(int quantum) { this.quantum = quantum; return this; }
  public int getMaxFlows() { return maxFlows; }
  public LaneOptions setMaxFlows(int maxFlows) { this.maxFlows = maxFlows; return this; }
  public List<Rule> getRules() { return rules; }
  public LaneOptions setRules(List<Rule> rules) { this.rules = List.copyOf(rules); return this; }
  /** Send Graph's {@code x-ms-throttle-priority} (background: low, interactive: high) on identity routes. */
  public boolean isPriorityHint() { return priorityHint; }
  public LaneOptions setPriorityHint(boolean hint) { this.priorityHint = hint; return this; }
  public List<String> getPriorityHintPaths() { return priorityHintPaths; }
  public LaneOptions setPriorityHintPaths(List<String> paths) { this.priorityHintPaths = List.copyOf(paths); return this; }
  /** Decorated User-Agent ({@code NONISV|Company|App/Version}) for interactive SharePoint calls; empty = the client's. */
  public String getInteractiveUserAgent() { return interactiveUserAgent; }
  public LaneOptions setInteractiveUserAgent(String ua) { this.interactiveUserAgent = ua; return this; }
  public String getBackgroundUserAgent() { return backgroundUserAgent; }
  public LaneOptions setBackgroundUserAgent(String ua) { this.backgroundUserAgent = ua; return this; }
  public List<String> getUserAgentPaths() { return userAgentPaths; }
  public LaneOptions setUserAgentPaths(List<String> paths) { this.userAgentPaths = List.copyOf(paths); return this; }

  /** Puts matching requests in a lane: every condition given must hold (an empty one holds). */
  public static final class Rule {
    private String lane = "background";
    private List<String> apps = List.of();
    private List<String> paths = List.of();
    private List<String> methods = List.of();
    private String userAgent = "";

    static Rule read(ConfigReader r) {
      Rule x = new Rule();
      x.lane = lane(r, "lane", "background");
      x.apps = r.strings("apps", List.of());
      x.paths = r.strings("paths", List.of());
      x.methods = r.strings("methods", List.of()).stream().map(m -> m.toUpperCase(Locale.ROOT)).toList();
      x.userAgent = r.string("userAgent", "");
      if (x.apps.isEmpty() && x.paths.isEmpty() && x.methods.isEmpty() && x.userAgent.isEmpty()) {
        r.problem("lane", x.lane, "a rule with at least one of apps, paths, methods, userAgent");
      }
      r.rejectUnknown();
      return x;
    }

    JsonObject toJson() {
      return new JsonObject().put("lane", lane).put("apps", new JsonArray(apps)).put("paths", new JsonArray(paths))
          .put("methods", new JsonArray(methods)).put("userAgent", userAgent);
    }

    public String getLane() { return lane; }
    public Rule setLane(String lane) { this.lane = lane; return this; }
    /** Verified {@code appid}/{@code azp} values. */
    public List<String> getApps() { return apps; }
    public Rule setApps(List<String> apps) { this.apps = List.copyOf(apps); return this; }
    public List<String> getPaths() { return paths; }
    public Rule setPaths(List<String> paths) { this.paths = List.copyOf(paths); return this; }
    public List<String> getMethods() { return methods; }
    public Rule setMethods(List<String> methods) { this.methods = List.copyOf(methods); return this; }
    /** A glob ({@code *} any run of characters) matched case-insensitively against the whole User-Agent. */
    public String getUserAgent() { return userAgent; }
    public Rule setUserAgent(String userAgent) { this.userAgent = userAgent; return this; }
  }
}
