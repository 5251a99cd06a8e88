package io.tollgate.sim;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * The simulated tenant's data: users, groups with their direct members, sites with their permissions.
 *
 * <p>Built deterministically from the options' seed, so two simulators with the same options serve the same
 * answers. Nested groups only ever contain groups with a higher number, so the generated membership graph has
 * no cycles; writes keep it that way ({@link #wouldCycle}). Not thread-safe: only the simulator's event loop
 * touches an instance after it has been published.
 */
final class Directory {
  static final String USER_TYPE = "#microsoft.graph.user";
  static final String GROUP_TYPE = "#microsoft.graph.group";
  private static final String DOMAIN = "contoso.example";
  private static final String[] FIRST = {"Adele", "Alex", "Diego", "Grady", "Henrietta", "Isaiah", "Johanna",
      "Joni", "Lee", "Lidia", "Lynne", "Megan", "Miriam", "Nestor", "Patti", "Pradeep"};
  private static final String[] LAST = {"Vance", "Wilber", "Siciliani", "Archie", "Mueller", "Langer", "Lorenz",
      "Sherman", "Gu", "Holloway", "Robbins", "Bowen", "Graham", "Wilke", "Fernandez", "Gupta"};
  private static final String[] TITLES = {"Engineer", "Designer", "Analyst", "Manager", "Director", "Counsel"};
  private static final String[] DEPARTMENTS = {"Sales", "Finance", "Legal", "Research", "Marketing", "Operations"};

  /** Users and groups keep their generated order; paging walks these lists. Entities are patched in place. */
  private final List<JsonObject> userList = new ArrayList<>();
  private final List<JsonObject> groupList = new ArrayList<>();
  private final List<JsonObject> siteList = new ArrayList<>();
  private final Map<String, JsonObject> users = new HashMap<>();
  private final Map<String, JsonObject> groups = new HashMap<>();
  private final Map<String, JsonObject> sites = new HashMap<>();
  private final Map<String, LinkedHashSet<String>> members = new HashMap<>();
  private final Map<String, LinkedHashMap<String, JsonObject>> permissions = new HashMap<>();
  private final Map<String, Integer> nextPermission = new HashMap<>();
  /** Every change to users and groups since generation, for the delta feeds. */
  final ChangeLog changes = new ChangeLog();

  private Directory() {}

  static Directory generate(SimulatorOptions o) {
    Directory d = new Directory();
    Random random = new Random(o.getSeed());
    int userCount = o.getUsers();
    int groupCount = o.getGroups();
    for (int i = 1; i <= userCount; i++) {
      String first = FIRST[random.nextInt(FIRST.length)];
      String last = LAST[random.nextInt(LAST.length)];
      String mail = first.toLowerCase(Locale.ROOT) + "." + last.toLowerCase(Locale.ROOT) + i + "@" + DOMAIN;
      JsonObject user = new JsonObject()
          .put("@odata.type", USER_TYPE).put("id", "u" + i).put("displayName", first + " " + last)
          .put("givenName", first).put("surname", last).put("jobTitle", TITLES[random.nextInt(TITLES.length)])
          .put("mail", mail).put("userPrincipalName", mail);
      d.userList.add(user);
      d.users.put("u" + i, user);
    }
    for (int i = 1; i <= groupCount; i++) {
      String department = DEPARTMENTS[random.nextInt(DEPARTMENTS.length)];
      JsonObject group = new JsonObject()
          .put("@odata.type", GROUP_TYPE).put("id", "g" + i).put("displayName", department + " team " + i)
          .put("description", "Everyone working on " + department.toLowerCase(Locale.ROOT) + " project " + i)
          .put("mail", "team" + i + "@" + DOMAIN).put("mailNickname", "team" + i)
          .put("mailEnabled", random.nextBoolean()).put("securityEnabled", true).put("groupTypes", new JsonArray());
      d.groupList.add(group);
      d.groups.put("g" + i, group);
      d.members.put("g" + i, new LinkedHashSet<>());
    }
    for (int i = 1; i <= groupCount; i++) {
      LinkedHashSet<String> direct = d.members.get("g" + i);
      // One nested group per group at most, and only a higher-numbered one: transitive sets stay in the tens
      // (as in most tenants) and the graph cannot loop.
      if (i < groupCount && random.nextDouble() < o.getNestedGroupRate()) {
        direct.add("g" + (i + 1 + random.nextInt(groupCount - i)));
      }
      int attempts = 0;
      while (direct.size() < o.getMembersPerGroup() && attempts++ < o.getMembersPerGroup() * 3) {
        direct.add("u" + (1 + random.nextInt(userCount)));
      }
    }
    for (int i = 1; i <= o.getSites(); i++) {
      String id = "s" + i;
      JsonObject site = new JsonObject()
          .put("id", id).put("name", "site" + i).put("displayName", "Project site " + i)
          .put("webUrl", "https://contoso.sharepoint.com/sites/site" + i)
          .put("createdDateTime", "2024-01-01T00:00:00Z");
      d.siteList.add(site);
      d.sites.put(id, site);
      LinkedHashMap<String, JsonObject> grants = new LinkedHashMap<>();
      d.permissions.put(id, grants);
      d.nextPermission.put(id, 1);
      Set<Integer> chosen = new HashSet<>();
      int want = Math.min(o.getGroupsPerSite(), groupCount);
      while (chosen.size() < want) {
        // Squaring skews towards low numbers: a few popular groups are granted on many sites, as in real
        // tenants, which is what makes per-group caching pay off in an audit.
        double r = random.nextDouble();
        int g = 1 + (int) (groupCount * r * r);
        if (!chosen.add(g)) continue;
        JsonObject grantee = new JsonObject().put("id", "g" + g)
            .put("displayName", d.groups.get("g" + g).getString("displayName"));
        d.addPermission(id, new JsonObject()
            .put("roles", new JsonArray().add(random.nextInt(4) == 0 ? "write" : "read"))
            .put("grantedToV2", new JsonObject().put("group", grantee)));
      }
      JsonObject owner = d.userList.get(random.nextInt(userCount));
      d.addPermission(id, new JsonObject()
          .put("roles", new JsonArray().add("owner"))
          .put("grantedToV2", new JsonObject().put("user", new JsonObject()
              .put("id", owner.getString("id")).put("displayName", owner.getString("displayName")))));
    }
    return d;
  }

  List<JsonObject> users() { return Collections.unmodifiableList(userList); }

  List<JsonObject> groups() { return Collections.unmodifiableList(groupList); }

  List<JsonObject> sites() { return Collections.unmodifiableList(siteList); }

  JsonObject user(String id) { return users.get(id); }

  JsonObject group(String id) { return groups.get(id); }

  JsonObject site(String id) { return sites.get(id); }

  /** A user or a group; null when neither. */
  JsonObject directoryObject(String id) {
    JsonObject user = users.get(id);
    return user != null ? user : groups.get(id);
  }

  /** The user a caller sees as {@code /me}: stable per caller hash. */
  JsonObject userFor(String callerHash) {
    return userList.get(Math.floorMod(callerHash.hashCode(), userList.size()));
  }

  /** Direct member ids in insertion order; null for an unknown group. */
  List<String> members(String groupId) {
    LinkedHashSet<String> direct = members.get(groupId);
    return direct == null ? null : new ArrayList<>(direct);
  }

  /** Members of the group and of every group nested in it, each once, depth first; null for an unknown group. */
  List<String> transitiveMembers(String groupId) {
    if (!members.containsKey(groupId)) return null;
    LinkedHashSet<String> seen = new LinkedHashSet<>();
    Deque<String> pending = new ArrayDeque<>();
    pending.push(groupId);
    while (!pending.isEmpty()) {
      List<String> direct = new ArrayList<>(members.get(pending.pop()));
      // Push in reverse so the walk visits members in their listed order.
      for (int i = direct.size() - 1; i >= 0; i--) {
        String member = direct.get(i);
        if (!member.equals(groupId) && seen.add(member) && members.containsKey(member)) pending.push(member);
      }
    }
    return new ArrayList<>(seen);
  }

  /** True when adding {@code memberId} to {@code groupId} would make a group contain itself. */
  boolean wouldCycle(String groupId, String memberId) {
    if (groupId.equals(memberId)) return true;
    List<String> below = transitiveMembers(memberId);
    return below != null && below.contains(groupId);
  }

  /** @return false when the member was already there */
  boolean addMember(String groupId, String memberId) {
    if (!members.get(groupId).add(memberId)) return false;
    changes.memberChanged(groupId, memberId, typeOf(memberId), false);
    return true;
  }

  /** @return false when it was not a member */
  boolean removeMember(String groupId, String memberId) {
    if (!members.get(groupId).remove(memberId)) return false;
    changes.memberChanged(groupId, memberId, typeOf(memberId), true);
    return true;
  }

  /** The OData type of a user or group id (a deleted user counts as a user). */
  String typeOf(String id) {
    return groups.containsKey(id) ? GROUP_TYPE : USER_TYPE;
  }

  /** Records that a user's or group's properties were changed in place (a PATCH, an out-of-band rename). */
  void changed(JsonObject object) {
    String id = object.getString("id");
    if (groups.containsKey(id)) changes.groupChanged(id);
    else if (users.containsKey(id)) changes.userChanged(id);
  }

  /**
   * Deletes a user: gone from the list, from every group it was a direct member of (Graph drops those
   * memberships without reporting them in the groups' delta), and reported deleted in the users' delta.
   *
   * @return false when there was no such user
   */
  boolean deleteUser(String id) {
    JsonObject user = users.remove(id);
    if (user == null) return false;
    userList.remove(user);
    for (LinkedHashSet<String> direct : members.values()) direct.remove(id);
    changes.userDeleted(id);
    return true;
  }

  /** Permissions of a site in grant order; null for an unknown site. */
  List<JsonObject> permissions(String siteId) {
    LinkedHashMap<String, JsonObject> grants = permissions.get(siteId);
    return grants == null ? null : new ArrayList<>(grants.values());
  }

  JsonObject permission(String siteId, String permissionId) {
    LinkedHashMap<String, JsonObject> grants = permissions.get(siteId);
    return grants == null ? null : grants.get(permissionId);
  }

  /** Stores a copy of the permission under the site's next id ({@code p1}, {@code p2}, ...) and returns it. */
  JsonObject addPermission(String siteId, JsonObject permission) {
    int next = nextPermission.merge(siteId, 1, Integer::sum) - 1;
    JsonObject stored = new JsonObject().put("id", "p" + next);
    permission.forEach(e -> {
      if (!"id".equals(e.getKey())) stored.put(e.getKey(), e.getValue());
    });
    permissions.get(siteId).put(stored.getString("id"), stored);
    return stored;
  }

  boolean removePermission(String siteId, String permissionId) {
    return permissions.get(siteId).remove(permissionId) != null;
  }
}
