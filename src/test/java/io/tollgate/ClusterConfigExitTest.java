package io.tollgate;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A bad {@code cluster} section stops start-up with exit 2 and a line naming the key, before anything joins or listens. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ClusterConfigExitTest {
  @TempDir Path dir;

  String run(String yaml) throws Exception {
    return CommandRun.withConfig(dir, yaml, 2);
  }

  @Test
  void clustering_without_tls_files_or_insecure_exits_2_naming_each_file() throws Exception {
    String err = run("cluster:\n  enabled: true\n");
    assertTrue(err.contains("config error: cluster.certFile: got nothing, expected a PEM certificate file for TLS between members"
        + " (with keyFile and trustFile), or insecure: true, when cluster.enabled"), err);
    assertTrue(err.contains("config error: cluster.keyFile: got nothing"), err);
    assertTrue(err.contains("config error: cluster.trustFile: got nothing"), err);
  }

  @Test
  void insecure_with_tls_files_exits_2_naming_insecure() throws Exception {
    String err = run("cluster:\n  enabled: true\n  insecure: true\n  certFile: c.pem\n");
    assertTrue(err.contains("config error: cluster.insecure: got true, expected false when certFile, keyFile or trustFile are set"), err);
  }

  @Test
  void bad_members_ports_and_names_exit_2_naming_each_key_even_when_clustering_is_off() throws Exception {
    String err = run("cluster:\n  members: [10.0.0.1:5701, 'nohost', '10.0.0.2:99999']\n  port: 0\n  clusterName: 'a b'\n"
        + "  host: 0.0.0.0\n  eventBusPort: -1\n  multicast: true\n");
    assertTrue(err.contains("config error: cluster.members[1]: got 'nohost', expected host:port"), err);
    assertTrue(err.contains("config error: cluster.members[2]: got '10.0.0.2:99999', expected host:port"), err);
    assertTrue(!err.contains("cluster.members[0]"), err);
    assertTrue(err.contains("config error: cluster.port: got 0, expected an integer between 1 and 65535"), err);
    assertTrue(err.contains("config error: cluster.eventBusPort: got -1"), err);
    assertTrue(err.contains("config error: cluster.clusterName: got 'a b'"), err);
    assertTrue(err.contains("config error: cluster.host: got '0.0.0.0'"), err);
    assertTrue(err.contains("config error: cluster.multicast: got true, expected a known key"), err);
  }

  @Test
  void an_unreadable_or_non_pem_file_exits_2_naming_its_key_before_joining() throws Exception {
    Path missing = dir.resolve("nowhere/member.pem");
    Path notPem = Files.writeString(dir.resolve("key.txt"), "not a key");
    Path cert = Files.writeString(dir.resolve("ca.pem"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    String err = run("cluster:\n  enabled: true\n  certFile: " + missing + "\n  keyFile: " + notPem + "\n  trustFile: " + cert + "\n");
    assertTrue(err.contains("config error: cluster.certFile: got '" + missing + "', expected a readable PEM file"), err);
    assertTrue(err.contains("config error: cluster.keyFile: got '" + notPem + "', expected a PEM file with a PRIVATE KEY block"), err);
    assertTrue(!err.contains("cluster.trustFile"), err);
  }

  @Test
  void a_host_that_is_not_this_machines_exits_2_naming_host() throws Exception {
    String err = run("cluster:\n  enabled: true\n  insecure: true\n  host: 192.0.2.1\n");
    assertTrue(err.contains("config error: cluster.host: got '192.0.2.1', expected an address of this machine's"), err);
  }
}
