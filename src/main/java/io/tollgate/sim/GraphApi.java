package io.tollgate.sim;

import io.netty.handler.codec.http.QueryStringDecoder;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.Supplier;

/**
 * The Graph routes, independent of HTTP: one {@link Call} in, one {@link Answer} out, synchronously (the data
 * is in memory). A single request and each {@code $batch} sub-request go through {@link #execute} alike, so
 * throttling, costs, injected errors and writes apply per sub-request exactly as Graph does.
 *
 * <p>Runs on the simulator's event loop only; counting a call in {@link SimulatorStats} is the caller's job
 * (single calls are counted on arrival, before latency, so a client that gives up is still seen).
 */
final class GraphApi {
  static final String GRAPH_JSON =
      "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";
  static final String TENANT_ID = "6d3c4a52-8c1e-4b7a-9f3e-2a1b5c7d9e01";
  static final String APP_ID = "0f1e2d3c-4b5a-4697-8877-665544332211";
  static final int MAX_BATCH = 20;
  static final String CONTEXT = "https://graph.microsoft.com/";
  private static final String SKIP_PREFIX = "skip:";

  /** One Graph request: {@code path} is raw and relative to the version ({@code /users/u1}). */
  record Call(String method, String version, String path, String rawQuery, Map<String, List<String>> params,
      Caller caller, Buffer body, String requestId, String clientRequestId) {

    static Call of(String method, String version, String rawPath, String rawQuery, Caller caller, Buffer body,
        String clientRequestId) {
      Map<String, List<String>> params = rawQuery == null || rawQuery.isEmpty()
          ? Map.of() : new QueryStringDecoder(rawQuery, false).parameters();
      String requestId = UUID.randomUUID().toString();
      return new Call(method, version, rawPath, rawQuery, params, caller, body, requestId,
          clientRequestId == null ? requestId : clientRequestId);
    }

    /** The stats key: {@code "GET /v1.0/users/u1"}. */
    String key() { return method + " /" + version + path; }

    String param(String name) {
      List<String> values = params.get(name);
      return values == null || values.isEmpty() ? null : values.get(0);
    }
  }

  /** Status, the headers particular to this answer, and a JSON body or null for none. */
  record Answer(int status, Map<String, String> headers, JsonObject body) {
    Answer with(Map<String, String> extra) {
      if (extra.isEmpty()) return this;
      Map<String, String> merged = new LinkedHashMap<>(extra);
      merged.putAll(headers);
      return new Answer(status, merged, body);
    }
  }

  private final Supplier<String> origin;
  private final DeltaQueries delta;

  GraphApi(Supplier<String> origin) {
    this.origin = origin;
    this.delta = new DeltaQueries(origin);
  }

  /** Throttles, maybe injects an error, then routes. {@code throttled}/{@code errors} are counted here. */
  Answer execute(Tenant t, Behaviour b, SimulatorStats stats, Call c) {
    return execute(t, b, stats, c, false);
  }

