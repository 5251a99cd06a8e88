package io.tollgate.proxy;

import io.vertx.core.buffer.Buffer;

/**
 * Rewrites a streaming body chunk by chunk on its way to the client (link rewriting is one). Stateful, one
 * per response, called on the response's event loop only.
 */
public interface BodyTransform {
  /** @return the bytes to write for this chunk (possibly empty while the transform holds some back) */
  Buffer feed(Buffer chunk);

  /** @return the bytes still held back, written just before the response ends */
  Buffer finish();
}
