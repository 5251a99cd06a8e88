package io.tollgate.ratelimit;

/**
 * One bucket a request must pay: which limit, which bucket of it ({@code id}: the tenant, app, route or
 * "global" value), the limit's rate and burst, and the tokens to take.
 */
public record Charge(String limit, String id, double rate, int burst, int tokens) {
  /** Key of the bucket in memory: limit and id. */
  String bucketKey() {
    return limit + '\u0000' + id;
  }
}
