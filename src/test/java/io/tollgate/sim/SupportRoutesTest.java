package io.tollgate.sim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpRequest;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(VertxExtension.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class SupportRoutesTest {
  private static final int FIVE_MIB = 5 << 20;
  private GraphSimulator sim;
  private WebClient client;
  private HttpClientAgent raw;

  @BeforeEach
  void start(Vertx vertx) throws Exception {
    sim = SimTesting.start(vertx, new SimulatorOptions().setUsers(200).setGroups(5).setSites(2));
    client = SimTesting.client(vertx);
    raw = vertx.createHttpClient(new HttpClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(sim.port()));
  }

  @AfterEach
  void stop() throws Exception {
    client.close();
    raw.close().await(10, TimeUnit.SECONDS);
    sim.close().await(10, TimeUnit.SECONDS);
  }

  @Test
  void echo_streams_a_five_mib_body_back_unchanged(VertxTestContext test) {
    byte[] payload = randomBytes(FIVE_MIB);
    client.postAbs(sim.origin() + "/_sim/echo").putHeader("Content-Type", "application/x-test")
        .sendBuffer(Buffer.buffer(payload))
        .onComplete(test.succeeding(r -> test.verify(() -> {
          assertEquals(200, r.statusCode());
          assertEquals("application/x-test", r.getHeader("Content-Type"));
          assertEquals(String.valueOf(FIVE_MIB), r.getHeader("Content-Length"));
          assertArrayEquals(payload, r.body().getBytes());
          assertEquals(0, sim.stats().total(), "support endpoints are not Graph requests");
          test.completeNow();
        })));
  }

  @Test
  void echo_streams_a_chunked_upload_back_chunked(VertxTestContext test) {
    byte[] payload = randomBytes(FIVE_MIB + 17);
    raw.request(new RequestOptions().setMethod(HttpMethod.PUT).setURI("/_sim/echo"))
        .compose(req -> {
          req.setChunked(true);
          for (int offset = 0; offset < payload.length; offset += 100_000) {
            req.write(Buffer.buffer(java.util.Arrays.copyOfRange(payload, offset, Math.min(payload.length, offset + 100_000))));
          }
          req.end();
          return req.response();
        })
        .compose(response -> {
          test.verify(() -> assertEquals("chunked", response.getHeader("Transfer-Encoding")));
          return response.body();
        })
        .onComplete(test.succeeding(body -> test.verify(() -> {
          assertArrayEquals(payload, body.getBytes());
          test.completeNow();
        })));
  }

  @Test
  void count_consumes_a_five_mib_body_and_reports_its_size_and_hash(VertxTestContext test) throws Exception {
    byte[] payload = randomBytes(FIVE_MIB);
    String expected = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(payload));
    client.postAbs(sim.origin() + "/_sim/count").sendBuffer(Buffer.buffer(payload))
        .onComplete(test.succeeding(r -> test.verify(() -> {
          assertEquals(200, r.statusCode());
          assertEquals(FIVE_MIB, r.bodyAsJsonObject().getLong("bytes"));
          assertEquals(expected, r.bodyAsJsonObject().getString("sha256"));
          test.completeNow();
        })));
  }

  @Test
  void bytes_streams_exactly_the_requested_size_with_a_content_length(VertxTestContext test) {
    Future.all(client.getAbs(sim.origin() + "/_sim/bytes?size=" + FIVE_MIB).send(),
            client.getAbs(sim.origin() + "/_sim/bytes?size=" + FIVE_MIB + "&chunked=true").send(),
            client.getAbs(sim.origin() + "/_sim/bytes?size=0").send())
        .onComplete(test.succeeding(all -> test.verify(() -> {
          HttpResponse<Buffer> sized = all.resultAt(0);
          HttpResponse<Buffer> chunked = all.resultAt(1);
          HttpResponse<Buffer> empty = all.resultAt(2);
          assertEquals(String.valueOf(FIVE_MIB), sized.getHeader("Content-Length"));
          assertEquals(FIVE_MIB, sized.body().length());
          assertEquals("chunked", chunked.getHeader("Transfer-Encoding"));
          assertNull(chunked.getHeader("Content-Length"));
          assertEquals(FIVE_MIB, chunked.body().length());
          assertEquals(sized.body(), chunked.body(), "the bytes are deterministic");
          assertEquals(0, empty.body() == null ? 0 : empty.body().length());
          test.completeNow();
        })));
  }

  @Test
  void bytes_waits_for_a_paused_reader_instead_of_buffering_the_body(Vertx vertx, VertxTestContext test) {
    // 64 MiB cannot fit in loopback socket buffers. If the simulator ignored back-pressure it would queue the
    // whole body in memory and end the response at once; honouring it, the answer stays open while the client
    // is paused, and the full body still arrives after the client resumes.
    int size = 64 << 20;
    long[] received = {0};
    raw.request(HttpMethod.GET, "/_sim/bytes?size=" + size)
        .compose(req -> {
          // Paused and counted from the moment the head arrives, before any body chunk can be delivered unseen (a
          // listener added once sent may run after the first chunk: one fresh CI run counted 1 MiB short).
          req.response().onSuccess(response -> {
            response.pause();
            response.handler(chunk -> received[0] += chunk.length());
          });
          return req.send();
        })
        .compose(response -> {
          return vertx.timer(500).compose(v -> {
            test.verify(() -> {
              assertEquals(0, received[0], "nothing is read while paused");
              assertEquals(1, sim.stats().inFlight(), "the simulator is still waiting to write");
            });
            response.resume();
            return response.end();
          });
        })
        .onComplete(test.succeeding(v -> test.verify(() -> {
          assertEquals(size, received[0]);
          test.completeNow();
        })));
  }

  @Test
  void a_client_cancelling_a_hanging_request_counts_as_cancelled(Vertx vertx, VertxTestContext test) {
    AtomicReference<HttpClientRequest> pending = new AtomicReference<>();
    raw.request(HttpMethod.GET, "/_sim/hang")
        .compose(req -> {
          pending.set(req);
          req.end();
          return SimTesting.eventually(vertx, () -> sim.stats().inFlight() == 1, 5_000, "the hang to arrive");
        })
        .compose(v -> {
          test.verify(() -> assertEquals(0, sim.stats().cancelled()));
          return pending.get().reset();
        })
        .compose(v -> SimTesting.eventually(vertx, () -> sim.stats().cancelled() == 1, 5_000, "the cancel to register"))
        .onComplete(test.succeeding(v -> test.verify(() -> {
          assertEquals(0, sim.stats().inFlight());
          assertEquals(1, sim.stats().maxInFlight());
          test.completeNow();
        })));
  }

  @Test
  void hang_rate_one_leaves_graph_requests_unanswered_until_the_client_leaves(Vertx vertx, VertxTestContext test) {
    sim.reconfigure(new SimulatorOptions().setHangRate(1.0));
    client.getAbs(sim.origin() + "/v1.0/users/u1").timeout(300).send()
        .onComplete(test.failing(failure -> SimTesting.eventually(vertx, () -> sim.stats().cancelled() == 1, 5_000,
                "the timeout to close the connection")
            .onComplete(test.succeeding(v -> test.verify(() -> {
              assertEquals(1, sim.stats().count("GET /v1.0/users/u1"), "a hung request is still counted");
              test.completeNow();
            })))));
  }

  @Test
  void concurrent_slow_calls_show_in_max_in_flight(VertxTestContext test) {
    List<Future<HttpResponse<Buffer>>> calls = new ArrayList<>();
    for (int i = 0; i < 10; i++) calls.add(client.getAbs(sim.origin() + "/_sim/slow?ms=1500").send());
    Future.all(calls).onComplete(test.succeeding(all -> test.verify(() -> {
      for (int i = 0; i < 10; i++) {
        HttpResponse<Buffer> r = all.resultAt(i);
        assertEquals(200, r.statusCode());
        assertEquals(1500, r.bodyAsJsonObject().getLong("sleptMs"));
      }
      assertEquals(10, sim.stats().maxInFlight());
      assertEquals(0, sim.stats().inFlight());
      test.completeNow();
    })));
  }

  @Test
  void status_answers_the_asked_status_with_a_graph_error_and_retry_after(VertxTestContext test) {
    client.getAbs(sim.origin() + "/_sim/status/429?retryAfter=7").send()
        .onComplete(test.succeeding(r -> test.verify(() -> {
          assertEquals(429, r.statusCode());
          assertEquals("7", r.getHeader("Retry-After"));
          assertEquals("TooManyRequests", r.bodyAsJsonObject().getJsonObject("error").getString("code"));
          test.completeNow();
        })));
  }

  @Test
  void redirect_points_at_users_on_the_origin(VertxTestContext test) {
    client.getAbs(sim.origin() + "/_sim/redirect").followRedirects(false).send()
        .onComplete(test.succeeding(r -> test.verify(() -> {
          assertEquals(302, r.statusCode());
          assertEquals(sim.origin() + "/v1.0/users", r.getHeader("Location"));
          test.completeNow();
        })));
  }

  @Test
  void headers_reports_what_arrived(VertxTestContext test) {
    HttpRequest<Buffer> request = client.getAbs(sim.origin() + "/_sim/headers?a=1");
    request.headers().add("X-Custom", "one").add("X-Custom", "two").add("ConsistencyLevel", "eventual");
    request.send()
        .onComplete(test.succeeding(r -> test.verify(() -> {
          JsonObject seen = r.bodyAsJsonObject();
          assertEquals("GET", seen.getString("method"));
          assertEquals("/_sim/headers", seen.getString("path"));
          assertEquals("a=1", seen.getString("query"));
          assertEquals(new JsonArray().add("one").add("two"), seen.getJsonObject("headers").getJsonArray("x-custom"));
          assertEquals(new JsonArray().add("eventual"), seen.getJsonObject("headers").getJsonArray("consistencylevel"));
          test.completeNow();
        })));
  }

  @Test
  void stats_and_reset_endpoints_expose_and_zero_the_counters(VertxTestContext test) {
    client.getAbs(sim.origin() + "/v1.0/users").send()
        .compose(r -> client.getAbs(sim.origin() + "/_sim/stats").send())
        .compose(stats -> {
          test.verify(() -> {
            JsonObject json = stats.bodyAsJsonObject();
            assertEquals(1, json.getLong("total"));
            assertEquals(1, json.getJsonObject("byPath").getLong("GET /v1.0/users"));
          });
          return client.postAbs(sim.origin() + "/_sim/reset").send();
        })
        .onComplete(test.succeeding(r -> test.verify(() -> {
          assertEquals(204, r.statusCode());
          assertEquals(0, sim.stats().total());
          assertEquals(0, sim.stats().count("GET /v1.0/users"));
          test.completeNow();
        })));
  }

  @Test
  void clients_asking_for_gzip_get_gzip(VertxTestContext test) {
    raw.request(new RequestOptions().setURI("/v1.0/users").putHeader("Accept-Encoding", "gzip"))
        .compose(HttpClientRequest::send)
        .compose(response -> {
          test.verify(() -> assertEquals("gzip", response.getHeader("Content-Encoding")));
          return response.body();
        })
        .onComplete(test.succeeding(body -> test.verify(() -> {
          byte[] bytes = body.getBytes();
          assertTrue(bytes.length > 2 && (bytes[0] & 0xff) == 0x1f && (bytes[1] & 0xff) == 0x8b, "gzip magic");
          test.completeNow();
        })));
  }

  @Test
  void public_origin_is_used_in_next_links(Vertx vertx, VertxTestContext test) throws Exception {
    GraphSimulator fronted = SimTesting.start(vertx,
        new SimulatorOptions().setUsers(3).setPageSize(1).setPublicOrigin("https://graph.example:8443/"));
    client.getAbs("http://127.0.0.1:" + fronted.port() + "/v1.0/users").send()
        .eventually(fronted::close)
        .onComplete(test.succeeding(r -> test.verify(() -> {
          assertEquals("https://graph.example:8443", fronted.origin());
          assertTrue(r.bodyAsJsonObject().getString("@odata.nextLink").startsWith("https://graph.example:8443/v1.0/users?"));
          test.completeNow();
        })));
  }

  private static byte[] randomBytes(int size) {
    byte[] bytes = new byte[size];
    new Random(size).nextBytes(bytes);
    return bytes;
  }
}
