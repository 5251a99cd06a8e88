package io.tollgate;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** One run of the command line in this JVM, as a user meets it: its exit code and what it printed. */
record CommandRun(int code, String out, String err) {

  /** Runs {@code tollgate ARGS} with this environment; a gateway it started is closed before this returns. */
  static CommandRun of(Map<String, String> env, String... args) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    Tollgate t = new Tollgate(env, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    int code = t.run(args).await(30, TimeUnit.SECONDS);
    if (t.running.isDone()) t.running.get().close().await(30, TimeUnit.SECONDS);
    return new CommandRun(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  /**
   * Starts with {@code yaml} as the configuration file (in {@code dir}), free ports and an upstream nobody listens
   * on; asserts the exit code and returns what went to stderr.
   */
  static String withConfig(Path dir, String yaml, int expectedCode) throws Exception {
    Path file = Files.writeString(dir.resolve("tollgate.yaml"), yaml);
    CommandRun r = of(Map.of(), "--config", file.toString(), "--port", "0", "--management-port", "0",
        "--upstream", "http://127.0.0.1:1");
    assertEquals(expectedCode, r.code(), r.err());
    return r.err();
  }
}
