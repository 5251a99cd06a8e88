package io.tollgate.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.sim.SimulatorOptions;
import io.tollgate.sim.Tokens;
import io.tollgate.testing.Await;
import io.tollgate.testing.GatewayHarness;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The access log over real HTTP: one line per request, what an operator needs, nothing that identifies a person. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class AccessLogTest {
  GatewayHarness harness;
  @TempDir Path dir;

  @AfterEach
  void stop() {
    if (harness != null) harness.close();
  }

  List<String> lines(Path file, int atLeast) throws Exception {
    Await.until(() -> Files.exists(file) && Files.readAllLines(file).size() >= atLeast, Duration.ofSeconds(10), "access log lines");
    return Files.readAllLines(file);
  }

  @Test
  void each_request_gets_one_json_line_without_its_token_or_query_values() throws Exception {
    Path file = dir.resolve("access.log");
    harness = GatewayHarness.builder().simulator(new SimulatorOptions())
        .gateway(o -> o.getAccessLog().setDestination("file").setPath(file.toString()).setFormat("json")).start();
    String token = Tokens.issue(new JsonObject().put("tid", "t1").put("appid", "a1"));
    String filter = "/v1.0/users?$filter=" + java.net.URLEncoder.encode("mail eq 'alice@contoso.com'", "UTF-8") + "&$top=5";
    assertEquals(200, harness.getAs(token, "/v1.0/users/u1").statusCode());
    assertEquals(200, harness.getAs(token, "/v1.0/users/u1").statusCode());
    harness.getAs(token, filter);
    assertEquals(400, harness.get("/v1.0/users/%2e%2e/u1").statusCode());

    List<String> lines = lines(file, 4);
    assertEquals(4, lines.size(), String.join("\n", lines));
    String all = String.join("\n", lines);
    assertFalse(all.contains(token.substring(7, 40)), "no token");
    assertFalse(all.contains("alice"), "no query values");
    assertFalse(all.contains("/v1.0/users/u1"), "no path unless configured");
    JsonObject miss = new JsonObject(lines.get(0));
    JsonObject hit = new JsonObject(lines.get(1));
    JsonObject query = new JsonObject(lines.get(2));
    JsonObject bad = new JsonObject(lines.get(3));
    assertEquals("GET", miss.getString("method"));
    assertEquals(200, miss.getInteger("status"));
    assertEquals("MISS", miss.getString("cache"));
    assertEquals(200, miss.getInteger("upstreamStatus"), "the upstream's own status");
    assertTrue(miss.getDouble("upstreamMs") >= 0);
    assertTrue(miss.getLong("bytesOut") > 0);
    assertEquals(8, miss.getString("caller").length(), "the caller's short form");
    assertEquals("interactive", miss.getString("lane"));
    assertEquals("HIT-L1", hit.getString("cache"));
    assertNull(hit.getValue("upstreamStatus"), "a hit made no upstream call");
    assertEquals(List.of("$filter", "$top"), query.getJsonArray("query").getList());
    assertEquals(400, bad.getInteger("status"));
    assertFalse(miss.getString("requestId").equals(hit.getString("requestId")));
  }

  /** Sends {@code n} reads through the gateway; true, to chain in a condition. */
  boolean traffic(String token, int n) throws Exception {
    for (int i = 0; i < n; i++) harness.getAs(token, "/v1.0/users/u1");
    return true;
  }

  @Test
  void the_text_file_rolls_over_by_size_and_keeps_max_files() throws Exception {
    Path file = dir.resolve("access.log");
    harness = GatewayHarness.builder().simulator(new SimulatorOptions())
        .gateway(o -> o.getAccessLog().setDestination("file").setPath(file.toString()).setMaxFileSize(1024).setMaxFiles(2)
            .setPaths(true)).start();
    String token = Tokens.issue(new JsonObject().put("tid", "t1").put("appid", "a1"));
    Path one = dir.resolve("access.log.1");
    Path two = dir.resolve("access.log.2");
    // The size is looked at every 250 ms at most: keep requests coming until the file has rolled twice, then once more.
    Await.until(() -> traffic(token, 5) && Files.exists(two), Duration.ofSeconds(20), "two rollovers");
    String oldest = Files.readAllLines(two).get(0);
    Await.until(() -> traffic(token, 5) && !Files.readAllLines(two).get(0).equals(oldest), Duration.ofSeconds(20),
        "a third rollover");
    assertFalse(Files.exists(dir.resolve("access.log.3")), "at most maxFiles rolled-over files");
    String first = Files.readAllLines(one).get(0);
    assertTrue(first.matches("\\S+Z \\S+ GET /v1\\.0/users/u1 route=\\S+ query= status=200 cache=(MISS|HIT-L1) .* lane=interactive"), first);
  }
}
