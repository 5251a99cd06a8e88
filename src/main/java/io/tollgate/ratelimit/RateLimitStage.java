package io.tollgate.ratelimit;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.tollgate.config.PathPattern;
import io.tollgate.config.RateLimitOptions;
import io.tollgate.metrics.MeterNames;
import io.tollgate.proxy.Exchange;
import io.tollgate.proxy.Reply;
import io.tollgate.proxy.Stage;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.json.JsonObject;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Stage 3: every configured limit whose paths and methods match a request charges one of its buckets
 * (chosen by tenant, app, route or global), and all must admit before the request goes on. Costs come from
 * the configured table. Cache hits never get here (the cache stage answers first). Shared by all proxy
 * verticles; holds only immutable compiled rules, a claims cache and meters.
 *
 * <p>Tenant and app come from the bearer JWT's payload ({@code tid}, {@code appid}/{@code azp}), decoded
 * without verification: good enough to choose a bucket, never used to share data. A caller without a
 * readable token is its own tenant and app (its partition hash).
 */
public final class RateLimitStage implements Stage {
  private final RateLimiter limiter;
  private final List<Rule> rules;
  private final List<CostRule> costs;
  private final Map<String, Integer> queryCosts;
  private final Cache<String, Claims> claims = Caffeine.newBuilder().maximumSize(10_000)
      .expireAfterAccess(Duration.ofMinutes(10)).build();
  private final Counter waits;
  private final Counter tokensWaited;
  private final Timer waitTime;
  private final Counter rejected;
  private final RetryAfterLearner learner;

  public RateLimitStage(Vertx vertx, RateLimitOptions options, RateLimiter limiter, MeterRegistry registry) {
    this(vertx, options, limiter, registry, Clock.systemUTC());
  }

  public RateLimitStage(Vertx vertx, RateLimitOptions options, RateLimiter limiter, MeterRegistry registry, Clock clock) {
    this.limiter = limiter;
    this.rules = options.getLimits().stream().map(Rule::new).toList();
    this.costs = options.getCosts().stream().map(CostRule::new).toList();
    this.queryCosts = Map.copyOf(options.getQueryCosts());
    this.waits = Counter.builder(MeterNames.RATELIMIT_WAITS).description("requests that waited for tokens").register(registry);
    this.tokensWaited = Counter.builder(MeterNames.RATELIMIT_TOKENS_WAITED).description("tokens waited for").register(registry);
    this.waitTime = Timer.builder(MeterNames.RATELIMIT_WAIT).description("time waited for tokens")
        .publishPercentileHistogram().register(registry);
    this.rejected = Counter.builder(MeterNames.RATELIMIT_REJECTED).description("429s produced by the rate limiter").register(registry);
    this.learner = new RetryAfterLearner(vertx, this, limiter, registry, clock);
  }

  /** The stage that learns from upstream 429/503 Retry-After; put it last, right before the upstream. */
  public Stage learner() {
    return learner;
  }

  @Override
  public Future<Reply> apply(Exchange ex, Chain next) {
    List<Charge> charges = charges(ex);
    if (charges.isEmpty()) return next.proceed(ex);
    return limiter.acquire(charges)
        .onFailure(failure -> rejected.increment())
        .compose(permit -> {
          if (!permit.waited().isZero()) {
            waits.increment();
            tokensWaited.increment(permit.tokens());
            waitTime.record(permit.waited().toNanos(), TimeUnit.NANOSECONDS);
          }
          return next.proceed(ex);
        });
  }

  /** The buckets a request pays, with their price. */
  List<Charge> charges(Exchange ex) {
    String method = ex.method().name();
    String path = ex.path();
    List<Charge> out = null;
    int cost = -1;
    Claims who = null;
    for (Rule rule : rules) {
      String matched = rule.match(method, path);
      if (matched == null) continue;
      if (cost < 0) cost = cost(method, path, ex.query());
      if (who == null && rule.needsClaims) who = claims(ex);
      if (out == null) out = new ArrayList<>(rules.size());
      // A $batch chunk carries its sub-request count: each sub-request pays like a single call.
      out.add(new Charge(rule.name, rule.id(who, matched), rule.rate, rule.burst, (rule.useCosts ? cost : 1) * ex.cost()));
    }
    return out == null ? List.of() : out;
  }

