package io.tollgate;

import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.MultiMapConfig;
import com.hazelcast.config.NetworkConfig;
import io.tollgate.config.ClusterOptions;
import io.tollgate.config.ConfigException;
import io.tollgate.config.ConfigProblem;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxBuilder;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.EventBusOptions;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The clustered event bus (SPEC §4, {@code cluster} section): a Vert.x instance that joins a Hazelcast cluster so
 * {@code tollgate.cache.stats} and {@code tollgate.events} reach consumers in other processes and on other machines.
 *
 * <p>Design note. Only statistics and events are meant to cross: the cache API ({@code tollgate.cache}) is a local
 * consumer, which the cluster never learns of, so a peer's request to it finds no handler. Invalidation keeps its one
 * channel, Redis. Hazelcast is configured in code, not from a {@code cluster.xml} on the class path: TCP/IP join on
 * the configured members only (multicast, auto-detection and cloud discovery off), a fixed member port, no
 * phone-home, logging through SLF4J. Messages travel on Vert.x's own event-bus connections, with mutual TLS unless
 * {@code cluster.insecure}: each member presents its certificate and accepts only peers whose certificate chains to
 * the trust file (no host-name check: Vert.x connects to announced addresses, and trust is the private CA's). The
 * same {@link #join} serves a consumer that is not a gateway: it joins with the same options (its own certificate,
 * the same trust), registers its consumers and receives what the gateways publish.
 *
 * <p>Called from a plain start-up thread, never an event loop: it reads files and may resolve a host name.
 */
public final class Cluster {
  private static final Logger LOG = LoggerFactory.getLogger(Cluster.class);

  private Cluster() {}

  /**
   * Builds the clustered Vert.x: checks the TLS files and the host first (a {@link ConfigException} naming the key,
   * exit 2), then joins. The future completes once this member has joined and its event bus listens.
   *
   * @param builder a builder already given its metrics; its options are replaced by {@code vertxOptions} with the
   *     event bus set up for the cluster
   */
  public static Future<Vertx> join(VertxBuilder builder, VertxOptions vertxOptions, ClusterOptions options) {
    String address;
    try {
      address = check(options);
    } catch (ConfigException e) {
      return Future.failedFuture(e);
    }
    // Read before any configuration is: without it Hazelcast's first lines would go to java.util.logging.
    if (System.getProperty("hazelcast.logging.type") == null) System.setProperty("hazelcast.logging.type", "slf4j");
    VertxOptions clustered = new VertxOptions(vertxOptions).setEventBusOptions(eventBus(options, address));
    HazelcastClusterManager manager = new HazelcastClusterManager(hazelcast(options, address));
    LOG.info("cluster: joining '{}' as {}:{} (members {}), event bus {}", options.getClusterName(), address, options.getPort(),
        options.getMembers(), options.isInsecure() ? "without TLS" : "with mutual TLS");
    if (options.isInsecure()) {
      LOG.warn("cluster: cluster.insecure is true: statistics and events travel between members in plain TCP, and any "
          + "process that joins the cluster hears them");
    }
    return builder.with(clustered).withClusterManager(manager).buildClustered()
        .onSuccess(vertx -> LOG.info("cluster: joined '{}' as node {}; members now: {}", options.getClusterName(),
            manager.getNodeId(), manager.getNodes().size()));
  }

  /** This member's event bus: its address and port, and mutual TLS with the configured PEM files unless insecure. */
  static EventBusOptions eventBus(ClusterOptions options, String address) {
    EventBusOptions eb = new EventBusOptions().setHost(address).setPort(options.getEventBusPort());
    if (options.isInsecure()) return eb;
    return eb.setSsl(true)
        .setKeyCertOptions(new PemKeyCertOptions().setCertPath(options.getCertFile()).setKeyPath(options.getKeyFile()))
        .setTrustOptions(new PemTrustOptions().addCertPath(options.getTrustFile()))
        // Both directions check the peer: the listener requires a client certificate, and the connecting side, which
        // Vert.x lets trust every server by default on the event bus, checks the listener's against the trust file.
        .setTrustAll(false)
        .setClientAuth(ClientAuth.REQUIRED);
  }

  /**
   * The Hazelcast member configuration: TCP/IP join on {@code members}, every automatic discovery off, bound to
   * {@code address} only, on {@code port} without auto-increment.
   */
  static Config hazelcast(ClusterOptions options, String address) {
    Config config = new Config().setClusterName(options.getClusterName());
    config.setProperty("hazelcast.logging.type", "slf4j");
    config.setProperty("hazelcast.phone.home.enabled", "false");
    config.setProperty("hazelcast.socket.bind.any", "false");
    NetworkConfig network = config.getNetworkConfig().setPort(options.getPort()).setPortAutoIncrement(false);
    network.getInterfaces().setEnabled(true).setInterfaces(List.of(address));
    network.getRestApiConfig().setEnabled(false);
    JoinConfig join = network.getJoin();
    join.getMulticastConfig().setEnabled(false);
    join.getAutoDetectionConfig().setEnabled(false);
    join.getAwsConfig().setEnabled(false);
    join.getGcpConfig().setEnabled(false);
    join.getAzureConfig().setEnabled(false);
    join.getKubernetesConfig().setEnabled(false);
    join.getEurekaConfig().setEnabled(false);
    join.getTcpIpConfig().setEnabled(true).setMembers(new ArrayList<>(options.getMembers()));
    config.getJetConfig().setEnabled(false);
    // As vertx-hazelcast's own default-cluster.xml: the subscription table holds sets (one entry per registration).
    config.addMultiMapConfig(new MultiMapConfig("__vertx.subs").setBackupCount(1)
        .setValueCollectionType(MultiMapConfig.ValueCollectionType.SET));
    return config;
  }

  /**
   * Checks what the options cannot check while the configuration is read: the TLS files are readable PEM, and the
   * host resolves to an address of this machine's.
   *
   * @return the IP address to bind and announce
   * @throws ConfigException naming each key at fault
   */
  static String check(ClusterOptions options) {
    List<ConfigProblem> problems = new ArrayList<>();
    if (!options.isInsecure()) {
      pem("cluster.certFile", options.getCertFile(), "CERTIFICATE", problems);
      pem("cluster.keyFile", options.getKeyFile(), "PRIVATE KEY", problems);
      pem("cluster.trustFile", options.getTrustFile(), "CERTIFICATE", problems);
    }
    String address = null;
    try {
      InetAddress resolved = InetAddress.getByName(options.getHost());
      address = resolved.getHostAddress();
      if (!resolved.isLoopbackAddress() && java.net.NetworkInterface.getByInetAddress(resolved) == null) {
        problems.add(new ConfigProblem("cluster.host", options.getHost(), "an address of this machine's (" + address + " is not)"));
      }
    } catch (UnknownHostException e) {
      problems.add(new ConfigProblem("cluster.host", options.getHost(), "an IP address or a host name that resolves"));
    } catch (java.net.SocketException e) {
      LOG.debug("cluster: could not list network interfaces to check cluster.host", e);
    }
    if (!problems.isEmpty()) throw new ConfigException(problems);
    return address;
  }

  private static void pem(String key, String file, String type, List<ConfigProblem> problems) {
    String text;
    try {
      text = Files.readString(Path.of(file), StandardCharsets.ISO_8859_1);
    } catch (IOException | RuntimeException e) {
      problems.add(new ConfigProblem(key, file, "a readable PEM file"));
      return;
    }
    if (!text.contains("-----BEGIN ") || !text.contains(type + "-----")) {
      problems.add(new ConfigProblem(key, file, "a PEM file with a " + type + " block"));
    }
  }
}
