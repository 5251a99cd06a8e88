package io.tollgate.config;

import io.vertx.core.json.JsonObject;
import java.time.Duration;

/**
 * Stage 1, who is calling. YAML section {@code identity}. A bearer token's claims are trusted only once the
 * upstream answered 2xx to that exact token; from then on tokens with the same tenant, app, user and
 * permissions share one cache partition (a refreshed token keeps its warm cache), for at most
 * {@code maxSharedAge} after the partition was last verified upstream.
 */
public final class IdentityOptions {
  /** About one access token's lifetime: a user who lost access stops seeing shared answers about as soon as with per-token partitions. */
  public static final Duration DEFAULT_MAX_SHARED_AGE = Duration.ofMinutes(90);
  /** Callers with no identity header are not cached: their answers would be shared by every such caller. */
  public static final boolean DEFAULT_CACHE_ANONYMOUS = false;
  /** Tokens whose verification Tollgate remembers (least recently used forgotten first). */
  public static final int DEFAULT_MAX_TOKENS = 100_000;

  private Duration maxSharedAge = DEFAULT_MAX_SHARED_AGE;
  private boolean cacheAnonymous = DEFAULT_CACHE_ANONYMOUS;
  private int maxTokens = DEFAULT_MAX_TOKENS;

  public IdentityOptions() {}

  public IdentityOptions(IdentityOptions o) {
    maxSharedAge = o.maxSharedAge; cacheAnonymous = o.cacheAnonymous; maxTokens = o.maxTokens;
  }

  static IdentityOptions read(ConfigReader r) {
    IdentityOptions o = new IdentityOptions();
    o.maxSharedAge = r.duration("maxSharedAge", DEFAULT_MAX_SHARED_AGE);
    o.cacheAnonymous = r.bool("cacheAnonymous", DEFAULT_CACHE_ANONYMOUS);
    o.maxTokens = r.integer("maxTokens", DEFAULT_MAX_TOKENS, 1, 10_000_000);
    r.rejectUnknown();
    return o;
  }

  public JsonObject toJson() {
    return new JsonObject().put("maxSharedAge", Units.formatDuration(maxSharedAge)).put("cacheAnonymous", cacheAnonymous)
        .put("maxTokens", maxTokens);
  }

  public Duration getMaxSharedAge() { return maxSharedAge; }
  public IdentityOptions setMaxSharedAge(Duration d) { this.maxSharedAge = d; return this; }
  public boolean isCacheAnonymous() { return cacheAnonymous; }
  public IdentityOptions setCacheAnonymous(boolean on) { this.cacheAnonymous = on; return this; }
  public int getMaxTokens() { return maxTokens; }
  public IdentityOptions setMaxTokens(int n) { this.maxTokens = n; return this; }
}
