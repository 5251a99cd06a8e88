package io.tollgate.bench;

import io.tollgate.config.RateLimitOptions;
import io.tollgate.ratelimit.Charge;
import io.tollgate.ratelimit.Permit;
import io.tollgate.ratelimit.RateLimiter;
import io.tollgate.ratelimit.TokenBucket;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;

/**
 * Cost of one admission that does not wait: buckets with a rate so high they never run dry, so every call
 * takes the no-wait path. Run by {@code src/bench/jmh.sh}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class LimiterJmh {
  private static final double RATE = 1e12;
  private static final int BURST = 1_000_000_000;
  private TokenBucket bucket;
  private Vertx vertx;
  private RateLimiter limiter;
  private List<Charge> one;
  private List<Charge> three;

  @Setup
  public void setup() {
    bucket = new TokenBucket(RATE, BURST, System::nanoTime);
    vertx = Vertx.vertx();
    limiter = RateLimiter.local(vertx, new RateLimitOptions(), System::nanoTime, 1);
    one = List.of(new Charge("graph-app", "a=app", RATE, BURST, 1));
    // a GET /users through the shipped limits: graph-app (app), identity-reads (tenant+app), plus one more
    three = List.of(new Charge("graph-app", "a=app", RATE, BURST, 1),
        new Charge("identity-reads", "t=tenant|a=app", RATE, BURST, 2),
        new Charge("sharepoint", "t=tenant|a=app", RATE, BURST, 5));
  }

  @TearDown
  public void tearDown() {
    vertx.close().await();
  }

  @Benchmark
  public boolean tokenBucketTryTake() {
    return bucket.tryTake(1);
  }

  @Benchmark
  @Threads(2)
  public boolean tokenBucketTryTake2Threads() {
    return bucket.tryTake(1);
  }

  @Benchmark
  public Future<Permit> localAcquireOneLimit() {
    return limiter.acquire(one);
  }

  @Benchmark
  public Future<Permit> localAcquireThreeLimits() {
    return limiter.acquire(three);
  }

  @Benchmark
  @Threads(2)
  public Future<Permit> localAcquireOneLimit2Threads() {
    return limiter.acquire(one);
  }
}
