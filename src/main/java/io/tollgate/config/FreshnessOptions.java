package io.tollgate.config;

import io.vertx.core.json.JsonObject;
import java.util.Map;

/**
 * Freshness sources that evict by content instead of by TTL (YAML {@code freshness}). Graph's delta
 * feeds ({@code freshness.delta}, {@link DeltaOptions}) and change notifications that shorten their lag
 * ({@code freshness.notifications}, {@link NotificationOptions}).
 */
public final class FreshnessOptions {
  private DeltaOptions delta = new DeltaOptions();
  private NotificationOptions notifications = new NotificationOptions();

  public FreshnessOptions() {}

  public FreshnessOptions(FreshnessOptions o) {
    delta = new DeltaOptions(o.delta);
    notifications = new NotificationOptions(o.notifications);
  }

  static FreshnessOptions read(ConfigReader r, Map<String, String> env) {
    FreshnessOptions o = new FreshnessOptions();
    o.delta = DeltaOptions.read(r.section("delta"), env);
    o.notifications = NotificationOptions.read(r.section("notifications"), env);
    if (o.notifications.isEnabled() && !o.delta.isEnabled()) {
      r.problem("notifications.enabled", true, "false, or freshness.delta.enabled: true (its credentials, tenant and content index)");
    }
    r.rejectUnknown();
    return o;
  }

  /** Secrets masked. */
  public JsonObject toJson() {
    return new JsonObject().put("delta", delta.toJson()).put("notifications", notifications.toJson());
  }

  @Override
  public String toString() {
    return toJson().encode();
  }

  public DeltaOptions getDelta() { return delta; }
  public FreshnessOptions setDelta(DeltaOptions delta) { this.delta = delta; return this; }
  public NotificationOptions getNotifications() { return notifications; }
  public FreshnessOptions setNotifications(NotificationOptions n) { this.notifications = n; return this; }
}