  /**
   * @param inBatch a {@code $batch} sub-request: throttled on its own, told a decimal {@code Retry-After} as Graph
   *     does inside batches ({@code 0.249})
   */
  private Answer execute(Tenant t, Behaviour b, SimulatorStats stats, Call c, boolean inBatch) {
    String[] s = segments(c.path());
    int cost = b.resourceUnits() ? cost(c.method(), s, c.params()) : 1;
    Map<String, String> headers = new LinkedHashMap<>();
    if (b.usageHeaders()) headers.put("x-ms-resource-unit", String.valueOf(cost));
    // Graph meters SharePoint/OneDrive apart from the directory: two budgets per app+tenant.
    boolean sp = s.length > 0 && (s[0].equals("sites") || s[0].equals("drives") || s[0].equals("shares"));
    double rate = sp ? b.sharepointRate() : b.throttleRate();
    int capacity = sp ? b.sharepointCapacity() : b.throttleCapacity();
    if (rate > 0) {
      Throttle.Verdict v = t.throttle.take(c.caller().budget() + (sp ? "|sharepoint" : "|directory"), cost, rate, capacity,
          System.nanoTime());
      stats.charged(cost, sp);
      if (!v.admitted()) {
        stats.throttledOne();
        String retryAfter = retryAfter(b, v.refillSeconds(), inBatch);
        headers.put("Retry-After", retryAfter);
        headers.put("x-ms-throttle-scope", "Tenant_Application/ReadWrite/" + APP_ID + "/" + TENANT_ID);
        headers.put("x-ms-throttle-information", "ResourceUnitLimitExceeded");
        return error(b.throttleStatus(), "TooManyRequests",
            "Too many requests, retry after " + retryAfter + " seconds.", c).with(headers);
      }
      // Graph says how much is used only past 80 % of the budget.
      if (b.usageHeaders() && v.used() >= 0.8) {
        if (b.sharepoint()) {
          headers.put("RateLimit-Limit", String.valueOf(capacity));
          headers.put("RateLimit-Remaining", String.valueOf((long) Math.max(0, Math.floor(v.left()))));
          headers.put("RateLimit-Reset", String.valueOf((long) Math.ceil((capacity - v.left()) / rate)));
        } else {
          headers.put("x-ms-throttle-limit-percentage", String.valueOf(Math.round(v.used() * 100) / 100.0));
        }
      }
    }
    if (b.errorRate() > 0 && t.random.nextDouble() < b.errorRate()) {
      stats.errorOne();
      headers.put("Retry-After", b.errorRetryAfter());
      return error(503, "ServiceUnavailable", "The service is temporarily unavailable (simulated).", c).with(headers);
    }
    // Drive items (with their ETags) live apart from the directory.
    Answer routed = s.length > 0 && s[0].equals("drives") ? t.drives.route(c, s) : route(t.directory, b, c, s);
    return routed.with(headers);
  }

  /** A fixed pause (SharePoint mode, or configured), else Graph's: the time until the cost is refilled. */
  private static String retryAfter(Behaviour b, double refillSeconds, boolean inBatch) {
    if (b.fixedRetryAfterSeconds() > 0) return String.valueOf(b.fixedRetryAfterSeconds());
    if (inBatch) return String.format(java.util.Locale.ROOT, "%.3f", Math.max(0.001, refillSeconds));
    return String.valueOf((long) Math.max(1, Math.ceil(refillSeconds)));
  }

  /**
   * Runs a {@code $batch}: validates it whole (400 when malformed), executes the sub-requests in an order that
   * honours {@code dependsOn}, answers 424 for dependants of a failed request, and returns the sub-responses
   * shuffled, since Graph promises no order. Each executed sub-request is counted in {@code stats}.
   */
  Answer batch(Tenant t, Behaviour b, SimulatorStats stats, Call outer) {
    JsonObject payload = json(outer.body());
    Object list = payload == null ? null : payload.getValue("requests");
    if (!(list instanceof JsonArray requests)) return badBatch(outer, "Invalid batch payload format.");
    if (requests.isEmpty() || requests.size() > MAX_BATCH) {
      return badBatch(outer, "The number of batch requests must be between 1 and " + MAX_BATCH
          + "; got " + requests.size() + ".");
    }
    Map<String, JsonObject> byId = new LinkedHashMap<>();
    for (Object item : requests) {
      if (!(item instanceof JsonObject r) || !(r.getValue("id") instanceof String id)
          || !(r.getValue("method") instanceof String) || !(r.getValue("url") instanceof String)) {
        return badBatch(outer, "Each batch request needs string id, method and url.");
      }
      if (byId.putIfAbsent(id, r) != null) return badBatch(outer, "Batch request ids must be unique; '" + id + "' repeats.");
    }
    Map<String, List<String>> dependsOn = new HashMap<>();
    for (Map.Entry<String, JsonObject> e : byId.entrySet()) {
      Object deps = e.getValue().getValue("dependsOn");
      List<String> ids = new ArrayList<>();
      if (deps != null) {
        if (!(deps instanceof JsonArray array)) return badBatch(outer, "dependsOn must be an array of request ids.");
        for (Object dep : array) {
          if (!(dep instanceof String d) || !byId.containsKey(d) || d.equals(e.getKey())) {
            return badBatch(outer, "Request '" + e.getKey() + "' depends on unknown request '" + dep + "'.");
          }
          ids.add(d);
        }
      }
      dependsOn.put(e.getKey(), ids);
    }
    List<String> order = executionOrder(byId.keySet(), dependsOn);
    if (order == null) return badBatch(outer, "dependsOn forms a cycle.");

    Map<String, Integer> statusById = new HashMap<>();
    List<Object> responses = new ArrayList<>();
    for (String id : order) {
      JsonObject r = byId.get(id);
      Answer answer;
      String failed = null;
      for (String dep : dependsOn.get(id)) {
        if (statusById.get(dep) >= 400) failed = dep;
      }
      Call sub = failed == null ? subCall(outer, r) : null;
      if (failed != null) {
        answer = error(424, "FailedDependency", "Request '" + failed + "' this request depends on failed.", outer);
      } else if (sub == null) {
        answer = error(400, "BadRequest", "Invalid request URL '" + r.getString("url") + "'.", outer);
      } else if (sub.path().equals("/$batch")) {
        answer = error(400, "BadRequest", "A batch cannot contain another batch.", sub);
      } else {
        stats.received(sub.key());
        answer = execute(t, b, stats, sub, true);
      }
      statusById.put(id, answer.status());
      responses.add(subResponse(id, answer, outer.caller()));
    }
    Collections.shuffle(responses, t.random);
    return new Answer(200, Map.of(), new JsonObject().put("responses", new JsonArray(responses)));
  }

