package io.tollgate.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tollgate.testing.Await;
import io.tollgate.testing.GatewayHarness;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * Reads on the writing instance across a write: one that arrives after the write was answered is not handed
 * the answer of a read already on its way upstream before the write (coalescing joins only fetches that began
 * after the last invalidation of their path), and the answer of such an earlier read is never stored, however
 * many invalidations of other paths come between.
 *
 * <p>An upstream of the test's own: a read answers {@code {"version":n}}, n the writes it had seen when the
 * read arrived; the first read of the group is held until the test lets it go; a write answers 204.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ReadsAcrossAWriteTest {
  static final String ALICE = "Bearer alice-token";
  static final String GROUP = "/v1.0/groups/g2";

  final Vertx vertx = Vertx.vertx();
  final AtomicInteger writes = new AtomicInteger();
  final AtomicInteger groupReads = new AtomicInteger();
  final Promise<Void> release = Promise.promise();
  static final String ADMIN = "admin-token-0123456789";
  HttpServer upstream;
  GatewayHarness harness;

  @BeforeEach
  void start() throws Exception {
    upstream = vertx.createHttpServer().requestHandler(req -> {
      if (req.method() == HttpMethod.GET) {
        String body = new JsonObject().put("version", writes.get()).encode();
        boolean hold = req.path().equals(GROUP) && groupReads.incrementAndGet() == 1;
        (hold ? release.future() : io.vertx.core.Future.<Void>succeededFuture())
            .onComplete(v -> req.response().putHeader("Content-Type", "application/json").end(body));
      } else {
        req.body().onComplete(b -> {
          writes.incrementAndGet();
          req.response().setStatusCode(204).end();
        });
      }
    }).listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS);
    String origin = "http://127.0.0.1:" + upstream.actualPort();
    harness = GatewayHarness.builder().gateway(o -> {
      o.getUpstream().setUrl(origin);
      o.getManagement().setAdminToken(ADMIN);
    }).start();
  }

  @AfterEach
  void stop() throws Exception {
    vertx.runOnContext(v -> release.tryComplete());
    harness.close();
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  int version(HttpResponse<String> r) {
    assertEquals(200, r.statusCode(), r.body());
    return new JsonObject(r.body()).getInteger("version");
  }

  @Test
  void a_read_after_a_write_is_not_joined_to_a_fetch_that_began_before_it() throws Exception {
    // The caller's token is verified first, so that its reads and writes may be in flight together.
    assertEquals(200, harness.getAs(ALICE, "/v1.0/groups/g3").statusCode());
    CompletableFuture<HttpResponse<String>> before = harness.http().sendAsync(HttpRequest.newBuilder(URI.create(harness.proxy() + GROUP))
        .header("Authorization", ALICE).timeout(Duration.ofSeconds(20)).GET().build(), HttpResponse.BodyHandlers.ofString());
    Await.until(() -> groupReads.get() == 1, Duration.ofSeconds(5), "the first read is upstream");

    HttpResponse<String> write = harness.send("PATCH", GROUP, "Authorization", ALICE, "Content-Type", "application/json")
        .get(20, TimeUnit.SECONDS);
    assertEquals(204, write.statusCode(), write.body());

    long coalesced = harness.gateway().cache().stats().coalesced();
    CompletableFuture<HttpResponse<String>> after = harness.http().sendAsync(HttpRequest.newBuilder(URI.create(harness.proxy() + GROUP))
        .header("Authorization", ALICE).timeout(Duration.ofSeconds(20)).GET().build(), HttpResponse.BodyHandlers.ofString());
    Await.until(() -> after.isDone() || harness.gateway().cache().stats().coalesced() > coalesced, Duration.ofSeconds(5),
        "the later read is answered, or waits on the first");
    vertx.runOnContext(v -> release.tryComplete());

    assertEquals(1, version(after.get(20, TimeUnit.SECONDS)), "the read that came after the write shows it");
    assertEquals(0, version(before.get(20, TimeUnit.SECONDS)), "the read that came before may not");
    assertEquals(1, version(harness.getAs(ALICE, GROUP)), "and the older answer was not stored");
  }

  @Test
  void an_answer_fetched_before_a_write_is_not_stored_however_many_invalidations_follow() throws Exception {
    assertEquals(200, harness.getAs(ALICE, "/v1.0/groups/g3").statusCode());
    CompletableFuture<HttpResponse<String>> before = harness.http().sendAsync(HttpRequest.newBuilder(URI.create(harness.proxy() + GROUP))
        .header("Authorization", ALICE).timeout(Duration.ofSeconds(60)).GET().build(), HttpResponse.BodyHandlers.ofString());
    Await.until(() -> groupReads.get() == 1, Duration.ofSeconds(5), "the first read is upstream");
    HttpResponse<String> write = harness.send("PATCH", GROUP, "Authorization", ALICE, "Content-Type", "application/json")
        .get(20, TimeUnit.SECONDS);
    assertEquals(204, write.statusCode(), write.body());
    // Invalidations of other paths, more than the instance remembers one by one.
    String base = harness.management() + "/admin/cache/invalidate?pattern=/v1.0/users/x";
    for (int from = 0; from < 5000; from += 200) {
      java.util.List<CompletableFuture<HttpResponse<Void>>> sent = new java.util.ArrayList<>();
      for (int i = from; i < from + 200; i++) {
        sent.add(harness.http().sendAsync(HttpRequest.newBuilder(URI.create(base + i)).header("Authorization", "Bearer " + ADMIN)
            .timeout(Duration.ofSeconds(20)).POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.discarding()));
      }
      for (CompletableFuture<HttpResponse<Void>> r : sent) assertEquals(200, r.get(30, TimeUnit.SECONDS).statusCode());
    }
    vertx.runOnContext(v -> release.tryComplete());

    assertEquals(0, version(before.get(20, TimeUnit.SECONDS)), "the read that came before the write may show the old version");
    assertEquals(1, version(harness.getAs(ALICE, GROUP)), "but its answer is not kept: the next read shows the write");
  }
}
