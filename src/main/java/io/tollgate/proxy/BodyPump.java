package io.tollgate.proxy;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpServerResponse;

/**
 * Writes a streaming answer that must be changed on its way out: each chunk through the reply's decoder (on the
 * worker pool) and then its transform (link rewriting, on the event loop). One per response, touched only on the
 * proxy verticle's event loop.
 *
 * <p>Chunks are chained: a chunk's work starts when the one before it is written, so decoded bytes keep their
 * order although decoding runs elsewhere. Back-pressure both ways: the upstream is paused while a chunk is being
 * worked on, and stays paused while the client's write queue is full.
 */
final class BodyPump {
  private final HttpClientResponse upstream;
  private final HttpServerResponse client;
  private final BodyTransform decoder;
  private final Offload decodeOn;
  private final BodyTransform transform;
  private final Promise<Void> done = Promise.promise();
  /** The last chunk's work; the next chunk's runs after it. */
  private Future<Void> tail = Future.succeededFuture();
  /** Chunks taken but not yet written; the upstream resumes when none is left. */
  private int working;

  BodyPump(Reply reply, HttpServerResponse client) {
    this.upstream = reply.stream();
    this.client = client;
    this.decoder = reply.decoder();
    this.decodeOn = reply.decodeOn();
    this.transform = reply.transform();
  }

  /** @return completes when the client's response has ended, fails when either side broke off */
  Future<Void> run(Buffer prefix) {
    if (prefix != null) take(prefix);
    upstream.handler(this::take);
    upstream.exceptionHandler(this::fail);
    upstream.endHandler(v -> {
      tail = tail.compose(ignored -> decoded(null)).map(this::end);
      tail.onFailure(this::fail);
    });
    upstream.resume();
    return done.future();
  }

  private void take(Buffer chunk) {
    if (client.closed()) {
      // The client is gone: stop reading rather than work for a closed response.
      upstream.handler(null);
      upstream.request().reset();
      done.tryFail("the client left");
      return;
    }
    upstream.pause();
    working++;
    tail = tail.compose(ignored -> decoded(chunk)).map(this::write);
    tail.onComplete(ar -> {
      if (ar.failed()) fail(ar.cause());
      else if (--working == 0) resumeWhenWritable();
    });
  }

  /** The chunk decoded (null: the decoder's held-back rest at the end); as it is without a decoder. */
  private Future<Buffer> decoded(Buffer chunk) {
    if (decoder == null) return Future.succeededFuture(chunk == null ? Buffer.buffer() : chunk);
    return decodeOn.run(() -> chunk == null ? decoder.finish() : decoder.feed(chunk));
  }

  private Void write(Buffer plain) {
    Buffer out = transform == null ? plain : transform.feed(plain);
    if (out.length() > 0 && !client.closed()) client.write(out);
    return null;
  }

  private Void end(Buffer rest) {
    Buffer out = transform == null ? rest : Buffer.buffer().appendBuffer(transform.feed(rest)).appendBuffer(transform.finish());
    if (client.closed()) done.tryFail("the client left");
    else client.end(out).onComplete(ar -> {
      if (ar.succeeded()) done.tryComplete();
      else done.tryFail(ar.cause());
    });
    return null;
  }

  private void resumeWhenWritable() {
    if (client.writeQueueFull()) client.drainHandler(v -> upstream.resume());
    else upstream.resume();
  }

  /** Either side broke off, or a chunk did not decode: the client must not take a cut body for a whole one. */
  private void fail(Throwable cause) {
    // Settled first: the resets below call back here with their own, less telling, failures.
    if (!done.tryFail(cause)) return;
    upstream.handler(null);
    upstream.request().reset();
    client.reset();
  }
}