  /** Graph's error body; the caller hash is added by whoever writes the answer. */
  static Answer error(int status, String code, String message, Call c) {
    JsonObject inner = new JsonObject().put("date", Instant.now().toString().substring(0, 19))
        .put("request-id", c.requestId()).put("client-request-id", c.clientRequestId());
    return new Answer(status, Map.of(),
        new JsonObject().put("error", new JsonObject().put("code", code).put("message", message).put("innerError", inner)));
  }

  // ---- routing ----

  private Answer route(Directory d, Behaviour b, Call c, String[] s) {
    if (s.length == 0) return notFoundSegment(c, "");
    return switch (s[0]) {
      case "users" -> users(d, b, c, s);
      case "groups" -> groups(d, b, c, s);
      case "sites" -> sites(d, b, c, s);
      case "me" -> s.length == 1
          ? (isGet(c) ? entity(c, "users/$entity", d.userFor(c.caller().hash())) : notAllowed(c))
          : notFoundSegment(c, s[1]);
      default -> notFoundSegment(c, s[0]);
    };
  }

  private Answer users(Directory d, Behaviour b, Call c, String[] s) {
    if (s.length == 1) return isGet(c) ? page(b, c, "users", d.users()) : notAllowed(c);
    if (s.length == 2 && s[1].equals("delta")) return isGet(c) ? delta.answer(d, b, c, "users") : notAllowed(c);
    JsonObject user = d.user(s[1]);
    if (user == null) return missingObject(c, s[1]);
    if (s.length > 2) return notFoundSegment(c, s[2]);
    return switch (c.method()) {
      case "GET" -> entity(c, "users/$entity", user);
      case "PATCH" -> patch(d, c, user);
      default -> notAllowed(c);
    };
  }

  private Answer groups(Directory d, Behaviour b, Call c, String[] s) {
    if (s.length == 1) return isGet(c) ? page(b, c, "groups", d.groups()) : notAllowed(c);
    if (s.length == 2 && s[1].equals("delta")) return isGet(c) ? delta.answer(d, b, c, "groups") : notAllowed(c);
    String groupId = s[1];
    JsonObject group = d.group(groupId);
    if (group == null) return missingObject(c, groupId);
    if (s.length == 2) {
      return switch (c.method()) {
        case "GET" -> entity(c, "groups/$entity", group);
        case "PATCH" -> patch(d, c, group);
        default -> notAllowed(c);
      };
    }
    String relation = s[2];
    if (s.length == 3 && relation.equals("transitiveMembers")) {
      return isGet(c) ? page(b, c, "directoryObjects", objects(d, d.transitiveMembers(groupId))) : notAllowed(c);
    }
    if (!relation.equals("members")) return notFoundSegment(c, relation);
    if (s.length == 3) return isGet(c) ? page(b, c, "directoryObjects", objects(d, d.members(groupId))) : notAllowed(c);
    if (s.length == 4 && s[3].equals("$ref")) {
      return switch (c.method()) {
        case "GET" -> page(b, c, "directoryObjects", references(c, d.members(groupId)));
        case "POST" -> addMember(d, c, groupId);
        default -> notAllowed(c);
      };
    }
    if (s.length == 5 && s[4].equals("$ref")) {
      if (!c.method().equals("DELETE")) return notAllowed(c);
      return d.removeMember(groupId, s[3]) ? noContent() : missingObject(c, s[3]);
    }
    return notFoundSegment(c, s[s.length - 1]);
  }

