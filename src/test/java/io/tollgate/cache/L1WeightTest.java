package io.tollgate.cache;

import static io.tollgate.testing.GatewayHarness.cacheKey;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import java.time.Clock;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * L1's byte bound counts what an entry holds on the heap (objects, key strings, index share), not only its body
 * and headers: with small answers the rest is most of it. The figures are checked against a class histogram of a
 * full L1 by {@code src/bench/memory.sh}; here, only that they are counted.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class L1WeightTest {
  static final String ALICE = "Bearer alice-token";

  static CachedResponse answer(Buffer body) {
    MultiMap headers = MultiMap.caseInsensitiveMultiMap().add("Content-Type", "application/json").add("ETag", "W/\"1\"");
    return new CachedResponse(200, headers, body, System.currentTimeMillis(), 3_600_000, 0, 0);
  }

  @Test
  void a_small_entry_weighs_its_objects_and_key_as_well_as_its_body() {
    L1Store l1 = new L1Store(1 << 20, Clock.systemUTC());
    l1.put(cacheKey("/v1.0/users/u1", ALICE), answer(Buffer.buffer("{}")));
    l1.cleanUp();
    long weight = l1.weightBytes();
    // 2 body bytes; the answer's objects and headers (~600 B) and the entry, key strings and index (~900 B).
    assertTrue(weight > 1_200 && weight < 2_500, "weight " + weight);
  }

  @Test
  void the_byte_bound_holds_fewer_small_entries_than_their_bodies_alone_would_allow() {
    L1Store l1 = new L1Store(1 << 20, Clock.systemUTC());
    for (int i = 0; i < 5_000; i++) l1.put(cacheKey("/v1.0/users/u" + i, ALICE), answer(Buffer.buffer("{\"id\":\"u" + i + "\"}")));
    l1.cleanUp();
    assertTrue(l1.weightBytes() <= 1 << 20, "weight " + l1.weightBytes());
    assertTrue(l1.size() < 1_000, "size " + l1.size());
  }

  @Test
  void a_body_grown_in_steps_is_kept_at_its_length() {
    Buffer grown = Buffer.buffer(64 << 10).appendString("{\"id\":\"u1\"}");
    CachedResponse kept = answer(grown);
    assertEquals(grown, kept.body());
    // Same bytes, another buffer: the stored copy has no spare capacity for the weigher to miss.
    grown.setByte(0, (byte) '[');
    assertEquals('{', kept.body().getByte(0));
  }
}
