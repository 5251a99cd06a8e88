package io.tollgate;

import io.tollgate.config.ClusterOptions;
import io.tollgate.metrics.Addresses;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.json.JsonObject;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A consumer of the clustered event bus that is not a gateway, in a JVM of its own (started by
 * {@link ClusteredEventBusTest}): it joins with the gateways' Hazelcast settings and its own certificate, and prints
 * one line per thing it sees on stdout:
 * <pre>
 * joined
 * stats {"l1":...,"instance":"...","at":"..."}
 * events {"type":"circuit",...}
 * cache failed NO_HANDLERS: ...     (or: cache answered {...}, which must never happen)
 * </pre>
 * Once it has heard two instances' statistics it sends one request to {@code tollgate.cache} (a clear, which would
 * empty a gateway's cache were it reachable) and prints what came of it.
 *
 * <p>Arguments: host port members(comma-separated) clusterName certFile keyFile trustFile.
 */
public final class ClusterConsumer {
  private ClusterConsumer() {}

  public static void main(String[] args) {
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    ClusterOptions options = new ClusterOptions().setEnabled(true).setHost(args[0]).setPort(Integer.parseInt(args[1]))
        .setMembers(List.of(args[2].split(","))).setClusterName(args[3])
        .setCertFile(args[4]).setKeyFile(args[5]).setTrustFile(args[6]);
    Set<String> instances = ConcurrentHashMap.newKeySet();
    Cluster.join(Vertx.builder(), new VertxOptions(), options).onComplete(joined -> {
      if (joined.failed()) {
        out.println("join failed " + joined.cause());
        System.exit(1);
      }
      Vertx vertx = joined.result();
      vertx.eventBus().<JsonObject>consumer(Addresses.EVENTS, msg -> out.println("events " + msg.body().encode()));
      vertx.eventBus().<JsonObject>consumer(Addresses.CACHE_STATS, msg -> {
        out.println("stats " + msg.body().encode());
        if (instances.add(msg.body().getString("instance", "")) && instances.size() == 2) {
          vertx.eventBus().<JsonObject>request(Addresses.CACHE, new JsonObject().put("action", "clear"),
              new DeliveryOptions().setSendTimeout(3000)).onComplete(reply -> out.println(reply.succeeded()
                  ? "cache answered " + reply.result().body().encode()
                  : "cache failed " + (reply.cause() instanceof ReplyException r ? r.failureType() : "?") + ": "
                      + reply.cause().getMessage()));
        }
      }).completion().onSuccess(v -> out.println("joined"));
    });
  }
}
