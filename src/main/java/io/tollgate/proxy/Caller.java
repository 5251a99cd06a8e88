package io.tollgate.proxy;

/**
 * Who sent one request, as far as Tollgate may trust it. Until the upstream answered 2xx to this exact
 * token, the caller is its token hash: its own cache partition, its own budgets. Once verified, a JWT's
 * claims choose the tenant and app budgets, and tokens with the same identity share one partition.
 * Per request; reads the shared {@link CallerIdentity} tables, so what it says can change while the request
 * runs (the request itself may be the one that verifies the token).
 */
public final class Caller {
  private final CallerIdentity registry;
  private final String tokenHash;
  private final Claims claims;
  private final String sharedPartition;
  /** Once seen verified, this request stops asking the table (a 401 observed later clears it). */
  private boolean seenVerified;

  Caller(CallerIdentity registry, String tokenHash, Claims claims, String sharedPartition) {
    this.registry = registry;
    this.tokenHash = tokenHash;
    this.claims = claims;
    this.sharedPartition = sharedPartition;
  }

  /** True when the request carried no identity header at all. */
  public boolean anonymous() {
    return tokenHash == null;
  }

  /** SHA-256 of the identity headers, or {@link CallerIdentity#ANONYMOUS}. */
  public String tokenHash() {
    return tokenHash == null ? CallerIdentity.ANONYMOUS : tokenHash;
  }

  /** True once the upstream answered 2xx to this token (and has not answered 401 since). */
  public boolean verified() {
    if (seenVerified) return true;
    seenVerified = tokenHash != null && registry.isVerified(tokenHash);
    return seenVerified;
  }

  void forgetVerified() {
    seenVerified = false;
  }

  /** True when the upstream's last word on this token was 401. */
  public boolean refused() {
    return tokenHash != null && registry.isRefused(tokenHash);
  }

  /**
   * The cache partition: the shared identity partition of a verified JWT, else the token hash. Two callers
   * never share a partition unless the upstream accepted both tokens and their identities are equal.
   */
  public String partition() {
    if (sharedPartition != null && verified()) return sharedPartition;
    return tokenHash();
  }

  /** True when this partition is shared by tokens (a verified JWT's identity partition). */
  public boolean sharesPartition() {
    return sharedPartition != null && verified();
  }

  /** The tenant whose budgets this request spends: the verified {@code tid}, else {@code p:<token hash>}. */
  public String tenant() {
    return claims != null && claims.tenant() != null && verified() ? claims.tenant() : "p:" + tokenHash();
  }

  /** The verified {@code tid}, or null while the upstream has not accepted this token (or it carries none). */
  public String verifiedTenant() {
    return claims != null && claims.tenant() != null && verified() ? claims.tenant() : null;
  }

  /** The app whose budgets this request spends: the verified {@code appid}/{@code azp}, else {@code p:<token hash>}. */
  public String app() {
    return claims != null && claims.app() != null && verified() ? claims.app() : "p:" + tokenHash();
  }

  /** False for an anonymous caller unless {@code identity.cacheAnonymous}: such answers would be everyone's. */
  public boolean cacheable() {
    return tokenHash != null || registry.cacheAnonymous();
  }

  /**
   * Whether a cached answer may be served to this caller now: never to an expired token or one the upstream
   * refused (401), and from a shared partition only within {@code identity.maxSharedAge} of its last
   * verification upstream.
   */
  public boolean mayUseHits(long nowMillis) {
    if (tokenHash == null) return registry.cacheAnonymous();
    if (claims != null && claims.expiresAtMillis() <= nowMillis) return false;
    if (registry.isRefused(tokenHash)) return false;
    return !sharesPartition() || registry.sharedPartitionFresh(sharedPartition, nowMillis);
  }

  /** What a log line may show of this caller: the first 8 hex characters of its partition. */
  public String shortForm() {
    return CallerIdentity.shortForm(partition());
  }

  CallerIdentity registry() { return registry; }
  Claims claims() { return claims; }
  String sharedPartitionKey() { return sharedPartition; }
}
