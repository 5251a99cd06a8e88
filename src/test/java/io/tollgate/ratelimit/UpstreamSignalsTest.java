package io.tollgate.ratelimit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.proxy.Charge;
import io.tollgate.proxy.RouteTable;
import io.tollgate.config.PathPattern;
import io.vertx.core.MultiMap;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class UpstreamSignalsTest {

  static UpstreamSignals of(String... nameValues) {
    MultiMap h = MultiMap.caseInsensitiveMultiMap();
    for (int i = 0; i < nameValues.length; i += 2) h.add(nameValues[i], nameValues[i + 1]);
    return UpstreamSignals.of(h);
  }

  @Test
  void graph_says_the_cost_and_the_share_of_the_budget_used() {
    UpstreamSignals s = of("x-ms-resource-unit", "5", "x-ms-throttle-limit-percentage", "0.9");
    assertEquals(5, s.resourceUnits());
    assertEquals(0.9, s.usage(), 1e-9);
  }

  @Test
  void sharepoint_and_the_older_draft_say_remaining_of_limit() {
    assertEquals(0.85, of("RateLimit-Limit", "1000", "RateLimit-Remaining", "150", "RateLimit-Reset", "7").usage(), 1e-9);
  }

  @Test
  void the_ietf_draft_structured_fields_are_read_with_their_policy() {
    assertEquals(0.8, of("RateLimit", "\"default\";r=20;t=30", "RateLimit-Policy", "\"default\";q=100;w=60").usage(), 1e-9);
    assertEquals(0.5, of("RateLimit", "limit=100, remaining=50, reset=5").usage(), 1e-9);
  }

  @Test
  void an_answer_that_says_nothing_is_none_and_garbage_is_ignored() {
    assertSame(UpstreamSignals.NONE, of("Content-Type", "application/json"));
    assertTrue(Double.isNaN(of("x-ms-throttle-limit-percentage", "lots").usage()));
    assertTrue(Double.isNaN(of("RateLimit-Limit", "0", "RateLimit-Remaining", "3").usage()));
  }

  @Test
  void the_throttle_scope_picks_the_buckets_of_its_kind_and_side() {
    Charge reads = charge("identity-reads", true, true, Set.of("GET", "HEAD"));
    Charge writes = charge("identity-writes", true, true, Set.of("POST", "PATCH"));
    Charge app = charge("graph-app", false, true, Set.of());
    List<Charge> all = List.of(reads, writes, app);

    assertEquals(List.of(writes), BudgetLearner.scoped(all, of("x-ms-throttle-scope", "Tenant_Application/Write/a/t")));
    assertEquals(List.of(reads), BudgetLearner.scoped(all, of("x-ms-throttle-scope", "Tenant_Application/Read/a/t")));
    assertEquals(List.of(reads, writes), BudgetLearner.scoped(all, of("x-ms-throttle-scope", "Tenant_Application/ReadWrite/a/t")));
    assertEquals(List.of(app), BudgetLearner.scoped(all, of("x-ms-throttle-scope", "Application/ReadWrite/a")));
    assertEquals(all, BudgetLearner.scoped(all, UpstreamSignals.NONE), "no scope said: every bucket it paid");
    assertEquals(List.of(app), BudgetLearner.scoped(List.of(app), of("x-ms-throttle-scope", "Application/Write/a")),
        "a limit for both sides is slowed rather than none");
  }

  static Charge charge(String name, boolean byTenant, boolean byApp, Set<String> methods) {
    return new Charge(new RouteTable.Limit(name, 10, 10, true, byTenant, byApp, false, List.<PathPattern>of(), methods,
        true, Double.POSITIVE_INFINITY), "id", 1);
  }
}
