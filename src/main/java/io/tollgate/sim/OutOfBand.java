package io.tollgate.sim;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Random;

/**
 * Changes to the directory made behind a gateway's back, as an administrator in the portal or another tool
 * would make them: through {@code POST /_sim/directory} (tests and benchmarks) and at the background change
 * rate. Each is recorded in the {@link ChangeLog} the delta feeds read, like a Graph write. Runs on the
 * simulator's event loop.
 *
 * <p>Operations ({@code op}): {@code renameUser} and {@code renameGroup} ({@code id}, optional
 * {@code displayName}), {@code addMember} and {@code removeMember} ({@code group}, {@code member}),
 * {@code deleteUser} ({@code id}). A body is one operation or {@code {"changes":[...]}}.
 */
final class OutOfBand {
  private final Random random;
  private double owed;
  /** Owed changes at which the next one is made: 0.5 to 1.5, so the gaps vary around the rate's mean. */
  private double due = 1;
  private long renames;
  /** Told each group the background rate changed, on the event loop right after the change (benchmarks). */
  private volatile java.util.function.Consumer<String> listener;

  OutOfBand(long seed) {
    this.random = new Random(seed * 17 + 3);
  }

  /** @return {"applied":n,"failed":[{"change":{...},"reason":"..."}]} */
  JsonObject apply(Directory d, SimulatorStats stats, JsonObject body) {
    JsonArray list = body.getValue("changes") instanceof JsonArray a ? a : new JsonArray().add(body);
    int applied = 0;
    JsonArray failed = new JsonArray();
    for (Object item : list) {
      String reason = item instanceof JsonObject change ? applyOne(d, change) : "not an object";
      if (reason == null) {
        applied++;
        stats.directoryChanged();
      } else {
        failed.add(new JsonObject().put("change", item).put("reason", reason));
      }
    }
    return new JsonObject().put("applied", applied).put("failed", failed);
  }

  /** @return null when applied, else why not */
  private String applyOne(Directory d, JsonObject c) {
    String op = c.getString("op", "");
    switch (op) {
      case "renameUser", "renameGroup" -> {
        String id = c.getString("id");
        JsonObject target = id == null ? null : op.equals("renameUser") ? d.user(id) : d.group(id);
        if (target == null) return "no such object";
        target.put("displayName", c.getString("displayName", target.getString("displayName") + " (renamed " + (++renames) + ")"));
        d.changed(target);
        return null;
      }
      case "addMember", "removeMember" -> {
        String group = c.getString("group");
        String member = c.getString("member");
        if (group == null || d.group(group) == null) return "no such group";
        if (member == null || d.directoryObject(member) == null) return "no such member";
        if (op.equals("addMember")) {
          if (d.wouldCycle(group, member)) return "would make a group contain itself";
          return d.addMember(group, member) ? null : "already a member";
        }
        return d.removeMember(group, member) ? null : "not a member";
      }
      case "deleteUser" -> {
        return d.deleteUser(c.getString("id", "")) ? null : "no such user";
      }
      default -> {
        return "unknown op '" + op + "': renameUser, renameGroup, addMember, removeMember or deleteUser";
      }
    }
  }

  /**
   * One second of the background change rate: {@code groupsPerHour} fraction of the groups changed per hour,
   * each a description edit or a membership change (a user added or removed), chosen at random. The gaps between
   * changes vary at random between half and one and a half times the mean gap (the count over time stays the rate's):
   * changes land at every phase of a client's poll cycle instead of in lockstep with it.
   */
  void tick(Directory d, SimulatorStats stats, double groupsPerHour, double seconds) {
    List<JsonObject> groups = d.groups();
    if (groups.isEmpty() || groupsPerHour <= 0) return;
    owed += groups.size() * groupsPerHour * seconds / 3600.0;
    while (owed >= due) {
      owed -= due;
      due = 0.5 + random.nextDouble();
      JsonObject g = groups.get(random.nextInt(groups.size()));
      String id = g.getString("id");
      List<String> members = d.members(id);
      List<JsonObject> users = d.users();
      int kind = random.nextInt(3);
      if (kind == 0 || users.isEmpty()) {
        g.put("description", "Changed in the background (" + (++renames) + ")");
        d.changed(g);
      } else if (kind == 1 && !members.isEmpty()) {
        d.removeMember(id, members.get(random.nextInt(members.size())));
      } else {
        String user = users.get(random.nextInt(users.size())).getString("id");
        if (!d.addMember(id, user)) d.removeMember(id, user);
      }
      stats.directoryChanged();
      java.util.function.Consumer<String> l = listener;
      if (l != null) l.accept(id);
    }
  }

  void listener(java.util.function.Consumer<String> l) {
    listener = l;
  }
}
