package io.tollgate.proxy;

/**
 * One bucket a request paid: under which limit ({@code rule}), which bucket of it ({@code id}: the tenant,
 * app, route or "global" value), and the tokens taken. The rate limiter records the charges on the
 * {@link Exchange}; whoever learns from the upstream's answer later (a 429's {@code Retry-After}, usage
 * headers) reads them from there instead of working them out again.
 */
public record Charge(RouteTable.Limit rule, String id, int tokens) {
  /** A charge on a global fixed-rate limit of this name (tests and benchmarks). */
  public Charge(String limit, String id, double rate, int burst, int tokens) {
    this(RouteTable.Limit.of(limit, rate, burst), id, tokens);
  }

  public String limit() { return rule.name(); }
  /** The configured rate: where learning starts. */
  public double rate() { return rule.rate(); }
  public int burst() { return rule.burst(); }

  /** The same bucket, charged {@code more} tokens besides. */
  public Charge plus(int more) {
    return new Charge(rule, id, tokens + more);
  }

  /** Key of the bucket in memory: limit and id. */
  public String bucketKey() {
    return rule.name() + '\u0000' + id;
  }
}
