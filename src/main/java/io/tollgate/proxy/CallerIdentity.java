package io.tollgate.proxy;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.tollgate.config.IdentityOptions;
import io.vertx.core.MultiMap;
import io.vertx.core.http.HttpHeaders;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;

/**
 * Stage 1, identify, and what the upstream has said about each token since.
 *
 * <p>A request's token hash is a SHA-256 over its identity headers (by default {@code Authorization}); the
 * hash, never the token, travels on (cache keys, Redis, logs as 8 hex characters, events). A JWT's claims
 * are read once per token and trusted only after the upstream answered 2xx to that exact token
 * ({@link #observe}); a 401 marks it refused. From verification on, tokens whose identity claims are equal
 * share one partition, for at most {@code identity.maxSharedAge} after the partition was last verified.
 *
 * <p>Design note. Shared by every proxy verticle; every table is a bounded Caffeine cache
 * ({@code identity.maxTokens}), so random tokens cannot grow memory. The "one request per unverified
 * token in flight" rule is kept by {@link CallerVerification}, which uses {@link #claimVerification}.
 */
public final class CallerIdentity {
  public static final String ANONYMOUS = "anonymous";
  private static final Duration FORGET_AFTER = Duration.ofHours(2);
  /** Refreshing a partition's "last verified" more often than this would only add writes on the hot path. */
  private static final long VERIFIED_AT_RESOLUTION_MS = 1000;
  private static final Claims NONE = new Claims(null, null, null, Long.MAX_VALUE, null);

  private final List<String> headers;
  private final boolean cacheAnonymous;
  private final long maxSharedAgeMs;
  private final Cache<String, Claims> claimsByToken;
  private final Cache<String, Boolean> verified;
  private final Cache<String, Boolean> refused;
  private final Cache<String, Long> partitionVerifiedAt;
  private final java.util.concurrent.ConcurrentHashMap<String, Object> verifying = new java.util.concurrent.ConcurrentHashMap<>();

  /** With the default identity options (tests that only need partitions). */
  public CallerIdentity(List<String> headers) {
    this(headers, new IdentityOptions());
  }

  public CallerIdentity(List<String> headers, IdentityOptions options) {
    this.headers = List.copyOf(headers);
    this.cacheAnonymous = options.isCacheAnonymous();
    this.maxSharedAgeMs = options.getMaxSharedAge().toMillis();
    int max = options.getMaxTokens();
    // Maintenance runs on the thread that reads, as L1's does: handing it to the common pool cost a wake-up per
    // few requests on the hot path (profile.sh), more than the few entries it drains.
    this.claimsByToken = Caffeine.newBuilder().executor(Runnable::run).maximumSize(max).expireAfterAccess(FORGET_AFTER).build();
    this.verified = Caffeine.newBuilder().executor(Runnable::run).maximumSize(max).expireAfterAccess(FORGET_AFTER).build();
    this.refused = Caffeine.newBuilder().executor(Runnable::run).maximumSize(max).expireAfterWrite(FORGET_AFTER).build();
    this.partitionVerifiedAt = Caffeine.newBuilder().executor(Runnable::run).maximumSize(max)
        .expireAfterWrite(options.getMaxSharedAge()).build();
  }

  /** Who sent a request with these headers. */
  public Caller identify(MultiMap requestHeaders) {
    String hash = partition(requestHeaders);
    if (ANONYMOUS.equals(hash)) return new Caller(this, null, null, null);
    String authorization = requestHeaders.get(HttpHeaders.AUTHORIZATION);
    // Parsed once per token; a token that is no JWT is remembered as such (NONE) so it is not parsed again.
    Claims claims = authorization == null ? null : claimsByToken.getIfPresent(hash);
    if (claims == null && authorization != null) {
      Claims parsed = Claims.of(authorization);
      claims = parsed == null ? NONE : parsed;
      claimsByToken.put(hash, claims);
    }
    if (claims == NONE) claims = null;
    return new Caller(this, hash, claims, claims == null ? null : claims.sharedPartition());
  }

