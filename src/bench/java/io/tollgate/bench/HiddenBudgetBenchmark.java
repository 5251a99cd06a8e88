package io.tollgate.bench;

import io.tollgate.sim.GraphSimulator;
import io.tollgate.sim.SimulatorOptions;
import io.tollgate.sim.Tokens;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * Issue 10's hidden-budget run: 25 clients read distinct users through a gateway whose upstream (the
 * simulator, in this process) has an RU budget the gateway is not told. Sized so that the budget floor,
 * (total RU - bucket capacity) / rate, is {@code FLOOR} seconds. Prints one line: wall time against the
 * floor, 429s at the clients, and the upstream's 429s as a share of its calls.
 *
 * <p>Arguments: gatewayUrl ("direct" = the simulator itself) simulatorPort rate usageHeaders(on|off)
 * batch(0|20) floorSeconds clients. The gateway is started by {@code hidden-budget.sh} with {@code --upstream}
 * pointing at this simulator.
 */
public final class HiddenBudgetBenchmark {
  public static void main(String[] args) throws Exception {
    String via = args[0];
    int simPort = Integer.parseInt(args[1]);
    double rate = Double.parseDouble(args[2]);
    boolean usage = args[3].equals("on");
    int batch = Integer.parseInt(args[4]);
    double floor = Double.parseDouble(args[5]);
    int clients = Integer.parseInt(args[6]);
    String phase = args.length > 7 ? args[7] : "run";

    // Budget floor: (reads x 1 RU - capacity) / rate, capacity = 10 s of the rate (Graph's).
    int reads = (int) Math.ceil(floor * rate + 10 * rate);
    Vertx vertx = Vertx.vertx();
    if (phase.equals("sim")) {
      SimulatorOptions o = new SimulatorOptions().setPort(simPort).setThrottleRate(rate).setUsageHeaders(usage)
          .setUsers(reads + 1).setGroups(1).setSites(1).setLatency(Duration.ofMillis(30));
      GraphSimulator sim = GraphSimulator.start(vertx, o).await(60, TimeUnit.SECONDS);
      System.out.println("simulator " + sim.origin() + " ready");
      System.out.flush();
      // The script ends this process when the run is over; stats are read over HTTP (/_sim/stats).
      Thread.currentThread().join();
      return;
    }
    String token = Tokens.issue(new JsonObject().put("tid", "contoso").put("appid", "auditor"));
    String target = via.equals("direct") ? "http://127.0.0.1:" + simPort : via;
    HttpClient http = vertx.createHttpClient(new HttpClientOptions().setKeepAlive(true),
        new PoolOptions().setHttp1MaxSize(clients * 2));
    AtomicInteger next = new AtomicInteger(1);
    LongAdder ok = new LongAdder();
    LongAdder throttled = new LongAdder();
    LongAdder other = new LongAdder();
    long start = System.nanoTime();
    Future<?>[] workers = new Future<?>[clients];
    for (int c = 0; c < clients; c++) {
      Promise<Void> done = Promise.promise();
      workers[c] = done.future();
      vertx.runOnContext(v -> loop(http, target, token, batch, reads, next, ok, throttled, other, done));
    }
    Future.all(java.util.List.of(workers)).await(30, TimeUnit.MINUTES);
    double wall = (System.nanoTime() - start) / 1e9;
    JsonObject stats = http.request(new RequestOptions().setAbsoluteURI("http://127.0.0.1:" + simPort + "/_sim/stats"))
        .compose(r -> r.send().compose(resp -> resp.body())).await(10, TimeUnit.SECONDS).toJsonObject();
    long total = stats.getLong("total");
    long envelopes = stats.getJsonObject("byPath", new JsonObject()).getLong("POST /v1.0/$batch", 0L);
    long upstreamCalls = total - envelopes;
    long upstream429 = stats.getLong("throttled");
    System.out.printf("%-8s usage=%-3s batch=%-2d rate=%.0f RU/s reads=%d floor=%.1f s | wall %.1f s = %.3f x floor | "
            + "429@client %d | upstream calls %d, 429s %d = %.2f %% | other errors %d%n",
        via.equals("direct") ? "direct" : "gateway", usage ? "on" : "off", batch, rate, reads, floor, wall, wall / floor,
        throttled.sum(), upstreamCalls, upstream429, 100.0 * upstream429 / Math.max(1, upstreamCalls), other.sum());
    vertx.close().await(10, TimeUnit.SECONDS);
    System.exit(0);
  }

  /** One client: the next distinct reads, one request (or one $batch of {@code batch}) at a time, until none are left. */
  private static void loop(HttpClient http, String target, String token, int batch, int reads, AtomicInteger next,
      LongAdder ok, LongAdder throttled, LongAdder other, Promise<Void> done) {
    int first = next.getAndAdd(Math.max(1, batch));
    if (first > reads) {
      done.complete();
      return;
    }
    Future<Void> one;
    if (batch == 0) {
      one = http.request(new RequestOptions().setAbsoluteURI(target + "/v1.0/users/u" + first)
              .putHeader("Authorization", token))
          .compose(r -> r.send().compose(resp -> resp.body().map(b -> {
            count(resp.statusCode(), ok, throttled, other);
            return null;
          })));
    } else {
      JsonArray requests = new JsonArray();
      for (int i = first; i < first + batch && i <= reads; i++) {
        requests.add(new JsonObject().put("id", Integer.toString(i)).put("method", "GET").put("url", "/users/u" + i));
      }
      Buffer body = new JsonObject().put("requests", requests).toBuffer();
      one = http.request(new RequestOptions().setMethod(HttpMethod.POST).setAbsoluteURI(target + "/v1.0/$batch")
              .putHeader("Authorization", token).putHeader("Content-Type", "application/json"))
          .compose(r -> r.send(body).compose(resp -> resp.body().map(b -> {
            if (resp.statusCode() != 200) {
              other.add(requests.size());
              return null;
            }
            for (Object o : b.toJsonObject().getJsonArray("responses")) {
              count(((JsonObject) o).getInteger("status"), ok, throttled, other);
            }
            return null;
          })));
    }
    one.onComplete(ar -> {
      if (ar.failed()) other.increment();
      loop(http, target, token, batch, reads, next, ok, throttled, other, done);
    });
  }

  private static void count(int status, LongAdder ok, LongAdder throttled, LongAdder other) {
    if (status == 200) ok.increment();
    else if (status == 429) throttled.increment();
    else other.increment();
  }
}
