package io.tollgate.freshness;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.config.DeltaOptions;
import io.tollgate.config.NotificationOptions;
import io.tollgate.metrics.Addresses;
import io.tollgate.metrics.MeterNames;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.core.buffer.Buffer;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps one Graph subscription per configured resource alive for the notification listener: creates it
 * ({@code POST /v1.0/subscriptions}, after which Graph validates the listener with the {@code validationToken}
 * handshake), renews it ({@code PATCH}) once it expires within {@code renewBefore}, and recreates it when Graph
 * forgot it (404 on renewal, a {@code subscriptionRemoved} lifecycle notification) or it expired unrenewed.
 *
 * <p>Design note. A check runs every {@code checkInterval}, never two at once, on the owning verticle's context
 * (its fields are touched nowhere else). With Redis, one instance of a fleet manages the subscriptions: the check
 * first takes or renews a lease ({@link CursorStore}, lease {@code <tenant>:subscriptions}, 3 x checkInterval);
 * an instance that takes over (or starts) lists the app's subscriptions once and adopts those for its
 * notificationUrl and resources, so a restart or a takeover renews instead of duplicating. Writes are paced
 * ({@code writeInterval} apart; Graph allows 500 per 20 s per app and tenant). Only the configured upstream origin
 * is contacted, with ids checked before they go into a path; no URL from an answer is followed. The token is the
 * delta feed's ({@link TokenClient}, the sidecar's app credentials).
 */
final class SubscriptionKeeper {
  private static final Logger LOG = LoggerFactory.getLogger(SubscriptionKeeper.class);
  private static final Pattern SUBSCRIPTION_ID = Pattern.compile("[A-Za-z0-9-]{1,64}");

  private final Vertx vertx;
  private final Context context;
  private final NotificationOptions options;
  private final DeltaOptions delta;
  private final String upstreamUrl;
  private final WebClient client;
  private final TokenClient tokens;
  private final CursorStore leases;
  private final boolean fleet;
  private final MeterRegistry registry;
  private final String owner = UUID.randomUUID().toString();
  private final String leaseKey;
  private final Map<String, Sub> subs = new LinkedHashMap<>();
  private boolean leader;
  private boolean adopted;
  private boolean stopping;
  private boolean checking;
  private boolean checkAgain;
  private long timer = -1;
  private long nextWriteAtMillis;

  /** One resource's subscription as this instance knows it (id null: none yet, or lost). */
  private final class Sub {
    final String resource;
    final Counter created;
    final Counter renewed;
    final Counter recreated;
    final Counter failed;
    String id;
    long expiresAtMillis;
    /** Recreate instead of create: it existed before (events and counters tell the two apart). */
    boolean lost;
    long retryAtMillis;
    int failures;
    /** Graph asked for a renewal (reauthorizationRequired): renew at the next check whatever the expiry. */
    boolean renewNow;

    Sub(String resource) {
      this.resource = resource;
      created = outcome("created");
      renewed = outcome("renewed");
      recreated = outcome("recreated");
      failed = outcome("failed");
    }

    private Counter outcome(String outcome) {
      return Counter.builder(MeterNames.FRESHNESS_SUBSCRIPTIONS).tag("resource", resource).tag("outcome", outcome).register(registry);
    }
  }

  SubscriptionKeeper(Vertx vertx, Context context, NotificationOptions options, DeltaOptions delta, String upstreamUrl,
      WebClient client, TokenClient tokens, CursorStore leases, boolean fleet, MeterRegistry registry) {
    this.vertx = vertx;
    this.context = context;
    this.options = options;
    this.delta = delta;
    this.upstreamUrl = upstreamUrl;
    this.client = client;
    this.tokens = tokens;
    this.leases = leases;
    this.fleet = fleet;
    this.registry = registry;
    this.leaseKey = delta.getTenantId() + ":subscriptions";
    for (String r : options.getResources()) subs.put(r, new Sub(r));
  }

  /** Starts checking (the first check at once). */
  void start() {
    check();
  }

  Future<Void> stop() {
    stopping = true;
    if (timer >= 0) vertx.cancelTimer(timer);
    // The subscriptions stay: another instance (or this one restarted) adopts them.
    return leader && fleet ? leases.release(leaseKey, owner).otherwiseEmpty() : Future.succeededFuture();
  }

  /** The resource a subscription id of ours belongs to, or null. */
  String resourceOf(String subscriptionId) {
    for (Sub s : subs.values()) if (subscriptionId != null && subscriptionId.equals(s.id)) return s.resource;
    return null;
  }

  /** Graph removed the subscription ({@code subscriptionRemoved}): recreate it at the next check, which runs now. */
  void removed(String resource, String reason) {
    Sub s = subs.get(resource);
    if (s == null || s.id == null) return;
    lose(s, reason);
    checkNow();
  }

