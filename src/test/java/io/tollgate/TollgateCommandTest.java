package io.tollgate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.sim.GraphSimulator;
import io.tollgate.sim.SimulatorOptions;
import io.tollgate.testing.Await;
import io.vertx.core.Vertx;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line as a user meets it: help, exit codes, and a clean SIGTERM. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class TollgateCommandTest {
  @TempDir Path dir;

  CommandRun run(Map<String, String> env, String... args) throws Exception {
    return CommandRun.of(env, args);
  }

  @Test
  void help_lists_every_flag_with_its_default() throws Exception {
    CommandRun r = run(Map.of(), "--help");
    assertEquals(0, r.code());
    for (String flag : List.of("--config", "--port", "--upstream", "--redis", "--admin-token", "--management-port", "--demo")) {
      assertTrue(r.out().contains(flag), flag + " missing from help:\n" + r.out());
    }
    for (String def : List.of("default: 8080", "default: https://graph.microsoft.com", "default: 9901", "TOLLGATE_REDIS_URL")) {
      assertTrue(r.out().contains(def), def + " missing from help:\n" + r.out());
    }
    assertTrue(r.out().contains("simulate"), "the simulate command is listed");
  }

  @Test
  void a_bad_configuration_exits_2_with_one_line_per_problem() throws Exception {
    Path file = dir.resolve("bad.yaml");
    Files.writeString(file, "server:\n  port: -3\nupstream:\n  url: ftp://x\nproxy:\n  bufferSize: 1GiB\n");
    CommandRun r = run(Map.of("TOLLGATE_MANAGEMENT_PORT", "99999"), "--config", file.toString());
    assertEquals(2, r.code());
    List<String> lines = r.err().lines().filter(l -> l.startsWith("config error: ")).toList();
    assertEquals(4, lines.size(), r.err());
    assertTrue(r.err().contains("proxy.bufferSize: got '1GiB', expected a size between 0 and 256MiB"), r.err());
    assertTrue(r.err().contains("server.port: got -3"), r.err());
    assertTrue(r.err().contains("upstream.url: got 'ftp://x'"), r.err());
    assertTrue(r.err().contains("management.port: got '99999'"), r.err());
  }

  @Test
  void a_port_in_use_fails_start_up_with_exit_1_naming_the_port() throws Exception {
    try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      CommandRun r = run(Map.of(), "--port", "0", "--management-port", Integer.toString(taken.getLocalPort()), "--upstream", "http://127.0.0.1:1");
      assertEquals(1, r.code());
      assertTrue(r.err().contains("start failed: management port 127.0.0.1:" + taken.getLocalPort()), r.err());
    }
  }

  @Test
  void an_unknown_flag_exits_2() throws Exception {
    CommandRun r = run(Map.of(), "--prot", "8080");
    assertEquals(2, r.code());
    assertTrue(r.err().contains("--prot"), r.err());
  }

  @Test
  void sigterm_drains_in_flight_requests_then_exits_0() throws Exception {
    Vertx vertx = Vertx.vertx();
    try {
      GraphSimulator sim = GraphSimulator.start(vertx, new SimulatorOptions()).await(10, TimeUnit.SECONDS);
      String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
      Path out = dir.resolve("gateway.log");
      Process p = new ProcessBuilder(java, "-Xmx128m", "-cp", System.getProperty("java.class.path"), Tollgate.class.getName(),
          "--port", "0", "--management-port", "0", "--upstream", sim.origin())
          .redirectErrorStream(true).redirectOutput(out.toFile()).start();
      Pattern proxyLine = Pattern.compile("proxy on http://127\\.0\\.0\\.1:(\\d+)");
      Await.until(() -> proxyLine.matcher(Files.readString(out)).find(), Duration.ofSeconds(30), "the gateway logs its proxy port");
      Matcher m = proxyLine.matcher(Files.readString(out));
      assertTrue(m.find(), Files.readString(out));
      int port = Integer.parseInt(m.group(1));
      // HTTP/1.1: the JDK 17 client drops in-flight HTTP/2 streams on GOAWAY (fixed in JDK 24), which
      // would test the client, not the drain.
      HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
      CompletableFuture<HttpResponse<String>> slow = http.sendAsync(
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/_sim/slow?ms=1500")).build(), HttpResponse.BodyHandlers.ofString());
      Await.until(() -> sim.stats().inFlight() > 0, Duration.ofSeconds(10), "the slow request reached the upstream");
      p.destroy();
      assertTrue(p.waitFor(30, TimeUnit.SECONDS), "exited after draining");
      assertEquals(0, p.exitValue(), Files.readString(out));
      HttpResponse<String> r = slow.get(10, TimeUnit.SECONDS);
      assertEquals(200, r.statusCode(), "the in-flight request finished: " + r.body());
      assertTrue(Files.readString(out).contains("draining"), Files.readString(out));
    } finally {
      vertx.close().await(10, TimeUnit.SECONDS);
    }
  }
}
