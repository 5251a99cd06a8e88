package io.tollgate.config;

import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Per-tenant upstream economics (issue 11): what the cache and the limiter did for each tenant, on
 * {@code /metrics}, {@code tollgate.cache.stats} and {@code /admin/cache/stats}. YAML section {@code economics}.
 * A tenant's label is its alias when one is configured, else the first 8 hex digits of SHA-256 of its id (never
 * the id: {@code /metrics} has no auth). Aliased tenants always have their own label; of the others, the first
 * {@code topTenants} seen get one and keep it while they stay active (a tenant idle for {@code idleAfter} gives
 * its label up to the next newcomer); every other tenant is counted as {@code other}.
 */
public final class EconomicsOptions {
  /** Tenants (besides the aliased ones) with a label of their own. */
  public static final int DEFAULT_TOP_TENANTS = 20;
  /** A labelled tenant without a request for this long gives its label up. */
  public static final Duration DEFAULT_IDLE_AFTER = Duration.ofHours(1);
  /** Labels Tollgate uses itself: an alias may not take them. */
  public static final Set<String> RESERVED_LABELS = Set.of("other", "unverified");
  private static final Pattern ALIAS = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

  private int topTenants = DEFAULT_TOP_TENANTS;
  private Duration idleAfter = DEFAULT_IDLE_AFTER;
  private Map<String, String> tenantAliases = new LinkedHashMap<>();

  public EconomicsOptions() {}

  public EconomicsOptions(EconomicsOptions o) {
    topTenants = o.topTenants;
    idleAfter = o.idleAfter;
    tenantAliases = new LinkedHashMap<>(o.tenantAliases);
  }

  static EconomicsOptions read(ConfigReader r) {
    EconomicsOptions o = new EconomicsOptions();
    o.topTenants = r.integer("topTenants", DEFAULT_TOP_TENANTS, 0, 1000);
    o.idleAfter = r.duration("idleAfter", DEFAULT_IDLE_AFTER);
    if (o.idleAfter.compareTo(Duration.ofSeconds(1)) < 0) {
      r.problem("idleAfter", Units.formatDuration(o.idleAfter), "a duration of at least 1s");
      o.idleAfter = DEFAULT_IDLE_AFTER;
    }
    ConfigReader aliases = r.section("tenantAliases");
    Object raw = r.raw("tenantAliases");
    Set<String> used = new HashSet<>();
    if (raw instanceof JsonObject json) {
      for (String tenant : json.fieldNames()) {
        Object alias = aliases.raw(tenant);
        String at = "tenantAliases." + tenant;
        if (tenant.isBlank()) {
          r.problem(at, alias, "a tenant id as the key");
        } else if (!(alias instanceof String s) || !ALIAS.matcher(s).matches()) {
          r.problem(at, alias, "an alias of 1 to 64 letters, digits, '.', '_' or '-'");
        } else if (RESERVED_LABELS.contains(s) || !used.add(s)) {
          r.problem(at, alias, "an alias other than 'other', 'unverified' and the other tenants' aliases");
        } else {
          o.tenantAliases.put(tenant, s);
        }
      }
    }
    r.rejectUnknown();
    return o;
  }

  public JsonObject toJson() {
    JsonObject aliases = new JsonObject();
    tenantAliases.forEach(aliases::put);
    return new JsonObject().put("topTenants", topTenants).put("idleAfter", Units.formatDuration(idleAfter))
        .put("tenantAliases", aliases);
  }

  public int getTopTenants() { return topTenants; }
  public EconomicsOptions setTopTenants(int n) { this.topTenants = n; return this; }
  public Duration getIdleAfter() { return idleAfter; }
  public EconomicsOptions setIdleAfter(Duration d) { this.idleAfter = d; return this; }
  /** Tenant id ({@code tid}) to the label it is shown as. */
  public Map<String, String> getTenantAliases() { return tenantAliases; }
  public EconomicsOptions setTenantAliases(Map<String, String> aliases) { this.tenantAliases = new LinkedHashMap<>(aliases); return this; }
}
