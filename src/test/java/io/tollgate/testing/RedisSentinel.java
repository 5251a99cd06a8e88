package io.tollgate.testing;

import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * One primary, one replica and one Sentinel (quorum 1), all real processes on free loopback ports, so a
 * test can kill the primary and watch the replica get promoted.
 */
public final class RedisSentinel implements AutoCloseable {
  public static final String MASTER = "mymaster";
  /** How long the Sentinel waits before it calls the primary down; failover follows within about a second. */
  public static final long DOWN_AFTER_MS = 1000;
  /** Bound on replication sync and on a failover. */
  private static final Duration SETTLE = Duration.ofSeconds(20);

  private final RedisProcess primary;
  private final RedisProcess replica;
  private final RedisProcess sentinel;
  private final Vertx vertx = Vertx.vertx();
  private final Redis sentinelClient;
  private final Redis replicaClient;

  private RedisSentinel(RedisProcess primary, RedisProcess replica, RedisProcess sentinel) {
    this.primary = primary;
    this.replica = replica;
    this.sentinel = sentinel;
    this.sentinelClient = Redis.createClient(vertx, sentinel.url());
    this.replicaClient = Redis.createClient(vertx, replica.url());
  }

  /** Starts all three and waits until the replica is in sync and the Sentinel knows it. */
  public static RedisSentinel start() {
    RedisProcess primary = RedisProcess.start();
    RedisProcess replica = RedisProcess.start("--replicaof", "127.0.0.1", Integer.toString(primary.port()));
    RedisProcess sentinel = RedisProcess.startSentinel(primary.port(), MASTER, DOWN_AFTER_MS);
    RedisSentinel s = new RedisSentinel(primary, replica, sentinel);
    try {
      Await.until(() -> s.replicaClient.send(Request.cmd(Command.INFO).arg("replication")).await(2, TimeUnit.SECONDS)
          .toString().contains("master_link_status:up"), SETTLE, "the replica is in sync");
      Await.until(() -> s.sentinelClient.send(Request.cmd(Command.SENTINEL).arg("REPLICAS").arg(MASTER)).await(2, TimeUnit.SECONDS)
          .size() > 0, SETTLE, "the Sentinel knows the replica");
      return s;
    } catch (Exception e) {
      s.close();
      throw new IllegalStateException(e);
    }
  }

  /** {@code redis-sentinel://127.0.0.1:port/mymaster}. */
  public String url() {
    return "redis-sentinel://127.0.0.1:" + sentinel.port() + "/" + MASTER;
  }

  public RedisProcess primary() { return primary; }
  public RedisProcess replica() { return replica; }

  /** The port the Sentinel currently names as primary. */
  public int primaryPort() throws Exception {
    Response r = sentinelClient.send(Request.cmd(Command.SENTINEL).arg("GET-MASTER-ADDR-BY-NAME").arg(MASTER)).await(2, TimeUnit.SECONDS);
    return r.get(1).toInteger();
  }

  /** Waits until the Sentinel has promoted the replica. */
  public void awaitFailover() {
    Await.until(() -> primaryPort() == replica.port(), SETTLE, "the Sentinel promoted the replica");
  }

  @Override
  public void close() {
    sentinelClient.close();
    replicaClient.close();
    vertx.close();
    sentinel.close();
    replica.close();
    primary.close();
  }
}
