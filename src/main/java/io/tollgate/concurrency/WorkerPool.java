package io.tollgate.concurrency;

import io.tollgate.proxy.Offload;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import java.util.concurrent.Callable;

/**
 * A bounded, named pool of worker threads for CPU-heavy work (gzip of large bodies, big JSON rewrites,
 * {@code $batch} assembly), so none of it runs on an event loop. Tasks run unordered; the result is
 * delivered on the caller's context.
 */
public final class WorkerPool implements Offload {
  private final WorkerExecutor executor;

  public WorkerPool(Vertx vertx, String name, int size) {
    this.executor = vertx.createSharedWorkerExecutor(name, size);
  }

  /** Runs {@code task} on a pool thread; its exception fails the future. */
  @Override
  public <T> Future<T> run(Callable<T> task) {
    return executor.executeBlocking(task, false);
  }

  public Future<Void> close() {
    return executor.close();
  }
}
