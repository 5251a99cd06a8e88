package io.tollgate.cache;

import io.tollgate.Gateway;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.util.concurrent.TimeUnit;

/** Looks into Redis from a test, with a Vert.x Redis client of its own. */
final class RedisClientCheck implements AutoCloseable {
  private final Vertx vertx = Vertx.vertx();
  private final Redis redis;
  private final String prefix;

  RedisClientCheck(Gateway g) {
    this.redis = Redis.createClient(vertx, g.options().getRedis().getUrl());
    this.prefix = g.options().getCache().getKeyPrefix();
  }

  RedisClientCheck(String url) {
    this.redis = Redis.createClient(vertx, url);
    this.prefix = "";
  }

  /** True when the path's index lists at least one entry. */
  boolean exists(String path) {
    try {
      Response n = redis.send(Request.cmd(Command.SCARD).arg(L2Store.tag(prefix, path) + ":keys")).await(5, TimeUnit.SECONDS);
      return n != null && n.toLong() > 0;
    } catch (Exception e) {
      return false;
    }
  }

  /** True when Redis has this key (a full name, prefix included). */
  boolean keyExists(String key) {
    try {
      Response n = redis.send(Request.cmd(Command.EXISTS).arg(key)).await(5, TimeUnit.SECONDS);
      return n != null && n.toLong() > 0;
    } catch (Exception e) {
      return false;
    }
  }

  /** One command, answered within 5 s. */
  Response send(Request request) throws Exception {
    return redis.send(request).await(5, TimeUnit.SECONDS);
  }

  /** The full names of the path's entries (one per caller partition and epoch). */
  java.util.List<String> entryKeys(String path) throws Exception {
    java.util.List<String> keys = new java.util.ArrayList<>();
    String cursor = "0";
    do {
      Response r = send(Request.cmd(Command.SCAN).arg(cursor).arg("MATCH").arg(L2Store.tag(prefix, path) + ":e:*").arg("COUNT").arg(1000));
      cursor = r.get(0).toString();
      for (Response key : r.get(1)) keys.add(key.toString());
    } while (!"0".equals(cursor));
    return keys;
  }

  /** Every key and value as text. */
  String dumpAll() throws Exception {
    StringBuilder sb = new StringBuilder();
    String cursor = "0";
    do {
      Response r = redis.send(Request.cmd(Command.SCAN).arg(cursor).arg("COUNT").arg(1000)).await(5, TimeUnit.SECONDS);
      cursor = r.get(0).toString();
      for (Response key : r.get(1)) {
        String k = key.toString();
        sb.append(k).append(" = ");
        String type = redis.send(Request.cmd(Command.TYPE).arg(k)).await(5, TimeUnit.SECONDS).toString();
        Command read = switch (type) {
          case "hash" -> Command.HGETALL;
          case "set" -> Command.SMEMBERS;
          case "zset" -> Command.ZRANGE;
          default -> Command.GET;
        };
        Request req = Request.cmd(read).arg(k);
        if (read == Command.ZRANGE) req.arg(0).arg(-1);
        sb.append(redis.send(req).await(5, TimeUnit.SECONDS)).append('\n');
      }
    } while (!"0".equals(cursor));
    return sb.toString();
  }

  @Override
  public void close() {
    try {
      redis.close().await(5, TimeUnit.SECONDS);
      vertx.close().await(5, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