  private Answer sites(Directory d, Behaviour b, Call c, String[] s) {
    if (s.length == 1) return isGet(c) ? page(b, c, "sites", d.sites()) : notAllowed(c);
    String siteId = s[1];
    JsonObject site = d.site(siteId);
    if (site == null) return error(404, "itemNotFound", "Requested site could not be found", c);
    if (s.length == 2) return isGet(c) ? entity(c, "sites/$entity", site) : notAllowed(c);
    if (!s[2].equals("permissions")) return notFoundSegment(c, s[2]);
    if (s.length == 3) {
      return switch (c.method()) {
        case "GET" -> page(b, c, "sites('" + siteId + "')/permissions", d.permissions(siteId));
        case "POST" -> addPermission(d, c, siteId);
        default -> notAllowed(c);
      };
    }
    if (s.length > 4) return notFoundSegment(c, s[4]);
    JsonObject permission = d.permission(siteId, s[3]);
    if (permission == null) return error(404, "itemNotFound", "Permission '" + s[3] + "' was not found.", c);
    return switch (c.method()) {
      case "GET" -> entity(c, "sites('" + siteId + "')/permissions/$entity", permission);
      case "DELETE" -> {
        d.removePermission(siteId, s[3]);
        yield noContent();
      }
      default -> notAllowed(c);
    };
  }

  // ---- writes ----

  private Answer patch(Directory d, Call c, JsonObject target) {
    JsonObject changes = json(c.body());
    if (changes == null) return unreadableJson(c);
    changes.forEach(e -> {
      // The id and OData annotations identify the object; Graph ignores or rejects changing them.
      if (!e.getKey().equals("id") && !e.getKey().startsWith("@odata")) target.put(e.getKey(), e.getValue());
    });
    d.changed(target);
    return noContent();
  }

  private Answer addMember(Directory d, Call c, String groupId) {
    JsonObject ref = json(c.body());
    if (ref == null) return unreadableJson(c);
    String uri = ref.getValue("@odata.id") instanceof String u ? u : null;
    if (uri == null || uri.endsWith("/")) {
      return error(400, "Request_BadRequest", "The @odata.id of the new member is missing or invalid.", c);
    }
    String memberId = uri.substring(uri.lastIndexOf('/') + 1);
    if (d.directoryObject(memberId) == null) return missingObject(c, memberId);
    if (d.wouldCycle(groupId, memberId)) {
      return error(400, "Request_BadRequest", "Adding '" + memberId + "' would make group '" + groupId
          + "' a member of itself.", c);
    }
    if (!d.addMember(groupId, memberId)) {
      return error(400, "Request_BadRequest", "One or more added object references already exist for the "
          + "following modified properties: 'members'.", c);
    }
    return noContent();
  }

  private Answer addPermission(Directory d, Call c, String siteId) {
    JsonObject permission = json(c.body());
    if (permission == null) return unreadableJson(c);
    JsonObject stored = d.addPermission(siteId, permission);
    JsonObject body = new JsonObject().put("@odata.context", CONTEXT + c.version() + "/$metadata#sites('"
        + siteId + "')/permissions/$entity");
    stored.forEach(e -> body.put(e.getKey(), e.getValue()));
    return new Answer(201, Map.of("Location", origin.get() + "/" + c.version() + "/sites/" + siteId
        + "/permissions/" + stored.getString("id")), body);
  }

  // ---- reads ----

  private Answer entity(Call c, String context, JsonObject item) {
    JsonObject body = new JsonObject().put("@odata.context", CONTEXT + c.version() + "/$metadata#" + context);
    select(c, item).forEach(e -> body.put(e.getKey(), e.getValue()));
    return new Answer(200, Map.of(), body);
  }

