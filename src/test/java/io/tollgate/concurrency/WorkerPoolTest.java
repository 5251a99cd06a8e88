package io.tollgate.concurrency;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** The bounded, named pool for CPU-heavy work. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class WorkerPoolTest {
  final Vertx vertx = Vertx.vertx();

  @AfterEach
  void stop() {
    vertx.close().await();
  }

  @Test
  void the_worker_pool_runs_tasks_off_the_event_loop() {
    WorkerPool pool = new WorkerPool(vertx, "test-pool", 2);
    String thread = vertx.getOrCreateContext().<String>executeBlocking(() -> "unused").compose(x -> pool.run(() -> Thread.currentThread().getName()))
        .await();
    assertTrue(thread.startsWith("test-pool"), thread);
    pool.close().await();
  }
}
