package io.tollgate.testing;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * A real {@code redis-server} process on a free loopback port, for tests. Uses the one on PATH when there is
 * one, otherwise the Linux binary shipped inside the {@code embedded-redis} test artifact, so no test is
 * skipped on a machine with only a JDK and Maven. Nothing is persisted; each instance has a random key prefix.
 */
public final class RedisProcess implements AutoCloseable {
  private static final String BUNDLED = "redis-server-6.2.6-v5-linux-amd64";
  private static volatile Path binary;

  private final int port;
  private final List<String> extraArgs;
  private final Path dir;
  private final String keyPrefix = "t" + UUID.randomUUID().toString().substring(0, 8) + ":";
  /** A Sentinel's configuration file (Sentinel rewrites it, so it lives in {@link #dir}); null for a server. */
  private Path sentinelConfig;
  private Process process;

  private RedisProcess(int port, List<String> extraArgs) throws IOException {
    this.port = port;
    this.extraArgs = List.copyOf(extraArgs);
    this.dir = Files.createTempDirectory("tollgate-redis-" + port);
  }

  /**
   * Starts a Sentinel ({@code redis-server sentinel.conf --sentinel}) watching the primary on
   * {@code primaryPort} as {@code masterName}, with quorum 1 and the given down-after time.
   */
  public static RedisProcess startSentinel(int primaryPort, String masterName, long downAfterMs) {
    try {
      RedisProcess sentinel = new RedisProcess(freePort(), List.of());
      sentinel.sentinelConfig = sentinel.dir.resolve("sentinel.conf");
      Files.writeString(sentinel.sentinelConfig, "sentinel monitor " + masterName + " 127.0.0.1 " + primaryPort + " 1\n"
          + "sentinel down-after-milliseconds " + masterName + " " + downAfterMs + "\n"
          + "sentinel failover-timeout " + masterName + " " + Math.max(3000, downAfterMs * 3) + "\n");
      sentinel.launch();
      return sentinel;
    } catch (IOException e) {
      throw new IllegalStateException("cannot start redis-server --sentinel", e);
    }
  }

  /** Starts a standalone server on a free port. */
  public static RedisProcess start(String... extraArgs) {
    try {
      RedisProcess redis = new RedisProcess(freePort(), List.of(extraArgs));
      redis.launch();
      return redis;
    } catch (IOException e) {
      throw new IllegalStateException("cannot start redis-server", e);
    }
  }

  public int port() { return port; }
  public String url() { return "redis://127.0.0.1:" + port; }
  public String keyPrefix() { return keyPrefix; }
  public Path dir() { return dir; }
  public boolean alive() { return process != null && process.isAlive(); }

  /** Stalls the server (SIGSTOP): connections stay open, nothing answers, until {@link #resume()}. */
  public void stall() {
    signal("STOP");
  }

  /** Lets a stalled server answer again (SIGCONT). */
  public void resume() {
    signal("CONT");
  }

  private void signal(String name) {
    try {
      new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).inheritIO().start().waitFor();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** SIGKILL: the way a crashed Redis disappears, without a goodbye to its clients. */
  public void kill() {
    if (process == null) return;
    process.destroyForcibly();
    try {
      process.waitFor(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Starts the server again on the same port (after {@link #kill()}). */
  public void restart() {
    try {
      launch();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private void launch() throws IOException {
    List<String> cmd = new ArrayList<>(List.of(binary().toString()));
    if (sentinelConfig != null) cmd.addAll(List.of(sentinelConfig.toString(), "--sentinel"));
    cmd.addAll(List.of("--port", Integer.toString(port),
        "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no", "--dir", dir.toString()));
    cmd.addAll(extraArgs);
    process = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(dir.resolve("redis.log").toFile()).start();
    Process started = process;
    // A refused connection is "not yet" to Await; a process that exited ends the wait at once.
    Await.until(() -> {
      if (!started.isAlive()) throw new AssertionError("redis-server exited: " + Files.readString(dir.resolve("redis.log")));
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", port), 200);
        return true;
      }
    }, Duration.ofSeconds(10), "redis-server listens on " + port);
  }

  static synchronized Path binary() throws IOException {
    if (binary != null) return binary;
    for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
      Path candidate = Path.of(dir, "redis-server");
      if (Files.isExecutable(candidate)) return binary = candidate;
    }
    try (InputStream in = RedisProcess.class.getClassLoader().getResourceAsStream(BUNDLED)) {
      if (in == null) throw new IOException("no redis-server on PATH and no bundled " + BUNDLED);
      Path target = Files.createTempFile("redis-server", "");
      Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
      target.toFile().setExecutable(true);
      target.toFile().deleteOnExit();
      return binary = target;
    }
  }

  public static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  @Override
  public void close() {
    kill();
  }
}
