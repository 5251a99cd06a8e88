package io.tollgate.sim;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/** Shared plumbing for the simulator tests: start on port 0, a roomy client, page walking, polling. */
final class SimTesting {
  private SimTesting() {}

  /** Starts a simulator from the JUnit thread; fails the test if it does not listen within 10 s. */
  static GraphSimulator start(Vertx vertx, SimulatorOptions options) throws Exception {
    return GraphSimulator.start(vertx, options).await(10, TimeUnit.SECONDS);
  }

  /** A client with room for many concurrent requests (the default pool would cap concurrency at 5). */
  static WebClient client(Vertx vertx) {
    return WebClient.create(vertx, new WebClientOptions().setKeepAlive(true), new PoolOptions().setHttp1MaxSize(64));
  }

  static HttpRequest<Buffer> get(WebClient client, String absoluteUrl, String token) {
    HttpRequest<Buffer> request = client.getAbs(absoluteUrl);
    if (token != null) request.putHeader("Authorization", "Bearer " + token);
    return request;
  }

  /** Follows every {@code @odata.nextLink} from {@code url}; returns the pages' bodies in order. */
  static Future<List<JsonObject>> pages(WebClient client, String url, String token) {
    return pagesFrom(client, url, token, new ArrayList<>());
  }

  private static Future<List<JsonObject>> pagesFrom(WebClient client, String url, String token, List<JsonObject> seen) {
    if (seen.size() > 1000) return Future.failedFuture(new AssertionError("more than 1000 pages: nextLink loops"));
    return get(client, url, token).send()
        .expecting(Status200.INSTANCE)
        .compose(response -> {
          JsonObject page = response.bodyAsJsonObject();
          seen.add(page);
          String next = page.getString("@odata.nextLink");
          return next == null ? Future.succeededFuture(seen) : pagesFrom(client, next, token, seen);
        });
  }

  /** Completes once the condition holds, checking every 10 ms; fails after {@code timeoutMs}. */
  static Future<Void> eventually(Vertx vertx, BooleanSupplier condition, long timeoutMs, String what) {
    Promise<Void> done = Promise.promise();
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    vertx.setPeriodic(1, 10, id -> {
      if (condition.getAsBoolean()) {
        vertx.cancelTimer(id);
        done.tryComplete();
      } else if (System.nanoTime() > deadline) {
        vertx.cancelTimer(id);
        done.tryFail(new AssertionError("timed out waiting for " + what));
      }
    });
    return done.future();
  }

  /** Status check used by {@link #pages}: a failed page is a failed test, with the body to show why. */
  enum Status200 implements io.vertx.core.Expectation<HttpResponse<Buffer>> {
    INSTANCE;

    @Override
    public boolean test(HttpResponse<Buffer> response) {
      return response.statusCode() == 200;
    }

    @Override
    public Throwable describe(HttpResponse<Buffer> response) {
      return new AssertionError("expected 200, got " + response.statusCode() + ": " + response.bodyAsString());
    }
  }
}
