package io.tollgate.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import io.vertx.redis.client.impl.types.BulkType;
import io.vertx.core.buffer.Buffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class ReadBatcherTest {
  private final Vertx vertx = Vertx.vertx();
  private final List<Integer> sent = new ArrayList<>();
  /** Answers each request with its own key, so a test can tell which answer went to which read. */
  private final ReadBatcher batcher = new ReadBatcher(
      one -> { sent.add(1); return Future.succeededFuture(echo(one)); },
      many -> { sent.add(many.size()); return Future.succeededFuture(many.stream().map(ReadBatcherTest::echo).toList()); });

  @AfterEach
  void close() {
    vertx.close().await();
  }

  @Test
  void reads_started_in_one_event_loop_turn_leave_in_one_batch_and_each_gets_its_own_answer() throws Exception {
    CompletableFuture<List<String>> answers = new CompletableFuture<>();
    vertx.runOnContext(v -> {
      List<Future<Response>> reads = new ArrayList<>();
      for (int i = 0; i < 5; i++) reads.add(batcher.read(Request.cmd(Command.GET).arg("k" + i)));
      Future.all(reads).onComplete(all -> answers.complete(reads.stream().map(r -> r.result().toString()).toList()));
    });
    assertEquals(List.of("k0", "k1", "k2", "k3", "k4"), answers.get(10, TimeUnit.SECONDS));
    assertEquals(List.of(5), sent, "one batch of five, not five sends");
  }

  @Test
  void reads_of_later_turns_go_in_later_batches() throws Exception {
    CompletableFuture<String> last = new CompletableFuture<>();
    vertx.runOnContext(v -> batcher.read(Request.cmd(Command.GET).arg("a")).onSuccess(first ->
        vertx.runOnContext(w -> {
          batcher.read(Request.cmd(Command.GET).arg("b"));
          batcher.read(Request.cmd(Command.GET).arg("c")).onSuccess(r -> last.complete(r.toString()));
        })));
    assertEquals("c", last.get(10, TimeUnit.SECONDS));
    assertEquals(List.of(1, 2), sent, "a lone read goes as a single command; the next turn's two as one batch");
  }

  @Test
  void off_an_event_loop_a_read_goes_alone_at_once() {
    Future<Response> read = batcher.read(Request.cmd(Command.GET).arg("x"));
    assertTrue(read.succeeded(), "answered without waiting for a turn");
    assertEquals("x", read.result().toString());
    assertEquals(List.of(1), sent);
  }

  private static Response echo(Request request) {
    String[] resp = request.toString().split("\r\n");   // the request as RESP: its last line is the key
    String key = resp[resp.length - 1];
    return BulkType.create(Buffer.buffer(key), false);
  }
}
