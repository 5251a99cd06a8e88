package io.tollgate.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.sim.Tokens;
import io.tollgate.testing.GatewayHarness;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * Read-after-write on the writing instance, with Redis: a read that began after a write was acknowledged never
 * shows the data from before that write. The chaos soak's focused repro, over real HTTP against the simulator:
 * one gateway on a real Redis, one writer PATCHing a group's displayName with a rising number (one write at a
 * time), readers GETting the group concurrently. Each read notes the last acknowledged number before it is sent
 * and must see at least that number.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ReadAfterAcknowledgedWriteTest {
  static final String GROUP = "/v1.0/groups/g1";
  static final Pattern NUMBER = Pattern.compile("race #(\\d+)");
  static final int READERS = 8;
  static final Duration RUN = Duration.ofSeconds(4);

  GatewayHarness harness;

  @BeforeEach
  void start() {
    harness = GatewayHarness.builder().redis().start();
  }

  @AfterEach
  void stop() {
    harness.close();
  }

  static String token(String app) {
    return Tokens.issue(new JsonObject().put("tid", "race-tenant").put("appid", app).put("oid", "oid-" + app)
        .put("idtyp", "app").put("exp", System.currentTimeMillis() / 1000 + 3600));
  }

  @Test
  void a_read_that_began_after_a_write_was_acknowledged_never_shows_an_older_number() throws Exception {
    String writer = token("writer");
    String reader = token("reader");
    // Both tokens verified first, so reads and writes run concurrently from the start.
    assertEquals(200, harness.getAs(writer, GROUP).statusCode());
    assertEquals(200, harness.getAs(reader, GROUP).statusCode());

    AtomicLong acked = new AtomicLong();
    LongAdder reads = new LongAdder();
    List<String> stale = new CopyOnWriteArrayList<>();
    long until = System.nanoTime() + RUN.toNanos();
    ExecutorService pool = Executors.newFixedThreadPool(READERS + 1);
    try {
      Future<?> writes = pool.submit(() -> {
        for (long n = 1; System.nanoTime() < until; n++) {
          HttpResponse<String> w = harness.http().send(HttpRequest.newBuilder(URI.create(harness.proxy() + GROUP))
              .timeout(Duration.ofSeconds(10)).header("Authorization", writer).header("Content-Type", "application/json")
              .method("PATCH", HttpRequest.BodyPublishers.ofString(new JsonObject().put("displayName", "race #" + n).encode()))
              .build(), HttpResponse.BodyHandlers.ofString());
          assertEquals(2, w.statusCode() / 100, w.body());
          acked.set(n);
        }
        return null;
      });
      List<Future<?>> readers = new CopyOnWriteArrayList<>();
      for (int i = 0; i < READERS; i++) {
        readers.add(pool.submit(() -> {
          while (System.nanoTime() < until) {
            long bound = acked.get();
            HttpResponse<String> r = harness.getAs(reader, GROUP);
            assertEquals(200, r.statusCode(), r.body());
            reads.increment();
            Matcher m = NUMBER.matcher(String.valueOf(new JsonObject(r.body()).getString("displayName")));
            long seen = m.find() ? Long.parseLong(m.group(1)) : 0;
            if (seen < bound) {
              stale.add("#" + seen + " after #" + bound + " was acknowledged (X-Cache " + GatewayHarness.xCache(r)
                  + ", Age " + r.headers().firstValue("Age").orElse("-") + ")");
            }
          }
          return null;
        }));
      }
      writes.get(RUN.toSeconds() + 30, TimeUnit.SECONDS);
      for (Future<?> f : readers) f.get(RUN.toSeconds() + 30, TimeUnit.SECONDS);
    } finally {
      pool.shutdownNow();
    }
    assertTrue(acked.get() > 50, "writes were acknowledged: " + acked.get());
    assertTrue(stale.isEmpty(), stale.size() + " of " + reads.sum() + " reads showed an older number than the last "
        + "acknowledged write, e.g. " + stale.subList(0, Math.min(5, stale.size()))
        + (stale.size() > 5 ? " ... " + stale.subList(Math.max(5, stale.size() - 5), stale.size()) : ""));
  }
}
