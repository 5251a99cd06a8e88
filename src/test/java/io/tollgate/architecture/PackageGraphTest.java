package io.tollgate.architecture;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * The package graph points one way, bottom to top: {@code config}, {@code metrics} → {@code proxy} →
 * {@code redis} (the one Redis owner, shared by cache and limiter) → the stage packages ({@code cache},
 * {@code ratelimit}, {@code concurrency}, {@code resilience}) → {@code freshness} (delta-fed
 * eviction: it indexes and evicts through the cache) → {@code graph} → {@code admin} →
 * {@code io.tollgate} (wiring). A newcomer can then read a request from the bottom up without going back and
 * forth; a build check keeps it so instead of a review.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class PackageGraphTest {
  private static JavaClasses main;

  @BeforeAll
  static void importMainClasses() {
    main = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS).importPackages("io.tollgate");
  }

  @Test
  void no_two_packages_depend_on_each_other_directly_or_through_others() {
    slices().matching("io.tollgate.(*)..").should().beFreeOfCycles().check(main);
  }

  @Test
  void imports_point_down_the_request_path_order() {
    layeredArchitecture().consideringOnlyDependenciesInLayers()
        .layer("config").definedBy("io.tollgate.config..")
        .layer("metrics").definedBy("io.tollgate.metrics..")
        .layer("proxy").definedBy("io.tollgate.proxy..")
        .layer("redis").definedBy("io.tollgate.redis..")
        .layer("stages").definedBy("io.tollgate.cache..", "io.tollgate.ratelimit..", "io.tollgate.concurrency..",
            "io.tollgate.resilience..")
        .layer("freshness").definedBy("io.tollgate.freshness..")
        .layer("graph").definedBy("io.tollgate.graph..")
        .layer("admin").definedBy("io.tollgate.admin..")
        .layer("sim").definedBy("io.tollgate.sim..")
        .layer("wiring").definedBy("io.tollgate")
        .whereLayer("wiring").mayNotBeAccessedByAnyLayer()
        .whereLayer("sim").mayOnlyBeAccessedByLayers("wiring")
        .whereLayer("admin").mayOnlyBeAccessedByLayers("wiring")
        .whereLayer("graph").mayOnlyBeAccessedByLayers("admin", "wiring")
        .whereLayer("freshness").mayOnlyBeAccessedByLayers("graph", "admin", "wiring")
        .whereLayer("stages").mayOnlyBeAccessedByLayers("freshness", "graph", "admin", "wiring")
        .whereLayer("redis").mayOnlyBeAccessedByLayers("stages", "freshness", "graph", "admin", "wiring")
        .whereLayer("proxy").mayOnlyBeAccessedByLayers("redis", "stages", "freshness", "graph", "admin", "wiring")
        .whereLayer("metrics").mayOnlyBeAccessedByLayers("proxy", "redis", "stages", "freshness", "graph", "admin", "wiring")
        .whereLayer("config").mayOnlyBeAccessedByLayers("metrics", "proxy", "redis", "stages", "freshness", "graph", "admin", "sim", "wiring")
        .check(main);
  }

  @Test
  void the_proxy_package_names_no_stage() {
    noClasses().that().resideInAPackage("io.tollgate.proxy..")
        .should().dependOnClassesThat().resideInAnyPackage("io.tollgate.redis..", "io.tollgate.cache..",
            "io.tollgate.ratelimit..", "io.tollgate.concurrency..", "io.tollgate.resilience..", "io.tollgate.freshness..",
            "io.tollgate.graph..")
        .check(main);
  }

  @Test
  void the_simulator_depends_only_on_config() {
    noClasses().that().resideInAPackage("io.tollgate.sim..")
        .should().dependOnClassesThat().resideInAnyPackage("io.tollgate.metrics..", "io.tollgate.proxy..",
            "io.tollgate.redis..", "io.tollgate.cache..", "io.tollgate.ratelimit..", "io.tollgate.concurrency..", "io.tollgate.resilience..",
            "io.tollgate.freshness..", "io.tollgate.graph..", "io.tollgate.admin..")
        .orShould().dependOnClassesThat().resideInAPackage("io.tollgate")
        .check(main);
  }
}
