package io.tollgate.scale;

import io.tollgate.testing.Await;
import io.tollgate.testing.RedisProcess;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A gateway in a JVM of its own, started through the real command line ({@code io.tollgate.Tollgate}), so a
 * test can SIGKILL it the way an orchestrator kills a stuck pod: no drain, no goodbye to Redis.
 */
final class SidecarProcess implements AutoCloseable {
  private final Process process;
  private final Path dir;
  final int port;
  final int managementPort;

  private SidecarProcess(Process process, Path dir, int port, int managementPort) {
    this.process = process;
    this.dir = dir;
    this.port = port;
    this.managementPort = managementPort;
  }

  /** Starts the sidecar and waits until {@code /health/ready} answers 200. */
  static SidecarProcess start(String upstream, String redisUrl, String keyPrefix) throws Exception {
    Path dir = Files.createTempDirectory("tollgate-sidecar");
    Path config = dir.resolve("tollgate.yaml");
    Files.writeString(config, "server:\n  instances: 1\ncache:\n  l2:\n    keyPrefix: \"" + keyPrefix + "\"\n");
    int port = RedisProcess.freePort();
    int management = RedisProcess.freePort();
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = List.of(java, "-Xmx128m", "-cp", System.getProperty("java.class.path"), "io.tollgate.Tollgate",
        "--config", config.toString(), "--port", Integer.toString(port), "--management-port", Integer.toString(management),
        "--upstream", upstream, "--redis", redisUrl);
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("out.log").toFile()).start();
    SidecarProcess sidecar = new SidecarProcess(p, dir, port, management);
    sidecar.awaitReady();
    return sidecar;
  }

  private void awaitReady() {
    HttpClient http = HttpClient.newHttpClient();
    HttpRequest ready = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + managementPort + "/health/ready"))
        .timeout(Duration.ofSeconds(1)).build();
    // A JVM starting: connections are refused until it listens, which Await counts as not yet.
    Await.until(() -> {
      if (!process.isAlive()) throw new AssertionError("sidecar exited: " + log());
      return http.send(ready, HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
    }, Duration.ofSeconds(30), "the sidecar is ready");
  }

  String log() throws IOException {
    return Files.readString(dir.resolve("out.log"));
  }

  /** SIGKILL. */
  void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(10, TimeUnit.SECONDS);
  }

  @Override
  public void close() throws InterruptedException {
    kill();
  }
}
