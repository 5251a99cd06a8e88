package io.tollgate.proxy;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.time.Duration;

/** The one timer-to-Future adapter: a wait that parks nothing, resumed on the caller's context. */
public final class Timers {
  private Timers() {}

  /** Completes after {@code wait} (at once for zero or less; at least 1 ms otherwise). */
  public static Future<Void> delay(Vertx vertx, Duration wait) {
    return delay(vertx, wait.toMillis() == 0 && !wait.isZero() && !wait.isNegative() ? 1 : wait.toMillis());
  }

  /** Completes after {@code millis} (at once for zero or less). */
  public static Future<Void> delay(Vertx vertx, long millis) {
    if (millis <= 0) return Future.succeededFuture();
    Promise<Void> p = Promise.promise();
    vertx.setTimer(millis, id -> p.complete());
    return p.future();
  }
}
