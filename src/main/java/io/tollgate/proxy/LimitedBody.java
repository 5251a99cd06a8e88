package io.tollgate.proxy;

import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.streams.ReadStream;

/**
 * The client's body stream, counted as it flows; past the limit it stops and fails, so a chunked upload
 * without Content-Length cannot exceed {@code server.maxBodySize} either.
 */
final class LimitedBody implements ReadStream<Buffer> {
  private final ReadStream<Buffer> source;
  private final long limit;
  private long seen;
  private boolean exceeded;
  private Handler<Throwable> exceptionHandler;

  LimitedBody(ReadStream<Buffer> source, long limit) {
    this.source = source;
    this.limit = limit;
  }

  boolean exceeded() { return exceeded; }

  @Override
  public ReadStream<Buffer> exceptionHandler(Handler<Throwable> handler) {
    exceptionHandler = handler;
    source.exceptionHandler(handler);
    return this;
  }

  @Override
  public ReadStream<Buffer> handler(Handler<Buffer> handler) {
    if (handler == null) {
      source.handler(null);
      return this;
    }
    source.handler(chunk -> {
      if (exceeded) return;
      seen += chunk.length();
      if (seen > limit) {
        exceeded = true;
        source.handler(null);
        if (exceptionHandler != null) exceptionHandler.handle(GatewayException.BODY_TOO_LARGE);
        return;
      }
      handler.handle(chunk);
    });
    return this;
  }

  @Override public ReadStream<Buffer> pause() { source.pause(); return this; }
  @Override public ReadStream<Buffer> resume() { source.resume(); return this; }
  @Override public ReadStream<Buffer> fetch(long amount) { source.fetch(amount); return this; }
  @Override public ReadStream<Buffer> endHandler(Handler<Void> endHandler) { source.endHandler(endHandler); return this; }
}
