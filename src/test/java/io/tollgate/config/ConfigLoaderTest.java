package io.tollgate.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ConfigLoaderTest {
  @TempDir Path dir;
  Vertx vertx;

  @BeforeEach
  void vertx() {
    vertx = Vertx.vertx();
  }

  @AfterEach
  void close() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  private TollgateOptions load(String file, Map<String, String> env, Map<String, String> flags) throws Exception {
    return ConfigLoader.load(vertx, file, env, flags).await(10, TimeUnit.SECONDS);
  }

  private List<String> problems(String file, Map<String, String> env, Map<String, String> flags) {
    Future<TollgateOptions> f = ConfigLoader.load(vertx, file, env, flags);
    try {
      f.await(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      ConfigException ce = assertInstanceOf(ConfigException.class, e);
      return ce.problems().stream().map(ConfigProblem::toString).collect(Collectors.toList());
    }
    throw new AssertionError("expected configuration problems, got " + f.result());
  }

  private String write(String yaml) throws Exception {
    Path p = dir.resolve("tollgate.yaml");
    Files.writeString(p, yaml);
    return p.toString();
  }

  @Test
  void built_in_defaults_equal_the_options_defaults_and_the_shipped_file() throws Exception {
    TollgateOptions builtIn = load(null, Map.of(), Map.of());
    JsonObject scalars = builtIn.toJson();
    scalars.getJsonObject("cache").remove("routes");
    scalars.getJsonObject("cache").remove("invalidate");
    JsonObject code = new TollgateOptions().toJson();
    code.getJsonObject("cache").remove("routes");
    code.getJsonObject("cache").remove("invalidate");
    assertEquals(code, scalars, "every scalar default in code equals the shipped file");
    assertTrue(builtIn.getCache().getRoutes().size() >= 8, "the shipped Graph profile caches the common reads");
    TollgateOptions shipped = load(Path.of("conf/tollgate.yaml").toString(), Map.of(), Map.of());
    assertEquals(builtIn.toJson(), shipped.toJson());
    assertEquals("https://graph.microsoft.com", builtIn.getUpstream().getUrl());
    assertEquals(8080, builtIn.getServer().getPort());
    assertNull(builtIn.getManagement().getAdminToken());
  }

  @Test
  void flag_beats_environment_beats_file_beats_default() throws Exception {
    String file = write("server:\n  port: 7001\nupstream:\n  url: http://file.example\n  connectTimeout: 250ms\n");
    TollgateOptions fileOnly = load(file, Map.of(), Map.of());
    assertEquals(7001, fileOnly.getServer().getPort());
    assertEquals(Duration.ofMillis(250), fileOnly.getUpstream().getConnectTimeout());
    assertEquals(Duration.ofSeconds(60), fileOnly.getUpstream().getRequestTimeout(), "unset keys keep their default");

    TollgateOptions env = load(file, Map.of("TOLLGATE_PORT", "7002", "TOLLGATE_UPSTREAM", "http://env.example"), Map.of());
    assertEquals(7002, env.getServer().getPort());
    assertEquals("http://env.example", env.getUpstream().getUrl());

    TollgateOptions flag = load(file, Map.of("TOLLGATE_PORT", "7002"), Map.of("port", "7003"));
    assertEquals(7003, flag.getServer().getPort());
  }

  @Test
  void every_override_has_an_environment_variable_and_a_flag() throws Exception {
    Map<String, String> env = Map.of("TOLLGATE_PORT", "7100", "TOLLGATE_UPSTREAM", "https://up.example",
        "TOLLGATE_REDIS_URL", "redis://127.0.0.1:6390", "TOLLGATE_ADMIN_TOKEN", "0123456789abcdef-admin",
        "TOLLGATE_MANAGEMENT_PORT", "7101");
    TollgateOptions o = load(null, env, Map.of());
    assertEquals(7100, o.getServer().getPort());
    assertEquals("https://up.example", o.getUpstream().getUrl());
    assertEquals("redis://127.0.0.1:6390", o.getRedis().getUrl());
    assertEquals("0123456789abcdef-admin", o.getManagement().getAdminToken());
    assertEquals(7101, o.getManagement().getPort());
  }

  @Test
  void the_config_file_can_come_from_the_environment() throws Exception {
    String file = write("server:\n  port: 7200\n");
    assertEquals(7200, load(null, Map.of("TOLLGATE_CONFIG", file), Map.of()).getServer().getPort());
  }

  @Test
  void every_problem_is_reported_at_once_naming_key_value_and_expectation() throws Exception {
    String file = write("""
        server:
          port: 70000
          maxBodySize: -5
          prot: 1
        upstream:
          url: not a url
          connectTimeout: soon
        unknownSection: {}
        """);
    List<String> problems = problems(file, Map.of(), Map.of("management-port", "abc"));
    String all = String.join("\n", problems);
    assertTrue(all.contains("server.port: got 70000, expected an integer between 0 and 65535"), all);
    assertTrue(all.contains("server.maxBodySize: got -5"), all);
    assertTrue(all.contains("server.prot:"), all);
    assertTrue(all.contains("upstream.url: got 'not a url'"), all);
    assertTrue(all.contains("upstream.connectTimeout: got 'soon', expected a duration"), all);
    assertTrue(all.contains("unknownSection:"), all);
    assertTrue(all.contains("management.port: got 'abc'"), all);
    assertEquals(7, problems.size(), all);
  }

  @Test
  void slot_and_connection_bounds_are_checked_naming_the_key() throws Exception {
    String file = write("proxy:\n  bufferSize: -1\nserver:\n  headerTimeout: 0s\n");
    String all = String.join("\n", problems(file, Map.of(), Map.of()));
    assertTrue(all.contains("proxy.bufferSize: got -1, expected a size"), all);
    assertTrue(all.contains("server.headerTimeout: got '0s', expected a duration above 0"), all);
    TollgateOptions o = load(write("proxy:\n  bufferSize: 0\nserver:\n  headerTimeout: 250ms\n"), Map.of(), Map.of());
    assertEquals(0, o.getProxy().getBufferSize(), "0: every body streams");
    assertEquals(Duration.ofMillis(250), o.getServer().getHeaderTimeout());
  }

  @Test
  void economics_keys_are_checked_naming_the_key() throws Exception {
    String file = write("""
        economics:
          topTenants: -1
          idleAfter: 0s
          tenantAliases: {"t-1": "has space", "t-2": other, "t-3": contoso, "t-4": contoso}
          topTenant: 3
        """);
    String all = String.join("\n", problems(file, Map.of(), Map.of()));
    assertTrue(all.contains("economics.topTenants: got -1, expected an integer between 0 and 1000"), all);
    assertTrue(all.contains("economics.idleAfter: got '0s'"), all);
    assertTrue(all.contains("economics.tenantAliases.t-1: got 'has space'"), all);
    assertTrue(all.contains("economics.tenantAliases.t-2: got 'other'"), all);
    assertTrue(all.contains("economics.tenantAliases.t-4: got 'contoso'"), all);
    assertTrue(all.contains("economics.topTenant:"), all);
    TollgateOptions o = load(write("economics:\n  topTenants: 3\n  tenantAliases: {\"t-1\": contoso}\n"), Map.of(), Map.of());
    assertEquals(3, o.getEconomics().getTopTenants());
    assertEquals(Map.of("t-1", "contoso"), o.getEconomics().getTenantAliases());
  }

  @Test
  void yaml_syntax_error_names_the_file_and_the_line() throws Exception {
    String file = write("server:\n  port: 8080\n   host: [oops\n");
    List<String> problems = problems(file, Map.of(), Map.of());
    assertEquals(1, problems.size(), problems.toString());
    assertTrue(problems.get(0).startsWith("config: got '" + file + "'"), problems.get(0));
    assertTrue(problems.get(0).contains("line 3"), problems.get(0));
  }

  @Test
  void unreadable_file_is_a_problem_not_a_silent_default() {
    List<String> problems = problems(dir.resolve("missing.yaml").toString(), Map.of(), Map.of());
    assertEquals(List.of("config: got '" + dir.resolve("missing.yaml") + "', expected a readable YAML file"), problems);
  }

  @Test
  void redis_urls_of_every_supported_form_are_accepted_and_others_rejected() throws Exception {
    for (String ok : List.of("redis://127.0.0.1:6379", "rediss://:secret@cache.example:6380/2",
        "redis-cluster://10.0.0.1:7000,10.0.0.2:7001", "redis-sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster")) {
      assertEquals(ok, load(null, Map.of(), Map.of("redis", ok)).getRedis().getUrl());
    }
    List<String> problems = problems(null, Map.of(), Map.of("redis", "http://:hunter2@x:1"));
    assertEquals(1, problems.size());
    assertTrue(problems.get(0).startsWith("redis.url: got 'http://****@x:1'"), "password masked: " + problems.get(0));
  }

  @Test
  void secrets_are_masked_in_the_effective_configuration() throws Exception {
    TollgateOptions o = load(null, Map.of(), Map.of("admin-token", "super-secret-admin-token", "redis", "redis://:pw123@h:1"));
    String json = o.toJson().encode();
    assertTrue(!json.contains("super-secret-admin-token") && !json.contains("pw123"), json);
    assertEquals("****", o.toJson().getJsonObject("management").getString("adminToken"));
  }

  @Test
  void short_admin_token_is_rejected() {
    assertEquals(List.of("management.adminToken: got '(5 characters)', expected at least 16 characters"),
        problems(null, Map.of(), Map.of("admin-token", "short")));
  }

  @Test
  void units_round_trip() {
    assertEquals(Duration.ofMillis(250), Units.parseDuration("250ms"));
    assertEquals(Duration.ofHours(6), Units.parseDuration("6h"));
    assertEquals(Duration.ofMillis(1500), Units.parseDuration("1.5s"));
    assertNull(Units.parseDuration("5 parsecs"));
    assertEquals(512L << 20, Units.parseSize("512MiB"));
    assertEquals(-1, Units.parseSize("-1MiB"));
    assertEquals("6h", Units.formatDuration(Duration.ofHours(6)));
    assertEquals("16KiB", Units.formatSize(16 << 10));
  }
}
