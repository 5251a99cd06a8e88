package io.tollgate.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tollgate.config.EconomicsOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** Who gets a label of their own, and that the table stays bounded whatever the number of tenants. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class TenantLabelsTest {
  final AtomicLong now = new AtomicLong(1_000_000_000L);
  final SimpleMeterRegistry registry = new SimpleMeterRegistry();

  TenantEconomics table(int top, Map<String, String> aliases) {
    return new TenantEconomics(new EconomicsOptions().setTopTenants(top).setIdleAfter(Duration.ofMinutes(10))
        .setTenantAliases(aliases), registry, List.of("interactive", "background"), now::get);
  }

  @Test
  void a_hundred_thousand_tenants_make_at_most_top_n_plus_aliases_plus_two_rows_per_lane() {
    TenantEconomics t = table(3, Map.of("vip", "contoso"));
    for (int i = 0; i < 100_000; i++) t.row("tenant-" + i, i % 2).add(1, 0, 0, 0, 2, 0, 0, 0);
    t.row("vip", 0).add(1, 0, 0, 0, 0, 0, 0, 0);
    t.row(null, 0).add(0, 1, 0, 0, 0, 0, 0, 0);
    JsonArray rows = t.toJson();
    // tenant-0, -1, -2 (one lane each), contoso, unverified, other (both lanes).
    assertEquals(3 + 1 + 1 + 2, rows.size(), rows.encode());
    assertTrue(registry.getMeters().size() <= rows.size() * 8, "meters: " + registry.getMeters().size());
    long reads = 0;
    for (Object o : rows) reads += ((JsonObject) o).getJsonObject("reads").getLong("cache");
    assertEquals(100_001, reads, "every read is counted somewhere, none twice");
    assertEquals(java.util.Set.of("contoso", TenantEconomics.shortHash("tenant-0"), TenantEconomics.shortHash("tenant-1"),
        TenantEconomics.shortHash("tenant-2"), TenantEconomics.UNVERIFIED, TenantEconomics.OTHER),
        rows.stream().map(o -> ((JsonObject) o).getString("tenant")).collect(java.util.stream.Collectors.toSet()));
  }

  @Test
  void a_label_stays_with_an_active_tenant_and_passes_on_only_after_it_idled() {
    TenantEconomics t = table(1, Map.of());
    t.row("first", 0).add(1, 0, 0, 0, 0, 0, 0, 0);
    now.addAndGet(Duration.ofMinutes(9).toNanos());
    t.row("first", 0);
    now.addAndGet(Duration.ofMinutes(9).toNanos());
    t.row("second", 0).add(1, 0, 0, 0, 0, 0, 0, 0);
    assertTrue(t.toJson().encode().contains("\"" + TenantEconomics.OTHER + "\""), "first was active 9 min ago: second is other");
    now.addAndGet(Duration.ofMinutes(11).toNanos());
    t.row("second", 0).add(1, 0, 0, 0, 0, 0, 0, 0);
    String json = t.toJson().encode();
    assertTrue(json.contains(TenantEconomics.shortHash("second")), json);
    assertTrue(!json.contains(TenantEconomics.shortHash("first")), "first idled 20 min: its label and series are gone: " + json);
    assertTrue(registry.find(MeterNames.TENANT_READS).tag(MeterNames.TAG_TENANT, TenantEconomics.shortHash("first")).meters().isEmpty());
  }
}
