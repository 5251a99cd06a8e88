package io.tollgate.proxy;

import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.streams.ReadStream;

/**
 * The one place a body is read into memory, always under a byte cap: bodies stream unless a stage must
 * hold one (to cache it, to split a {@code $batch}), and then never without a bound.
 */
public final class BodyBuffer {
  private BodyBuffer() {}

  /**
   * Reads a whole stream, failing with {@code tooLarge} once it passes {@code capBytes} (the rest is not read).
   * The stream must be paused or not yet flowing; it is resumed here.
   */
  public static Future<Buffer> read(ReadStream<Buffer> stream, long capBytes, GatewayException tooLarge) {
    Promise<Buffer> done = Promise.promise();
    Buffer acc = Buffer.buffer();
    stream.exceptionHandler(done::tryFail);
    stream.handler(chunk -> {
      if (done.future().isComplete()) return;
      acc.appendBuffer(chunk);
      if (acc.length() > capBytes) {
        stream.handler(null);
        done.tryFail(tooLarge);
      }
    });
    stream.endHandler(v -> done.tryComplete(acc));
    stream.resume();
    return done.future();
  }

  /**
   * Buffers a streaming answer up to {@code capBytes}, counting the bytes an earlier stage already read
   * ({@link Reply#prefix()}).
   *
   * @return the answer with its whole body buffered (and {@code Content-Length} dropped, the body now being
   *     known), or, when the body is larger, a streaming answer whose bytes read so far go first
   *     ({@link Reply#prefix()}); an already buffered answer as it is
   */
  public static Future<Reply> upTo(Reply reply, long capBytes) {
    if (!reply.isStreaming()) return Future.succeededFuture(reply);
    HttpClientResponse stream = reply.stream();
    String length = reply.headers().get("content-length");
    long announced = parseLength(length);
    Buffer read = reply.prefix();
    if (announced > capBytes || (read != null && read.length() > capBytes)) return Future.succeededFuture(reply);
    Promise<Reply> done = Promise.promise();
    Buffer acc = Buffer.buffer(length == null ? 4096 : (int) Math.max(0, announced));
    if (read != null) acc.appendBuffer(read);
    stream.exceptionHandler(done::tryFail);
    stream.handler(chunk -> {
      acc.appendBuffer(chunk);
      if (acc.length() > capBytes) {
        stream.pause();
        stream.handler(null);
        stream.endHandler(null);
        done.tryComplete(Reply.prefixed(reply, acc));
      }
    });
    stream.endHandler(v -> {
      MultiMap headers = reply.headers();
      headers.remove("content-length");
      done.tryComplete(Reply.buffered(reply.status(), headers, acc).cacheStatus(reply.cacheStatus()));
    });
    stream.resume();
    return done.future();
  }

  private static long parseLength(String n) {
    if (n == null) return -1;
    try {
      return Long.parseLong(n.trim());
    } catch (NumberFormatException e) {
      return Long.MAX_VALUE;
    }
  }
}
