package io.tollgate.freshness;

import io.tollgate.Gateway;
import io.tollgate.config.CacheOptions;
import io.tollgate.config.TollgateOptions;
import io.tollgate.metrics.Addresses;
import io.tollgate.sim.GraphSimulator;
import io.tollgate.sim.SimulatorOptions;
import io.tollgate.testing.GatewayHarness;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/** What the delta-feed tests share: a gateway following the simulator's feeds, out-of-band changes, events. */
final class DeltaTesting {
  static final Duration POLL = Duration.ofMillis(300);
  static final String ALICE = "Bearer alice";
  static final String BOB = "Bearer bob";

  private DeltaTesting() {}

  static SimulatorOptions simulator() {
    return new SimulatorOptions().setUsers(150).setGroups(20).setSites(1).setMembersPerGroup(8).setNestedGroupRate(0.5)
        .setPageSize(100).setGroupChangeRate(0);
  }

  /** Follows both feeds of the simulator (its token endpoint is the token origin) and marks the directory routes delta-fed (24 h). */
  static Consumer<TollgateOptions> following() {
    return o -> {
      o.getFreshness().getDelta().setEnabled(true).setTenantId("contoso").setClientId(SimulatorOptions.DEFAULT_CLIENT_ID)
          .setClientSecret(SimulatorOptions.DEFAULT_CLIENT_SECRET).setTokenOrigin(o.getUpstream().getUrl()).setPollInterval(POLL);
      List<CacheOptions.Route> routes = new ArrayList<>();
      for (CacheOptions.Route r : o.getCache().getRoutes()) {
        boolean directory = r.name().equals("user") || r.name().startsWith("group") || r.name().equals("transitive-members");
        routes.add(directory ? new CacheOptions.Route(r.name(), r.path(), Duration.ofHours(24), r.staleWhileRevalidate(),
            r.staleIfError(), r.negativeTtl(), true) : r);
      }
      o.getCache().setRoutes(routes);
    };
  }

  /** {@code freshness} events published on {@code g}'s event bus, in order. */
  static List<JsonObject> events(Gateway g) {
    List<JsonObject> seen = new CopyOnWriteArrayList<>();
    g.vertx().eventBus().<JsonObject>consumer(Addresses.EVENTS, m -> {
      if ("freshness".equals(m.body().getString("type"))) seen.add(m.body());
    });
    return seen;
  }

  /** Applies out-of-band changes in the simulator (behind every gateway's back). */
  static JsonObject change(GatewayHarness h, JsonObject body) throws Exception {
    HttpResponse<String> r = h.http().send(HttpRequest.newBuilder(URI.create(h.sim().origin() + "/_sim/directory"))
        .POST(HttpRequest.BodyPublishers.ofString(body.encode())).header("Content-Type", "application/json").build(),
        HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200) throw new AssertionError(r.body());
    JsonObject result = new JsonObject(r.body());
    if (!result.getJsonArray("failed").isEmpty()) throw new AssertionError(r.body());
    return result;
  }

  static JsonObject rename(String userId, String name) {
    return new JsonObject().put("op", "renameUser").put("id", userId).put("displayName", name);
  }

  /** Both feeds of the simulator have been read past their initial sync (its eviction done). */
  static boolean pastInitialSync(GraphSimulator sim) {
    return sim.stats().count("GET /v1.0/users/delta") >= 2 && sim.stats().count("GET /v1.0/groups/delta") >= 2;
  }
}
