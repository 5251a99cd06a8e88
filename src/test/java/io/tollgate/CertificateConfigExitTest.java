package io.tollgate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.config.TollgateOptions;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Certificate credentials for the delta feed: exactly one credential, a readable valid PEM, or exit 2 naming the key. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class CertificateConfigExitTest {
  @TempDir Path dir;

  static String pem() throws Exception {
    try (var in = CertificateConfigExitTest.class.getResourceAsStream("/freshness/test-app.pem")) {
      return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
    }
  }

  static String delta(String credential) {
    return "freshness:\n  delta:\n    enabled: true\n    tenantId: contoso\n    clientId: app\n" + credential;
  }

  @Test
  void a_secret_and_a_certificate_together_exit_2_naming_the_key() throws Exception {
    Path file = Files.writeString(dir.resolve("app.pem"), pem());
    String err = CommandRun.withConfig(dir, delta("    clientSecret: s3cr3t\n    clientCertificateFile: " + file + "\n"), 2);
    assertTrue(err.contains("config error: freshness.delta.clientSecret: got '****', expected exactly one of clientSecret, "
        + "clientSecretEnv, clientCertificateFile or clientCertificateEnv"), err);
    assertFalse(err.contains("s3cr3t"), err);
    String none = CommandRun.withConfig(dir, delta(""), 2);
    assertTrue(none.contains("config error: freshness.delta.clientSecret: got nothing, expected exactly one of"), none);
    String both = CommandRun.withConfig(dir, delta("    clientCertificateFile: " + file + "\n    clientCertificateEnv: APP_PEM\n"), 2);
    assertTrue(both.contains("config error: freshness.delta.clientCertificateFile"), both);
  }

  @Test
  void a_missing_or_invalid_pem_file_exits_2_naming_clientCertificateFile_without_the_key() throws Exception {
    Path missing = dir.resolve("nowhere/app.pem");
    String err = CommandRun.withConfig(dir, delta("    clientCertificateFile: " + missing + "\n"), 2);
    assertTrue(err.contains("config error: freshness.delta.clientCertificateFile: got '" + missing
        + "', expected a readable PEM file with a PKCS#8 private key and its X.509 certificate"), err);
    String pem = pem();
    String keyOnly = pem.substring(0, pem.indexOf("-----BEGIN CERTIFICATE-----"));
    Path noCert = Files.writeString(dir.resolve("key-only.pem"), keyOnly);
    err = CommandRun.withConfig(dir, delta("    clientCertificateFile: " + noCert + "\n"), 2);
    assertTrue(err.contains("config error: freshness.delta.clientCertificateFile: got '" + noCert + "'"), err);
    assertTrue(err.contains("no BEGIN CERTIFICATE block"), err);
    String keyLine = keyOnly.substring(keyOnly.indexOf("-----BEGIN PRIVATE KEY-----") + 28).substring(0, 40);
    assertFalse(err.contains(keyLine), err);
    Path corrupt = Files.writeString(dir.resolve("corrupt.pem"), pem.replace(keyLine, keyLine.substring(0, 20) + "AAAAAAAAAAAAAAAAAAAA"));
    err = CommandRun.withConfig(dir, delta("    clientCertificateFile: " + corrupt + "\n"), 2);
    assertTrue(err.contains("config error: freshness.delta.clientCertificateFile"), err);
  }

  @Test
  void the_certificate_may_come_from_the_environment_and_an_unset_variable_exits_2_naming_clientCertificateEnv() throws Exception {
    Path file = Files.writeString(dir.resolve("tollgate.yaml"), delta("    clientCertificateEnv: APP_PEM\n"));
    CommandRun r = CommandRun.of(Map.of(), "--config", file.toString(), "--port", "0", "--management-port", "0",
        "--upstream", "http://127.0.0.1:1");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("config error: freshness.delta.clientCertificateEnv: got 'APP_PEM'"), r.err());
    CommandRun bad = CommandRun.of(Map.of("APP_PEM", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        "--config", file.toString(), "--port", "0", "--management-port", "0", "--upstream", "http://127.0.0.1:1");
    assertEquals(2, bad.code(), bad.err());
    assertTrue(bad.err().contains("config error: freshness.delta.clientCertificateEnv"), bad.err());

    TollgateOptions o = TollgateOptions.fromJson(new JsonObject().put("freshness", new JsonObject().put("delta", new JsonObject()
        .put("enabled", true).put("tenantId", "t").put("clientId", "app").put("clientCertificateEnv", "APP_PEM"))), Map.of("APP_PEM", pem()));
    var certificate = o.getFreshness().getDelta().getClientCertificate();
    assertEquals(certificate.x5t(), o.toJson().getJsonObject("freshness").getJsonObject("delta").getString("clientCertificateThumbprint"));
    assertFalse(o.toJson().encode().contains("PRIVATE"), "the key is never shown");
  }

  @Test
  void the_simulator_command_exits_2_on_an_unreadable_client_certificate() throws Exception {
    Path missing = dir.resolve("nowhere.pem");
    CommandRun r = CommandRun.of(Map.of(), "simulate", "--port", "0", "--client-certificate", missing.toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("config error: --client-certificate: got '" + missing + "'"), r.err());
  }
}
