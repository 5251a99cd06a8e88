package io.tollgate.redis;

import io.tollgate.config.RedisConnectionOptions;
import io.tollgate.metrics.Addresses;
import io.tollgate.metrics.Readiness;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisClientType;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gateway's one Redis: its clients, whether it answers, the probe that finds it again, its readiness
 * and the {@code tollgate.events} its users announce when it goes and comes back. The L2 cache
 * ({@code L2Store}) and the distributed rate limiter both work through it, so a loss seen by either degrades
 * both and one probe brings both back.
 *
 * <p><b>Threads.</b> A verticle: everything that changes (the up/down state and its {@code epoch}, the
 * backoff, the probe timer, the subscriber connection, the channel and watcher lists) is changed only on this
 * verticle's context. The clients are created in {@link #start()}, before the deployment completes, and never
 * replaced; deploy the link before handing it to its users. Commands ({@link #send}, {@link #batch},
 * {@link #eval}, a {@link Node}'s) may be issued from any event loop: they go straight to the Vert.x client
 * (one pool, shared by the users) and only a failure hops onto the link's context. Other loops read
 * {@link #connected()}, a volatile snapshot. {@link #subscribe} and {@link #watch} run on the link's context
 * and complete on the caller's; messages and transitions are delivered on the link's context.
 *
 * <p><b>Invariants.</b> At most one probe is scheduled, and only while down. The epoch counts transitions: a
 * command's failure marks the link down only if the link has not changed state since the command was sent,
 * so a command already late before a loss that fails after the return does not take Redis away again.
 * Users check {@code connected()} before a command and skip Redis while it is false, so a dead Redis costs
 * one timeout per in-flight command, not one per request. While up, the subscriber connection carries
 * every registered channel.
 *
 * <p><b>Loss.</b> The first failed or late command (each user passes its own timeout:
 * {@code cache.l2.operationTimeout}, {@code rateLimit.redisTimeout}), or the end of the subscriber
 * connection, marks the link down: {@code connected()} turns false at once, readiness component
 * {@code redis} says DEGRADED (still ready), then every {@link Watcher} is told (the L2 store goes L1-only,
 * the limiter switches to local buckets) and the events they name are published with one {@code at}; the
 * link and each user log one WARN. A PING follows after 250 ms, then after twice the previous wait each
 * time, up to {@code maxBackoff}.
 *
 * <p><b>Return.</b> A PING answered within the probe timeout (four times the users' longest operation
 * timeout: a first connection, or a Sentinel asked where the primary is now, is slower) re-opens the
 * subscription with every channel, since messages published meanwhile were lost. Only then are the watchers
 * told (the L2 store clears L1, which may hold entries other instances invalidated meanwhile; the limiter
 * shares buckets again) and {@code connected()} turns true, last, so whoever sees it true also sees the
 * users' readiness and events of the return. A failed probe or subscription waits for the next probe.
 *
 * <p><b>Close.</b> {@link #stop()} (Vert.x undeploys the link when the gateway closes) cancels the probe and
 * closes the subscriber, the per-master clients and the client. Users only unregister; they own nothing here.
 */
public final class RedisLink extends VerticleBase {
  private static final Logger LOG = LoggerFactory.getLogger(RedisLink.class);
  /** The readiness component this link reports. */
  public static final String COMPONENT = "redis";
  /** Longest wait between two probes unless a user needs Redis back sooner. */
  public static final Duration DEFAULT_MAX_BACKOFF = Duration.ofSeconds(10);
  static final long MIN_BACKOFF_MS = 250;
  private static final String DEGRADED_DETAIL = "unreachable: serving without Redis (L1 and upstream, local rate buckets)";

  /**
   * A user of the link, told of its transitions on the link's context, in the order users registered.
   * Callbacks must not block and should not throw.
   */
  public interface Watcher {
    /** Redis stopped answering; {@link #connected()} is already false. */
    void down(Throwable cause);

    /** Redis answers again and the subscriptions are back; {@link #connected()} turns true right after. */
    void up();

    /**
     * The {@code tollgate.events} body this user announces for a transition, without {@code at} (the link adds
     * it), or null for none.
     */
    default JsonObject event(boolean up) {
      return null;
    }
  }

  private final RedisOptions clientOptions;
  private final String maskedUrl;
  private final boolean cluster;
  private final Readiness readiness;
  private final long probeTimeoutMs;
  private final long maxBackoffMs;

  /** Read on any thread; written on the link's context. */
  private volatile boolean connected = true;
  private volatile int epoch;
  private volatile boolean closed;

  /** Clients are fields: an unreachable Vert.x client may be closed mid-call. Created in start. */
  private Redis redis;
  private Redis subscriberClient;
  private Node server;
  /** Cluster mode: one client per master endpoint, for per-node commands; a map built for any thread. */
  private final Map<String, Node> masters = new ConcurrentHashMap<>();

  // The link's context only.
  private final List<Watcher> watchers = new ArrayList<>();
  private final Map<String, Consumer<Buffer>> channels = new LinkedHashMap<>();
  private RedisConnection subscriber;
  private long backoffMs = MIN_BACKOFF_MS;
  private long probeTimer = -1;
  private int probes;
  private Throwable lastCause;

  /**
   * @param operationTimeout the longest operation timeout of the users; start-up and probe PINGs get four times it
   * @param maxBackoff longest wait between two probes while Redis is away
   */
  public RedisLink(RedisConnectionOptions options, Readiness readiness, Duration operationTimeout, Duration maxBackoff) {
    this.clientOptions = options.toVertxOptions();
    this.maskedUrl = RedisConnectionOptions.mask(options.getUrl());
    this.cluster = clientOptions.getType() == RedisClientType.CLUSTER;
    this.readiness = readiness;
    this.probeTimeoutMs = 4 * Math.max(1, operationTimeout.toMillis());
    this.maxBackoffMs = Math.max(MIN_BACKOFF_MS, maxBackoff.toMillis());
  }

  /** Creates the clients and PINGs; never fails (a dead Redis means down, and the probe starts). */
  @Override
  public Future<?> start() {
    redis = Redis.createClient(vertx, clientOptions);
    subscriberClient = Redis.createClient(vertx, new RedisOptions(clientOptions).setMaxPoolSize(2));
    server = new Node(redis);
    LOG.info("redis: {} ({}), probes every {}..{} ms while away", maskedUrl, clientOptions.getType().name().toLowerCase(),
        MIN_BACKOFF_MS, maxBackoffMs);
    int startedIn = epoch;
    return redis.send(Request.cmd(Command.PING)).timeout(probeTimeoutMs, TimeUnit.MILLISECONDS)
        .<Void>map(pong -> {
          readiness.report(COMPONENT, Readiness.State.UP, null);
          return null;
        })
        .recover(failure -> {
          failed(failure, startedIn);
          return Future.succeededFuture();
        });
  }

  @Override
  public Future<?> stop() {
    closed = true;
    if (probeTimer >= 0) vertx.cancelTimer(probeTimer);
    RedisConnection sub = subscriber;
    subscriber = null;
    Future<Void> closing = sub == null ? Future.succeededFuture() : sub.close().otherwiseEmpty();
    for (Node node : masters.values()) node.client.close();
    return closing.eventually(subscriberClient::close).eventually(redis::close);
  }

  /** True while Redis answers (a volatile read: any thread). Users skip Redis while it is false. */
  public boolean connected() {
    return connected;
  }

  /** Redis Cluster: keys of different hash slots cannot share a MULTI, and SCAN is per node ({@link #nodes}). */
  public boolean cluster() {
    return cluster;
  }

  /** The URL with any password masked, for logs. */
  public String maskedUrl() {
    return maskedUrl;
  }

  /** Sends one command; a failure, or no reply within {@code timeoutMs}, fails the future and marks Redis down. */
  public Future<Response> send(Request request, long timeoutMs) {
    return server.send(request, timeoutMs);
  }

  /** Sends commands in one round trip (a MULTI ... EXEC when they include it); failures as {@link #send}. */
  public Future<List<Response>> batch(List<Request> requests, long timeoutMs) {
    return server.batch(requests, timeoutMs);
  }

  /**
   * Runs a script by its SHA-1 ({@code EVALSHA}), and by its text when Redis does not know it yet (first use,
   * restart, {@code SCRIPT FLUSH}); {@code timeoutMs} covers both. Other failures as {@link #send}.
   */
  public Future<Response> eval(Script script, List<String> keys, List<String> args, long timeoutMs) {
    int sentIn = epoch;
    return redis.send(script.request(script.sha, Command.EVALSHA, keys, args))
        .recover(failure -> failure.getMessage() != null && failure.getMessage().startsWith("NOSCRIPT")
            ? redis.send(script.request(script.text, Command.EVAL, keys, args))
            : Future.failedFuture(failure))
        .timeout(timeoutMs, TimeUnit.MILLISECONDS)
        .onFailure(failure -> failed(failure, sentIn));
  }

  /**
   * Where per-server commands such as SCAN go: a cluster client would send them to one arbitrary node, so in
   * cluster mode each master (from {@code CLUSTER SLOTS}) gets a client of its own, kept for later calls;
   * otherwise the one server.
   */
  public Future<List<Node>> nodes(long timeoutMs) {
    if (!cluster) return Future.succeededFuture(List.of(server));
    return send(Request.cmd(Command.CLUSTER).arg("SLOTS"), timeoutMs).map(slots -> {
      List<Node> out = new ArrayList<>();
      Set<String> seen = new HashSet<>();
      for (Response range : slots) {
        Response master = range.get(2);
        String endpoint = master.get(0).toString() + ":" + master.get(1).toInteger();
        if (!seen.add(endpoint)) continue;
        out.add(masters.computeIfAbsent(endpoint, e -> new Node(Redis.createClient(vertx,
            new RedisOptions().setConnectionString("redis://" + e).setPassword(clientOptions.getPassword()).setMaxPoolSize(2)))));
      }
      return out;
    });
  }

  /**
   * Delivers the messages of {@code channel} to {@code onMessage} (on the link's context) through the one
   * subscriber connection, which is opened again with every channel after each return and whenever the
   * channels change. Never fails: while Redis is away the channel is only remembered.
   */
  public Future<Void> subscribe(String channel, Consumer<Buffer> onMessage) {
    return onContext(() -> {
      channels.put(channel, onMessage);
      if (closed || !connected) return Future.succeededFuture();
      int sentIn = epoch;
      return openSubscriber().onFailure(failure -> failed(failure, sentIn)).otherwiseEmpty();
    });
  }

  /** Stops delivering {@code channel}; does not wait. */
  public void unsubscribe(String channel) {
    if (closed) return;
    context.runOnContext(v -> {
      if (channels.remove(channel) == null || closed || subscriber == null) return;
      if (channels.isEmpty()) {
        RedisConnection sub = subscriber;
        subscriber = null;
        sub.close();
      } else {
        int sentIn = epoch;
        openSubscriber().onFailure(failure -> failed(failure, sentIn));
      }
    });
  }

  /** Registers a user; one that registers while Redis is away is told {@code down} at once. */
  public Future<Void> watch(Watcher watcher) {
    return onContext(() -> {
      watchers.add(watcher);
      if (!connected && !closed) tell(watcher, false, lastCause, Instant.now().toString());
      return Future.succeededFuture();
    });
  }

  /** Forgets a user; does not wait. */
  public void unwatch(Watcher watcher) {
    if (closed) return;
    context.runOnContext(v -> watchers.remove(watcher));
  }

  /** A failed command sent in epoch {@code sentIn}: marks the link down (on its context) if that is still now. */
  private void failed(Throwable failure, int sentIn) {
    if (closed || !connected || sentIn != epoch) return;
    if (Vertx.currentContext() == context) markDown(failure, sentIn);
    else context.runOnContext(v -> markDown(failure, sentIn));
  }

  private void markDown(Throwable cause, int sentIn) {
    if (closed || !connected || sentIn != epoch) return;
    connected = false;
    epoch++;
    lastCause = cause;
    probes = 0;
    LOG.warn("redis: {} unreachable ({}), probing from {} ms up to every {} ms", maskedUrl, cause.toString(),
        MIN_BACKOFF_MS, maxBackoffMs);
    readiness.report(COMPONENT, Readiness.State.DEGRADED, DEGRADED_DETAIL);
    String at = Instant.now().toString();
    for (Watcher w : List.copyOf(watchers)) tell(w, false, cause, at);
    scheduleProbe();
  }

  private void scheduleProbe() {
    if (closed) return;
    long delay = backoffMs;
    backoffMs = Math.min(maxBackoffMs, backoffMs * 2);
    probeTimer = vertx.setTimer(delay, id -> probe());
  }

  private void probe() {
    probeTimer = -1;
    if (closed) return;
    probes++;
    redis.send(Request.cmd(Command.PING)).timeout(probeTimeoutMs, TimeUnit.MILLISECONDS)
        .compose(pong -> channels.isEmpty() ? Future.succeededFuture() : openSubscriber())
        .onComplete(ar -> runHere(() -> {
          if (ar.succeeded()) back();
          else scheduleProbe();
        }));
  }

  private void back() {
    if (closed || connected) return;
    backoffMs = MIN_BACKOFF_MS;
    epoch++;
    LOG.warn("redis: {} answers again after {} probe(s)", maskedUrl, probes);
    readiness.report(COMPONENT, Readiness.State.UP, null);
    String at = Instant.now().toString();
    for (Watcher w : List.copyOf(watchers)) tell(w, true, null, at);
    // Last: whoever sees connected() true also sees every user's readiness and events of the return.
    connected = true;
  }

  private void tell(Watcher w, boolean up, Throwable cause, String at) {
    try {
      if (up) w.up();
      else w.down(cause);
      JsonObject event = w.event(up);
      if (event != null) vertx.eventBus().publish(Addresses.EVENTS, event.put("at", at));
    } catch (RuntimeException e) {
      LOG.warn("redis: a user failed to take the {} transition", up ? "up" : "down", e);
    }
  }

  /**
   * A new subscriber connection with every channel; it replaces (and closes) the previous one. Its end while
   * it is the current one means Redis went away.
   */
  private Future<Void> openSubscriber() {
    return subscriberClient.connect().compose(conn -> onContext(() -> {
      RedisConnection previous = subscriber;
      subscriber = conn;
      if (previous != null) previous.close();
      conn.handler(push -> runHere(() -> deliver(push)));
      conn.exceptionHandler(t -> { });
      conn.endHandler(v -> runHere(() -> {
        if (closed || subscriber != conn) return;
        subscriber = null;
        markDown(new IllegalStateException("subscription connection closed"), epoch);
      }));
      if (channels.isEmpty()) return Future.succeededFuture();
      Request subscribe = Request.cmd(Command.SUBSCRIBE);
      for (String channel : channels.keySet()) subscribe.arg(channel);
      return conn.send(subscribe).timeout(probeTimeoutMs, TimeUnit.MILLISECONDS).<Void>mapEmpty();
    }));
  }

  private void deliver(Response push) {
    if (push.size() < 3 || !"message".equalsIgnoreCase(push.get(0).toString())) return;
    Consumer<Buffer> onMessage = channels.get(push.get(1).toString());
    // As bytes: a message may carry a binary payload (a fleet leader's entry, see L2Store).
    if (onMessage != null) onMessage.accept(push.get(2).toBuffer());
  }

  private void runHere(Runnable task) {
    if (Vertx.currentContext() == context) task.run();
    else context.runOnContext(v -> task.run());
  }

  /** Runs {@code task} on the link's context; the result is handed back on the caller's context. */
  private <T> Future<T> onContext(Supplier<Future<T>> task) {
    if (Vertx.currentContext() == context) return task.get();
    Context caller = vertx.getOrCreateContext();
    Promise<T> done = Promise.promise();
    context.runOnContext(v -> task.get().onComplete(ar -> caller.runOnContext(x -> done.handle(ar))));
    return done.future();
  }

  /** One server's client: the shared one, or a cluster master's own (see {@link #nodes}). */
  public final class Node {
    private final Redis client;

    private Node(Redis client) {
      this.client = client;
    }

    /** As {@link RedisLink#send}, on this server. */
    public Future<Response> send(Request request, long timeoutMs) {
      int sentIn = epoch;
      return client.send(request).timeout(timeoutMs, TimeUnit.MILLISECONDS).onFailure(failure -> failed(failure, sentIn));
    }

    /** As {@link RedisLink#batch}, on this server. */
    public Future<List<Response>> batch(List<Request> requests, long timeoutMs) {
      int sentIn = epoch;
      return client.batch(requests).timeout(timeoutMs, TimeUnit.MILLISECONDS).onFailure(failure -> failed(failure, sentIn));
    }
  }

  /** A Lua script and its SHA-1, for {@link #eval}. */
  public static final class Script {
    private final String text;
    private final String sha;

    public Script(String text) {
      this.text = text;
      try {
        this.sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(text.getBytes(StandardCharsets.UTF_8)));
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
    }

    private Request request(String script, Command command, List<String> keys, List<String> args) {
      Request r = Request.cmd(command).arg(script).arg(keys.size());
      for (String k : keys) r.arg(k);
      for (String a : args) r.arg(a);
      return r;
    }
  }
}
