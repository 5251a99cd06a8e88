package io.tollgate.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.testing.GatewayHarness;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** Paging stays behind the gateway: links that point at the upstream come back pointing at Tollgate. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class PagingTest {
  static final String ALICE = "Bearer alice";
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  GatewayHarness harness;

  @BeforeEach
  void start() {
    harness = GatewayHarness.builder().start();
  }

  @AfterEach
  void stop() {
    harness.close();
  }

  HttpResponse<String> get(String url) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(url)).header("Authorization", ALICE).build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void next_links_of_a_streamed_page_point_at_the_gateway_and_page_through_it() throws Exception {
    Set<String> ids = new HashSet<>();
    String url = harness.proxy() + "/v1.0/users?$top=120";
    int pages = 0;
    while (url != null) {
      HttpResponse<String> r = get(url);
      assertEquals(200, r.statusCode());
      JsonObject page = new JsonObject(r.body());
      page.getJsonArray("value").forEach(u -> ids.add(((JsonObject) u).getString("id")));
      url = page.getString("@odata.nextLink");
      if (url != null) assertTrue(url.startsWith(harness.proxy() + "/v1.0/users?"), url);
      pages++;
    }
    assertEquals(500, ids.size());
    assertEquals(5, pages);
    assertEquals(5, harness.sim().stats().count("GET /v1.0/users"), "every page went through the gateway");
  }

  @Test
  void a_page_fetched_through_a_rewritten_link_is_cached_like_any_read() throws Exception {
    HttpResponse<String> first = get(harness.proxy() + "/v1.0/groups/g1/transitiveMembers?$top=2");
    String next = new JsonObject(first.body()).getString("@odata.nextLink");
    assertTrue(next.startsWith(harness.proxy() + "/v1.0/groups/g1/transitiveMembers?"), next);
    assertEquals("MISS", get(next).headers().firstValue("X-Cache").orElse(""));
    HttpResponse<String> again = get(next);
    assertEquals("HIT-L1", again.headers().firstValue("X-Cache").orElse(""));
    String nextOfNext = new JsonObject(again.body()).getString("@odata.nextLink");
    assertTrue(nextOfNext == null || nextOfNext.startsWith(harness.proxy()), "a cached page's own link is rewritten too: " + nextOfNext);
    HttpResponse<String> cachedFirst = get(harness.proxy() + "/v1.0/groups/g1/transitiveMembers?$top=2");
    assertEquals(next, new JsonObject(cachedFirst.body()).getString("@odata.nextLink"));
    assertEquals(2, harness.sim().stats().count("GET /v1.0/groups/g1/transitiveMembers"));
  }

  @Test
  void the_public_host_a_trusted_proxy_forwarded_is_the_one_in_the_links() throws Exception {
    harness.close();
    harness = GatewayHarness.builder().gateway(o -> o.getServer().setTrustedProxies(java.util.List.of("127.0.0.1"))).start();
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(harness.proxy() + "/v1.0/users?$top=1"))
        .header("X-Forwarded-Proto", "https").header("X-Forwarded-Host", "tollgate.example:8443").build(), HttpResponse.BodyHandlers.ofString());
    assertTrue(new JsonObject(r.body()).getString("@odata.nextLink").startsWith("https://tollgate.example:8443/v1.0/users?"));
  }

  @Test
  void forwarded_headers_from_an_untrusted_peer_and_hostile_hosts_never_reach_the_links() throws Exception {
    HttpResponse<String> untrusted = http.send(HttpRequest.newBuilder(URI.create(harness.proxy() + "/v1.0/users?$top=1"))
        .header("X-Forwarded-Proto", "https").header("X-Forwarded-Host", "evil.example").build(), HttpResponse.BodyHandlers.ofString());
    assertTrue(new JsonObject(untrusted.body()).getString("@odata.nextLink").startsWith(harness.proxy() + "/v1.0/users?"),
        "X-Forwarded-* from a peer that is no configured proxy are ignored");
    harness.close();
    harness = GatewayHarness.builder().gateway(o -> o.getServer().setTrustedProxies(java.util.List.of("127.0.0.1"))).start();
    HttpResponse<String> hostile = http.send(HttpRequest.newBuilder(URI.create(harness.proxy() + "/v1.0/users?$top=1"))
        .header("X-Forwarded-Host", "x\",\"injected\":\"1").build(), HttpResponse.BodyHandlers.ofString());
    JsonObject body = new JsonObject(hostile.body());
    assertTrue(!body.containsKey("injected"), hostile.body());
    assertTrue(body.getString("@odata.nextLink").startsWith("http://127.0.0.1:"), "a host that is not host[:port] is not used");
  }

  @Test
  void location_headers_to_the_upstream_are_rewritten() throws Exception {
    HttpResponse<String> r = get(harness.proxy() + "/_sim/redirect");
    assertEquals(302, r.statusCode());
    assertEquals(harness.proxy() + "/v1.0/users", r.headers().firstValue("Location").orElse(null));
  }

  @Test
  void non_json_bodies_pass_byte_identical() throws Exception {
    HttpResponse<byte[]> direct = http.send(HttpRequest.newBuilder(URI.create(harness.sim().origin() + "/_sim/bytes?size=300000")).build(),
        HttpResponse.BodyHandlers.ofByteArray());
    HttpResponse<byte[]> proxied = http.send(HttpRequest.newBuilder(URI.create(harness.proxy() + "/_sim/bytes?size=300000")).build(),
        HttpResponse.BodyHandlers.ofByteArray());
    assertTrue(java.util.Arrays.equals(direct.body(), proxied.body()));
    assertNull(proxied.headers().firstValue("Transfer-Encoding").filter(v -> !v.equals("chunked")).orElse(null));
  }
}
