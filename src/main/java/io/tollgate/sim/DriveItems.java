package io.tollgate.sim;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.UUID;

/**
 * OneDrive/SharePoint drive items with Graph's freshness signals: one document library per site ({@code d1} for
 * site {@code s1}), {@link #ITEMS_PER_DRIVE} files under its root ({@code d1i1} .. {@code d1i20}), each with a few
 * permissions. Every item, children and permissions answer carries an {@code ETag} header (and the items their
 * {@code eTag}/{@code cTag} properties, as Graph does); a change to an item (a PATCH, or {@link #change} behind
 * everyone's back) gives it a new version, so a new ETag on all three answers. {@code If-None-Match} matching the
 * current ETag gets 304 without a body ({@link #notModified}); a PATCH or DELETE whose {@code If-Match} names an
 * older version gets 412 ({@link #precondition}), as Planner and OneDrive answer a stale ETag.
 *
 * <p>Part of a {@link Tenant}: built from the seed, restored by a reset, mutated on the simulator's event loop only.
 */
final class DriveItems {
  /** Files under each drive's root: with the default 100 sites, 2,000 drive items. */
  static final int ITEMS_PER_DRIVE = 20;
  private static final String CONTEXT = "https://graph.microsoft.com/";
  private static final String[] ROLES = {"read", "write", "owner"};

  /** One file: its JSON (without eTag/cTag, added per answer), its permissions and its version. */
  private static final class Item {
    final String driveId;
    final String id;
    final String guid;
    final JsonObject json;
    final List<JsonObject> permissions = new ArrayList<>();
    int version = 1;

    Item(String driveId, String id, JsonObject json) {
      this.driveId = driveId;
      this.id = id;
      this.guid = UUID.nameUUIDFromBytes(id.getBytes(java.nio.charset.StandardCharsets.UTF_8)).toString().toUpperCase(Locale.ROOT);
      this.json = json;
    }

    String etag() { return "\"{" + guid + "}," + version + "\""; }
    String ctag() { return "\"c:{" + guid + "}," + version + "\""; }
    String permissionsEtag() { return "\"{" + guid + "}," + version + ",permissions\""; }
  }

  /** A drive: its root folder's id, its files in order, and how often its children changed (the root's version). */
  private static final class Drive {
    final String id;
    final String rootId;
    final String rootGuid;
    final Map<String, Item> items = new LinkedHashMap<>();
    int rootVersion = 1;

    Drive(String id) {
      this.id = id;
      this.rootId = id + "root";
      this.rootGuid = UUID.nameUUIDFromBytes(rootId.getBytes(java.nio.charset.StandardCharsets.UTF_8)).toString().toUpperCase(Locale.ROOT);
    }

    String rootEtag() { return "\"{" + rootGuid + "}," + rootVersion + "\""; }
  }

  private final Map<String, Drive> drives = new LinkedHashMap<>();
  private final List<Item> all = new ArrayList<>();
  private final Random random;
  private long changes;
  /** Background changes due but not yet made (a fraction of one). */
  private double owed;

  private DriveItems(Random random) {
    this.random = random;
  }

