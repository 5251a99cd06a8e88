package io.tollgate.config;

import io.vertx.core.json.JsonObject;
import java.net.URI;

/**
 * The shared Redis (L2 cache, global rate budget, invalidation fan-out). YAML section {@code redis}.
 * URL forms: {@code redis://[:password@]host:port[/db]}, {@code rediss://...} (TLS),
 * {@code redis-cluster://host:port,host:port}, {@code redis-sentinel://host:port,host:port/masterName}.
 * No URL means L1 only.
 */
public final class RedisConnectionOptions {
  private String url;

  public RedisConnectionOptions() {}

  public RedisConnectionOptions(RedisConnectionOptions o) {
    url = o.url;
  }

  static RedisConnectionOptions read(ConfigReader r) {
    RedisConnectionOptions o = new RedisConnectionOptions();
    String url = r.string("url", null);
    if (url != null && !url.isBlank()) {
      if (isRedisUrl(url)) o.url = url.trim();
      else r.problem("url", mask(url), "redis://host:port, rediss://host:port, redis-cluster://h:p,h:p or redis-sentinel://h:p,h:p/master");
    }
    r.rejectUnknown();
    return o;
  }

  static boolean isRedisUrl(String url) {
    int sep = url.indexOf("://");
    if (sep < 0) return false;
    String scheme = url.substring(0, sep);
    String rest = url.substring(sep + 3);
    if (rest.isEmpty()) return false;
    return switch (scheme) {
      case "redis", "rediss" -> {
        try {
          URI u = new URI(url);
          yield u.getHost() != null;
        } catch (Exception e) {
          yield false;
        }
      }
      case "redis-cluster", "redis-sentinel" -> rest.split("/")[0].matches("[^,\\s]+:\\d+(,[^,\\s]+:\\d+)*");
      default -> false;
    };
  }

  /** Passwords in Redis URLs never reach logs or error messages. */
  public static String mask(String url) {
    return url == null ? null : url.replaceAll("//[^@/]*@", "//****@");
  }

  /**
   * The Vert.x Redis client options for this URL: standalone ({@code redis://}, {@code rediss://}), cluster
   * (every listed node is a seed) or sentinel (the listed sentinels, the named master, role MASTER).
   */
  public io.vertx.redis.client.RedisOptions toVertxOptions() {
    io.vertx.redis.client.RedisOptions o = new io.vertx.redis.client.RedisOptions().setMaxPoolSize(16).setMaxPoolWaiting(1024)
        .setMaxWaitingHandlers(4096);
    int sep = url.indexOf("://");
    String scheme = url.substring(0, sep);
    String rest = url.substring(sep + 3);
    switch (scheme) {
      case "redis-cluster" -> {
        o.setType(io.vertx.redis.client.RedisClientType.CLUSTER);
        for (String node : rest.split("/")[0].split(",")) o.addConnectionString("redis://" + node);
      }
      case "redis-sentinel" -> {
        String[] parts = rest.split("/", 2);
        o.setType(io.vertx.redis.client.RedisClientType.SENTINEL).setRole(io.vertx.redis.client.RedisRole.MASTER)
            .setMasterName(parts.length > 1 && !parts[1].isEmpty() ? parts[1] : "mymaster");
        for (String node : parts[0].split(",")) o.addConnectionString("redis://" + node);
      }
      default -> o.setConnectionString(url);
    }
    return o;
  }

  public JsonObject toJson() {
    JsonObject j = new JsonObject();
    if (url != null) j.put("url", mask(url));
    return j;
  }

  public String getUrl() { return url; }
  public RedisConnectionOptions setUrl(String url) { this.url = url; return this; }
}
