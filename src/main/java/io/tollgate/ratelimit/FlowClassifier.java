package io.tollgate.ratelimit;

import io.tollgate.config.LaneOptions;
import io.tollgate.config.PathPattern;
import io.tollgate.proxy.Caller;
import io.tollgate.proxy.Exchange;
import io.tollgate.proxy.Flow;
import io.tollgate.proxy.Lane;
import io.tollgate.proxy.Reply;
import io.tollgate.proxy.Stage;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The first stage: which lane, flow and job a request waits as if its budgets are short ({@link Flow}), decided
 * before the cache so that hits are counted in their lane too. The lane is the first matching configured rule,
 * else the trusted lane header (only when an operator named one), else the default. The flow is the verified
 * tenant and app; all unverified callers share one flow, so inventing identities buys no share. The lane and
 * job headers are removed before anything is forwarded, and Graph's own hints are set where it defines them (by
 * {@link #hint}, on the way upstream):
 * {@code x-ms-throttle-priority} on identity routes (unless the client set it) and a decorated
 * {@code User-Agent} on SharePoint routes when one is configured. Immutable; shared by all proxy verticles.
 */
public final class FlowClassifier implements Stage {
  static final String PRIORITY = "x-ms-throttle-priority";
  /** Longest job id kept: a job id only divides its caller's share, but it is still a key held in memory. */
  static final int MAX_JOB = 64;

  private final boolean enabled;
  private final Lane defaultLane;
  private final String header;
  private final String jobHeader;
  private final List<CompiledRule> rules;
  private final boolean priorityHint;
  private final List<PathPattern> priorityPaths;
  private final String interactiveUa;
  private final String backgroundUa;
  private final List<PathPattern> uaPaths;

  public FlowClassifier(LaneOptions o) {
    this.enabled = o.isEnabled();
    this.defaultLane = Lane.parse(o.getDefault());
    this.header = o.getHeader();
    this.jobHeader = o.getJobHeader();
    this.rules = o.getRules().stream().map(CompiledRule::new).toList();
    this.priorityHint = o.isPriorityHint();
    this.priorityPaths = o.getPriorityHintPaths().stream().map(PathPattern::compile).toList();
    this.interactiveUa = o.getInteractiveUserAgent();
    this.backgroundUa = o.getBackgroundUserAgent();
    this.uaPaths = o.getUserAgentPaths().stream().map(PathPattern::compile).toList();
  }

  @Override
  public Future<Reply> apply(Exchange ex, Chain next) {
    MultiMap h = ex.headers();
    String job = null;
    if (!jobHeader.isEmpty()) {
      job = h.get(jobHeader);
      h.remove(jobHeader);
      if (job != null && job.length() > MAX_JOB) job = job.substring(0, MAX_JOB);
    }
    String asked = header.isEmpty() ? null : h.get(header);
    if (!header.isEmpty()) h.remove(header);
    Lane lane = enabled ? lane(ex, asked) : Lane.INTERACTIVE;
    // The flow key (verified tenant and app) is set where the request may wait, by then possibly verified: a hit
    // never needs it.
    ex.flow(new Flow(lane, Flow.UNVERIFIED, job));
    return next.proceed(ex);
  }

  /** The flow a caller's waiters queue in: verified tenant and app, or the one flow of all unverified callers. */
  static String flowKey(Caller who) {
    if (who == null || !who.verified()) return Flow.UNVERIFIED;
    return who.tenant() + '|' + who.app();
  }

  /** The same flow with the caller's identity as it is now (the request may have verified its token since). */
  static Flow refreshed(Exchange ex) {
    Flow f = ex.flow();
    String key = flowKey(ex.caller());
    return key.equals(f.flow()) ? f : new Flow(f.lane(), key, f.job());
  }

  private Lane lane(Exchange ex, String asked) {
    for (CompiledRule r : rules) if (r.matches(ex)) return r.lane;
    Lane named = Lane.parse(asked);
    return named != null ? named : defaultLane;
  }

  /**
   * Sets Graph's hints for the request's lane; called on the way upstream (by the rate-limit stage), so that cache
   * hits never pay for the path matching.
   */
  void hint(Exchange ex) {
    if (!enabled) return;
    MultiMap h = ex.headers();
    Lane lane = ex.lane();
    String path = ex.path();
    if (priorityHint && !h.contains(PRIORITY) && matchesAny(priorityPaths, path)) {
      h.set(PRIORITY, lane == Lane.BACKGROUND ? "low" : "high");
    }
    String ua = lane == Lane.BACKGROUND ? backgroundUa : interactiveUa;
    if (!ua.isEmpty() && matchesAny(uaPaths, path)) h.set("User-Agent", ua);
  }

  private static boolean matchesAny(List<PathPattern> patterns, String path) {
    for (PathPattern p : patterns) if (p.matches(path)) return true;
    return false;
  }

  /** A lane rule, compiled: every condition given must hold. */
  private static final class CompiledRule {
    final Lane lane;
    final Set<String> apps;
    final List<PathPattern> paths;
    final Set<String> methods;
    final Pattern userAgent;

    CompiledRule(LaneOptions.Rule r) {
      this.lane = Lane.parse(r.getLane());
      this.apps = Set.copyOf(r.getApps());
      this.paths = r.getPaths().stream().map(PathPattern::compile).toList();
      this.methods = Set.copyOf(r.getMethods());
      this.userAgent = r.getUserAgent().isEmpty() ? null : glob(r.getUserAgent());
    }

    boolean matches(Exchange ex) {
      if (!methods.isEmpty() && !methods.contains(ex.method().name())) return false;
      if (!paths.isEmpty() && !matchesAny(paths, ex.path())) return false;
      if (!apps.isEmpty()) {
        Caller who = ex.caller();
        // Only a verified app may be put in a lane by its id: an unverified token could claim any appid.
        if (who == null || !who.verified() || !apps.contains(who.app())) return false;
      }
      if (userAgent != null) {
        String ua = ex.headers().get("User-Agent");
        if (ua == null || !userAgent.matcher(ua).matches()) return false;
      }
      return true;
    }

    /** {@code *} is any run of characters; the rest is literal; the whole value must match, ignoring case. */
    private static Pattern glob(String g) {
      String[] parts = g.split("\\*", -1);
      StringBuilder re = new StringBuilder();
      for (int i = 0; i < parts.length; i++) {
        if (i > 0) re.append(".*");
        re.append(Pattern.quote(parts[i]));
      }
      return Pattern.compile(re.toString(), Pattern.CASE_INSENSITIVE | Pattern.DOTALL);
    }
  }
}
