package io.tollgate.testing;

import io.tollgate.Gateway;
import io.tollgate.cache.CacheKey;
import io.tollgate.config.CacheOptions;
import io.tollgate.config.ConfigLoader;
import io.tollgate.config.TollgateOptions;
import io.tollgate.proxy.CallerIdentity;
import io.tollgate.sim.GraphSimulator;
import io.tollgate.sim.SimulatorOptions;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The real thing for tests that speak HTTP: the Graph simulator on a Vert.x of its own and a gateway
 * ({@link Gateway#start(TollgateOptions, Clock)}) in front of it, both on free loopback ports; optionally a
 * real {@code redis-server} ({@link RedisProcess}) or another Redis the test runs, and a {@link FakeClock}.
 * <pre>{@code
 * harness = GatewayHarness.builder()
 *     .simulator(new SimulatorOptions().setLatency(Duration.ofMillis(300)))
 *     .gateway(o -> o.getBreaker().setFailureThreshold(3))
 *     .clock(clock).redis()
 *     .start();
 * }</pre>
 * Started on the JUnit thread ({@code @BeforeEach} or the test), {@link #close()}d in {@code @AfterEach}: that
 * stops every gateway it started, the simulator, and the Redis it started.
 */
public final class GatewayHarness implements AutoCloseable {
  private static TollgateOptions shipped;

  private final Vertx simVertx;
  private final GraphSimulator sim;
  private final Clock clock;
  private final RedisProcess ownRedis;
  private final String redisUrl;
  private final String keyPrefix;
  private final List<Gateway> gateways = new CopyOnWriteArrayList<>();
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();

  private GatewayHarness(Vertx simVertx, GraphSimulator sim, Builder b, RedisProcess ownRedis) {
    this.simVertx = simVertx;
    this.sim = sim;
    this.clock = b.clock;
    this.ownRedis = ownRedis;
    this.redisUrl = ownRedis != null ? ownRedis.url() : b.redisUrl;
    this.keyPrefix = ownRedis != null ? ownRedis.keyPrefix() : "t" + UUID.randomUUID().toString().substring(0, 8) + ":";
  }

  public static Builder builder() {
    return new Builder();
  }

  /** What to start; every part has a default: a default simulator, shipped gateway options, the system clock, no Redis. */
  public static final class Builder {
    private SimulatorOptions simulator = new SimulatorOptions();
    private Consumer<TollgateOptions> tune = o -> { };
    private JsonObject config;
    private Clock clock = Clock.systemUTC();
    private boolean startRedis;
    private String redisUrl;

    private Builder() {}

    public Builder simulator(SimulatorOptions options) {
      this.simulator = options;
      return this;
    }

    /** Adjusts the first gateway's options after ports, upstream and Redis are set; calls add up in order. */
    public Builder gateway(Consumer<TollgateOptions> tune) {
      this.tune = this.tune.andThen(tune);
      return this;
    }

    /**
     * Configuration keys set on the first gateway as a file would set them, after {@link #gateway}'s adjustments:
     * merged into its options' JSON and read back through {@link TollgateOptions#fromJson}, so they are validated
     * (an unknown key or a bad value fails the start) and reach options that have no setter in the test.
     */
    public Builder config(JsonObject keys) {
      this.config = keys.copy();
      return this;
    }

    /** Cache time of every gateway the harness starts (tests advance a {@link FakeClock} instead of sleeping). */
    public Builder clock(Clock clock) {
      this.clock = clock;
      return this;
    }

    /** Starts a {@code redis-server} for the gateways' L2 cache (and distributed limiter, if enabled). */
    public Builder redis() {
      this.startRedis = true;
      return this;
    }

    /** Uses a Redis the test runs itself (a cluster, a Sentinel), under a key prefix of the harness's own. */
    public Builder redis(String url) {
      this.redisUrl = url;
      return this;
    }

    public GatewayHarness start() {
      RedisProcess redis = startRedis ? RedisProcess.start() : null;
      Vertx simVertx = Vertx.vertx();
      GatewayHarness harness = null;
      try {
        GraphSimulator sim = GraphSimulator.start(simVertx, simulator).await(10, TimeUnit.SECONDS);
        harness = new GatewayHarness(simVertx, sim, this, redis);
        harness.another(tune, config);
        return harness;
      } catch (Exception e) {
        if (harness != null) {
          harness.close();
        } else {
          simVertx.close();
          if (redis != null) redis.close();
        }
        throw e instanceof RuntimeException r ? r : new IllegalStateException("the simulator did not start", e);
      }
    }
  }

  /** Options every gateway starts from: the shipped {@code conf/tollgate.yaml}, ports 0 and two proxy verticles. */
  private static TollgateOptions options() {
    TollgateOptions o = new TollgateOptions(shipped());
    o.getServer().setPort(0).setInstances(2);
    o.getManagement().setPort(0);
    return o;
  }

  private static synchronized TollgateOptions shipped() {
    if (shipped == null) {
      Vertx v = Vertx.vertx();
      try {
        shipped = ConfigLoader.load(v, null, Map.of(), Map.of()).await(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        throw new IllegalStateException(e);
      } finally {
        v.close();
      }
    }
    return shipped;
  }

  /**
   * Starts one more gateway (a second sidecar) in front of the same simulator, on the same Redis and key prefix
   * and clock; {@code tune} applies to it alone. Closed with the harness.
   */
  public Gateway another(Consumer<TollgateOptions> tune) {
    return another(tune, null);
  }

  private Gateway another(Consumer<TollgateOptions> tune, JsonObject keys) {
    TollgateOptions tuned = options();
    tuned.getUpstream().setUrl(sim.origin());
    if (redisUrl != null) {
      tuned.getRedis().setUrl(redisUrl);
      tuned.getCache().setKeyPrefix(keyPrefix);
    }
    tune.accept(tuned);
    try {
      TollgateOptions o = keys == null ? tuned : configured(tuned, keys);
      Gateway g = Gateway.start(o, clock).await(20, TimeUnit.SECONDS);
      gateways.add(g);
      return g;
    } catch (Exception e) {
      throw new IllegalStateException("gateway did not start", e);
    }
  }

  /** {@code options} with {@code keys} merged in through the configuration reader; secrets (masked in JSON) kept. */
  private static TollgateOptions configured(TollgateOptions options, JsonObject keys) {
    TollgateOptions o = TollgateOptions.fromJson(options.toJson().mergeIn(keys, true));
    o.getManagement().setAdminToken(options.getManagement().getAdminToken());
    o.getRedis().setUrl(options.getRedis().getUrl());
    return o;
  }

  /** The first gateway. */
  public Gateway gateway() { return gateways.get(0); }
  /** Every gateway started, the first one first. */
  public List<Gateway> gateways() { return List.copyOf(gateways); }
  public GraphSimulator sim() { return sim; }
  /** The Redis the harness started, or null. */
  public RedisProcess redis() { return ownRedis; }
  /** URL of the Redis the gateways use, or null. */
  public String redisUrl() { return redisUrl; }
  /** The L2 key prefix every gateway of this harness shares (when there is a Redis). */
  public String keyPrefix() { return keyPrefix; }
  /** HTTP/1.1, shared by every request of this harness. */
  public HttpClient http() { return http; }

  /** Base URL of the first gateway's proxy port. */
  public String proxy() {
    return proxy(gateway());
  }

  /** {@code https://} when the gateway's proxy port speaks TLS ({@code server.tls}). */
  public static String proxy(Gateway g) {
    return (g.proxyCertificate() != null ? "https" : "http") + "://127.0.0.1:" + g.proxyPort();
  }

  /** Base URL of the first gateway's management port. */
  public String management() {
    return "http://127.0.0.1:" + gateway().managementPort();
  }

  /** A GET through the first gateway; headers as name, value pairs. */
  public HttpResponse<String> get(String path, String... headers) throws Exception {
    return get(gateway(), path, headers);
  }

  /** A GET through the given gateway; headers as name, value pairs. */
  public HttpResponse<String> get(Gateway via, String path, String... headers) throws Exception {
    return http.send(request(proxy(via) + path, headers).GET().build(), HttpResponse.BodyHandlers.ofString());
  }

  /** A GET through the first gateway by the caller {@code authorization}; more headers as name, value pairs. */
  public HttpResponse<String> getAs(String authorization, String path, String... headers) throws Exception {
    return getAs(gateway(), authorization, path, headers);
  }

  /** A GET through the given gateway by the caller {@code authorization}; more headers as name, value pairs. */
  public HttpResponse<String> getAs(Gateway via, String authorization, String path, String... headers) throws Exception {
    return http.send(request(proxy(via) + path, headers).header("Authorization", authorization).GET().build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** Sends through the first gateway without waiting; a POST or PATCH carries {@code {}}; headers as name, value pairs. */
  public CompletableFuture<HttpResponse<String>> send(String method, String path, String... headers) {
    HttpRequest.Builder b = request(proxy() + path, headers);
    b.method(method, method.equals("POST") || method.equals("PATCH")
        ? HttpRequest.BodyPublishers.ofString("{}") : HttpRequest.BodyPublishers.noBody());
    return http.sendAsync(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** The first gateway's readiness document ({@code /health/ready}). */
  public JsonObject readiness() throws Exception {
    return new JsonObject(http.send(request(management() + "/health/ready").build(), HttpResponse.BodyHandlers.ofString()).body());
  }

  private static HttpRequest.Builder request(String url, String... headers) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30));
    for (int i = 0; i < headers.length; i += 2) b.header(headers[i], headers[i + 1]);
    return b;
  }

  /** The {@code X-Cache} header, or {@code none}. */
  public static String xCache(HttpResponse<?> r) {
    return r.headers().firstValue("X-Cache").orElse("none");
  }

  /** The cache key a gateway with the shipped options builds for a plain GET of {@code path} by {@code authorization}. */
  public static CacheKey cacheKey(String path, String authorization) {
    MultiMap h = MultiMap.caseInsensitiveMultiMap().add("Authorization", authorization);
    String partition = new CallerIdentity(List.of("Authorization")).partition(h);
    return CacheKey.of("GET", path, null, h, CacheOptions.DEFAULT_VARY_HEADERS, partition);
  }

  /** True when {@code via}'s L1 holds {@code path} as read by {@code authorization}. */
  public static boolean inL1(Gateway via, String path, String authorization) {
    return via.cache().l1().get(cacheKey(path, authorization)) != null;
  }

  /**
   * Stops {@code g} as a killed process would stop: its Vert.x is closed at once, nothing is drained, released or
   * told to Redis. {@link #close()} then leaves it alone.
   */
  public void kill(Gateway g) throws Exception {
    gateways.remove(g);
    g.vertx().close().await(10, TimeUnit.SECONDS);
  }

  @Override
  public void close() {
    List<Future<?>> closing = new ArrayList<>();
    for (Gateway g : gateways) closing.add(g.close().otherwiseEmpty());
    try {
      Future.join(closing).await(30, TimeUnit.SECONDS);
      simVertx.close().await(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    } finally {
      if (ownRedis != null) ownRedis.close();
    }
  }
}