  /** One page of a collection: {@code $top} sets the page size (at most 999), {@code $skiptoken} the start. */
  private Answer page(Behaviour b, Call c, String entitySet, List<JsonObject> items) {
    int size = b.pageSize();
    String top = c.param("$top");
    if (top != null) {
      size = parseNonNegative(top);
      if (size < 1) {
        return error(400, "Request_BadRequest", "Invalid page size specified: '" + top
            + "'. Must be between 1 and " + SimulatorOptions.MAX_PAGE_SIZE + " inclusive.", c);
      }
      size = Math.min(size, SimulatorOptions.MAX_PAGE_SIZE);
    }
    int offset = 0;
    String token = c.param("$skiptoken");
    if (token != null) {
      offset = decodeSkipToken(token);
      if (offset < 0) return error(400, "Request_BadRequest", "Invalid paging token.", c);
    }
    int end = Math.min(items.size(), offset + size);
    JsonArray value = new JsonArray();
    for (int i = offset; i < end; i++) value.add(select(c, items.get(i)));
    JsonObject body = new JsonObject().put("@odata.context", CONTEXT + c.version() + "/$metadata#" + entitySet);
    if ("true".equals(c.param("$count"))) body.put("@odata.count", items.size());
    if (end < items.size()) body.put("@odata.nextLink", nextLink(c, end));
    body.put("value", value);
    return new Answer(200, Map.of(), body);
  }

  /** Absolute, on the simulator's origin, keeping every query parameter but the old skip token. */
  private String nextLink(Call c, int offset) {
    StringBuilder link = new StringBuilder(origin.get()).append('/').append(c.version()).append(c.path()).append('?');
    if (c.rawQuery() != null) {
      for (String part : c.rawQuery().split("&")) {
        if (part.isEmpty()) continue;
        int eq = part.indexOf('=');
        String name = QueryStringDecoder.decodeComponent(eq < 0 ? part : part.substring(0, eq));
        if (!name.equals("$skiptoken")) link.append(part).append('&');
      }
    }
    String token = Base64.getUrlEncoder().withoutPadding()
        .encodeToString((SKIP_PREFIX + offset).getBytes(StandardCharsets.UTF_8));
    return link.append("$skiptoken=").append(token).toString();
  }

  private static int decodeSkipToken(String token) {
    try {
      String text = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
      return text.startsWith(SKIP_PREFIX) ? parseNonNegative(text.substring(SKIP_PREFIX.length())) : -1;
    } catch (IllegalArgumentException e) {
      return -1;
    }
  }

  /** A copy trimmed to {@code $select} (plus id) when the caller asked; a full copy otherwise. */
  static JsonObject select(Call c, JsonObject item) {
    String select = c.param("$select");
    if (select == null) return item.copy();
    JsonObject out = new JsonObject();
    if (item.containsKey("id")) out.put("id", item.getValue("id"));
    for (String field : select.split(",")) {
      String name = field.trim();
      if (item.containsKey(name)) out.put(name, item.getValue(name));
    }
    return out.copy();
  }

  private static List<JsonObject> objects(Directory d, List<String> ids) {
    List<JsonObject> out = new ArrayList<>(ids.size());
    for (String id : ids) {
      JsonObject o = d.directoryObject(id);
      if (o != null) out.add(o);
    }
    return out;
  }

  private List<JsonObject> references(Call c, List<String> ids) {
    String base = origin.get() + "/" + c.version() + "/directoryObjects/";
    List<JsonObject> out = new ArrayList<>(ids.size());
    for (String id : ids) out.add(new JsonObject().put("@odata.id", base + id));
    return out;
  }

  // ---- batch helpers ----

  /** Kahn's algorithm, preferring the order of the request; null when dependsOn loops. */
  private static List<String> executionOrder(Set<String> ids, Map<String, List<String>> dependsOn) {
    List<String> order = new ArrayList<>(ids.size());
    Set<String> done = new HashSet<>();
    Set<String> remaining = new LinkedHashSet<>(ids);
    while (!remaining.isEmpty()) {
      String ready = null;
      for (String id : remaining) {
        if (done.containsAll(dependsOn.get(id))) {
          ready = id;
          break;
        }
      }
      if (ready == null) return null;
      remaining.remove(ready);
      done.add(ready);
      order.add(ready);
    }
    return order;
  }

