package io.tollgate.testing;

import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * A Redis Cluster of real {@code redis-server --cluster-enabled yes} processes on free loopback ports, one
 * master each (no replicas). The test assigns the 16384 slots in equal ranges ({@code CLUSTER ADDSLOTS}),
 * introduces the nodes ({@code CLUSTER MEET}) and waits for {@code cluster_state:ok} on every node.
 */
public final class RedisCluster implements AutoCloseable {
  public static final int SLOTS = 16384;

  private final List<RedisProcess> nodes = new ArrayList<>();
  private final Vertx vertx = Vertx.vertx();
  private final List<Redis> admin = new ArrayList<>();

  private RedisCluster() {}

  public static RedisCluster start(int masters) {
    RedisCluster cluster = new RedisCluster();
    try {
      for (int i = 0; i < masters; i++) {
        // Each process has a --dir of its own, so the cluster state file (nodes-PORT.conf by convention) never clashes.
        RedisProcess node = RedisProcess.start("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", "2000");
        cluster.nodes.add(node);
        cluster.admin.add(Redis.createClient(cluster.vertx, node.url()));
      }
      cluster.form();
      return cluster;
    } catch (Exception e) {
      cluster.close();
      throw new IllegalStateException("cannot form the Redis Cluster", e);
    }
  }

  private void form() throws Exception {
    int n = nodes.size();
    for (int i = 0; i < n; i++) {
      Request slots = Request.cmd(Command.CLUSTER).arg("ADDSLOTS");
      // ADDSLOTS with explicit slot numbers also works on Redis 6 (ADDSLOTSRANGE is 7.0+).
      for (int slot = i * SLOTS / n; slot < (i + 1) * SLOTS / n; slot++) slots.arg(slot);
      send(i, slots);
    }
    for (int i = 1; i < n; i++) send(0, Request.cmd(Command.CLUSTER).arg("MEET").arg("127.0.0.1").arg(nodes.get(i).port()));
    Await.until(this::ready, Duration.ofSeconds(20), "cluster_state is ok on every node");
  }

  private boolean ready() throws Exception {
    for (int i = 0; i < nodes.size(); i++) {
      String info = send(i, Request.cmd(Command.CLUSTER).arg("INFO")).toString();
      if (!info.contains("cluster_state:ok") || !info.contains("cluster_known_nodes:" + nodes.size())) return false;
    }
    return true;
  }

  /** Sends a command to one node directly (no cluster routing). */
  public Response send(int node, Request request) throws Exception {
    return admin.get(node).send(request).await(5, TimeUnit.SECONDS);
  }

  /** Keys stored on one node. */
  public long dbsize(int node) throws Exception {
    return send(node, Request.cmd(Command.DBSIZE)).toLong();
  }

  public int size() {
    return nodes.size();
  }

  public RedisProcess node(int i) {
    return nodes.get(i);
  }

  /** {@code redis-cluster://127.0.0.1:p1,127.0.0.1:p2,...}: every node is a seed. */
  public String url() {
    return "redis-cluster://" + nodes.stream().map(n -> "127.0.0.1:" + n.port()).collect(Collectors.joining(","));
  }

  @Override
  public void close() {
    for (Redis r : admin) r.close();
    vertx.close();
    for (RedisProcess node : nodes) node.close();
  }
}