  /** Graph asks for a renewal ({@code reauthorizationRequired}): renew at the next check, which runs now. */
  void renewSoon(String resource) {
    Sub s = subs.get(resource);
    if (s == null || s.id == null) return;
    s.renewNow = true;
    checkNow();
  }

  private void checkNow() {
    if (stopping) return;
    if (checking) {
      checkAgain = true;
      return;
    }
    if (timer >= 0) vertx.cancelTimer(timer);
    timer = -1;
    check();
  }

  private void check() {
    if (stopping) return;
    checking = true;
    checkAgain = false;
    leases.lease(leaseKey, owner, options.getCheckInterval().multipliedBy(3))
        .compose(held -> {
          if (!held) {
            if (leader) LOG.info("notifications: another instance manages the subscriptions");
            leader = false;
            adopted = false;
            return Future.succeededFuture();
          }
          if (!leader && fleet) LOG.info("notifications: this instance manages the subscriptions");
          leader = true;
          return (adopted ? Future.<Void>succeededFuture() : adopt()).compose(v -> keepAll(List.copyOf(subs.values()), 0));
        })
        .onFailure(e -> LOG.warn("notifications: subscription check failed: {}", e.getMessage()))
        .onComplete(ar -> {
          checking = false;
          if (stopping) return;
          if (checkAgain) {
            context.runOnContext(v -> check());
          } else {
            timer = vertx.setTimer(options.getCheckInterval().toMillis(), id -> {
              timer = -1;
              check();
            });
          }
        });
  }

  /** Lists the app's subscriptions and adopts the live ones for our URL and resources (a restart or takeover). */
  private Future<Void> adopt() {
    return call(t -> client.getAbs(upstreamUrl + "/v1.0/subscriptions").putHeader("Authorization", "Bearer " + t).timeout(30_000).send())
        .map(r -> {
          if (r.statusCode() != 200) throw new IllegalStateException("listing subscriptions answered " + r.statusCode());
          JsonObject page = r.bodyAsJsonObject();
          long now = System.currentTimeMillis();
          if (page != null && page.getValue("value") instanceof JsonArray value) {
            for (Object o : value) {
              if (!(o instanceof JsonObject j) || !options.getNotificationUrl().equals(j.getString("notificationUrl"))) continue;
              Sub s = subs.get(resourceName(j.getString("resource", "")));
              String id = j.getString("id");
              long expires = expiry(j);
              if (s == null || s.id != null || id == null || !SUBSCRIPTION_ID.matcher(id).matches() || expires <= now) continue;
              s.id = id;
              s.expiresAtMillis = expires;
              LOG.info("notifications: adopted the {} subscription {} (expires {})", s.resource, id, Instant.ofEpochMilli(expires));
            }
          }
          adopted = true;
          return null;
        });
  }

  private static String resourceName(String resource) {
    String r = resource.startsWith("/") ? resource.substring(1) : resource;
    return r.toLowerCase(java.util.Locale.ROOT);
  }

  /** Keeps each subscription in turn (writes are paced, so one after the other). */
  private Future<Void> keepAll(List<Sub> all, int i) {
    if (i >= all.size() || stopping || !leader) return Future.succeededFuture();
    Sub s = all.get(i);
    return keep(s).recover(e -> {
      if (stopping) return Future.succeededFuture();
      s.failed.increment();
      s.failures++;
      // Backoff: checkInterval doubling per failure, at most 10 minutes (a token or permission problem persists).
      long backoff = Math.min(600_000L, options.getCheckInterval().toMillis() << Math.min(s.failures - 1, 12));
      s.retryAtMillis = System.currentTimeMillis() + backoff;
      LOG.warn("notifications: {} subscription: {} (retry in {} ms)", s.resource, e.getMessage() != null ? e.getMessage() : e.toString(), backoff);
      return Future.succeededFuture();
    }).compose(v -> keepAll(all, i + 1));
  }

  private Future<Void> keep(Sub s) {
    long now = System.currentTimeMillis();
    if (s.id != null && s.expiresAtMillis <= now) lose(s, "expired without renewal");
    if (now < s.retryAtMillis) return Future.succeededFuture();
    if (s.id == null) return create(s);
    if (!s.renewNow && s.expiresAtMillis - now > options.getRenewBefore().toMillis()) return Future.succeededFuture();
    return renew(s);
  }

