package io.tollgate.freshness;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * The directory object ids a cached Graph answer mentions: its top-level {@code id}, the {@code id} (or the last
 * segment of the {@code @odata.id}) of every object in its {@code value} array, and the object its path names
 * ({@code /v1.0/groups/{id}/...}, {@code /v1.0/users/{id}/...}). The last makes answers that hide their nested
 * objects (a type cast, a {@code $select} without {@code id}) evicted with the object that owns them: a group's
 * member pages go when the group changes, whatever they show. Pure; called on the worker pool (it parses).
 */
final class Mentions {
  private Mentions() {}

  /** @param path the cached path; @param body the stored JSON body (anything else mentions only the path's owner) */
  static Set<String> of(String path, Buffer body) {
    Set<String> ids = new LinkedHashSet<>();
    String owner = owner(path);
    if (owner != null) ids.add(owner);
    JsonObject json;
    try {
      json = body == null || body.length() == 0 ? null : body.toJsonObject();
    } catch (RuntimeException notJson) {
      json = null;
    }
    if (json == null) return ids;
    add(ids, json);
    if (json.getValue("value") instanceof JsonArray value) {
      for (Object item : value) if (item instanceof JsonObject o) add(ids, o);
    }
    return ids;
  }

  private static void add(Set<String> ids, JsonObject o) {
    if (o.getValue("id") instanceof String id && !id.isEmpty()) {
      ids.add(id);
    } else if (o.getValue("@odata.id") instanceof String ref) {
      int slash = ref.lastIndexOf('/');
      if (slash >= 0 && slash < ref.length() - 1) ids.add(ref.substring(slash + 1));
    }
  }

  /** The id after {@code users} or {@code groups} right below the version segment; null when none. */
  static String owner(String path) {
    // "/v1.0/groups/g1/members" -> ["", "v1.0", "groups", "g1", "members"]
    String[] s = path.split("/", 5);
    if (s.length < 4 || s[3].isEmpty()) return null;
    return s[2].equalsIgnoreCase("users") || s[2].equalsIgnoreCase("groups") ? s[3] : null;
  }
}
