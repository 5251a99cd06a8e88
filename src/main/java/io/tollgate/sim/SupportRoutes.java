package io.tollgate.sim;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.UUID;

/**
 * The {@code /_sim/*} endpoints that let tests look inside and stress the gateway: stats and reset, the headers
 * that arrived, streaming echo/count/bytes for body handling, slow/hang for timeouts and cancellation, any status
 * with a Graph error body, and a redirect for Location rewriting. Not counted as Graph requests; counted in
 * flight like everything else. Runs on the simulator's event loop.
 */
final class SupportRoutes {
  /** Chunk written per step by {@code /_sim/bytes}. */
  private static final int CHUNK = 64 * 1024;
  /** Largest body {@code /_sim/bytes} will produce, so a typo cannot fill a disk. */
  private static final long MAX_BYTES = 4L << 30;
  private static final long MAX_SLOW_MS = 10 * 60_000;
  /** Same bytes on every call: a test can compare two downloads or hash one against a second. */
  private static final long BYTES_SEED = 0x7011_6a7eL;
  private static final String JSON = "application/json";

  private final Vertx vertx;
  private final GraphSimulator simulator;
  private final SimulatorStats stats;

  SupportRoutes(Vertx vertx, GraphSimulator simulator, SimulatorStats stats) {
    this.vertx = vertx;
    this.simulator = simulator;
    this.stats = stats;
  }

  void handle(HttpServerRequest req) {
    String path = req.path();
    HttpMethod method = req.method();
    if (path.equals("/_sim/stats") && method == HttpMethod.GET) {
      json(req.response(), 200, stats.toJson());
    } else if (path.equals("/_sim/reset") && method == HttpMethod.POST) {
      simulator.reset();
      standard(req.response()).setStatusCode(204).end();
    } else if (path.equals("/_sim/directory") && method == HttpMethod.POST) {
      req.body().onComplete(ar -> {
        JsonObject body;
        try {
          body = ar.succeeded() ? ar.result().toJsonObject() : null;
        } catch (RuntimeException e) {
          body = null;
        }
        if (body == null) error(req.response(), 400, "BadRequest", "Expected a JSON change or {\"changes\":[...]}.");
        else json(req.response(), 200, simulator.changeDirectory(body));
      });
    } else if (path.equals("/_sim/delta/expire") && method == HttpMethod.POST) {
      simulator.expireDeltaTokens();
      standard(req.response()).setStatusCode(204).end();
    } else if (path.equals("/_sim/headers")) {
      headers(req);
    } else if (path.equals("/_sim/echo")) {
      echo(req);
    } else if (path.equals("/_sim/count") && method == HttpMethod.POST) {
      count(req);
    } else if (path.equals("/_sim/bytes") && method == HttpMethod.GET) {
      bytes(req);
    } else if (path.equals("/_sim/slow") && method == HttpMethod.GET) {
      slow(req);
    } else if (path.equals("/_sim/hang")) {
      // Deliberately no answer and no pause (a paused socket may not notice the client leaving): the request
      // stays in flight until the client gives up, then counts as cancelled.
      return;
    } else if (path.equals("/_sim/drive-items") && method == HttpMethod.GET) {
      json(req.response(), 200, new JsonObject().put("items", new JsonArray(simulator.drives().ids()))
          .put("changes", simulator.drives().changes()));
    } else if (path.equals("/_sim/drive-items/change") && method == HttpMethod.POST) {
      changeDriveItems(req);
    } else if (path.startsWith("/_sim/status/")) {
      status(req, path.substring("/_sim/status/".length()));
    } else if (path.equals("/_sim/redirect")) {
      String target = req.getParam("path", "/v1.0/users");
      standard(req.response()).setStatusCode(302).putHeader(HttpHeaders.LOCATION, simulator.origin() + target).end();
    } else {
      error(req.response(), 404, "BadRequest", "Unknown simulator endpoint " + method.name() + " " + path + ".");
    }
  }

  /**
   * {@code POST /_sim/drive-items/change?fraction=0.05} (or {@code ?id=d1i3}): an out-of-band change to drive
   * items; answers {@code {"changed":["d1/d1i3",...],"count":n}}.
   */
  private void changeDriveItems(HttpServerRequest req) {
    String id = req.getParam("id");
    double fraction;
    try {
      fraction = Double.parseDouble(req.getParam("fraction", "0"));
    } catch (NumberFormatException e) {
      fraction = -1;
    }
    if (id == null && !(fraction > 0 && fraction <= 1)) {
      error(req.response(), 400, "BadRequest", "Give id=<item id> or fraction=<a number in (0, 1]>.");
      return;
    }
    java.util.List<String> changed = simulator.drives().change(fraction, id);
    json(req.response(), 200, new JsonObject().put("changed", new JsonArray(changed)).put("count", changed.size()));
  }

  private void headers(HttpServerRequest req) {
    TreeMap<String, JsonArray> received = new TreeMap<>();
    req.headers().forEach(e -> received.computeIfAbsent(e.getKey().toLowerCase(Locale.ROOT), k -> new JsonArray())
        .add(e.getValue()));
    JsonObject headers = new JsonObject();
    received.forEach(headers::put);
    json(req.response(), 200, new JsonObject().put("method", req.method().name()).put("path", req.path())
        .put("query", req.query()).put("headers", headers));
  }

