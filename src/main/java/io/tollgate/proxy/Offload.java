package io.tollgate.proxy;

import io.vertx.core.Future;
import java.util.concurrent.Callable;

/**
 * Where the request path runs work too heavy for an event loop (decoding a body), as this package sees it: the
 * bounded worker pool implements it, from a package above this one.
 */
@FunctionalInterface
public interface Offload {
  /** Runs {@code task} off the event loop; the result is delivered on the caller's context. */
  <T> Future<T> run(Callable<T> task);
}
