package io.tollgate.metrics;

import io.vertx.core.json.JsonObject;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What each component says about itself for {@code /health/ready}. A component is UP, DEGRADED (working
 * with less: Redis lost, L1 serves; still ready) or DOWN (not ready). Written from any thread.
 */
public final class Readiness {
  public enum State { UP, DEGRADED, DOWN }

  private record Entry(State state, String detail) {}

  private final Map<String, Entry> components = new ConcurrentHashMap<>();

  public void report(String component, State state, String detail) {
    components.put(component, new Entry(state, detail));
  }

  public boolean ready() {
    if (components.isEmpty()) return false;
    for (Entry e : components.values()) if (e.state == State.DOWN) return false;
    return true;
  }

  public JsonObject toJson() {
    JsonObject parts = new JsonObject();
    State overall = components.isEmpty() ? State.DOWN : State.UP;
    for (Map.Entry<String, Entry> e : new java.util.TreeMap<>(components).entrySet()) {
      JsonObject part = new JsonObject().put("status", e.getValue().state.name());
      if (e.getValue().detail != null) part.put("detail", e.getValue().detail);
      parts.put(e.getKey(), part);
      if (e.getValue().state.ordinal() > overall.ordinal()) overall = e.getValue().state;
    }
    return new JsonObject().put("status", overall.name()).put("components", parts);
  }
}
