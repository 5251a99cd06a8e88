package io.tollgate.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class LinkRewriterTest {
  final LinkRewriter rewriter = new LinkRewriter("https://graph.microsoft.com");
  static final String GW = "http://127.0.0.1:8080";

  String rewrite(String json) {
    return rewriter.rewrite(Buffer.buffer(json), GW).toString(StandardCharsets.UTF_8);
  }

  @Test
  void next_and_delta_links_to_the_upstream_point_at_the_gateway() {
    assertEquals("{\"@odata.nextLink\":\"http://127.0.0.1:8080/v1.0/users?$skiptoken=x\",\"value\":[]}",
        rewrite("{\"@odata.nextLink\":\"https://graph.microsoft.com/v1.0/users?$skiptoken=x\",\"value\":[]}"));
    assertEquals("{\"a\":{\"b\":[{\"@odata.deltaLink\" : \"http://127.0.0.1:8080/v1.0/users/delta?$deltatoken=1\"}]}}",
        rewrite("{\"a\":{\"b\":[{\"@odata.deltaLink\" : \"https://graph.microsoft.com/v1.0/users/delta?$deltatoken=1\"}]}}"));
  }

  @Test
  void other_origins_other_keys_and_lookalikes_are_left_alone() {
    String[] untouched = {
        "{\"@odata.nextLink\":\"https://contoso.sharepoint.com/_api/v2.0/x\"}",
        "{\"@odata.id\":\"https://graph.microsoft.com/v1.0/directoryObjects/u1\"}",
        "{\"note\":\"@odata.nextLink\",\"x\":\"https://graph.microsoft.com/\"}",
        "{\"@odata.nextLinkX\":\"https://graph.microsoft.com/v1.0\"}",
        "{\"@odata.count\":5,\"@odata.context\":\"https://graph.microsoft.com/v1.0/$metadata\"}",
        "{\"@odata.nextLink\":\"https://graph.microsoft.co\"}",
        "{\"@odata.nextLink\":\"https://graph.microsoft.com.evil.example/v1.0/users\"}",
        "{\"@odata.nextLink\":\"https://graph.microsoft.com:8443/v1.0/users\"}",
        "{\"@odata.nextLink\":\"https://graph.microsoft.comx/v1.0/users\"}",
        "not json at all \"\"\" \"@odata.",
    };
    for (String s : untouched) assertEquals(s, rewrite(s));
  }

  @Test
  void a_link_split_across_any_chunk_boundary_is_rewritten() {
    String in = "{\"value\":[{\"id\":\"u1\"}],\"@odata.count\":2,\"@odata.nextLink\":\"https://graph.microsoft.com/v1.0/groups/g1/members?$skiptoken=abc\"}";
    String expected = in.replace("https://graph.microsoft.com", GW);
    byte[] bytes = in.getBytes(StandardCharsets.UTF_8);
    Random random = new Random(1);
    for (int trial = 0; trial < 300; trial++) {
      LinkRewriter.Stream s = rewriter.stream(GW);
      Buffer out = Buffer.buffer();
      int pos = 0;
      while (pos < bytes.length) {
        int n = 1 + random.nextInt(Math.min(12, bytes.length - pos));
        out.appendBuffer(s.feed(Buffer.buffer().appendBytes(bytes, pos, n)));
        pos += n;
      }
      out.appendBuffer(s.finish());
      assertEquals(expected, out.toString(StandardCharsets.UTF_8), "trial " + trial);
    }
  }

  /**
   * A buffered body and the same body streamed get the same rewrite: random bodies built from the pieces that make
   * or break a link (keys, lookalike keys, blanks, colons, quotes, origins and their lookalikes, escapes).
   */
  @Test
  void a_buffered_body_is_rewritten_exactly_as_the_same_body_streamed() {
    String[] pieces = {"\"@odata.nextLink\"", "\"@odata.deltaLink\"", "\"@odata.next\"", "\"@odata.count\"", "\"@odata.",
        "\"", ":", " ", "\n", "\t", "https://graph.microsoft.com", "https://graph.microsoft.co", "https://graph.microsoft.comx",
        "/v1.0/users?$skiptoken=a", "?", "#", "/", ",", "{", "}", "\\\"", "x", "\"value\":[1,2]", " ".repeat(300),
        "\"@odata.nextLink\":\"https://graph.microsoft.com", "\"@odata.deltaLink\" :\n \"https://graph.microsoft.com"};
    Random random = new Random(7);
    int rewritten = 0;
    for (int trial = 0; trial < 5_000; trial++) {
      StringBuilder body = new StringBuilder();
      for (int n = random.nextInt(24); n > 0; n--) body.append(pieces[random.nextInt(pieces.length)]);
      String in = body.toString();
      LinkRewriter.Stream stream = rewriter.stream(GW);
      String streamed = stream.feed(Buffer.buffer(in)).appendBuffer(stream.finish()).toString(StandardCharsets.UTF_8);
      String buffered = rewriter.rewrite(Buffer.buffer(in), GW).toString(StandardCharsets.UTF_8);
      assertEquals(streamed, buffered, "body: " + in);
      if (!buffered.equals(in)) rewritten++;
    }
    assertTrue(rewritten > 100, "the random bodies include links to rewrite: " + rewritten);
  }

  @Test
  void location_headers_are_rewritten_only_for_the_upstream_origin() {
    assertEquals(GW + "/v1.0/users/u1", rewriter.rewriteHeader("https://graph.microsoft.com/v1.0/users/u1", GW));
    assertEquals("https://graph.microsoft.com.evil/x", rewriter.rewriteHeader("https://graph.microsoft.com.evil/x", GW));
    assertEquals("https://other.example/x", rewriter.rewriteHeader("https://other.example/x", GW));
  }

  /** The byte-at-a-time definition the pre-check must keep answering (it only searches faster). */
  static boolean mayContainLinksByteByByte(byte[] b) {
    for (int i = 0; i < b.length - 16; i++) {
      if (b[i] == '@' && b[i + 1] == 'o' && b[i + 6] == '.' && (b[i + 7] == 'n' || b[i + 7] == 'd') && b[i + 11] == 'L') return true;
    }
    return false;
  }

  @Test
  void the_link_pre_check_answers_as_the_byte_by_byte_search_on_random_bodies_and_slices() {
    String[] parts = {"@odata.nextLink", "@odata.deltaLink", "@odata.context", "@o", "@", "@@odata.nextLink", "\"x\":1,", " ", "nextLink"};
    Random random = new Random(7);
    int found = 0;
    for (int trial = 0; trial < 5000; trial++) {
      StringBuilder b = new StringBuilder();
      int n = random.nextInt(12);
      for (int k = 0; k < n; k++) b.append(parts[random.nextInt(parts.length)]);
      byte[] bytes = b.toString().getBytes(StandardCharsets.UTF_8);
      boolean expected = mayContainLinksByteByByte(bytes);
      found += expected ? 1 : 0;
      assertEquals(expected, LinkRewriter.mayContainLinks(Buffer.buffer(bytes)), b.toString());
      // A slice (a body read out of a larger buffer) is searched from its own first byte to its own last.
      Buffer padded = Buffer.buffer("@odata.nextLink!").appendBytes(bytes).appendString("@odata.nextLink!");
      assertEquals(expected, LinkRewriter.mayContainLinks(padded.slice(16, 16 + bytes.length)), b.toString());
    }
    assertTrue(found > 500 && found < 4500, "random bodies with and without links: " + found);
  }
}