  private static Call subCall(Call outer, JsonObject r) {
    String url = r.getString("url").trim();
    if (url.isEmpty() || url.contains("://")) return null;
    QueryStringDecoder decoder = new QueryStringDecoder(url.startsWith("/") ? url : "/" + url);
    Object body = r.getValue("body");
    Buffer buffer = body == null ? Buffer.buffer()
        : body instanceof String text ? Buffer.buffer(text)
        : body instanceof JsonObject o ? o.toBuffer()
        : body instanceof JsonArray a ? a.toBuffer() : Buffer.buffer(String.valueOf(body));
    String clientRequestId = null;
    if (r.getValue("headers") instanceof JsonObject headers) {
      for (String name : headers.fieldNames()) {
        if (name.equalsIgnoreCase("client-request-id")) clientRequestId = String.valueOf(headers.getValue(name));
      }
    }
    String rawQuery = decoder.rawQuery();
    return Call.of(r.getString("method").toUpperCase(java.util.Locale.ROOT), outer.version(), decoder.rawPath(),
        rawQuery.isEmpty() ? null : rawQuery, outer.caller(), buffer, clientRequestId);
  }

  private static JsonObject subResponse(String id, Answer a, Caller caller) {
    JsonObject headers = new JsonObject().put("Cache-Control", "no-cache");
    if (a.body() != null) headers.put("Content-Type", GRAPH_JSON);
    a.headers().forEach(headers::put);
    JsonObject response = new JsonObject().put("id", id).put("status", a.status()).put("headers", headers);
    if (a.body() != null) response.put("body", a.body().copy().put("callerHash", caller.hash()));
    return response;
  }

  private static Answer badBatch(Call c, String message) {
    return error(400, "BadRequest", message, c);
  }

  // ---- small answers ----

  private static Answer noContent() {
    return new Answer(204, Map.of(), null);
  }

  private static Answer notAllowed(Call c) {
    return error(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.", c);
  }

  private static Answer notFoundSegment(Call c, String segment) {
    return error(404, "BadRequest", "Resource not found for the segment '" + segment + "'.", c);
  }

  private static Answer missingObject(Call c, String id) {
    return error(404, "Request_ResourceNotFound", "Resource '" + id
        + "' does not exist or one of its queried reference-property objects are not present.", c);
  }

  private static Answer unreadableJson(Call c) {
    return error(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set "
        + "and payload is of valid JSON format.", c);
  }

  private static boolean isGet(Call c) {
    return c.method().equals("GET");
  }

  /**
   * Graph's price list (GRAPH.md): identity calls in resource units with {@code $select} -1 and {@code $expand}
   * +1, never below 1; SharePoint 1 for one item, 2 for a collection or a write, 5 for a permission read
   * (also through {@code $expand=permissions}); everything else 1.
   */
  private static int cost(String method, String[] s, Map<String, List<String>> params) {
    if (s.length == 0) return 1;
    boolean get = method.equals("GET");
    if (s[0].equals("sites") || s[0].equals("drives")) {
      if (!get) return 2;
      if (s[s.length - 1].equals("permissions") || expands(params, "permissions")) return 5;
      return s.length % 2 == 1 ? 2 : 1;
    }
    if (!get) return 1;
    int base = 1;
    if (s[0].equals("users") && s.length == 1) base = 2;
    if (s[0].equals("applications")) base = 2;
    if (s[0].equals("me") && s.length >= 2 && s[1].equals("memberOf")) base = 2;
    if (s[0].equals("groups") && s.length >= 3) {
      if (s[2].equals("transitiveMembers")) base = 5;
      if (s[2].equals("members")) base = 3;
    }
    if (!(s[0].equals("users") || s[0].equals("groups") || s[0].equals("me") || s[0].equals("applications"))) return base;
    if (params.containsKey("$select")) base -= 1;
    if (params.containsKey("$expand")) base += 1;
    return Math.max(1, base);
  }

  private static boolean expands(Map<String, List<String>> params, String what) {
    List<String> values = params.get("$expand");
    if (values == null) return false;
    for (String v : values) if (v.toLowerCase(java.util.Locale.ROOT).contains(what)) return true;
    return false;
  }

  private static String[] segments(String rawPath) {
    List<String> out = new ArrayList<>();
    for (String part : rawPath.split("/")) {
      if (!part.isEmpty()) out.add(QueryStringDecoder.decodeComponent(part));
    }
    return out.toArray(new String[0]);
  }

  private static JsonObject json(Buffer body) {
    if (body == null || body.length() == 0) return null;
    try {
      Object value = body.toJsonValue();
      return value instanceof JsonObject o ? o : null;
    } catch (DecodeException e) {
      return null;
    }
  }

  private static int parseNonNegative(String text) {
    try {
      int n = Integer.parseInt(text.trim());
      return n < 0 ? -1 : n;
    } catch (NumberFormatException e) {
      return -1;
    }
  }
}
