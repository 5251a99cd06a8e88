package io.tollgate.cache;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Sends the L2 reads that one event loop starts in one turn as one pipelined batch: a connection checkout and a
 * socket write for all of them instead of one each (and one read for Redis, which shares the gateway's core in the
 * pinned bench). The batch leaves when the event loop has handled the I/O that started the reads, so no read waits
 * for a timer. Off an event loop, a read goes alone.
 */
final class ReadBatcher {
  private final Function<Request, Future<Response>> single;
  private final Function<List<Request>, Future<List<Response>>> batch;
  /** Reads started on this thread's event loop in the current turn; each event loop fills and sends only its own. */
  private final ThreadLocal<Turn> turns = ThreadLocal.withInitial(Turn::new);

  ReadBatcher(Function<Request, Future<Response>> single, Function<List<Request>, Future<List<Response>>> batch) {
    this.single = single;
    this.batch = batch;
  }

  Future<Response> read(Request request) {
    Context context = Vertx.currentContext();
    if (context == null || !context.isEventLoopContext()) return single.apply(request);
    Turn turn = turns.get();
    Promise<Response> answer = Promise.promise();
    if (turn.requests.isEmpty()) context.runOnContext(v -> send(turn));
    turn.requests.add(request);
    turn.answers.add(answer);
    return answer.future();
  }

  private void send(Turn turn) {
    List<Request> requests = turn.requests;
    List<Promise<Response>> answers = turn.answers;
    turn.requests = new ArrayList<>();
    turn.answers = new ArrayList<>();
    if (requests.size() == 1) {
      single.apply(requests.get(0)).onComplete(answers.get(0));
      return;
    }
    batch.apply(requests).onComplete(sent -> {
      for (int i = 0; i < answers.size(); i++) {
        if (sent.failed()) answers.get(i).fail(sent.cause());
        else answers.get(i).complete(i < sent.result().size() ? sent.result().get(i) : null);
      }
    });
  }

  private static final class Turn {
    List<Request> requests = new ArrayList<>();
    List<Promise<Response>> answers = new ArrayList<>();
  }
}
