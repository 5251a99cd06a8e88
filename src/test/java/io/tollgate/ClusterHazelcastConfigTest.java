package io.tollgate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import io.tollgate.config.ClusterOptions;
import io.vertx.core.eventbus.EventBusOptions;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import java.util.List;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** What a member is configured with, read from the objects {@link Cluster} builds (nothing joins). */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ClusterHazelcastConfigTest {
  final ClusterOptions options = new ClusterOptions().setEnabled(true).setPort(5801).setEventBusPort(5802)
      .setMembers(List.of("10.0.0.11:5801", "10.0.0.12:5801")).setClusterName("fleet")
      .setCertFile("m.pem").setKeyFile("m.key").setTrustFile("ca.pem");

  @Test
  void hazelcast_joins_by_tcp_ip_on_the_members_only_with_every_discovery_and_phone_home_off() {
    Config config = Cluster.hazelcast(options, "10.0.0.11");
    JoinConfig join = config.getNetworkConfig().getJoin();
    assertEquals("fleet", config.getClusterName());
    assertTrue(join.getTcpIpConfig().isEnabled());
    assertEquals(List.of("10.0.0.11:5801", "10.0.0.12:5801"), join.getTcpIpConfig().getMembers());
    assertFalse(join.getMulticastConfig().isEnabled(), "no multicast");
    assertFalse(join.getAutoDetectionConfig().isEnabled(), "no auto-detection");
    assertFalse(join.getAwsConfig().isEnabled() || join.getGcpConfig().isEnabled() || join.getAzureConfig().isEnabled()
        || join.getKubernetesConfig().isEnabled() || join.getEurekaConfig().isEnabled(), "no cloud discovery");
    assertEquals("false", config.getProperty("hazelcast.phone.home.enabled"));
    assertEquals("slf4j", config.getProperty("hazelcast.logging.type"));
    assertEquals(5801, config.getNetworkConfig().getPort());
    assertFalse(config.getNetworkConfig().isPortAutoIncrement(), "the port others list is the port it binds");
    assertEquals(List.of("10.0.0.11"), List.copyOf(config.getNetworkConfig().getInterfaces().getInterfaces()));
    assertEquals("false", config.getProperty("hazelcast.socket.bind.any"), "bound to its own address only");
  }

  @Test
  void the_event_bus_speaks_mutual_tls_checking_the_peer_both_ways() {
    EventBusOptions eb = Cluster.eventBus(options, "10.0.0.11");
    assertEquals("10.0.0.11", eb.getHost());
    assertEquals(5802, eb.getPort());
    assertTrue(eb.isSsl());
    assertFalse(eb.isTrustAll(), "the connecting side checks the listener's certificate");
    assertEquals(ClientAuth.REQUIRED, eb.getClientAuth(), "the listener requires the connecting side's certificate");
    assertEquals(List.of("m.pem"), ((PemKeyCertOptions) eb.getKeyCertOptions()).getCertPaths());
    assertEquals(List.of("m.key"), ((PemKeyCertOptions) eb.getKeyCertOptions()).getKeyPaths());
    assertEquals(List.of("ca.pem"), ((PemTrustOptions) eb.getTrustOptions()).getCertPaths());
  }

  @Test
  void insecure_means_plain_tcp_and_no_key_material() {
    EventBusOptions eb = Cluster.eventBus(new ClusterOptions().setEnabled(true).setInsecure(true), "127.0.0.1");
    assertFalse(eb.isSsl());
    assertNull(eb.getKeyCertOptions());
  }
}
