package io.tollgate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.testing.Await;
import io.tollgate.testing.RedisProcess;
import io.vertx.core.json.JsonObject;
import java.io.FileInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Key;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 15 item 5, with three JVMs on loopback: two gateways started through the real command line with
 * {@code cluster.enabled}, and a {@link ClusterConsumer} that joins the same cluster. Between members the event bus
 * speaks mutual TLS (each side presents a certificate the trust file holds: the gateways share one, the consumer has
 * its own). The consumer hears both gateways' {@code tollgate.cache.stats} (told apart by {@code instance}, matched
 * against each gateway's {@code /admin/cache/stats}) and a {@code tollgate.events} breaker transition, and its request to
 * {@code tollgate.cache} finds no handler: the cache API is local to each gateway. A fourth JVM that knows the
 * members and the cluster name but presents a certificate outside the trust file joins Hazelcast, yet hears nothing.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ClusteredEventBusTest {
  private static final String ADMIN_TOKEN = "cluster-test-admin-token";
  private static final Duration STARTUP = Duration.ofSeconds(45);
  @TempDir Path dir;

  @Test
  void a_consumer_on_the_cluster_hears_both_gateways_statistics_and_events_but_cannot_reach_their_caches() throws Exception {
    Path gatewayCert = dir.resolve("gateway.pem");
    Path gatewayKey = dir.resolve("gateway.key");
    Path consumerCert = dir.resolve("consumer.pem");
    Path consumerKey = dir.resolve("consumer.key");
    Path strangerCert = dir.resolve("stranger.pem");
    Path strangerKey = dir.resolve("stranger.key");
    Process[] keytools = {keytool("gateway"), keytool("consumer"), keytool("stranger")};
    pemFiles("gateway", keytools[0], gatewayCert, gatewayKey);
    pemFiles("consumer", keytools[1], consumerCert, consumerKey);
    pemFiles("stranger", keytools[2], strangerCert, strangerKey);
    Path trust = Files.writeString(dir.resolve("trust.pem"), Files.readString(gatewayCert) + Files.readString(consumerCert));

    int[] hz = {RedisProcess.freePort(), RedisProcess.freePort(), RedisProcess.freePort(), RedisProcess.freePort()};
    String members = "127.0.0.1:" + hz[0] + ",127.0.0.1:" + hz[1];
    String clusterName = "test-" + UUID.randomUUID().toString().substring(0, 8);
    List<Process> processes = new ArrayList<>();
    try {
      int[] management = new int[2];
      int[] proxy = new int[2];
      for (int i = 0; i < 2; i++) {
        management[i] = RedisProcess.freePort();
        proxy[i] = RedisProcess.freePort();
        Path config = Files.writeString(dir.resolve("gateway" + i + ".yaml"), String.join("\n",
            "server:", "  instances: 1",
            "cache:", "  statsInterval: 200ms",
            "breaker:", "  failureThreshold: 1",
            "management:", "  adminToken: " + ADMIN_TOKEN,
            "cluster:", "  enabled: true", "  host: 127.0.0.1", "  port: " + hz[i],
            "  members: [" + members + "]", "  clusterName: " + clusterName,
            "  certFile: " + gatewayCert, "  keyFile: " + gatewayKey, "  trustFile: " + trust, ""));
        // No upstream listens on port 1: a gateway starts without one, and its first request opens the breaker.
        processes.add(java("gateway" + i, "io.tollgate.Tollgate", "--config", config.toString(),
            "--port", Integer.toString(proxy[i]), "--management-port", Integer.toString(management[i]),
            "--upstream", "http://127.0.0.1:1"));
      }
      String[] instances = new String[2];
      for (int i = 0; i < 2; i++) instances[i] = awaitInstance(processes.get(i), "gateway" + i, management[i]);
      assertFalse(instances[0].equals(instances[1]), "each gateway has its own instance id");
      assertTrue(log("gateway0").contains("with mutual TLS"), log("gateway0"));
      // A consumer lists the gateways; they need not list it (nor know of it) to publish to it.
      processes.add(java("consumer", "io.tollgate.ClusterConsumer", "127.0.0.1", Integer.toString(hz[2]), members,
          clusterName, consumerCert.toString(), consumerKey.toString(), trust.toString()));
      // A stranger knows the members and the cluster name (Hazelcast lets it in) but its certificate is not in the
      // trust file: the gateways' TLS connections to it fail, so it hears nothing.
      processes.add(java("stranger", "io.tollgate.ClusterConsumer", "127.0.0.1", Integer.toString(hz[3]), members,
          clusterName, strangerCert.toString(), strangerKey.toString(), trust.toString()));
      Await.until(() -> heard(processes.get(2)).stream().filter(l -> l.startsWith("stats "))
              .map(l -> new JsonObject(l.substring(6)).getString("instance")).collect(Collectors.toSet())
              .containsAll(Set.of(instances)), STARTUP, "the consumer has heard both gateways' statistics");

      Await.until(() -> heard(processes.get(2)).stream().anyMatch(l -> l.startsWith("cache ")), Duration.ofSeconds(10),
          "the consumer's request to tollgate.cache came back");
      String cache = heard(processes.get(2)).stream().filter(l -> l.startsWith("cache ")).findFirst().orElseThrow();
      assertTrue(cache.startsWith("cache failed NO_HANDLERS"), "a peer cannot reach a gateway's cache: " + cache);

      // A breaker transition on gateway 1 (its upstream refuses connections) reaches the consumer as an event.
      HttpClient http = HttpClient.newHttpClient();
      http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy[1] + "/v1.0/me")).timeout(Duration.ofSeconds(20))
          .build(), HttpResponse.BodyHandlers.discarding());
      Await.until(() -> heard(processes.get(2)).stream().anyMatch(l -> l.startsWith("events ") && l.contains("\"circuit\"")),
          Duration.ofSeconds(10), "the consumer has heard gateway 1's breaker open");

      Await.until(() -> heard("stranger", processes.get(3)).contains("joined"), STARTUP, "the stranger has joined and registered");
      int before = heard(processes.get(2)).size();
      // Ten stats intervals of each gateway after the stranger registered: the consumer hears them, the stranger none.
      Await.until(() -> heard(processes.get(2)).size() >= before + 20, Duration.ofSeconds(10),
          "the consumer has heard 20 more messages");
      assertEquals(List.of("joined"), heard("stranger", processes.get(3)), "an untrusted member hears nothing");
    } catch (AssertionError | Exception failure) {
      for (String name : List.of("gateway0", "gateway1", "consumer", "stranger")) {
        failure.addSuppressed(new AssertionError(name + " log:\n" + log(name)));
      }
      throw failure;
    } finally {
      for (Process p : processes) p.destroyForcibly();
      for (Process p : processes) p.waitFor(10, TimeUnit.SECONDS);
    }
  }

  /** Waits for the gateway's management port and returns its instance id from /admin/cache/stats. */
  private String awaitInstance(Process process, String name, int managementPort) throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    HttpRequest stats = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + managementPort + "/admin/cache/stats"))
        .header("Authorization", "Bearer " + ADMIN_TOKEN).timeout(Duration.ofSeconds(2)).build();
    String[] instance = new String[1];
    Await.until(() -> {
      if (!process.isAlive()) throw new AssertionError(name + " exited: " + log(name));
      HttpResponse<String> r = http.send(stats, HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) return false;
      instance[0] = new JsonObject(r.body()).getString("instance");
      return instance[0] != null;
    }, STARTUP, name + " has joined and serves /admin/cache/stats");
    return instance[0];
  }

  private Process java(String name, String main, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx128m", "-XX:TieredStopAtLevel=1", "-Dhazelcast.wait.seconds.before.join=1",
        "-cp", System.getProperty("java.class.path"), main));
    cmd.addAll(List.of(args));
    return new ProcessBuilder(cmd).redirectOutput(dir.resolve(name + ".out").toFile())
        .redirectError(dir.resolve(name + ".log").toFile()).start();
  }

  private List<String> heard(Process consumer) throws Exception {
    return heard("consumer", consumer);
  }

  private List<String> heard(String name, Process consumer) throws Exception {
    List<String> lines = Files.readAllLines(dir.resolve(name + ".out"));
    if (!consumer.isAlive()) throw new AssertionError(name + " exited: " + lines + "\n" + log(name));
    return lines;
  }

  private String log(String name) throws Exception {
    Path file = dir.resolve(name + ".log");
    return Files.exists(file) ? Files.readString(file) : "";
  }

  /**
   * Starts the JDK's keytool on a self-signed ECDSA certificate for 127.0.0.1 without extended key usage (so it serves
   * as TLS server and client alike); {@link #pemFiles} waits for it.
   */
  private Process keytool(String name) throws Exception {
    String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
    return new ProcessBuilder(keytool, "-genkeypair", "-alias", name, "-keyalg", "EC", "-groupname", "secp256r1",
        "-dname", "CN=tollgate-" + name, "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-validity", "2",
        "-keystore", dir.resolve(name + ".p12").toString(), "-storetype", "PKCS12", "-storepass", "changeit",
        "-keypass", "changeit", "-J-XX:TieredStopAtLevel=1").redirectErrorStream(true).start();
  }

  /** Waits for {@code keytool} and writes what it made as a PEM certificate and a PKCS#8 PEM key. */
  private void pemFiles(String name, Process keytool, Path certFile, Path keyFile) throws Exception {
    String output = new String(keytool.getInputStream().readAllBytes());
    assertTrue(keytool.waitFor(60, TimeUnit.SECONDS), "keytool finished");
    assertEquals(0, keytool.exitValue(), output);
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try (FileInputStream in = new FileInputStream(dir.resolve(name + ".p12").toFile())) {
      ks.load(in, "changeit".toCharArray());
    }
    Key key = ks.getKey(name, "changeit".toCharArray());
    Files.writeString(certFile, pem("CERTIFICATE", ks.getCertificate(name).getEncoded()));
    Files.writeString(keyFile, pem("PRIVATE KEY", key.getEncoded()));
  }

  private static String pem(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
        + "\n-----END " + type + "-----\n";
  }
}
