package io.tollgate.sim;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Graph's change notifications, simulated: {@code /v1.0/subscriptions} (POST, GET, GET by id, PATCH, DELETE) for
 * {@code users} and {@code groups}, and a sender that posts a notification to each subscriber whose resource
 * changed, whoever changed it (a Graph write, {@code /_sim/directory}, the background change rate).
 *
 * <p>As Graph does: a subscription is accepted only after its {@code notificationUrl} (and
 * {@code lifecycleNotificationUrl}) answered the {@code validationToken} handshake with 200 and the token as
 * plain text within 10 s (400 otherwise); an {@code expirationDateTime} past the resource's maximum lifetime is
 * refused (400); a subscription past its expiry is gone (404 on renewal, no more notifications). Deliveries wait
 * {@link #deliveryDelay} (Graph: under a minute on average for most resources, unknown for users and groups),
 * batch a tick's changes per subscriber, and carry its {@code clientState}. Answers slower than 3 s are counted
 * as slow (Graph throttles such endpoints). {@link #remove} imitates Graph dropping a subscription, with a
 * {@code subscriptionRemoved} lifecycle notification.
 *
 * <p>Runs on the simulator's event loop; the settings and counters may be used from any thread.
 */
public final class Subscriptions {
  private static final Logger LOG = LoggerFactory.getLogger(Subscriptions.class);
  static final String PATH = "/v1.0/subscriptions";
  /** Graph's cap for users and groups: 41,760 minutes (about 29 days). */
  public static final Duration DEFAULT_MAX_LIFETIME = Duration.ofMinutes(41_760);
  private static final long SLOW_MS = 3_000;
  private static final long VALIDATION_TIMEOUT_MS = 10_000;
  private static final long TICK_MS = 100;
  private static final Set<String> RESOURCES = Set.of("users", "groups");
  private static final String TENANT_ID = "00000000-0000-0000-0000-00000000c0de";

  private final Vertx vertx;
  private final io.vertx.core.Context context;
  private final Tokens tokens;
  private final Supplier<Tenant> tenant;
  private final SimulatorStats stats;
  private final WebClient client;
  private final Map<String, JsonObject> subscriptions = new LinkedHashMap<>();
  private final long timer;
  private volatile Duration deliveryDelay = Duration.ZERO;
  private volatile Duration maxLifetime = DEFAULT_MAX_LIFETIME;
  private volatile List<JsonObject> snapshot = List.of();
  private ChangeLog log;
  private long position;
  private final AtomicLong created = new AtomicLong();
  private final AtomicLong renewed = new AtomicLong();
  private final AtomicLong deleted = new AtomicLong();
  private final AtomicLong expired = new AtomicLong();
  private final AtomicLong validationsFailed = new AtomicLong();
  private final AtomicLong deliveries = new AtomicLong();
  private final AtomicLong notificationsSent = new AtomicLong();
  private final AtomicLong acknowledged = new AtomicLong();
  private final AtomicLong failed = new AtomicLong();
  private final AtomicLong slow = new AtomicLong();
  private final AtomicLong lifecycleSent = new AtomicLong();

  /** On the simulator's context (its timer and client belong to it). */
  Subscriptions(Vertx vertx, io.vertx.core.Context context, Tokens tokens, Supplier<Tenant> tenant, SimulatorStats stats) {
    this.vertx = vertx;
    this.context = context;
    this.tokens = tokens;
    this.tenant = tenant;
    this.stats = stats;
    this.client = WebClient.create(vertx, new WebClientOptions().setConnectTimeout(5_000).setUserAgent("Graph-simulator-notifications"));
    // Changes from now on are notified: the log's position is taken here, not at the first tick (a change made
    // before that tick would otherwise count as history).
    this.log = tenant.get().directory.changes;
    this.position = log.head();
    this.timer = vertx.setPeriodic(TICK_MS, id -> tick());
  }

  static boolean matches(String path) {
    return path.equals(PATH) || path.startsWith(PATH + "/");
  }

  void close() {
    vertx.cancelTimer(timer);
    client.close();
  }

  // ---- settings and counters (any thread) ----

  /** How long after a change its notification is sent (default 0). */
  public Subscriptions setDeliveryDelay(Duration d) { this.deliveryDelay = d; return this; }
  /** Longest lifetime a subscription may ask for (default 41,760 minutes, Graph's cap for users and groups). */
  public Subscriptions setMaxLifetime(Duration d) { this.maxLifetime = d; return this; }
  /** The live subscriptions, as Graph would list them. */
  public List<JsonObject> active() { return snapshot; }
  public long created() { return created.get(); }
  /** PATCHes that extended a live subscription. */
  public long renewed() { return renewed.get(); }
  public long deleted() { return deleted.get(); }
  /** Subscriptions that reached their expiry unrenewed. */
  public long expired() { return expired.get(); }
  /** Creations refused because the endpoint failed the validationToken handshake. */
  public long validationsFailed() { return validationsFailed.get(); }
  /** Notification POSTs sent (each a batch for one subscriber). */
  public long deliveries() { return deliveries.get(); }
  /** Notifications (items) sent. */
  public long notificationsSent() { return notificationsSent.get(); }
  /** Deliveries answered 2xx. */
  public long acknowledged() { return acknowledged.get(); }
  /** Deliveries answered otherwise, or not at all. */
  public long failed() { return failed.get(); }
  /** Deliveries answered after more than 3 s (Graph throttles such endpoints). */
  public long slow() { return slow.get(); }
  /** Lifecycle notifications sent. */
  public long lifecycleSent() { return lifecycleSent.get(); }

  /**
   * Drops a subscription as Graph may (an app's permission revoked, an internal failure): gone at once, and with
   * {@code notify} a {@code subscriptionRemoved} lifecycle notification to its lifecycleNotificationUrl. Any thread.
   */
  public Future<Boolean> remove(String id, boolean notify) {
    io.vertx.core.Promise<Boolean> done = io.vertx.core.Promise.promise();
    context.runOnContext(v -> {
      JsonObject s = subscriptions.remove(id);
      publish();
      if (s == null) {
        done.complete(false);
        return;
      }
      if (notify && s.getString("lifecycleNotificationUrl") != null) {
        JsonObject item = new JsonObject().put("subscriptionId", id).put("subscriptionExpirationDateTime", s.getString("expirationDateTime"))
            .put("tenantId", TENANT_ID).put("lifecycleEvent", "subscriptionRemoved").put("resource", s.getString("resource"));
        if (s.getString("clientState") != null) item.put("clientState", s.getString("clientState"));
        lifecycleSent.incrementAndGet();
        deliver(s.getString("lifecycleNotificationUrl"), new JsonArray().add(item));
      }
      done.complete(true);
    });
    return done.future();
  }

  // ---- the API (event loop) ----

  void handle(HttpServerRequest req) {
    String rest = req.path().substring(PATH.length());
    String id = rest.startsWith("/") && rest.length() > 1 ? rest.substring(1) : null;
    stats.received(req.method().name() + " " + PATH + (id == null ? "" : "/{id}"));
    if (!tokens.accepts(req.getHeader(HttpHeaders.AUTHORIZATION), System.currentTimeMillis())) {
      write(req, 401, error("InvalidAuthenticationToken", "Access token validation failure."));
      return;
    }
    sweep();
    req.body().onComplete(ar -> {
      if (ar.failed()) return;
      HttpMethod m = req.method();
      if (id == null && m == HttpMethod.POST) create(req, ar.result());
      else if (id == null && m == HttpMethod.GET) write(req, 200, new JsonObject()
          .put("@odata.context", "https://graph.microsoft.com/v1.0/$metadata#subscriptions").put("value", new JsonArray(snapshot)));
      else if (id != null && m == HttpMethod.GET) found(req, id, s -> write(req, 200, s));
      else if (id != null && m == HttpMethod.PATCH) found(req, id, s -> renew(req, s, ar.result()));
      else if (id != null && m == HttpMethod.DELETE) found(req, id, s -> {
        subscriptions.remove(id);
        deleted.incrementAndGet();
        publish();
        req.response().setStatusCode(204).end();
      });
      else write(req, 405, error("BadRequest", "Unsupported method on subscriptions."));
    });
  }

  private void found(HttpServerRequest req, String id, java.util.function.Consumer<JsonObject> then) {
    JsonObject s = subscriptions.get(id);
    if (s == null) write(req, 404, error("ResourceNotFound", "The object was not found."));
    else then.accept(s);
  }

  private void create(HttpServerRequest req, Buffer body) {
    JsonObject b = json(body);
    if (b == null) {
      write(req, 400, error("BadRequest", "Invalid JSON."));
      return;
    }
    String resource = b.getString("resource", "").replaceFirst("^/", "").toLowerCase(java.util.Locale.ROOT);
    String url = b.getString("notificationUrl");
    String lifecycleUrl = b.getString("lifecycleNotificationUrl");
    String changeType = b.getString("changeType", "");
    String clientState = b.getString("clientState");
    String problem = null;
    if (!RESOURCES.contains(resource)) problem = "Unsupported resource '" + resource + "': users or groups.";
    else if (!httpUrl(url)) problem = "notificationUrl must be an absolute http(s) URL.";
    else if (lifecycleUrl != null && !httpUrl(lifecycleUrl)) problem = "lifecycleNotificationUrl must be an absolute http(s) URL.";
    else if (changeType.isEmpty() || !Set.of("created", "updated", "deleted").containsAll(List.of(changeType.split(",")))) {
      problem = "changeType must list created, updated, deleted.";
    } else if (clientState != null && clientState.length() > 128) problem = "clientState is longer than 128 characters.";
    String lifetimeProblem = problem == null ? lifetimeProblem(b.getString("expirationDateTime")) : null;
    if (problem != null || lifetimeProblem != null) {
      write(req, 400, error(problem != null ? "BadRequest" : "InvalidRequest", problem != null ? problem : lifetimeProblem));
      return;
    }
    List<String> urls = lifecycleUrl == null || lifecycleUrl.equals(url) ? List.of(url) : List.of(url, lifecycleUrl);
    validate(urls, 0).onComplete(ok -> {
      if (ok.failed()) {
        validationsFailed.incrementAndGet();
        write(req, 400, error("ValidationError", "Subscription validation request failed. Notification endpoint must respond "
            + "with 200 OK to validation request. (" + ok.cause().getMessage() + ")"));
        return;
      }
      String id = UUID.randomUUID().toString();
      JsonObject s = new JsonObject().put("@odata.context", "https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity")
          .put("id", id).put("resource", resource).put("applicationId", SimulatorOptions.DEFAULT_CLIENT_ID).put("changeType", changeType)
          .put("clientState", clientState).put("notificationUrl", url).put("lifecycleNotificationUrl", lifecycleUrl)
          .put("expirationDateTime", b.getString("expirationDateTime")).put("creatorId", UUID.randomUUID().toString())
          .put("latestSupportedTlsVersion", "v1_2").put("notificationContentType", "application/json");
      subscriptions.put(id, s);
      created.incrementAndGet();
      publish();
      write(req, 201, s);
    });
  }

  private void renew(HttpServerRequest req, JsonObject s, Buffer body) {
    JsonObject b = json(body);
    String problem = b == null ? "Invalid JSON." : lifetimeProblem(b.getString("expirationDateTime"));
    if (problem != null) {
      write(req, 400, error("InvalidRequest", problem));
      return;
    }
    s.put("expirationDateTime", b.getString("expirationDateTime"));
    renewed.incrementAndGet();
    publish();
    write(req, 200, s);
  }

  private String lifetimeProblem(String expiration) {
    try {
      Instant at = Instant.parse(expiration == null ? "" : expiration);
      Instant now = Instant.now();
      if (!at.isAfter(now)) return "expirationDateTime must be in the future.";
      if (at.isAfter(now.plus(maxLifetime).plusSeconds(60))) {
        return "Subscription expiration can only be " + maxLifetime.toMinutes() + " minutes in the future.";
      }
      return null;
    } catch (DateTimeParseException e) {
      return "expirationDateTime must be an ISO-8601 date and time.";
    }
  }

  /** The handshake with each URL in turn: POST ?validationToken=..., 200 text/plain with the token back, within 10 s. */
  private Future<Void> validate(List<String> urls, int i) {
    if (i >= urls.size()) return Future.succeededFuture();
    String token = "Validation: Testing client application reachability for subscription Request-Id: " + UUID.randomUUID();
    String url = urls.get(i) + (urls.get(i).contains("?") ? "&" : "?") + "validationToken=" + URLEncoder.encode(token, StandardCharsets.UTF_8);
    return client.postAbs(url).putHeader(HttpHeaders.CONTENT_TYPE.toString(), "text/plain; charset=utf-8").timeout(VALIDATION_TIMEOUT_MS)
        .send().compose(r -> {
          String type = r.getHeader(HttpHeaders.CONTENT_TYPE.toString());
          if (r.statusCode() != 200) return Future.failedFuture("the endpoint answered " + r.statusCode());
          if (type == null || !type.startsWith("text/plain")) return Future.failedFuture("the endpoint answered " + type + ", not text/plain");
          if (!token.equals(r.bodyAsString())) return Future.failedFuture("the endpoint did not echo the validationToken");
          return validate(urls, i + 1);
        });
  }

  // ---- the sender (event loop) ----

  private void tick() {
    sweep();
    ChangeLog current = tenant.get().directory.changes;
    if (current != log) {
      // Started, or reset: notify from here on.
      log = current;
      position = current.head();
      return;
    }
    long head = current.head();
    List<ChangeLog.Change> changes = head > position ? current.between(position, head) : null;
    position = head;
    if (changes == null || subscriptions.isEmpty()) return;
    for (JsonObject s : subscriptions.values()) {
      String resource = s.getString("resource");
      List<String> types = List.of(s.getString("changeType").split(","));
      JsonArray items = new JsonArray();
      for (ChangeLog.Change c : changes) {
        boolean users = c.kind().equals("user");
        if (!resource.equals(users ? "users" : "groups")) continue;
        String type = c.deleted() ? "deleted" : "updated";
        if (!types.contains(type)) continue;
        String path = (users ? "Users/" : "Groups/") + c.id();
        JsonObject item = new JsonObject().put("subscriptionId", s.getString("id"))
            .put("subscriptionExpirationDateTime", s.getString("expirationDateTime")).put("changeType", type)
            .put("resource", path).put("tenantId", TENANT_ID)
            .put("resourceData", new JsonObject().put("@odata.type", users ? "#Microsoft.Graph.User" : "#Microsoft.Graph.Group")
                .put("@odata.id", path).put("id", c.id()).put("organizationId", TENANT_ID));
        if (s.getString("clientState") != null) item.put("clientState", s.getString("clientState"));
        items.add(item);
      }
      if (items.isEmpty()) continue;
      String url = s.getString("notificationUrl");
      long delay = deliveryDelay.toMillis();
      if (delay <= 0) deliver(url, items);
      else vertx.setTimer(delay, id -> deliver(url, items));
    }
  }

  private void deliver(String url, JsonArray items) {
    deliveries.incrementAndGet();
    notificationsSent.addAndGet(items.size());
    long began = System.nanoTime();
    client.postAbs(url).timeout(30_000).sendJsonObject(new JsonObject().put("value", items)).onComplete(ar -> {
      long ms = (System.nanoTime() - began) / 1_000_000;
      if (ms > SLOW_MS) slow.incrementAndGet();
      if (ar.succeeded() && ar.result().statusCode() / 100 == 2) {
        acknowledged.incrementAndGet();
      } else {
        failed.incrementAndGet();
        LOG.debug("notification to {} failed: {}", url, ar.succeeded() ? "status " + ar.result().statusCode() : ar.cause().getMessage());
      }
    });
  }

  /** Expired subscriptions are gone. */
  private void sweep() {
    if (subscriptions.isEmpty()) return;
    Instant now = Instant.now();
    boolean changed = subscriptions.values().removeIf(s -> {
      try {
        boolean gone = !Instant.parse(s.getString("expirationDateTime")).isAfter(now);
        if (gone) expired.incrementAndGet();
        return gone;
      } catch (DateTimeParseException e) {
        return true;
      }
    });
    if (changed) publish();
  }

  private void publish() {
    List<JsonObject> copy = new ArrayList<>();
    for (JsonObject s : subscriptions.values()) copy.add(s.copy());
    snapshot = List.copyOf(copy);
  }

  private static boolean httpUrl(String s) {
    try {
      URI u = URI.create(s == null ? "" : s);
      return ("http".equals(u.getScheme()) || "https".equals(u.getScheme())) && u.getHost() != null;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  private static JsonObject json(Buffer body) {
    try {
      return body == null || body.length() == 0 ? null : body.toJsonObject();
    } catch (DecodeException | ClassCastException e) {
      return null;
    }
  }

  private static JsonObject error(String code, String message) {
    return new JsonObject().put("error", new JsonObject().put("code", code).put("message", message)
        .put("innerError", new JsonObject().put("date", Instant.now().toString()).put("request-id", UUID.randomUUID().toString())));
  }

  private static void write(HttpServerRequest req, int status, JsonObject body) {
    if (req.response().ended() || req.response().closed()) return;
    req.response().setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, "application/json; odata.metadata=minimal")
        .end(body.toBuffer());
  }
}
