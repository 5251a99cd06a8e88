package io.tollgate.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.util.List;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** The meta an L2 entry is stored with reads back, from its bytes, as the entry that wrote it. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class CachedResponseMetaTest {
  static final Buffer BODY = Buffer.buffer("{\"id\":\"u1\",\"displayName\":\"Zoë \\\"Z\\\" Ünal\"}");

  static MultiMap headers() {
    return MultiMap.caseInsensitiveMultiMap().add("Content-Type", "application/json;odata.metadata=minimal")
        .add("ETag", "W/\"abc\"").add("Set-Cookie", "a=1").add("set-cookie", "b=2").add("x-ms-ags-diagnostic", "{\"ServerInfo\":{}}");
  }

  static void assertSame(CachedResponse expected, CachedResponse actual) {
    assertEquals(expected.meta().encode(), actual.meta().encode());
    assertEquals(expected.body(), actual.body());
    assertEquals(expected.headers().getAll("set-cookie"), actual.headers().getAll("SET-COOKIE"));
  }

  @Test
  void a_plain_entry_reads_back_from_its_bytes_as_from_its_json() {
    CachedResponse stored = new CachedResponse(200, headers(), BODY, 1_700_000_000_123L, 300_000, 30_000, 60_000, 86_400_000);
    Buffer meta = stored.meta().toBuffer();
    assertSame(stored, CachedResponse.fromMeta(meta, BODY));
    assertSame(CachedResponse.fromMeta(stored.meta(), BODY), CachedResponse.fromMeta(meta, BODY));
  }

  @Test
  void vary_purge_and_initial_age_survive_the_trip() {
    CachedResponse stored = CachedResponse.http(203, headers(), BODY, 1_700_000_000_000L, 0, 0, 5_000, 10_000, 42_000,
        List.of("accept-language", "prefer"), "en\u0000odata.maxpagesize=5").purge();
    CachedResponse read = CachedResponse.fromMeta(stored.meta().toBuffer(), BODY);
    assertSame(stored, read);
    assertEquals(true, read.purged());
    assertEquals("en\u0000odata.maxpagesize=5", read.varyValues());
    assertEquals(42_000, read.ageMillis(1_700_000_000_000L));
  }

  @Test
  void fields_it_does_not_know_are_skipped_whatever_their_shape() {
    JsonObject meta = new CachedResponse(200, headers(), BODY, 5, 6, 7, 8).meta()
        .put("future", new JsonObject().put("a", List.of(1, 2, List.of(3)))).put("more", List.of("x", List.of())).put("n", (String) null);
    assertSame(CachedResponse.fromMeta(meta, BODY), CachedResponse.fromMeta(meta.toBuffer(), BODY));
  }

  @Test
  void a_meta_without_status_or_that_is_not_json_is_refused() {
    JsonObject meta = new CachedResponse(200, headers(), BODY, 5, 6, 7, 8).meta();
    meta.remove("status");
    assertThrows(IllegalArgumentException.class, () -> CachedResponse.fromMeta(meta.toBuffer(), BODY));
    assertThrows(IllegalArgumentException.class, () -> CachedResponse.fromMeta(Buffer.buffer("[1,2]"), BODY));
    assertThrows(IllegalArgumentException.class, () -> CachedResponse.fromMeta(Buffer.buffer("{\"status\":"), BODY));
  }

  @Test
  void the_binary_form_l2_stores_reads_back_as_the_entry_that_wrote_it() {
    CachedResponse plain = new CachedResponse(200, headers(), BODY, 1_700_000_000_123L, 300_000, 30_000, 60_000, 86_400_000);
    assertEquals(1, plain.storedMeta().getByte(0));
    assertSame(plain, CachedResponse.fromMeta(plain.storedMeta(), BODY));
    CachedResponse vary = CachedResponse.http(203, headers(), BODY, 1_700_000_000_000L, 0, 0, 5_000, 10_000, 42_000,
        List.of("accept-language", "prefer"), "en\u0000odata.maxpagesize=5").purge();
    CachedResponse read = CachedResponse.fromMeta(vary.storedMeta(), BODY);
    assertSame(vary, read);
    assertEquals(true, read.purged());
    assertEquals(42_000, read.ageMillis(1_700_000_000_000L));
    assertEquals(List.of("accept-language", "prefer"), read.meta().getJsonArray("vn").getList());
  }

  @Test
  void header_values_beyond_latin_1_and_every_latin_1_byte_survive_the_binary_form() {
    StringBuilder latin1 = new StringBuilder();
    for (char c = 0; c <= 0xFF; c++) latin1.append(c);
    MultiMap hs = MultiMap.caseInsensitiveMultiMap().add("x-latin1", latin1.toString()).add("x-wide", "Zoë → 日本 \uD83D\uDE00").add("x-empty", "");
    CachedResponse stored = new CachedResponse(200, hs, BODY, 1, 2, 3, 4);
    CachedResponse read = CachedResponse.fromMeta(stored.storedMeta(), BODY);
    assertEquals(latin1.toString(), read.headers().get("x-latin1"));
    assertEquals("Zoë → 日本 \uD83D\uDE00", read.headers().get("X-Wide"));
    assertEquals("", read.headers().get("x-empty"));
    assertSame(stored, read);
  }

  @Test
  void a_binary_meta_cut_short_anywhere_is_refused_not_misread() {
    Buffer whole = CachedResponse.http(200, headers(), BODY, 1, 2, 3, 4, 5, 6, List.of("prefer"), "x").storedMeta();
    for (int n = 1; n < whole.length(); n++) {
      Buffer cut = whole.getBuffer(0, n);
      assertThrows(IllegalArgumentException.class, () -> CachedResponse.fromMeta(cut, BODY), "cut at " + n);
    }
  }

  @Test
  void an_entry_read_from_l2_holds_its_body_at_exactly_its_length() {
    Buffer roomy = Buffer.buffer(4096).appendBuffer(BODY);
    CachedResponse stored = new CachedResponse(200, headers(), BODY, 1, 2, 3, 4);
    CachedResponse read = CachedResponse.fromMeta(stored.storedMeta(), roomy);
    assertEquals(stored.weightBytes(), read.weightBytes());
    assertEquals(BODY.length(), ((io.vertx.core.internal.buffer.BufferInternal) read.body()).getByteBuf().unwrap().capacity());
  }

  @Test
  void the_link_pre_check_answer_travels_with_the_entry_so_a_hit_does_not_scan_again() {
    java.util.function.Predicate<Buffer> mustNotRun = b -> { throw new AssertionError("scanned again"); };
    for (boolean links : new boolean[] {true, false}) {
      CachedResponse stored = new CachedResponse(200, headers(), BODY, 1, 2, 3, 4);
      assertEquals(links, stored.hasLinks(b -> links));
      assertEquals(links, CachedResponse.fromMeta(stored.storedMeta(), BODY).hasLinks(mustNotRun));
    }
    // Never scanned before it was stored: the hit scans.
    CachedResponse unscanned = CachedResponse.fromMeta(new CachedResponse(200, headers(), BODY, 1, 2, 3, 4).storedMeta(), BODY);
    assertThrows(AssertionError.class, () -> unscanned.hasLinks(mustNotRun));
  }
}
