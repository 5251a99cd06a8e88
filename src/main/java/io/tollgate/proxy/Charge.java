package io.tollgate.proxy;

/**
 * One bucket a request paid: which limit, which bucket of it ({@code id}: the tenant, app, route or
 * "global" value), the limit's rate and burst, and the tokens taken. The rate limiter records the charges
 * on the {@link Exchange}; whoever learns from the upstream's answer later (a 429's {@code Retry-After})
 * reads them from there instead of working them out again.
 */
public record Charge(String limit, String id, double rate, int burst, int tokens) {
  /** Key of the bucket in memory: limit and id. */
  public String bucketKey() {
    return limit + '\u0000' + id;
  }
}
