package io.tollgate.proxy;

import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import java.time.Instant;

/** The one place that writes Tollgate's own errors, in Graph's error shape, so clients parse them as Graph's. */
public final class GraphError {
  public static final CharSequence JSON = HttpHeaders.createOptimized("application/json");

  private GraphError() {}

  public static JsonObject body(String code, String message, String requestId) {
    return new JsonObject().put("error", new JsonObject().put("code", code).put("message", message)
        .put("innerError", new JsonObject().put("request-id", requestId).put("date", Instant.now().toString())));
  }

  /** Writes the error unless the response has already started (then the connection is reset). */
  public static void write(HttpServerResponse response, GatewayException e, String requestId) {
    if (response.headWritten()) {
      response.reset();
      return;
    }
    MultiMap headers = response.headers();
    headers.set(HttpHeaders.CONTENT_TYPE, JSON).set("request-id", requestId);
    e.headers().forEach(headers::set);
    if (e.retryAfter() != null) headers.set(HttpHeaders.RETRY_AFTER, RetryAfter.header(e.retryAfter()));
    response.setStatusCode(e.status()).end(Buffer.buffer(body(e.code(), e.getMessage(), requestId).encode()));
  }
}