  private Future<Void> create(Sub s) {
    String expires = Instant.now().plus(options.getLifetime()).toString();
    JsonObject body = new JsonObject().put("changeType", options.getChangeType())
        .put("notificationUrl", options.getNotificationUrl()).put("lifecycleNotificationUrl", options.getNotificationUrl())
        .put("resource", s.resource).put("expirationDateTime", expires).put("clientState", options.getClientState());
    return paced().compose(v -> call(t -> client.postAbs(upstreamUrl + "/v1.0/subscriptions")
        .putHeader("Authorization", "Bearer " + t).timeout(60_000).sendJsonObject(body))).map(r -> {
          if (r.statusCode() != 201 && r.statusCode() != 200) throw new IllegalStateException("creating answered " + r.statusCode() + reason(r));
          JsonObject j = r.bodyAsJsonObject();
          String id = j == null ? null : j.getString("id");
          if (id == null || !SUBSCRIPTION_ID.matcher(id).matches()) throw new IllegalStateException("created, but no usable id in the answer");
          s.id = id;
          s.expiresAtMillis = expiry(j);
          s.failures = 0;
          boolean again = s.lost;
          s.lost = false;
          (again ? s.recreated : s.created).increment();
          LOG.info("notifications: {} subscription {} {} (expires {})", s.resource, id, again ? "recreated" : "created", j.getString("expirationDateTime"));
          event(s, again ? "recreated" : "subscribed", again ? "recreated after it was lost" : "created");
          return null;
        });
  }

  private Future<Void> renew(Sub s) {
    String id = s.id;
    JsonObject body = new JsonObject().put("expirationDateTime", Instant.now().plus(options.getLifetime()).toString());
    return paced().compose(v -> call(t -> client.patchAbs(upstreamUrl + "/v1.0/subscriptions/" + id)
        .putHeader("Authorization", "Bearer " + t).timeout(60_000).sendJsonObject(body))).compose(r -> {
          if (r.statusCode() == 404) {
            if (id.equals(s.id)) lose(s, "renewal answered 404: Graph no longer knows it");
            return create(s);
          }
          if (r.statusCode() != 200) return Future.failedFuture(new IllegalStateException("renewing answered " + r.statusCode() + reason(r)));
          JsonObject j = r.bodyAsJsonObject();
          s.expiresAtMillis = j == null ? System.currentTimeMillis() + options.getLifetime().toMillis() : expiry(j);
          s.failures = 0;
          s.renewNow = false;
          s.renewed.increment();
          LOG.debug("notifications: {} subscription {} renewed until {}", s.resource, id, Instant.ofEpochMilli(s.expiresAtMillis));
          event(s, "renewed", "renewed before expiry");
          return Future.succeededFuture();
        });
  }

  private void lose(Sub s, String reason) {
    LOG.warn("notifications: {} subscription {} lost: {}", s.resource, s.id, reason);
    event(s, "lost", reason);
    s.id = null;
    s.lost = true;
    s.renewNow = false;
    s.retryAtMillis = 0;
  }

  /** Waits until the next write may go (writeInterval after the last). */
  private Future<Void> paced() {
    long now = System.currentTimeMillis();
    long wait = nextWriteAtMillis - now;
    nextWriteAtMillis = Math.max(now, nextWriteAtMillis) + options.getWriteInterval().toMillis();
    return wait <= 0 ? Future.succeededFuture() : vertx.timer(wait).mapEmpty();
  }

  /** Sends with the sidecar's token; a 401 drops the cached token (the next call fetches a new one). */
  private Future<HttpResponse<Buffer>> call(java.util.function.Function<String, Future<HttpResponse<Buffer>>> send) {
    return tokens.token().compose(send).map(r -> {
      if (r.statusCode() == 401) tokens.invalidate();
      return r;
    });
  }

  private static String reason(HttpResponse<Buffer> r) {
    try {
      JsonObject j = r.bodyAsJsonObject();
      JsonObject error = j == null ? null : j.getJsonObject("error");
      String message = error == null ? null : error.getString("message");
      if (message == null) return "";
      return ": " + (message.length() > 200 ? message.substring(0, 200) : message);
    } catch (RuntimeException e) {
      return "";
    }
  }

  private long expiry(JsonObject j) {
    try {
      return Instant.parse(j.getString("expirationDateTime", "")).toEpochMilli();
    } catch (DateTimeParseException e) {
      return System.currentTimeMillis() + options.getLifetime().toMillis();
    }
  }

  private void event(Sub s, String state, String reason) {
    JsonObject e = new JsonObject().put("type", "freshness").put("feed", s.resource).put("tenant", delta.getTenantId())
        .put("state", state).put("reason", reason).put("at", Instant.now().toString());
    if (s.id != null) e.put("subscription", s.id).put("expires", Instant.ofEpochMilli(s.expiresAtMillis).toString());
    vertx.eventBus().publish(Addresses.EVENTS, e);
  }
}
