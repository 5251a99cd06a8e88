package io.tollgate.graph;

import io.tollgate.proxy.GatewayException;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A parsed, validated Graph JSON batch. Every malformed case (not JSON, no requests, more than 20, duplicate
 * or missing ids, a method or url Graph would refuse, an unknown {@code dependsOn}, a cycle) is a Graph-shaped
 * 400 before anything reaches the upstream.
 */
public final class BatchRequest {
  public static final int MAX_REQUESTS = 20;
  private static final Set<String> METHODS = Set.of("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE");

  /** One sub-request, as the client sent it, plus its path and query split for cache keys. */
  public record Sub(int index, String id, String method, String url, String path, String query, JsonObject headers,
      Object body, List<String> dependsOn, JsonObject raw) {}

  private final List<Sub> subs;

  private BatchRequest(List<Sub> subs) {
    this.subs = subs;
  }

  public List<Sub> subs() {
    return subs;
  }

  /** @throws GatewayException 400 {@code BadRequest} naming what is wrong */
  public static BatchRequest parse(Buffer body) {
    JsonObject json;
    try {
      json = body.toJsonObject();
    } catch (DecodeException | ClassCastException e) {
      throw bad("The batch body is not a JSON object.");
    }
    Object requests = json.getValue("requests");
    if (!(requests instanceof JsonArray array)) throw bad("The batch needs a 'requests' array.");
    if (array.isEmpty()) throw bad("The batch has no requests.");
    if (array.size() > MAX_REQUESTS) throw bad("A batch holds at most " + MAX_REQUESTS + " requests; this one has " + array.size() + ".");
    List<Sub> subs = new ArrayList<>();
    Map<String, Sub> byId = new HashMap<>();
    for (int i = 0; i < array.size(); i++) {
      if (!(array.getValue(i) instanceof JsonObject r)) throw bad("requests[" + i + "] is not an object.");
      Object id = r.getValue("id");
      if (!(id instanceof String || id instanceof Number) || String.valueOf(id).isBlank()) throw bad("requests[" + i + "] has no id.");
      String sid = String.valueOf(id);
      if (byId.containsKey(sid)) throw bad("Duplicate request id '" + sid + "'.");
      String method = r.getValue("method") instanceof String m ? m.toUpperCase() : null;
      if (method == null || !METHODS.contains(method)) throw bad("Request '" + sid + "' has an invalid method.");
      String url = r.getValue("url") instanceof String u ? u.trim() : null;
      if (url == null || url.isEmpty() || url.contains("://") || url.startsWith("//") || url.contains(" ")) {
        throw bad("Request '" + sid + "' needs a relative url such as /users/{id}.");
      }
      if (!url.startsWith("/")) url = "/" + url;
      int q = url.indexOf('?');
      String path = q < 0 ? url : url.substring(0, q);
      String query = q < 0 ? null : url.substring(q + 1);
      Object headers = r.getValue("headers");
      if (headers != null && !(headers instanceof JsonObject)) throw bad("Request '" + sid + "' has headers that are not an object.");
      List<String> deps = new ArrayList<>();
      Object dependsOn = r.getValue("dependsOn");
      if (dependsOn instanceof JsonArray d) {
        for (Object o : d) deps.add(String.valueOf(o));
      } else if (dependsOn != null) {
        throw bad("Request '" + sid + "' has a dependsOn that is not a list.");
      }
      Sub sub = new Sub(i, sid, method, url, path, query, headers == null ? new JsonObject() : (JsonObject) headers,
          r.getValue("body"), List.copyOf(deps), r);
      subs.add(sub);
      byId.put(sid, sub);
    }
    for (Sub s : subs) {
      for (String dep : s.dependsOn()) {
        if (!byId.containsKey(dep)) throw bad("Request '" + s.id() + "' depends on unknown id '" + dep + "'.");
        if (dep.equals(s.id())) throw bad("Request '" + s.id() + "' depends on itself.");
      }
    }
    Set<String> acyclic = new java.util.HashSet<>();
    for (Sub s : subs) checkCycle(s, byId, new LinkedHashSet<>(), acyclic);
    return new BatchRequest(List.copyOf(subs));
  }

  private static void checkCycle(Sub s, Map<String, Sub> byId, Set<String> path, Set<String> acyclic) {
    if (acyclic.contains(s.id())) return;
    if (!path.add(s.id())) throw bad("The dependsOn chain " + String.join(" -> ", path) + " -> " + s.id() + " is a cycle.");
    for (String dep : s.dependsOn()) checkCycle(byId.get(dep), byId, path, acyclic);
    path.remove(s.id());
    acyclic.add(s.id());
  }

  private static GatewayException bad(String message) {
    return new GatewayException(400, "BadRequest", message, null);
  }
}
