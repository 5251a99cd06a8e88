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

  public JsonObject toJson() {
    JsonObject j = new JsonObject();
    if (url != null) j.put("url", mask(url));
    return j;
  }

  public String getUrl() { return url; }
  public RedisConnectionOptions setUrl(String url) { this.url = url; return this; }
}
