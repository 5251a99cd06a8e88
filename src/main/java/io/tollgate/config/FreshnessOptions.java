package io.tollgate.config;

import io.vertx.core.json.JsonObject;
import java.util.Map;

/**
 * Freshness sources that evict by content instead of by TTL (YAML {@code freshness}). Today: Graph's delta
 * feeds ({@code freshness.delta}, {@link DeltaOptions}).
 */
public final class FreshnessOptions {
  private DeltaOptions delta = new DeltaOptions();

  public FreshnessOptions() {}

  public FreshnessOptions(FreshnessOptions o) {
    delta = new DeltaOptions(o.delta);
  }

  static FreshnessOptions read(ConfigReader r, Map<String, String> env) {
    FreshnessOptions o = new FreshnessOptions();
    o.delta = DeltaOptions.read(r.section("delta"), env);
    r.rejectUnknown();
    return o;
  }

  /** Secrets masked. */
  public JsonObject toJson() {
    return new JsonObject().put("delta", delta.toJson());
  }

  @Override
  public String toString() {
    return toJson().encode();
  }

  public DeltaOptions getDelta() { return delta; }
  public FreshnessOptions setDelta(DeltaOptions delta) { this.delta = delta; return this; }
}