  /** One drive per site, {@link #ITEMS_PER_DRIVE} files each, permissions drawn from the seed. */
  static DriveItems generate(SimulatorOptions o) {
    DriveItems d = new DriveItems(new Random(o.getSeed() * 17 + 3));
    int users = Math.max(1, o.getUsers());
    for (int k = 1; k <= o.getSites(); k++) {
      Drive drive = new Drive("d" + k);
      d.drives.put(drive.id, drive);
      for (int j = 1; j <= ITEMS_PER_DRIVE; j++) {
        String id = drive.id + "i" + j;
        JsonObject json = new JsonObject().put("id", id).put("name", "Document " + j + ".docx")
            .put("size", 10_000 + d.random.nextInt(90_000))
            .put("createdDateTime", "2024-01-01T00:00:00Z").put("lastModifiedDateTime", "2024-01-01T00:00:00Z")
            .put("webUrl", "https://contoso.sharepoint.com/sites/site" + k + "/Shared%20Documents/Document%20" + j + ".docx")
            .put("parentReference", new JsonObject().put("driveType", "documentLibrary").put("driveId", drive.id)
                .put("id", drive.rootId).put("path", "/drives/" + drive.id + "/root:"))
            .put("file", new JsonObject().put("mimeType",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"));
        Item item = new Item(drive.id, id, json);
        int grants = 2 + d.random.nextInt(3);
        for (int p = 1; p <= grants; p++) item.permissions.add(d.permission(item, p, users));
        drive.items.put(id, item);
        d.all.add(item);
      }
    }
    return d;
  }

  private JsonObject permission(Item item, int n, int users) {
    String user = "u" + (1 + random.nextInt(users));
    return new JsonObject().put("id", item.id + "p" + n)
        .put("roles", new JsonArray().add(ROLES[random.nextInt(ROLES.length)]))
        .put("grantedToV2", new JsonObject().put("user", new JsonObject().put("id", user).put("displayName", "User " + user)))
        .put("inheritedFrom", new JsonObject());
  }

  /** Item ids in order, for a bench or a test that walks every drive item. */
  List<String> ids() {
    List<String> out = new ArrayList<>(all.size());
    for (Item i : all) out.add(i.driveId + "/" + i.id);
    return out;
  }

  /**
   * Changes {@code fraction} of the drive items (at least one when the fraction is above 0), chosen at random,
   * behind every client's back: a new version (so new ETags), a new modification time and one permission's role
   * changed. {@code id} ({@code d1i3}), when given, changes that item only.
   *
   * @return the changed items as {@code driveId/itemId}
   */
  List<String> change(double fraction, String id) {
    List<Item> chosen = new ArrayList<>();
    if (id != null) {
      Item item = find(id);
      if (item != null) chosen.add(item);
    } else if (fraction > 0 && !all.isEmpty()) {
      int n = (int) Math.max(1, Math.round(all.size() * Math.min(1.0, fraction)));
      List<Item> pool = new ArrayList<>(all);
      java.util.Collections.shuffle(pool, random);
      chosen.addAll(pool.subList(0, Math.min(n, pool.size())));
    }
    return apply(chosen);
  }

  /**
   * {@code seconds} of the background change rate: {@code itemsPerHour} fraction of the drive items changed per
   * hour, each chosen at random and changed as {@link #change} does (new version and ETags, a permission's role).
   *
   * @return the changed items as {@code driveId/itemId}
   */
  List<String> tick(double itemsPerHour, double seconds) {
    if (all.isEmpty() || itemsPerHour <= 0) return List.of();
    owed += all.size() * itemsPerHour * seconds / 3600.0;
    List<Item> chosen = new ArrayList<>();
    while (owed >= 1) {
      owed -= 1;
      chosen.add(all.get(random.nextInt(all.size())));
    }
    return apply(chosen);
  }

  private List<String> apply(List<Item> chosen) {
    List<String> out = new ArrayList<>(chosen.size());
    for (Item item : chosen) {
      bump(item);
      if (!item.permissions.isEmpty()) {
        JsonObject p = item.permissions.get(random.nextInt(item.permissions.size()));
        p.put("roles", new JsonArray().add(ROLES[(int) ((changes + item.version) % ROLES.length)]));
      }
      out.add(item.driveId + "/" + item.id);
    }
    return out;
  }

  /** Changes made so far ({@link #change} and PATCHes). */
  long changes() { return changes; }

  private void bump(Item item) {
    item.version++;
    changes++;
    item.json.put("lastModifiedDateTime", Instant.now().toString());
    Drive drive = drives.get(item.driveId);
    if (drive != null) drive.rootVersion++;
  }

  private Item find(String id) {
    for (Drive d : drives.values()) {
      Item i = d.items.get(id);
      if (i != null) return i;
    }
    return null;
  }

  // ---- HTTP semantics the simulator applies around routing ----

  /**
   * A PATCH or DELETE on a drive item whose {@code If-Match} names no current version: 412, before the write is
   * applied. Null when the request may go on.
   */
  GraphApi.Answer precondition(GraphApi.Call c, String ifMatch) {
    if (ifMatch == null || !(c.method().equals("PATCH") || c.method().equals("DELETE"))) return null;
    String[] s = segments(c.path());
    if (s.length != 4 || !s[0].equals("drives") || !s[2].equals("items")) return null;
    Drive drive = drives.get(s[1]);
    Item item = drive == null ? null : drive.items.get(s[3]);
    if (item == null || matches(ifMatch, item.etag())) return null;
    return GraphApi.error(412, "preconditionFailed", "The resource has changed since the caller last read it; "
        + "the ETag in If-Match does not match.", c).with(Map.of("ETag", item.etag()));
  }

  /**
   * 304 without a body when a GET's {@code If-None-Match} matches the answer's {@code ETag} (weak comparison,
   * lists and {@code *}, RFC 9110 §13.1.2); the answer itself otherwise.
   */
  static GraphApi.Answer notModified(GraphApi.Answer a, String method, String ifNoneMatch) {
    if (ifNoneMatch == null || a.status() != 200 || !("GET".equals(method) || "HEAD".equals(method))) return a;
    String etag = a.headers().get("ETag");
    if (etag == null || !matches(ifNoneMatch, etag)) return a;
    return new GraphApi.Answer(304, Map.of("ETag", etag), null);
  }

  /** True when a conditional header's list ({@code *}, or entity tags) holds {@code etag}, weakly compared. */
  static boolean matches(String list, String etag) {
    String wanted = opaque(etag);
    int i = 0;
    int n = list.length();
    while (i < n) {
      char ch = list.charAt(i);
      if (ch == ' ' || ch == ',' || ch == '\t') {
        i++;
      } else if (ch == '*') {
        return true;
      } else {
        int start = i;
        if (list.startsWith("W/", i)) i += 2;
        if (i < n && list.charAt(i) == '"') {
          int close = list.indexOf('"', i + 1);
          if (close < 0) return false;
          if (list.substring(start, close + 1).equals(wanted) || opaque(list.substring(start, close + 1)).equals(wanted)) return true;
          i = close + 1;
        } else {
          while (i < n && list.charAt(i) != ',') i++;
        }
      }
    }
    return false;
  }

  /** The opaque part of an entity tag, quotes included, without a weak prefix. */
  private static String opaque(String tag) {
    String t = tag.trim();
    return t.startsWith("W/") ? t.substring(2) : t;
  }

  // ---- routes under /drives ----

  GraphApi.Answer route(GraphApi.Call c, String[] s) {
    if (s.length == 1) return GraphApi.error(400, "invalidRequest", "Listing every drive is not supported here.", c);
    Drive drive = drives.get(s[1]);
    if (drive == null) return itemNotFound(c, "Drive '" + s[1] + "' was not found.");
    boolean get = c.method().equals("GET");
    if (s.length == 2) {
      return get ? new GraphApi.Answer(200, Map.of(), context(c, "drives/$entity").put("id", drive.id)
          .put("driveType", "documentLibrary").put("name", "Documents")) : notAllowed(c);
    }
    if (s[2].equals("root")) {
      if (s.length == 3) return get ? root(c, drive) : notAllowed(c);
      if (s.length == 4 && s[3].equals("children")) return get ? children(c, drive, drive.rootId) : notAllowed(c);
      return notFoundSegment(c, s[3]);
    }
    if (!s[2].equals("items") || s.length < 4) return notFoundSegment(c, s[2]);
    String itemId = s[3];
    if (itemId.equals(drive.rootId)) {
      if (s.length == 4) return get ? root(c, drive) : notAllowed(c);
      if (s.length == 5 && s[4].equals("children")) return get ? children(c, drive, itemId) : notAllowed(c);
      return notFoundSegment(c, s[4]);
    }
    Item item = drive.items.get(itemId);
    if (item == null) return itemNotFound(c, "Item not found");
    if (s.length == 4) {
      return switch (c.method()) {
        case "GET" -> item(c, item);
        case "PATCH" -> patch(c, item);
        case "DELETE" -> {
          drive.items.remove(itemId);
          all.remove(item);
          drive.rootVersion++;
          changes++;
          yield new GraphApi.Answer(204, Map.of(), null);
        }
        default -> notAllowed(c);
      };
    }
    if (s[4].equals("children") && s.length == 5) return get ? children(c, drive, itemId) : notAllowed(c);
    if (!s[4].equals("permissions")) return notFoundSegment(c, s[4]);
    if (!get) return notAllowed(c);
    if (s.length == 5) {
      JsonArray value = new JsonArray();
      for (JsonObject p : item.permissions) value.add(p.copy());
      return new GraphApi.Answer(200, Map.of("ETag", item.permissionsEtag()),
          context(c, "drives('" + drive.id + "')/items('" + item.id + "')/permissions").put("value", value));
    }
    if (s.length > 6) return notFoundSegment(c, s[6]);
    for (JsonObject p : item.permissions) {
      if (p.getString("id").equals(s[5])) {
        JsonObject body = context(c, "drives('" + drive.id + "')/items('" + item.id + "')/permissions/$entity");
        p.forEach(e -> body.put(e.getKey(), e.getValue()));
        return new GraphApi.Answer(200, Map.of("ETag", item.permissionsEtag()), body);
      }
    }
    return itemNotFound(c, "Permission '" + s[5] + "' was not found.");
  }

  private GraphApi.Answer item(GraphApi.Call c, Item item) {
    JsonObject body = context(c, "drives('" + item.driveId + "')/items/$entity");
    itemJson(item).forEach(e -> body.put(e.getKey(), e.getValue()));
    String expand = c.param("$expand");
    if (expand != null && expand.toLowerCase(Locale.ROOT).contains("permissions")) {
      JsonArray value = new JsonArray();
      for (JsonObject p : item.permissions) value.add(p.copy());
      body.put("permissions", value);
    }
    return new GraphApi.Answer(200, Map.of("ETag", item.etag()), body);
  }

  private static JsonObject itemJson(Item item) {
    JsonObject out = item.json.copy();
    out.put("eTag", item.etag()).put("cTag", item.ctag());
    return out;
  }

  private GraphApi.Answer root(GraphApi.Call c, Drive drive) {
    JsonObject body = context(c, "drives('" + drive.id + "')/root/$entity").put("id", drive.rootId).put("name", "root")
        .put("eTag", drive.rootEtag()).put("cTag", "\"c:{" + drive.rootGuid + "}," + drive.rootVersion + "\"")
        .put("root", new JsonObject()).put("folder", new JsonObject().put("childCount", drive.items.size()));
    return new GraphApi.Answer(200, Map.of("ETag", drive.rootEtag()), body);
  }

  /** The root's files (all on one page: a drive here holds {@link #ITEMS_PER_DRIVE}); a file has no children. */
  private GraphApi.Answer children(GraphApi.Call c, Drive drive, String parentId) {
    JsonArray value = new JsonArray();
    String etag;
    if (parentId.equals(drive.rootId)) {
      for (Item i : drive.items.values()) value.add(itemJson(i));
      etag = drive.rootEtag();
    } else {
      Item item = drive.items.get(parentId);
      etag = item.etag();
    }
    return new GraphApi.Answer(200, Map.of("ETag", etag),
        context(c, "drives('" + drive.id + "')/items('" + parentId + "')/children").put("value", value));
  }

  private GraphApi.Answer patch(GraphApi.Call c, Item item) {
    JsonObject changes;
    try {
      Object v = c.body() == null || c.body().length() == 0 ? null : c.body().toJsonValue();
      changes = v instanceof JsonObject o ? o : null;
    } catch (io.vertx.core.json.DecodeException e) {
      changes = null;
    }
    if (changes == null) return GraphApi.error(400, "BadRequest", "Unable to read JSON request payload.", c);
    changes.forEach(e -> {
      String k = e.getKey();
      if (!k.equals("id") && !k.startsWith("@odata") && !k.equals("eTag") && !k.equals("cTag")) item.json.put(k, e.getValue());
    });
    bump(item);
    return item(c, item);
  }

  private static JsonObject context(GraphApi.Call c, String what) {
    return new JsonObject().put("@odata.context", CONTEXT + c.version() + "/$metadata#" + what);
  }

  private static GraphApi.Answer itemNotFound(GraphApi.Call c, String message) {
    return GraphApi.error(404, "itemNotFound", message, c);
  }

  private static GraphApi.Answer notAllowed(GraphApi.Call c) {
    return GraphApi.error(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.", c);
  }

  private static GraphApi.Answer notFoundSegment(GraphApi.Call c, String segment) {
    return GraphApi.error(404, "BadRequest", "Resource not found for the segment '" + segment + "'.", c);
  }

  private static String[] segments(String rawPath) {
    List<String> out = new ArrayList<>();
    for (String part : rawPath.split("/")) if (!part.isEmpty()) out.add(part);
    return out.toArray(new String[0]);
  }
}
