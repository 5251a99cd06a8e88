package io.tollgate.cache;

import static io.tollgate.testing.GatewayHarness.xCache;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tollgate.testing.GatewayHarness;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/**
 * Header values that do not change Graph's answer do not split the cache: plain GETs from different clients
 * and {@code $batch} steps share entries in both directions.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class VaryOnMeaningTest {
  static final String ALICE = "Bearer alice";
  GatewayHarness harness;

  @BeforeEach
  void start() {
    harness = GatewayHarness.builder().start();
  }

  @AfterEach
  void stop() {
    harness.close();
  }

  HttpResponse<String> batch(String... urls) throws Exception {
    JsonArray requests = new JsonArray();
    for (int i = 0; i < urls.length; i++) requests.add(new JsonObject().put("id", "r" + i).put("method", "GET").put("url", urls[i]));
    return harness.http().send(HttpRequest.newBuilder(URI.create(harness.proxy() + "/v1.0/$batch")).timeout(Duration.ofSeconds(20))
        .header("Authorization", ALICE).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(new JsonObject().put("requests", requests).encode())).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void an_entry_warmed_by_a_plain_get_answers_a_batch_step() throws Exception {
    assertEquals("MISS", xCache(harness.getAs(ALICE, "/v1.0/users/u1", "Accept", "*/*", "Accept-Language", "*")));
    HttpResponse<String> r = batch("/users/u1");
    assertEquals(200, new JsonObject(r.body()).getJsonArray("responses").getJsonObject(0).getInteger("status"));
    assertEquals("HIT-L1", xCache(r), "every step answered from the cache");
    assertEquals(1, harness.sim().stats().count("GET /v1.0/users/u1"));
  }

  @Test
  void an_entry_warmed_by_a_batch_step_answers_plain_gets_from_different_clients() throws Exception {
    batch("/users/u2");
    assertEquals("HIT-L1", xCache(harness.getAs(ALICE, "/v1.0/users/u2", "Accept", "application/json;odata.metadata=minimal")));
    assertEquals("HIT-L1", xCache(harness.getAs(ALICE, "/v1.0/users/u2", "Accept", "*/*")));
    assertEquals("HIT-L1", xCache(harness.getAs(ALICE, "/v1.0/users/u2")));
    assertEquals(1, harness.sim().stats().count("GET /v1.0/users/u2"), "one upstream read: the batch step's");
  }

  @Test
  void values_that_do_change_the_answer_still_get_their_own_entry() throws Exception {
    harness.getAs(ALICE, "/v1.0/users/u3");
    assertEquals("MISS", xCache(harness.getAs(ALICE, "/v1.0/users/u3", "Accept-Language", "de-DE")));
    assertEquals("MISS", xCache(harness.getAs(ALICE, "/v1.0/users/u3", "ConsistencyLevel", "eventual")));
    assertEquals("MISS", xCache(harness.getAs(ALICE, "/v1.0/users/u3", "Prefer", "odata.maxpagesize=5")));
    assertEquals("HIT-L1", xCache(harness.getAs(ALICE, "/v1.0/users/u3", "Prefer", "Odata.MaxPageSize=5")), "same preference, other spelling");
  }
}
