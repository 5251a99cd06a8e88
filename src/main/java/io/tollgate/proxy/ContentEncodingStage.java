package io.tollgate.proxy;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import java.util.function.BiPredicate;

/**
 * Content coding on the way back (SPEC §2). Every upstream call asks for gzip ({@link Forwarder}): the upstream
 * is remote, and its bytes cost more than the CPU to decode them. A gzip answer then leaves this stage either
 * <ul>
 *   <li>untouched, when the client accepts gzip and nothing on the way out reads the body (writes, errors, binary
 *       content): no CPU spent, fewest bytes; or</li>
 *   <li>decoded on the worker pool, when the client did not accept gzip or a stage outside this one reads the
 *       body ({@code readsBody}: paging links to rewrite). A buffered body decodes in one task, a stream chunk by
 *       chunk as it is written ({@link Reply#decoded}, {@link BodyPump}).</li>
 * </ul>
 * Bodies that stages further in must read (to store them, to split a {@code $batch}) are decoded there, so cache
 * hits and {@code $batch} answers arrive here as identity and pass at no cost. Sits just inside the link rewriter.
 */
public final class ContentEncodingStage implements Stage {
  /** A buffered body decodes in one task; past this it is refused rather than held (a decompression bomb). */
  private static final long MAX_DECODED_BYTES = 64L << 20;
  private static final GatewayException UNDECODABLE = new GatewayException(502, "BadGateway",
      "The upstream's gzip answer could not be decoded.", null);

  private final Offload offload;
  private final BiPredicate<Exchange, Reply> readsBody;

  /**
   * @param offload where decoding runs (the worker pool)
   * @param readsBody whether a stage outside this one will read this answer's body, so it must arrive decoded
   */
  public ContentEncodingStage(Offload offload, BiPredicate<Exchange, Reply> readsBody) {
    this.offload = offload;
    this.readsBody = readsBody;
  }

  @Override
  public Future<Reply> apply(Exchange ex, Chain next) {
    Future<Reply> answered = next.proceed(ex);
    // Hits and Tollgate's own answers are identity: they need nothing here, and then no future is added.
    if (answered.succeeded() && !Gzip.encoded(answered.result().headers())) return answered;
    return answered.compose(reply -> fit(ex, reply));
  }

  private Future<Reply> fit(Exchange ex, Reply reply) {
    if (!Gzip.encoded(reply.headers())) return Future.succeededFuture(reply);
    if (ex.acceptsGzip() && !readsBody.test(ex, reply)) return Future.succeededFuture(reply);
    if (bodyless(ex, reply)) return Future.succeededFuture(reply.withHeaders(Reply.withoutCoding(reply.headers())));
    if (reply.isStreaming()) return Future.succeededFuture(reply.decoded(new Gzip.Decoder(), offload));
    Buffer packed = reply.body();
    return offload.run(() -> Gzip.decompress(packed, MAX_DECODED_BYTES)).map(reply::identity)
        .recover(failure -> Future.failedFuture(UNDECODABLE));
  }

  /** No body to decode; the coding headers still go, as the answer a GET would have got carries none. */
  private static boolean bodyless(Exchange ex, Reply reply) {
    int status = reply.status();
    if (ex.method() == HttpMethod.HEAD || status == 204 || status == 304) return true;
    return !reply.isStreaming() && (reply.body() == null || reply.body().length() == 0);
  }
}
