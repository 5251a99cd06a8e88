package io.tollgate.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.config.RateLimitOptions;
import io.tollgate.sim.SimulatorOptions;
import io.tollgate.testing.GatewayHarness;
import io.tollgate.testing.LogCapture;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/**
 * The Grafana dashboard and the Prometheus alert rules in deploy/ name metrics by hand; this fails when one of
 * those names is not on the management port's {@code /metrics} of a running gateway (renamed meter, missing
 * suffix, a meter that never existed). Names are read from every PromQL expression: functions, label matchers,
 * ranges, grouping clauses, keywords, strings and Grafana variables are not metric names.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class MonitoringFilesTest {
  static final Path DASHBOARD = Path.of("deploy/grafana/tollgate-dashboard.json");
  static final Path ALERTS = Path.of("deploy/prometheus/tollgate-alerts.yml");

  private static final Pattern STRING = Pattern.compile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`");
  private static final Pattern MATCHERS = Pattern.compile("\\{[^}]*}");
  private static final Pattern RANGE = Pattern.compile("\\[[^]]*]");
  private static final Pattern GROUPING = Pattern.compile("\\b(?:by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)");
  private static final Pattern VARIABLE = Pattern.compile("\\$\\{[^}]*}|\\$\\w+");
  /** A name not inside another word, taken whole (possessive: never a prefix of a function name), not called. */
  private static final Pattern NAME = Pattern.compile("(?<![\\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*+)(?!\\s*\\()");
  private static final Set<String> KEYWORDS = Set.of("and", "or", "unless", "bool", "offset", "by", "without", "on",
      "ignoring", "group_left", "group_right", "atan2", "inf", "nan", "Inf", "NaN");
  private static final Pattern LABEL_VALUES = Pattern.compile("label_values\\(\\s*([a-zA-Z_:][\\w:]*)\\s*,");

  /** The metric names a PromQL expression reads (sample names as scraped: {@code x_total}, {@code x_seconds_bucket}). */
  static Set<String> metricNames(String promql) {
    String s = STRING.matcher(promql).replaceAll(" ");
    s = MATCHERS.matcher(s).replaceAll(" ");
    s = RANGE.matcher(s).replaceAll(" ");
    s = GROUPING.matcher(s).replaceAll(" ");
    s = VARIABLE.matcher(s).replaceAll(" ");
    Set<String> names = new TreeSet<>();
    Matcher m = NAME.matcher(s);
    while (m.find()) {
      if (!KEYWORDS.contains(m.group(1))) names.add(m.group(1));
    }
    return names;
  }

  /** Sample names in a Prometheus text exposition. */
  static Set<String> sampleNames(String exposition) {
    Set<String> names = new HashSet<>();
    for (String line : exposition.split("\n")) {
      if (line.isBlank() || line.startsWith("#")) continue;
      int end = 0;
      while (end < line.length() && line.charAt(end) != '{' && line.charAt(end) != ' ') end++;
      names.add(line.substring(0, end));
    }
    return names;
  }

  /** The family a sample belongs to: {@code x_seconds_bucket} to {@code x_seconds}, {@code x_total} to {@code x}. */
  static String family(String sample) {
    for (String suffix : List.of("_bucket", "_count", "_sum", "_max", "_total", "_created")) {
      if (sample.endsWith(suffix)) return sample.substring(0, sample.length() - suffix.length());
    }
    return sample;
  }

  /** Each name {@code uses} reads that {@code scraped} lacks, with the expression that reads it. */
  static Map<String, String> missing(Map<String, Set<String>> uses, Set<String> scraped) {
    Set<String> families = new HashSet<>();
    for (String s : scraped) families.add(family(s));
    Map<String, String> out = new TreeMap<>();
    uses.forEach((where, names) -> {
      for (String n : names) {
        if (scraped.contains(n)) continue;
        String hint = families.contains(family(n)) ? " (the family " + family(n) + " exists, not this sample name)" : "";
        out.putIfAbsent(n, where + hint);
      }
    });
    return out;
  }

  static JsonObject dashboard() throws Exception {
    return new JsonObject(Files.readString(DASHBOARD));
  }

  @SuppressWarnings("unchecked")
  static List<Map<String, Object>> alertRules() throws Exception {
    Map<String, Object> doc = new Yaml().load(Files.readString(ALERTS));
    List<Map<String, Object>> rules = new ArrayList<>();
    for (Object group : (List<Object>) doc.get("groups")) {
      Map<String, Object> g = (Map<String, Object>) group;
      assertNotNull(g.get("name"), "every group has a name");
      rules.addAll((List<Map<String, Object>>) g.get("rules"));
    }
    return rules;
  }

  /** Every {@code expr} in the dashboard (panels, rows' panels), keyed by panel title and refId. */
  static Map<String, String> dashboardExpressions(JsonObject dashboard) {
    Map<String, String> out = new TreeMap<>();
    collect(dashboard.getJsonArray("panels"), out);
    return out;
  }

  private static void collect(JsonArray panels, Map<String, String> out) {
    if (panels == null) return;
    for (int i = 0; i < panels.size(); i++) {
      JsonObject p = panels.getJsonObject(i);
      JsonArray targets = p.getJsonArray("targets", new JsonArray());
      for (int t = 0; t < targets.size(); t++) {
        JsonObject target = targets.getJsonObject(t);
        out.put("dashboard panel '" + p.getString("title") + "' " + target.getString("refId"), target.getString("expr"));
      }
      collect(p.getJsonArray("panels"), out);
    }
  }

  /** Every metric the dashboard (targets and variable queries) and the alert rules read, keyed by where. */
  static Map<String, Set<String>> referencedMetrics() throws Exception {
    Map<String, Set<String>> uses = new TreeMap<>();
    JsonObject dashboard = dashboard();
    dashboardExpressions(dashboard).forEach((where, expr) -> uses.put(where, metricNames(expr)));
    JsonArray variables = dashboard.getJsonObject("templating").getJsonArray("list");
    for (int i = 0; i < variables.size(); i++) {
      JsonObject v = variables.getJsonObject(i);
      Matcher m = LABEL_VALUES.matcher(String.valueOf(v.getString("definition")));
      if (m.find()) uses.put("dashboard variable $" + v.getString("name"), Set.of(m.group(1)));
    }
    for (Map<String, Object> rule : alertRules()) uses.put("alert " + rule.get("alert"), metricNames((String) rule.get("expr")));
    return uses;
  }

  @Test
  void metric_names_are_read_from_promql_without_functions_labels_keywords_or_variables() {
    assertEquals(Set.of("tollgate_requests_seconds_bucket"), metricNames(
        "histogram_quantile(0.99, sum by (le, route) (rate(tollgate_requests_seconds_bucket{instance=~\"$instance\",route=~\"a|b\"}[$__rate_interval])))"));
    assertEquals(Set.of("a_total", "b", "c_seconds_count"), metricNames(
        "max by (job) (a_total offset 1h) == 0 and on (job, instance) count(b > bool 1) / ignoring(x) group_left(y) rate(c_seconds_count[5m]) or vector(1e3)"));
    assertEquals(Set.of("jvm_gc_pause_seconds_max"), metricNames("max_over_time(jvm_gc_pause_seconds_max[5m]) > 0.5"));
    Map<String, Set<String>> uses = Map.of("made-up", metricNames("rate(tollgate_cache_hits_total[5m]) / rate(tollgate_made_up_total[5m])"),
        "histogram", metricNames("rate(tollgate_requests_seconds_bucket[5m])"));
    Set<String> scraped = Set.of("tollgate_cache_hits_total", "tollgate_requests_seconds_count", "tollgate_requests_seconds_sum");
    Map<String, String> missing = missing(uses, scraped);
    assertEquals(Set.of("tollgate_made_up_total", "tollgate_requests_seconds_bucket"), missing.keySet(), "a made-up name and an unpublished bucket fail");
    assertTrue(missing.get("tollgate_requests_seconds_bucket").contains("family tollgate_requests_seconds exists"), missing.toString());
  }

  @Test
  void the_dashboard_imports_with_a_prometheus_data_source_chosen_at_import() throws Exception {
    JsonObject d = dashboard();
    JsonObject input = d.getJsonArray("__inputs").getJsonObject(0);
    assertEquals("DS_PROMETHEUS", input.getString("name"));
    assertEquals("prometheus", input.getString("pluginId"));
    assertTrue(d.getInteger("schemaVersion") >= 36, "schemaVersion " + d.getInteger("schemaVersion"));
    assertNotNull(d.getString("uid"));
    Set<Integer> ids = new HashSet<>();
    List<String> problems = new ArrayList<>();
    JsonArray panels = d.getJsonArray("panels");
    for (int i = 0; i < panels.size(); i++) {
      JsonObject p = panels.getJsonObject(i);
      if (!ids.add(p.getInteger("id"))) problems.add("duplicate id " + p.getInteger("id"));
      if (p.getString("type").equals("row")) continue;
      if (!"${DS_PROMETHEUS}".equals(p.getJsonObject("datasource").getString("uid"))) problems.add(p.getString("title") + ": data source");
      if (p.getJsonArray("targets", new JsonArray()).isEmpty()) problems.add(p.getString("title") + ": no query");
    }
    dashboardExpressions(d).forEach((where, expr) -> {
      if (expr == null || expr.isBlank()) problems.add(where + ": empty expr");
    });
    assertEquals(List.of(), problems);
    assertTrue(dashboardExpressions(d).size() >= 30, "queries: " + dashboardExpressions(d).size());
  }

  @Test
  void every_alert_rule_has_an_expression_a_duration_a_severity_and_says_what_it_means() throws Exception {
    List<String> problems = new ArrayList<>();
    Set<String> names = new HashSet<>();
    for (Map<String, Object> rule : alertRules()) {
      String name = (String) rule.get("alert");
      names.add(name);
      if (!(rule.get("expr") instanceof String e) || e.isBlank()) problems.add(name + ": expr");
      if (!(rule.get("for") instanceof String f) || !f.matches("\\d+[smh]")) problems.add(name + ": for");
      @SuppressWarnings("unchecked") Map<String, Object> labels = (Map<String, Object>) rule.get("labels");
      if (labels == null || !Set.of("warning", "critical").contains(labels.get("severity"))) problems.add(name + ": labels.severity");
      @SuppressWarnings("unchecked") Map<String, Object> annotations = (Map<String, Object>) rule.get("annotations");
      if (annotations == null || !(annotations.get("summary") instanceof String) || !(annotations.get("description") instanceof String d)
          || !d.contains("threshold")) {
        problems.add(name + ": annotations summary, and a description that states its threshold");
      }
    }
    assertEquals(List.of(), problems);
    assertTrue(names.containsAll(Set.of("TollgateCacheHitRateCollapsed", "TollgateL2Lost", "TollgateBreakerOpen",
        "TollgateClientsGet429s", "TollgateBudgetNearCeiling", "TollgateEventLoopLag")), "alerts: " + names);
  }

  @Test
  void every_metric_the_dashboard_and_the_alert_rules_read_is_on_the_metrics_of_a_running_gateway() throws Exception {
    Map<String, Set<String>> uses = referencedMetrics();
    // An upstream that throttles beyond 5 resource units at once (then 20/s, Retry-After 1 s), Redis for L2, and a limit
    // of its own on sites so tight that the second read cannot be admitted within maxWait: Tollgate's own 429.
    try (LogCapture logs = new LogCapture();
         GatewayHarness harness = GatewayHarness.builder()
             .simulator(new SimulatorOptions().setThrottleRate(20).setThrottleBurst(5).setRetryAfter(Duration.ofSeconds(1)))
             .gateway(o -> {
               List<RateLimitOptions.Limit> limits = new ArrayList<>(o.getRateLimit().getLimits());
               limits.add(new RateLimitOptions.Limit().setName("sites-tight").setKey("global").setRate(0.01).setBurst(1)
                   .setPaths(List.of("/v1.0/sites/**")).setUseCosts(false).setMode(RateLimitOptions.Limit.CEILING));
               o.getRateLimit().setLimits(limits);
             })
             .redis()
             .start()) {
      assertEquals("MISS", GatewayHarness.xCache(harness.getAs("Bearer alice", "/v1.0/groups/g1/transitiveMembers")));
      assertEquals("HIT-L1", GatewayHarness.xCache(harness.getAs("Bearer alice", "/v1.0/groups/g1/transitiveMembers")));
      assertEquals(200, harness.getAs("Bearer alice", "/v1.0/sites/s1").statusCode());
      assertEquals(429, harness.getAs("Bearer alice", "/v1.0/sites/s2").statusCode(), "Tollgate's own 429");
      List<CompletableFuture<HttpResponse<String>>> burst = new ArrayList<>();
      for (int i = 0; i < 8; i++) burst.add(harness.send("GET", "/v1.0/users?$top=" + (1 + i) + "&$skip=" + i, "Authorization", "Bearer alice"));
      for (CompletableFuture<HttpResponse<String>> f : burst) f.get(60, TimeUnit.SECONDS);
      assertTrue(harness.sim().stats().throttled() > 0, "the upstream throttled");
      assertEquals(503, harness.getAs("Bearer alice", "/_sim/status/503").statusCode(), "retried, then passed on");

      // The JVM's GC pause meters appear with its first collection; a young test JVM may not have had one yet.
      System.gc();
      io.tollgate.testing.Await.until(() -> harness.http().send(HttpRequest.newBuilder(URI.create(harness.management() + "/metrics"))
          .build(), HttpResponse.BodyHandlers.ofString()).body().contains("jvm_gc_pause_seconds_count"),
          java.time.Duration.ofSeconds(10), "the collection is on /metrics");
      String exposition = harness.http().send(HttpRequest.newBuilder(URI.create(harness.management() + "/metrics")).build(),
          HttpResponse.BodyHandlers.ofString()).body();
      Set<String> scraped = sampleNames(exposition);
      assertTrue(scraped.contains("tollgate_cache_hits_total"), "a Prometheus scrape");
      Map<String, String> missing = missing(uses, scraped);
      assertEquals(Map.of(), missing, "metrics the monitoring files read but /metrics lacks (name=where)");
      assertFalse(logs.all().contains("Bearer alice"), "no token in the logs");
    }
    int names = uses.values().stream().mapToInt(Set::size).sum();
    assertTrue(names >= 50, "names checked: " + names);
  }
}