  /**
   * The last tokens hashed on this thread and their hashes. A sidecar serves one application with a few
   * tokens, each sent thousands of times: comparing a 2 KB token with {@code equals} costs a fraction of
   * hashing it again. Per thread (event loops never share it), small, overwritten round-robin.
   */
  private static final int RECENT = 16;
  private final ThreadLocal<Recent> recent = ThreadLocal.withInitial(Recent::new);

  private static final class Recent {
    final String[] values = new String[RECENT];
    final String[] hashes = new String[RECENT];
    int next;
  }

  /** @return hex SHA-256 of the identity headers (the token hash), or {@link #ANONYMOUS} when none is present */
  public String partition(MultiMap requestHeaders) {
    if (headers.size() == 1) {
      String value = requestHeaders.get(headers.get(0));
      if (value == null) return ANONYMOUS;
      Recent r = recent.get();
      for (int i = 0; i < RECENT; i++) if (value.equals(r.values[i])) return r.hashes[i];
      String hash = hash(requestHeaders);
      int slot = r.next;
      r.values[slot] = value;
      r.hashes[slot] = hash;
      r.next = (slot + 1) % RECENT;
      return hash;
    }
    return hash(requestHeaders);
  }

  private String hash(MultiMap requestHeaders) {
    MessageDigest digest = null;
    for (String name : headers) {
      String value = requestHeaders.get(name);
      if (value == null) continue;
      if (digest == null) digest = Sha256.digest();
      digest.update(name.getBytes(StandardCharsets.US_ASCII));
      digest.update((byte) 0);
      digest.update(value.getBytes(StandardCharsets.UTF_8));
      digest.update((byte) 0);
    }
    return digest == null ? ANONYMOUS : HexFormat.of().formatHex(digest.digest());
  }

  /**
   * Records what the upstream answered a token: 2xx (or 304) verifies it (and refreshes its shared partition), 401
   * refuses it. Other statuses say nothing about the token.
   */
  public void observe(Caller caller, int status, long nowMillis) {
    if (caller.anonymous()) return;
    String hash = caller.tokenHash();
    // A 304 answers a conditional read the token was allowed to make (the cache's revalidation): it verifies too.
    if ((status >= 200 && status < 300) || status == 304) {
      // Most answers confirm what is known already: write only what changes, so the hot path stays read-only.
      if (!caller.verified()) {
        verified.put(hash, Boolean.TRUE);
        refused.invalidate(hash);
      }
      String shared = caller.sharedPartitionKey();
      if (shared != null) {
        Long at = partitionVerifiedAt.getIfPresent(shared);
        if (at == null || nowMillis - at >= VERIFIED_AT_RESOLUTION_MS) partitionVerifiedAt.put(shared, nowMillis);
      }
    } else if (status == 401) {
      refused.put(hash, Boolean.TRUE);
      verified.invalidate(hash);
      caller.forgetVerified();
    }
  }

  /**
   * Claims the one verification slot of an unverified token.
   *
   * @param holder an object identifying the claimant (released with {@link #releaseVerification})
   * @return null when this claimant holds the slot (or needs none), else the current holder
   */
  Object claimVerification(Caller caller, Object holder) {
    if (caller.anonymous() || caller.verified()) return null;
    Object existing = verifying.putIfAbsent(caller.tokenHash(), holder);
    return existing == null || existing == holder ? null : existing;
  }

  void releaseVerification(Caller caller, Object holder) {
    if (!caller.anonymous()) verifying.remove(caller.tokenHash(), holder);
  }

  boolean isVerified(String tokenHash) {
    return verified.getIfPresent(tokenHash) != null;
  }

  boolean isRefused(String tokenHash) {
    return refused.getIfPresent(tokenHash) != null;
  }

  boolean cacheAnonymous() {
    return cacheAnonymous;
  }

  boolean sharedPartitionFresh(String sharedPartition, long nowMillis) {
    Long at = partitionVerifiedAt.getIfPresent(sharedPartition);
    return at != null && nowMillis - at <= maxSharedAgeMs;
  }

  /** What a log line may show of a caller. */
  public static String shortForm(String partition) {
    return partition.length() > 8 ? partition.substring(0, 8) : partition;
  }
}
