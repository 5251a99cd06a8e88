package io.tollgate.freshness;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.config.DeltaOptions;
import io.tollgate.config.NotificationOptions;
import io.tollgate.metrics.Addresses;
import io.tollgate.metrics.MeterNames;
import io.tollgate.proxy.GraphError;
import io.tollgate.redis.RedisLink;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Graph change notifications (issue 13 item 3): a listener of its own ({@code freshness.notifications.host/port},
 * one path, POST only) that answers Graph's {@code validationToken} handshake, acknowledges each notification
 * body with 202 before doing anything with it, and then, asynchronously, has the delta feeds evict every cached
 * answer mentioning the changed objects (all partitions, all instances: {@link Addresses#FRESHNESS_DELTA}) and
 * read that feed at once. It also owns the {@link SubscriptionKeeper} that keeps the subscriptions alive.
 *
 * <p>Design note. The handler only checks: body bounded ({@code maxBodySize}, 413), JSON with a {@code value}
 * list (400 otherwise), each item's {@code clientState} compared in constant time with the secret (a mismatch is
 * counted and ignored, whatever else it says). Accepted ids wait in a bounded set per resource; one batch at a
 * time goes to the delta verticle, so a burst of notifications costs one eviction pass and one feed read, not one
 * each. Beyond the bound, ids are dropped and the feed read alone catches up. Nothing in a notification is ever
 * fetched: only its ids are used, checked against a strict pattern. Lifecycle notifications: {@code missed} reads
 * the feed; {@code subscriptionRemoved} recreates the subscription and reads the feed; {@code
 * reauthorizationRequired} renews now. All of it runs on this verticle's context.
 */
public final class NotificationVerticle extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(NotificationVerticle.class);
  /** Directory object ids are GUIDs in Graph (short names in the simulator); anything else is not used. */
  private static final Pattern OBJECT_ID = Pattern.compile("[A-Za-z0-9._-]{1,128}");
  /** Longest validationToken echoed (Graph's are a few hundred characters). */
  static final int MAX_VALIDATION_TOKEN_CHARS = 4096;
  /** Ids waiting to be processed, over all resources; beyond, the feed read alone catches up. */
  private static final int MAX_PENDING_IDS = 10_000;
  /** Ids per batch sent to the delta verticle. */
  private static final int BATCH = 500;
  private static final long DELTA_SEND_TIMEOUT_MS = 120_000;

  private final NotificationOptions options;
  private final DeltaOptions delta;
  private final String upstreamUrl;
  private final RedisLink redis;
  private final String keyPrefix;
  private final long redisTimeoutMs;
  private final MeterRegistry registry;
  private final byte[] secret;
  private final Map<String, Set<String>> pending = new LinkedHashMap<>();
  /** Resources to read at once although no id waits (missed, removed, overflow). */
  private final Set<String> readOnly = new LinkedHashSet<>();
  private int pendingIds;
  private boolean draining;
  private HttpServer server;
  private WebClient client;
  private SubscriptionKeeper keeper;
  private volatile int port = -1;
  private Map<String, Counter> received;
  private Counter rejectedClientState;
  private Counter rejectedMalformed;
  private Counter rejectedTooLarge;
  private Counter evictions;

  /**
   * @param delta the delta feed's options (its credentials, tenant and token origin serve the subscriptions)
   * @param upstreamUrl the configured upstream; subscriptions are written there and nowhere else
   * @param redis the gateway's Redis (one instance of a fleet manages the subscriptions), or null
   */
  public NotificationVerticle(NotificationOptions options, DeltaOptions delta, String upstreamUrl, RedisLink redis,
      String keyPrefix, long redisTimeoutMs, MeterRegistry registry) {
    this.options = new NotificationOptions(options);
    this.delta = new DeltaOptions(delta);
    this.upstreamUrl = upstreamUrl.endsWith("/") ? upstreamUrl.substring(0, upstreamUrl.length() - 1) : upstreamUrl;
    this.redis = redis;
    this.keyPrefix = keyPrefix;
    this.redisTimeoutMs = Math.max(redisTimeoutMs, 1000);
    this.registry = registry;
    this.secret = options.getClientState() == null ? new byte[0] : options.getClientState().getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public Future<?> start() {
    if (secret.length == 0) return Future.failedFuture(new IllegalStateException("freshness.notifications: no clientState secret"));
    received = new LinkedHashMap<>();
    for (String r : List.of("users", "groups", "lifecycle", "other")) {
      received.put(r, Counter.builder(MeterNames.FRESHNESS_NOTIFICATIONS_RECEIVED).tag("resource", r).register(registry));
    }
    rejectedClientState = rejected("clientState");
    rejectedMalformed = rejected("malformed");
    rejectedTooLarge = rejected("tooLarge");
    evictions = Counter.builder(MeterNames.FRESHNESS_NOTIFICATIONS_EVICTIONS).register(registry);
    client = WebClient.create(vertx, new WebClientOptions().setConnectTimeout(10_000).setUserAgent("Tollgate-notifications"));
    CursorStore leases = redis == null ? CursorStore.local() : CursorStore.redis(redis, keyPrefix, redisTimeoutMs);
    keeper = new SubscriptionKeeper(vertx, context, options, delta, upstreamUrl, client,
        new TokenClient(client, delta, System::currentTimeMillis), leases, redis != null, registry);
    server = vertx.createHttpServer(new HttpServerOptions().setHost(options.getHost()).setPort(options.getPort())
        .setMaxInitialLineLength(8192)).requestHandler(this::handle);
    return server.listen().onSuccess(s -> {
      port = s.actualPort();
      LOG.info("notifications: listening on http://{}:{}{} for {} change notifications (subscriptions register {}, clientState masked)",
          options.getHost(), port, options.getPath(), options.getResources(), options.getNotificationUrl());
      // Graph validates the listener when a subscription is created: it must listen first.
      keeper.start();
    });
  }

  private Counter rejected(String reason) {
    return Counter.builder(MeterNames.FRESHNESS_NOTIFICATIONS_REJECTED).tag("reason", reason).register(registry);
  }

  @Override
  public Future<?> stop() {
    Future<Void> kept = keeper == null ? Future.succeededFuture() : keeper.stop();
    return kept.eventually(() -> server == null ? Future.succeededFuture() : server.close()).eventually(() -> {
      if (client != null) client.close();
      return Future.succeededFuture();
    });
  }

  /** The port the listener bound; -1 before it listens. */
  public int port() {
    return port;
  }

  // ---- the listener (this context) ----

  private void handle(HttpServerRequest req) {
    if (!options.getPath().equals(req.path())) {
      error(req, 404, "ResourceNotFound", "Not a notification path.");
      return;
    }
    if (req.method() != HttpMethod.POST) {
      req.response().putHeader(HttpHeaders.ALLOW, "POST");
      error(req, 405, "MethodNotAllowed", "Notifications are POSTed.");
      return;
    }
    String token = req.getParam("validationToken");
    if (token != null) {
      if (token.length() > MAX_VALIDATION_TOKEN_CHARS) {
        error(req, 400, "BadRequest", "validationToken too long.");
        return;
      }
      // Graph's handshake: the decoded token back, as plain text, within 10 s.
      req.response().setStatusCode(200).putHeader(HttpHeaders.CONTENT_TYPE, "text/plain; charset=utf-8")
          .putHeader("X-Content-Type-Options", "nosniff").end(token);
      return;
    }
    String length = req.getHeader(HttpHeaders.CONTENT_LENGTH);
    if (length != null && parseLong(length) > options.getMaxBodyBytes()) {
      tooLarge(req);
      return;
    }
    Buffer body = Buffer.buffer();
    boolean[] over = {false};
    req.handler(chunk -> {
      if (over[0]) return;
      if (body.length() + chunk.length() > options.getMaxBodyBytes()) {
        over[0] = true;
        tooLarge(req);
        return;
      }
      body.appendBuffer(chunk);
    });
    req.endHandler(v -> {
      if (!over[0]) accept(req, body);
    });
    req.exceptionHandler(e -> LOG.debug("notifications: a request failed: {}", e.getMessage()));
  }

  private void tooLarge(HttpServerRequest req) {
    rejectedTooLarge.increment();
    req.response().putHeader(HttpHeaders.CONNECTION, "close");
    error(req, 413, "RequestEntityTooLarge", "Notification body over " + options.getMaxBodyBytes() + " bytes.");
  }

  /** Checks the body and acknowledges it (202) before anything is processed. */
  private void accept(HttpServerRequest req, Buffer body) {
    JsonArray value;
    try {
      JsonObject json = body.toJsonObject();
      value = json == null ? null : json.getValue("value") instanceof JsonArray a ? a : null;
    } catch (DecodeException | ClassCastException e) {
      value = null;
    }
    if (value == null) {
      rejectedMalformed.increment();
      error(req, 400, "BadRequest", "Expected a JSON object with a value list of notifications.");
      return;
    }
    List<JsonObject> accepted = new ArrayList<>(value.size());
    for (Object item : value) {
      if (!(item instanceof JsonObject n)) {
        rejectedMalformed.increment();
      } else if (!clientStateMatches(n.getValue("clientState"))) {
        rejectedClientState.increment();
      } else {
        accepted.add(n);
      }
    }
    req.response().setStatusCode(202).end();
    context.runOnContext(v -> process(accepted));
  }

  private boolean clientStateMatches(Object given) {
    byte[] g = given instanceof String s ? s.getBytes(StandardCharsets.UTF_8) : new byte[0];
    return MessageDigest.isEqual(secret, g);
  }

  // ---- processing (this context, after the answer) ----

  private void process(List<JsonObject> notifications) {
    for (JsonObject n : notifications) {
      String lifecycle = n.getString("lifecycleEvent");
      String resource = resourceOf(n);
      if (lifecycle != null) {
        received.get("lifecycle").increment();
        lifecycle(lifecycle, resource, n.getString("subscriptionId"));
        continue;
      }
      if (resource == null) {
        received.get("other").increment();
        continue;
      }
      received.get(resource).increment();
      JsonObject data = n.getValue("resourceData") instanceof JsonObject d ? d : null;
      String id = data == null ? null : data.getString("id");
      if (id == null || !OBJECT_ID.matcher(id).matches()) {
        readOnly.add(resource);
      } else if (pendingIds >= MAX_PENDING_IDS) {
        readOnly.add(resource);
      } else if (pending.computeIfAbsent(resource, r -> new LinkedHashSet<>()).add(id)) {
        pendingIds++;
      }
    }
    drain();
  }

  private void lifecycle(String event, String resource, String subscriptionId) {
    String ours = keeper.resourceOf(subscriptionId);
    String r = ours != null ? ours : resource;
    if (r == null || !options.getResources().contains(r)) return;
    LOG.info("notifications: lifecycle event {} for the {} subscription", event, r);
    switch (event) {
      case "subscriptionRemoved" -> {
        // Only ours is recreated (a stale notice about an older subscription must not drop the live one).
        if (ours != null) keeper.removed(r, "Graph removed it (subscriptionRemoved)");
        readOnly.add(r);
      }
      case "missed" -> readOnly.add(r);
      case "reauthorizationRequired" -> keeper.renewSoon(r);
      default -> LOG.debug("notifications: lifecycle event {} ignored", event);
    }
  }

  /** Which of our resources a notification is about (by its resource path, else its resourceData type). */
  private String resourceOf(JsonObject n) {
    String path = n.getString("resource", "").toLowerCase(Locale.ROOT);
    if (path.startsWith("/")) path = path.substring(1);
    String r = null;
    if (path.startsWith("users")) r = "users";
    else if (path.startsWith("groups")) r = "groups";
    else if (n.getValue("resourceData") instanceof JsonObject d) {
      String type = d.getString("@odata.type", "").toLowerCase(Locale.ROOT);
      if (type.endsWith(".user")) r = "users";
      else if (type.endsWith(".group")) r = "groups";
    }
    return r != null && options.getResources().contains(r) ? r : null;
  }

  /** Sends one batch at a time to the delta verticle; the next when it answered. */
  private void drain() {
    if (draining) return;
    String resource = null;
    List<String> ids = new ArrayList<>();
    for (Map.Entry<String, Set<String>> e : pending.entrySet()) {
      if (e.getValue().isEmpty()) continue;
      resource = e.getKey();
      var it = e.getValue().iterator();
      while (it.hasNext() && ids.size() < BATCH) {
        ids.add(it.next());
        it.remove();
      }
      break;
    }
    if (resource == null) {
      if (readOnly.isEmpty()) return;
      resource = readOnly.iterator().next();
    }
    readOnly.remove(resource);
    pendingIds -= ids.size();
    draining = true;
    String r = resource;
    JsonObject ask = new JsonObject().put("action", "notified").put("resource", r).put("ids", new JsonArray(ids));
    vertx.eventBus().<JsonObject>request(Addresses.FRESHNESS_DELTA, ask, new DeliveryOptions().setSendTimeout(DELTA_SEND_TIMEOUT_MS))
        .onSuccess(m -> {
          long evicted = m.body().getLong("evicted", 0L);
          evictions.increment(evicted);
          LOG.debug("notifications: {} {} changed: {} entries evicted, feed read: {}", ids.size(), r, evicted, m.body().getBoolean("polled"));
          vertx.eventBus().publish(Addresses.FRESHNESS_NOTIFIED, new JsonObject().put("resource", r).put("ids", ids.size())
              .put("evicted", evicted).put("polled", m.body().getBoolean("polled", false)).put("at", Instant.now().toString()),
              new DeliveryOptions().setLocalOnly(true));
        })
        .onFailure(e -> LOG.warn("notifications: processing {} {} changes failed: {}", ids.size(), r, e.getMessage()))
        .onComplete(ar -> {
          draining = false;
          drain();
        });
  }

  private static void error(HttpServerRequest req, int status, String code, String message) {
    String requestId = UUID.randomUUID().toString();
    req.response().setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, GraphError.JSON).putHeader("request-id", requestId)
        .end(GraphError.body(code, message, requestId).toBuffer());
  }

  private static long parseLong(String text) {
    try {
      return Long.parseLong(text.trim());
    } catch (NumberFormatException e) {
      return Long.MAX_VALUE;
    }
  }
}
