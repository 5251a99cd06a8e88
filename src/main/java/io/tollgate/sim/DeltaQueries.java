package io.tollgate.sim;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * {@code GET /users/delta} and {@code /groups/delta} as Graph answers them (GRAPH.md, "Paging and delta"): the
 * first call (no token) is the initial sync, every current object; {@code @odata.nextLink} pages carry a
 * {@code $skiptoken}; the last page carries {@code @odata.deltaLink} with a {@code $deltatoken}; a call with that
 * token returns what changed since, each object once with its current properties, deleted ones as
 * {@code {"id", "@removed":{"reason":"deleted"}}}. Groups carry {@code members@delta} (all members on the initial
 * sync, added ones and removed ones with {@code @removed} afterwards) unless a {@code $select} leaves
 * {@code members} out. A token the {@link ChangeLog} no longer knows gets 410 {@code syncStateNotFound}.
 * Runs on the simulator's event loop.
 */
final class DeltaQueries {
  private static final JsonObject DELETED = new JsonObject().put("reason", "deleted");

  private final Supplier<String> origin;

  DeltaQueries(Supplier<String> origin) {
    this.origin = origin;
  }

  /** @param kind {@code users} or {@code groups} */
  GraphApi.Answer answer(Directory d, Behaviour b, GraphApi.Call c, String kind) {
    ChangeLog log = d.changes;
    long from;
    long to;
    int offset = 0;
    String skip = c.param("$skiptoken");
    String deltaToken = c.param("$deltatoken");
    if (skip != null) {
      long[] state = log.skip(skip);
      if (state == null) return gone(c);
      from = state[0];
      to = state[1];
      offset = (int) state[2];
    } else if (deltaToken != null) {
      from = log.position(deltaToken);
      if (from < 0) return gone(c);
      to = log.head();
    } else {
      from = -1;
      to = log.head();
    }
    String select = c.param("$select");
    boolean withMembers = kind.equals("groups") && (select == null || select.contains("members"));
    List<JsonObject> items;
    if (from < 0) {
      items = initial(d, c, kind, withMembers);
    } else {
      List<ChangeLog.Change> changes = log.between(from, to);
      if (changes == null) return gone(c);
      items = changed(d, c, kind, withMembers, changes);
    }
    int end = Math.min(items.size(), offset + b.pageSize());
    JsonArray value = new JsonArray();
    for (int i = offset; i < end; i++) value.add(items.get(i));
    JsonObject body = new JsonObject().put("@odata.context", GraphApi.CONTEXT + c.version() + "/$metadata#" + kind);
    String base = origin.get() + "/" + c.version() + "/" + kind + "/delta?"
        + (select == null ? "" : "$select=" + URLEncoder.encode(select, StandardCharsets.UTF_8) + "&");
    if (end < items.size()) body.put("@odata.nextLink", base + "$skiptoken=" + log.skipToken(from, to, end));
    else body.put("@odata.deltaLink", base + "$deltatoken=" + log.token(to));
    body.put("value", value);
    return new GraphApi.Answer(200, Map.of(), body);
  }

  private static List<JsonObject> initial(Directory d, GraphApi.Call c, String kind, boolean withMembers) {
    List<JsonObject> source = kind.equals("users") ? d.users() : d.groups();
    List<JsonObject> out = new ArrayList<>(source.size());
    for (JsonObject o : source) {
      JsonObject item = GraphApi.select(c, o);
      if (withMembers) {
        JsonArray members = new JsonArray();
        for (String m : d.members(o.getString("id"))) members.add(member(d.typeOf(m), m, false));
        item.put("members@delta", members);
      }
      out.add(item);
    }
    return out;
  }

  private static List<JsonObject> changed(Directory d, GraphApi.Call c, String kind, boolean withMembers,
      List<ChangeLog.Change> changes) {
    String want = kind.equals("users") ? "user" : "group";
    Map<String, JsonObject> byId = new LinkedHashMap<>();
    Map<String, Map<String, JsonObject>> memberChanges = new LinkedHashMap<>();
    for (ChangeLog.Change ch : changes) {
      if (!ch.kind().equals(want)) continue;
      if (ch.member() != null) {
        if (!withMembers) continue;
        memberChanges.computeIfAbsent(ch.id(), k -> new LinkedHashMap<>())
            .put(ch.member(), member(ch.memberType(), ch.member(), ch.memberRemoved()));
      }
      // Latest state wins; an object changed twice appears once (Graph may also replay: clients must cope).
      // Graph returns an updated object with at least its changed properties: a group whose members alone
      // changed comes as its id and members@delta.
      JsonObject before = byId.remove(ch.id());
      boolean propertiesChanged = ch.member() == null || (before != null && before.size() > 1);
      JsonObject current = want.equals("user") ? d.user(ch.id()) : d.group(ch.id());
      byId.put(ch.id(), current == null || ch.deleted()
          ? new JsonObject().put("id", ch.id()).put("@removed", DELETED.copy())
          : propertiesChanged ? GraphApi.select(c, current) : new JsonObject().put("id", ch.id()));
    }
    List<JsonObject> out = new ArrayList<>(byId.size());
    for (Map.Entry<String, JsonObject> e : byId.entrySet()) {
      JsonObject item = e.getValue();
      Map<String, JsonObject> members = memberChanges.get(e.getKey());
      if (members != null && !item.containsKey("@removed")) item.put("members@delta", new JsonArray(new ArrayList<>(members.values())));
      out.add(item);
    }
    return out;
  }

  private static JsonObject member(String type, String id, boolean removed) {
    JsonObject m = new JsonObject().put("@odata.type", type).put("id", id);
    if (removed) m.put("@removed", DELETED.copy());
    return m;
  }

  private static GraphApi.Answer gone(GraphApi.Call c) {
    return GraphApi.error(410, "syncStateNotFound",
        "The delta token is expired or unknown: start a new initial sync without a token.", c);
  }
}