  /** Pipes the body straight back: back-pressure from the client slows the upload, nothing is buffered. */
  private void echo(HttpServerRequest req) {
    HttpServerResponse response = standard(req.response()).setStatusCode(200);
    String type = req.getHeader(HttpHeaders.CONTENT_TYPE);
    if (type != null) response.putHeader(HttpHeaders.CONTENT_TYPE, type);
    String length = req.getHeader(HttpHeaders.CONTENT_LENGTH);
    if (length != null) response.putHeader(HttpHeaders.CONTENT_LENGTH, length);
    else response.setChunked(true);
    req.pipeTo(response);
  }

  private void count(HttpServerRequest req) {
    MessageDigest digest = sha256();
    long[] bytes = {0};
    req.handler(chunk -> {
      bytes[0] += chunk.length();
      digest.update(chunk.getBytes());
    });
    req.end().onSuccess(v -> json(req.response(), 200,
        new JsonObject().put("bytes", bytes[0]).put("sha256", HexFormat.of().formatHex(digest.digest()))));
  }

  private void bytes(HttpServerRequest req) {
    long size = parse(req.getParam("size"), MAX_BYTES);
    if (size < 0) {
      error(req.response(), 400, "BadRequest", "size must be a number of bytes between 0 and " + MAX_BYTES + ".");
      return;
    }
    HttpServerResponse response = standard(req.response()).setStatusCode(200)
        .putHeader(HttpHeaders.CONTENT_TYPE, "application/octet-stream");
    if ("true".equals(req.getParam("chunked"))) response.setChunked(true);
    else response.putHeader(HttpHeaders.CONTENT_LENGTH, String.valueOf(size));
    pump(response, new SplittableRandom(BYTES_SEED), new long[] {size});
  }

  /** Writes until the socket's queue is full, then resumes on drain: memory stays at a few chunks. */
  private void pump(HttpServerResponse response, SplittableRandom random, long[] remaining) {
    while (remaining[0] > 0) {
      if (response.closed()) return;
      if (response.writeQueueFull()) {
        response.drainHandler(v -> {
          response.drainHandler(null);
          pump(response, random, remaining);
        });
        return;
      }
      byte[] chunk = new byte[(int) Math.min(CHUNK, remaining[0])];
      random.nextBytes(chunk);
      remaining[0] -= chunk.length;
      response.write(Buffer.buffer(chunk));
    }
    if (!response.ended() && !response.closed()) response.end();
  }

  private void slow(HttpServerRequest req) {
    long ms = parse(req.getParam("ms"), MAX_SLOW_MS);
    if (ms < 0) {
      error(req.response(), 400, "BadRequest", "ms must be between 0 and " + MAX_SLOW_MS + ".");
      return;
    }
    HttpServerResponse response = req.response();
    vertx.timer(Math.max(1, ms)).onSuccess(v -> {
      if (!response.closed()) json(response, 200, new JsonObject().put("sleptMs", ms));
    });
  }

  private void status(HttpServerRequest req, String code) {
    int status = (int) parse(code, 599);
    if (status < 200) {
      error(req.response(), 400, "BadRequest", "Status must be between 200 and 599, got '" + code + "'.");
      return;
    }
    HttpServerResponse response = req.response();
    String retryAfter = req.getParam("retryAfter");
    if (retryAfter != null) response.putHeader("Retry-After", retryAfter);
    if (status == 204 || status == 304) {
      standard(response).setStatusCode(status).end();
    } else if (status < 400) {
      json(response, status, new JsonObject().put("status", status));
    } else {
      error(response, status, codeFor(status), "Simulated " + status + " answer.");
    }
  }

  private static String codeFor(int status) {
    return switch (status) {
      case 400 -> "BadRequest";
      case 401 -> "InvalidAuthenticationToken";
      case 403 -> "Authorization_RequestDenied";
      case 404 -> "Request_ResourceNotFound";
      case 409 -> "Conflict";
      case 429 -> "TooManyRequests";
      case 500 -> "InternalServerError";
      case 502 -> "BadGateway";
      case 503 -> "ServiceUnavailable";
      case 504 -> "GatewayTimeout";
      default -> "UnknownError";
    };
  }

  private static HttpServerResponse standard(HttpServerResponse response) {
    return response.putHeader(HttpHeaders.CACHE_CONTROL, "no-cache")
        .putHeader("request-id", UUID.randomUUID().toString());
  }

  private static void json(HttpServerResponse response, int status, JsonObject body) {
    if (response.closed() || response.ended()) return;
    standard(response).setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, JSON).end(body.toBuffer());
  }

  private static void error(HttpServerResponse response, int status, String code, String message) {
    JsonObject inner = new JsonObject().put("date", java.time.Instant.now().toString().substring(0, 19))
        .put("request-id", UUID.randomUUID().toString());
    json(response, status, new JsonObject().put("error",
        new JsonObject().put("code", code).put("message", message).put("innerError", inner)));
  }

  /** A whole number between 0 and max, or -1. */
  private static long parse(String text, long max) {
    if (text == null) return -1;
    try {
      long n = Long.parseLong(text.trim());
      return n < 0 || n > max ? -1 : n;
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }
}
