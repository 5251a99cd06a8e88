package io.tollgate.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** The one path dialect that routes, invalidation rules, rate-limit paths, costs and the admin API share. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class PathPatternTest {

  @Test
  void a_star_is_one_segment_and_a_double_star_any_depth_at_any_position() {
    PathPattern members = PathPattern.compile("/*/groups/*/members/**");
    assertTrue(members.matches("/v1.0/groups/g1/members"));
    assertTrue(members.matches("/v1.0/groups/g1/members/x/y"));
    assertFalse(members.matches("/v1.0/groups/g1/transitiveMembers"));
    assertFalse(members.matches("/v1.0/groups/a/b/members"));
    PathPattern permissions = PathPattern.compile("/*/sites/**/permissions/**");
    assertTrue(permissions.matches("/v1.0/sites/s1/permissions"));
    assertTrue(permissions.matches("/v1.0/sites/root/sites/s1/lists/l1/permissions/p1"));
    assertFalse(permissions.matches("/v1.0/sites/s1/lists"));
  }

  @Test
  void matching_ignores_case_as_graph_does() {
    PathPattern user = PathPattern.compile("/v1.0|beta/users/{id}");
    assertTrue(user.matches("/V1.0/Users/Alice@Contoso.com"));
    assertTrue(PathPattern.compile("/v1.0/users/alice@contoso.com/**").matches("/v1.0/Users/ALICE@contoso.com/memberOf"));
  }

  @Test
  void captures_name_one_segment_each() {
    Map<String, String> c = PathPattern.compile("/v1.0|beta/groups/{id}/members/**").capture("/beta/groups/g7/members/u1");
    assertEquals(Map.of("id", "g7"), c);
    assertNull(PathPattern.compile("/v1.0/groups/{id}").capture("/v1.0/groups/g7/members"));
  }

  @Test
  void a_bound_capture_is_a_literal_so_a_star_in_an_id_never_widens_an_eviction() {
    PathPattern evict = PathPattern.compile("/v1.0|beta/groups/{id}/**").bind(Map.of("id", "g*"));
    assertTrue(evict.matches("/v1.0/groups/g*/members"));
    assertFalse(evict.matches("/v1.0/groups/g2"));
    PathPattern exact = PathPattern.compile("/v1.0/groups/{id}/**").bind(Map.of("id", "g2"));
    assertTrue(exact.matches("/v1.0/groups/g2"));
    assertTrue(exact.matches("/v1.0/groups/G2/members"));
    assertFalse(exact.matches("/v1.0/groups/g22"));
  }

  @Test
  void a_bound_pattern_written_out_compiles_back_to_the_same_literals() {
    PathPattern template = PathPattern.compile("/v1.0|beta/groups/{id}/**");
    for (String id : new String[] {"g*", "a[b", "{x}", "a|b", "a\\b", "**", "*", "a\"b", "p%20q", "G1"}) {
      PathPattern bound = template.bind(Map.of("id", id));
      PathPattern travelled = PathPattern.compile(bound.toString());
      for (String path : new String[] {"/v1.0/groups/" + id, "/beta/groups/" + id + "/members", "/v1.0/groups/g2",
          "/v1.0/groups/ab", "/v1.0/groups/x", "/v1.0/groups/" + id.toLowerCase(java.util.Locale.ROOT) + "/owners"}) {
        assertEquals(bound.matches(path), travelled.matches(path), id + " / " + path + " / " + bound);
      }
      assertTrue(travelled.matches("/v1.0/groups/" + id + "/members"), bound.toString());
      assertEquals(bound.prefixes(), travelled.prefixes());
    }
    assertFalse(PathPattern.compile(template.bind(Map.of("id", "g*")).toString()).matches("/v1.0/groups/g2"));
  }

  @Test
  void a_trailing_star_inside_the_last_segment_also_covers_what_lies_below() {
    PathPattern p = PathPattern.compile("/v1.0/groups/g1*");
    assertTrue(p.matches("/v1.0/groups/g1"));
    assertTrue(p.matches("/v1.0/groups/g12"));
    assertTrue(p.matches("/v1.0/groups/g1/members/u1"));
    assertFalse(p.matches("/v1.0/groups/h1"));
    assertTrue(PathPattern.compile("/v1.0/users/*@contoso.com").matches("/v1.0/users/bob@contoso.com"));
    assertFalse(PathPattern.compile("/v1.0/users/*@contoso.com").matches("/v1.0/users/bob@fabrikam.com"));
  }

  @Test
  void every_path_a_pattern_matches_lies_under_one_of_its_folded_prefixes() {
    String[] patterns = {"/v1.0|beta/groups/{id}/**", "/v1.0/groups/g1*", "/*/sites/**/permissions/**", "/v1.0/users/a*b",
        "/**", "/v1.0|beta/users/{id}", "/V1.0/Groups/G1/**", "/a|b/c|d/e|f/g|h/i|j/k|l/m|n/o"};
    String[] paths = {"/v1.0/groups/g1", "/V1.0/Groups/G1/members", "/beta/groups/g1/owners", "/v1.0/groups/g12",
        "/v1.0/groups/g10/members", "/v1.0/sites/s/lists/l/permissions/p", "/v1.0/users/axxb", "/v1.0/users/AXB",
        "/beta/users/u1", "/a/d/e/h/i/l/m/o", "/b/c/f/g/j/k/n/o"};
    for (String text : patterns) {
      PathPattern p = PathPattern.compile(text);
      for (String path : paths) {
        if (!p.matches(path)) continue;
        String folded = PathPattern.fold(path);
        assertTrue(p.prefixes().stream().anyMatch(x -> x.covers(folded)), text + " / " + path + " / " + p.prefixes());
      }
    }
    PathPattern write = PathPattern.compile("/v1.0|beta/groups/{id}/**").bind(Map.of("id", "G1"));
    assertEquals(java.util.List.of(new PathPattern.Prefix("/v1.0/groups/g1", true), new PathPattern.Prefix("/beta/groups/g1", true)),
        write.prefixes(), "a write's eviction looks under the written object only");
    assertFalse(write.prefixes().get(0).covers("/v1.0/groups/g10"), "g10 is not below g1");
  }

  @Test
  void malformed_patterns_are_refused_with_a_reason() {
    for (String bad : new String[] {null, "", "v1.0/users", "/v1.0//users", "/v1.0/users/[a-z]", "/a/{id}x", "/a/b\n",
        "/a/**x", "/a/x*|y", "/a/b\\", "/a/x\\*|y", "/a\\/b"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PathPattern.compile(bad), String.valueOf(bad));
      assertTrue(e.getMessage().startsWith("a path pattern"), e.getMessage());
    }
    assertThrows(IllegalArgumentException.class, () -> PathPattern.compile("/v1.0/groups/{gid}").bind(Map.of("id", "g1")));
  }
}
