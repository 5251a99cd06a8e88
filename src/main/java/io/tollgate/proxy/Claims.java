package io.tollgate.proxy;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * What a bearer JWT says about its caller, read without checking its signature: the upstream checks that.
 * Nothing here is trusted until the upstream answered 2xx to the token ({@link Caller#verified()}). The token
 * itself is not kept: only the claims that choose a partition or a budget.
 *
 * @param tenant {@code tid}, or null
 * @param app {@code appid} (v1 tokens) or {@code azp} (v2), or null
 * @param sharedKey what tokens must all agree on to share one cache partition: tid, idtyp, app, oid and the
 *     sorted scp/roles/wids; null when the token lacks a tenant (no sharing)
 * @param expiresAtMillis {@code exp} in epoch millis, or {@code Long.MAX_VALUE} when absent
 * @param sharedPartition SHA-256 of {@code sharedKey} (the partition hash tokens of this identity share), or null
 */
public record Claims(String tenant, String app, String sharedKey, long expiresAtMillis, String sharedPartition) {
  /** @return the claims of a {@code Bearer} JWT, or null for anything else (an opaque or malformed token) */
  public static Claims of(String authorization) {
    if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) return null;
    String token = authorization.substring(7).trim();
    int a = token.indexOf('.');
    int b = a < 0 ? -1 : token.indexOf('.', a + 1);
    if (b <= a + 1) return null;
    JsonObject payload;
    try {
      payload = new JsonObject(new String(Base64.getUrlDecoder().decode(token.substring(a + 1, b)), StandardCharsets.UTF_8));
    } catch (RuntimeException notAJwt) {
      return null;
    }
    String tid = text(payload.getValue("tid"));
    String app = text(payload.getValue("appid"));
    if (app == null) app = text(payload.getValue("azp"));
    Object exp = payload.getValue("exp");
    long expiresAt = exp instanceof Number n ? n.longValue() * 1000 : Long.MAX_VALUE;
    String shared = tid == null ? null : String.join("\u0000", "v1", tid, String.valueOf(text(payload.getValue("idtyp"))),
        String.valueOf(app), String.valueOf(text(payload.getValue("oid"))), sorted(payload.getValue("scp")),
        sorted(payload.getValue("roles")), sorted(payload.getValue("wids")));
    return new Claims(tid, app, shared, expiresAt, shared == null ? null : Sha256.hex(shared));
  }

  private static String text(Object v) {
    return v instanceof String s && !s.isEmpty() ? s : null;
  }

  /** A space-separated string ({@code scp}) or an array ({@code roles}, {@code wids}), sorted, as one string. */
  private static String sorted(Object v) {
    List<String> parts = new ArrayList<>();
    if (v instanceof String s) {
      for (String p : s.trim().split("\\s+")) if (!p.isEmpty()) parts.add(p);
    } else if (v instanceof JsonArray arr) {
      for (Object o : arr) parts.add(String.valueOf(o));
    }
    parts.sort(null);
    return String.join(" ", parts);
  }
}
