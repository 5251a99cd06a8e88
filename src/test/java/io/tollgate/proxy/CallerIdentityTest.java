package io.tollgate.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.config.IdentityOptions;
import io.vertx.core.MultiMap;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** Claims are trusted only after the upstream accepted the exact token; equal identities then share a partition. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class CallerIdentityTest {
  final CallerIdentity identity = new CallerIdentity(List.of("Authorization"), new IdentityOptions().setMaxSharedAge(Duration.ofMinutes(90)));

  static String jwt(JsonObject claims) {
    Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
    String header = b64.encodeToString("{\"alg\":\"RS256\",\"typ\":\"JWT\"}".getBytes(StandardCharsets.UTF_8));
    String signature = b64.encodeToString(claims.encode().getBytes(StandardCharsets.UTF_8)).substring(0, 8);
    return "Bearer " + header + "." + b64.encodeToString(claims.encode().getBytes(StandardCharsets.UTF_8)) + "." + signature;
  }

  static JsonObject alice() {
    return new JsonObject().put("tid", "t-1").put("appid", "a-1").put("oid", "o-alice").put("idtyp", "user")
        .put("scp", "User.Read Group.Read.All").put("exp", 4_102_444_800L);
  }

  Caller caller(String authorization) {
    return identity.identify(MultiMap.caseInsensitiveMultiMap().add("Authorization", authorization));
  }

  @Test
  void an_unverified_token_is_its_own_tenant_app_and_partition() {
    Caller forged = caller(jwt(alice()));
    assertFalse(forged.verified());
    assertEquals("p:" + forged.tokenHash(), forged.tenant(), "a forged tid never spends the victim's budget");
    assertEquals("p:" + forged.tokenHash(), forged.app());
    assertEquals(forged.tokenHash(), forged.partition());
  }

  @Test
  void a_2xx_verifies_the_token_and_its_claims_choose_budgets_and_a_shared_partition() {
    Caller first = caller(jwt(alice()));
    identity.observe(first, 200, System.currentTimeMillis());
    assertTrue(first.verified());
    assertEquals("t-1", first.tenant());
    assertEquals("a-1", first.app());
    assertTrue(first.sharesPartition());
    Caller refreshed = caller(jwt(alice().put("exp", 4_102_444_900L).put("scp", "Group.Read.All User.Read")));
    assertNotEquals(first.tokenHash(), refreshed.tokenHash());
    assertFalse(refreshed.verified(), "a refreshed token is verified on its own");
    identity.observe(refreshed, 204, System.currentTimeMillis());
    assertEquals(first.partition(), refreshed.partition(), "same identity, scopes in another order: one partition");
  }

  @Test
  void tokens_that_differ_in_user_app_tenant_or_permissions_never_share() {
    for (JsonObject other : List.of(alice().put("oid", "o-bob"), alice().put("appid", "a-2"), alice().put("tid", "t-2"),
        alice().put("scp", "User.Read"), alice().put("roles", new JsonArray().add("Sites.Read.All")), alice().put("idtyp", "app"))) {
      Caller a = caller(jwt(alice()));
      Caller b = caller(jwt(other));
      identity.observe(a, 200, System.currentTimeMillis());
      identity.observe(b, 200, System.currentTimeMillis());
      assertNotEquals(a.partition(), b.partition(), other.encode());
    }
  }

  @Test
  void a_401_refuses_the_token_and_it_gets_no_hits() {
    Caller c = caller(jwt(alice()));
    identity.observe(c, 200, System.currentTimeMillis());
    assertTrue(c.mayUseHits(System.currentTimeMillis()));
    identity.observe(c, 401, System.currentTimeMillis());
    assertFalse(c.verified());
    assertFalse(c.mayUseHits(System.currentTimeMillis()));
  }

  @Test
  void an_expired_token_gets_no_hits_and_a_shared_partition_ages_out_without_a_fresh_verification() {
    long now = System.currentTimeMillis();
    Caller expired = caller(jwt(alice().put("exp", now / 1000 - 60)));
    identity.observe(expired, 200, now);
    assertFalse(expired.mayUseHits(now));
    Caller c = caller(jwt(alice()));
    identity.observe(c, 200, now);
    assertTrue(c.mayUseHits(now + Duration.ofMinutes(89).toMillis()));
    assertFalse(c.mayUseHits(now + Duration.ofMinutes(91).toMillis()), "past maxSharedAge since the last verification");
  }

  @Test
  void opaque_tokens_keep_their_hash_and_callers_without_identity_are_not_cached_by_default() {
    Caller opaque = caller("Bearer opaque-token");
    identity.observe(opaque, 200, System.currentTimeMillis());
    assertTrue(opaque.verified());
    assertEquals(opaque.tokenHash(), opaque.partition());
    assertEquals("p:" + opaque.tokenHash(), opaque.tenant());
    Caller nobody = identity.identify(MultiMap.caseInsensitiveMultiMap());
    assertTrue(nobody.anonymous());
    assertFalse(nobody.cacheable());
  }
}