  /** Price in tokens: first matching cost rule (else 1) plus query modifiers, at least 1. */
  int cost(String method, String path, String query) {
    int cost = 1;
    for (CostRule c : costs) {
      if ((c.method == null || c.method.equals(method)) && c.glob.matches(path)) {
        cost = c.cost;
        break;
      }
    }
    if (query != null && !queryCosts.isEmpty()) {
      int start = 0;
      while (start <= query.length()) {
        int amp = query.indexOf('&', start);
        int end = amp < 0 ? query.length() : amp;
        int eq = query.indexOf('=', start);
        String name = query.substring(start, eq >= 0 && eq < end ? eq : end);
        if (name.indexOf('%') >= 0) name = URLDecoder.decode(name, StandardCharsets.UTF_8);
        Integer delta = queryCosts.get(name);
        if (delta != null) cost += delta;
        if (amp < 0) break;
        start = amp + 1;
      }
    }
    return Math.max(1, cost);
  }

  private Claims claims(Exchange ex) {
    return claims.get(ex.partition(), p -> Claims.of(ex.headers().get(HttpHeaders.AUTHORIZATION), p));
  }

  /** What a bucket is chosen by. The raw token never leaves this method. */
  record Claims(String tenant, String app) {
    static Claims of(String authorization, String partition) {
      String tid = null;
      String app = null;
      if (authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
        String token = authorization.substring(7).trim();
        int a = token.indexOf('.');
        int b = a < 0 ? -1 : token.indexOf('.', a + 1);
        if (b > a + 1) {
          try {
            JsonObject payload = new JsonObject(new String(Base64.getUrlDecoder().decode(token.substring(a + 1, b)), StandardCharsets.UTF_8));
            tid = payload.getValue("tid") instanceof String s ? s : null;
            Object appid = payload.getValue("appid", payload.getValue("azp"));
            app = appid instanceof String s ? s : null;
          } catch (RuntimeException notAJwt) {
            // An opaque or malformed token: the caller is keyed by its hash, like an anonymous one.
          }
        }
      }
      return new Claims(tid == null ? "p:" + partition : tid, app == null ? "p:" + partition : app);
    }
  }

  private static final class Rule {
    final String name;
    final double rate;
    final int burst;
    final boolean useCosts;
    final List<PathPattern> paths;
    final Set<String> methods;
    final boolean tenant;
    final boolean app;
    final boolean route;
    final boolean needsClaims;

    Rule(RateLimitOptions.Limit l) {
      name = l.getName();
      rate = l.getRate();
      burst = l.getBurst();
      useCosts = l.isUseCosts();
      paths = l.getPaths().stream().map(PathPattern::compile).toList();
      methods = l.getMethods().stream().map(m -> m.toUpperCase(Locale.ROOT)).collect(Collectors.toUnmodifiableSet());
      Set<String> parts = Set.of(l.getKey().split("\\+"));
      tenant = parts.contains("tenant");
      app = parts.contains("app");
      route = parts.contains("route");
      needsClaims = tenant || app;
    }

    /** @return the glob that matched ("*" for a limit on every path), or null when the limit does not apply */
    String match(String method, String path) {
      if (!methods.isEmpty() && !methods.contains(method)) return null;
      if (paths.isEmpty()) return "*";
      for (PathPattern g : paths) if (g.matches(path)) return g.toString();
      return null;
    }

    String id(Claims who, String matched) {
      if (!tenant && !app && !route) return "global";
      StringBuilder sb = new StringBuilder();
      if (tenant) sb.append("t=").append(who.tenant()).append('|');
      if (app) sb.append("a=").append(who.app()).append('|');
      if (route) sb.append("r=").append(matched).append('|');
      return sb.toString();
    }
  }

  private static final class CostRule {
    final String method;
    final PathPattern glob;
    final int cost;

    CostRule(RateLimitOptions.Cost c) {
      method = c.getMethod();
      glob = PathPattern.compile(c.getPath());
      cost = c.getCost();
    }
  }
}
