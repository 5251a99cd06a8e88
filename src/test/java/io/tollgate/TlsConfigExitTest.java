package io.tollgate;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A bad {@code server.tls} section stops start-up with exit 2 and a line naming the key, before anything listens. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class TlsConfigExitTest {
  @TempDir Path dir;

  String run(String yaml, int expectedCode) throws Exception {
    return CommandRun.withConfig(dir, yaml, expectedCode);
  }

  @Test
  void tls_enabled_without_files_or_self_signed_exits_2_naming_certFile() throws Exception {
    String err = run("server:\n  tls:\n    enabled: true\n", 2);
    assertTrue(err.contains("config error: server.tls.certFile: got nothing, expected a PEM certificate file (with keyFile), or selfSigned: true"), err);
  }

  @Test
  void files_and_self_signed_together_exit_2_naming_selfSigned() throws Exception {
    String err = run("server:\n  tls:\n    enabled: true\n    selfSigned: true\n    certFile: c.pem\n    keyFile: k.pem\n", 2);
    assertTrue(err.contains("config error: server.tls.selfSigned"), err);
  }

  @Test
  void a_missing_certificate_file_exits_2_naming_certFile_before_anything_listens() throws Exception {
    Path missing = dir.resolve("nowhere/cert.pem");
    String err = run("server:\n  tls:\n    enabled: true\n    certFile: " + missing + "\n    keyFile: " + dir.resolve("key.pem") + "\n", 2);
    assertTrue(err.contains("config error: server.tls.certFile: got '" + missing + "', expected a readable PEM certificate file"), err);
  }
}
