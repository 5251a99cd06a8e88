package io.tollgate.testing;

import io.tollgate.Gateway;
import io.tollgate.config.TollgateOptions;
import io.tollgate.sim.GraphSimulator;
import io.tollgate.sim.SimulatorOptions;
import io.vertx.core.Vertx;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/** The Graph simulator on its own Vert.x and a gateway in front of it, both on free ports, plus a client. */
public final class TrafficStack implements AutoCloseable {
  public final Vertx simVertx;
  public final GraphSimulator sim;
  public final Gateway gateway;
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();

  private TrafficStack(Vertx simVertx, GraphSimulator sim, Gateway gateway) {
    this.simVertx = simVertx;
    this.sim = sim;
    this.gateway = gateway;
  }

  /** @param tune adjusts the gateway's options (ports and upstream are already set) */
  public static TrafficStack start(SimulatorOptions simulator, Consumer<TollgateOptions> tune) {
    try {
      Vertx simVertx = Vertx.vertx();
      GraphSimulator sim = GraphSimulator.start(simVertx, simulator).await(10, TimeUnit.SECONDS);
      TollgateOptions o = new TollgateOptions();
      // One proxy verticle: on this branch a second instance cannot share port 0 (fixed on main).
      o.getServer().setPort(0).setInstances(1);
      o.getManagement().setPort(0);
      o.getUpstream().setUrl(sim.origin());
      tune.accept(o);
      Gateway gateway = Gateway.start(o).await(10, TimeUnit.SECONDS);
      return new TrafficStack(simVertx, sim, gateway);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  public String proxy() {
    return "http://127.0.0.1:" + gateway.proxyPort();
  }

  /** Sends without waiting; headers as name, value pairs. */
  public CompletableFuture<HttpResponse<String>> send(String method, String path, String... headers) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(proxy() + path)).timeout(Duration.ofSeconds(30));
    for (int i = 0; i < headers.length; i += 2) b.header(headers[i], headers[i + 1]);
    b.method(method, method.equals("POST") || method.equals("PATCH")
        ? HttpRequest.BodyPublishers.ofString("{}") : HttpRequest.BodyPublishers.noBody());
    return http.sendAsync(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  public HttpResponse<String> get(String path, String... headers) throws Exception {
    return send("GET", path, headers).get(30, TimeUnit.SECONDS);
  }

  /** The management port's readiness document. */
  public io.vertx.core.json.JsonObject readiness() throws Exception {
    HttpRequest r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.managementPort() + "/health/ready")).build();
    return new io.vertx.core.json.JsonObject(http.send(r, HttpResponse.BodyHandlers.ofString()).body());
  }

  @Override
  public void close() {
    try {
      gateway.close().await(20, TimeUnit.SECONDS);
      simVertx.close().await(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
