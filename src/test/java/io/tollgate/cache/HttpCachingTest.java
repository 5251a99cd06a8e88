package io.tollgate.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.MultiMap;
import java.util.List;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** The RFC 9111 rules of {@code semantics: http} on header values alone: parsing and the store decision. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class HttpCachingTest {
  static final long NOW = 1_800_000_000_000L;

  private static MultiMap headers(String... pairs) {
    MultiMap h = MultiMap.caseInsensitiveMultiMap();
    for (int i = 0; i < pairs.length; i += 2) h.add(pairs[i], pairs[i + 1]);
    return h;
  }

  private static HttpCaching.Decision decide(int status, String... pairs) {
    return HttpCaching.decide(status, headers(pairs), false, NOW, NOW);
  }

  @Test
  void directives_are_case_insensitive_and_a_quoted_value_never_reads_as_a_directive() {
    var d = HttpCaching.directives(List.of("No-Store, extension=\"max-age=3600, private\", Max-Age=5"));
    assertTrue(d.containsKey("no-store"));
    assertFalse(d.containsKey("private"));
    assertEquals("5", d.get("max-age"));
  }

  @Test
  void a_max_age_that_is_not_delta_seconds_or_repeated_with_another_value_gives_no_freshness() {
    assertNull(decide(200, "Cache-Control", "max-age='3600'"));
    assertNull(decide(200, "Cache-Control", "max-age=-1"));
    assertNull(decide(200, "Cache-Control", "max-age=10, max-age=3600"));
    assertEquals(3_600_000, decide(200, "Cache-Control", "max-age=003600").freshMillis());
  }

  @Test
  void s_maxage_beats_max_age_and_max_age_beats_expires() {
    assertEquals(1_000, decide(200, "Cache-Control", "max-age=3600", "Cache-Control", "s-maxage=1").freshMillis());
    assertEquals(60_000, decide(200, "Cache-Control", "max-age=60", "Expires", "Thu, 01 Jan 2099 00:00:00 GMT").freshMillis());
  }

  @Test
  void the_age_it_arrives_with_counts_first_value_of_first_line_and_garbage_is_zero() {
    String date = "Fri, 15 Jan 2027 08:00:00 GMT";
    long at = HttpCaching.httpDate(date);
    var d = HttpCaching.decide(200, headers("Date", date, "Cache-Control", "max-age=100", "Age", "30, 90"), false, at, at);
    assertEquals(30_000, d.initialAgeMillis());
    assertEquals(70_000, d.freshMillis());
    assertEquals(0, HttpCaching.ageSeconds(headers("Age", "7200.0")));
    assertEquals(HttpCaching.MAX_DELTA_SECONDS, HttpCaching.ageSeconds(headers("Age", "99999999999")));
  }

  @Test
  void an_invalid_or_repeated_expires_means_already_expired() {
    assertNull(decide(200, "Expires", "Thu, 18 Aug 2050 02:01:18 UTC"));
    assertNull(decide(200, "Expires", "Thu, 01 Jan 2099 00:00:00 GMT", "Expires", "Thu, 01 Jan 2099 00:00:01 GMT"));
    assertNotNull(decide(200, "Expires", "Thu, 01 Jan 2099 00:00:00 GMT"));
  }

  @Test
  void http_dates_are_read_in_all_three_forms() {
    long imf = HttpCaching.httpDate("Sun, 06 Nov 1994 08:49:37 GMT");
    assertEquals(784111777000L, imf);
    assertEquals(imf, HttpCaching.httpDate("Sunday, 06-Nov-94 08:49:37 GMT"));
    assertEquals(imf, HttpCaching.httpDate("Sun Nov  6 08:49:37 1994"));
    assertEquals(Long.MIN_VALUE, HttpCaching.httpDate("Sun, 06 Nov 94 08:49:37 GMT"));
  }

  @Test
  void heuristic_freshness_only_for_heuristically_cacheable_statuses() {
    String lm = "Thu, 01 Jan 2026 00:00:00 GMT";
    assertNotNull(decide(404, "Last-Modified", lm));
    assertNull(decide(201, "Last-Modified", "garbage"));
    assertNull(decide(503, "Last-Modified", lm, "Date", "Thu, 01 Jan 2026 00:00:00 GMT"));
    assertTrue(decide(200, "Last-Modified", lm).freshMillis() <= HttpCaching.MAX_HEURISTIC_MILLIS);
  }

  @Test
  void no_store_private_vary_star_and_authorization_without_permission_are_not_stored() {
    assertNull(decide(200, "Cache-Control", "max-age=60, no-store"));
    assertNull(decide(200, "Cache-Control", "max-age=60, private"));
    assertNull(decide(200, "Cache-Control", "max-age=60", "Vary", "Accept, *"));
    assertNull(HttpCaching.decide(200, headers("Cache-Control", "max-age=60"), true, NOW, NOW));
    assertNotNull(HttpCaching.decide(200, headers("Cache-Control", "max-age=60, public"), true, NOW, NOW));
  }

  @Test
  void must_revalidate_and_no_cache_never_allow_stale_use_and_need_a_validator_to_be_kept() {
    var d = decide(200, "Cache-Control", "max-age=60, must-revalidate, stale-while-revalidate=30");
    assertEquals(0, d.staleWhileRevalidateMillis());
    assertEquals(30_000, decide(200, "Cache-Control", "max-age=60, stale-while-revalidate=30").staleWhileRevalidateMillis());
    assertNull(decide(200, "Cache-Control", "no-cache"));
    assertTrue(decide(200, "Cache-Control", "no-cache", "ETag", "\"a\"").freshMillis() <= 0);
  }

  @Test
  void a_valid_cdn_cache_control_replaces_cache_control_and_an_invalid_one_is_ignored() {
    assertNotNull(decide(200, "Cache-Control", "no-store", "CDN-Cache-Control", "max-age=600"));
    assertNull(decide(200, "Cache-Control", "max-age=600", "CDN-Cache-Control", "private"));
    assertNull(decide(200, "Cache-Control", "no-store", "CDN-Cache-Control", "max-age=600, &&&"));
    assertNull(decide(200, "Cache-Control", "no-store", "CDN-Cache-Control", "max-age=\"600\""));
  }

  @Test
  void vary_names_are_collected_over_lines_and_values_keep_absent_apart_from_empty() {
    assertEquals(List.of("accept", "x-a"), HttpCaching.varyNames(headers("Vary", "Accept, X-A", "Vary", "accept")));
    assertNull(HttpCaching.varyNames(headers("Vary", "", "Vary", "*")));
    String absent = HttpCaching.varyValues(List.of("x-a"), headers());
    String empty = HttpCaching.varyValues(List.of("x-a"), headers("X-A", ""));
    assertFalse(absent.equals(empty));
  }

  @Test
  void one_byte_range_of_a_stored_body() {
    assertEquals(List.of(0L, 1L), asList(CacheStage.byteRange("bytes=0-1", 10)));
    assertEquals(List.of(5L, 9L), asList(CacheStage.byteRange("bytes=5-", 10)));
    assertEquals(List.of(7L, 9L), asList(CacheStage.byteRange("bytes=-3", 10)));
    assertNull(CacheStage.byteRange("bytes=0-1,3-4", 10));
    assertNull(CacheStage.byteRange("bytes=10-", 10));
    assertNull(CacheStage.byteRange("items=0-1", 10));
  }

  private static List<Long> asList(long[] range) {
    return range == null ? null : List.of(range[0], range[1]);
  }
}
