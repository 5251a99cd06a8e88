package io.tollgate.proxy;

import io.vertx.core.Future;
import io.vertx.core.MultiMap;

/**
 * The innermost stage: notes on the request's {@link Tally} every upstream answer and what it cost, retries and
 * re-queued attempts included: the upstream's {@code x-ms-resource-unit} when it said, else the route's cost. A
 * {@code $batch} chunk is left to the batch stage, which reads each sub-response's own cost. Stateless.
 */
public final class UpstreamSpend implements Stage {
  public static final UpstreamSpend STAGE = new UpstreamSpend();
  private static final String RESOURCE_UNIT = "x-ms-resource-unit";

  private UpstreamSpend() {}

  @Override
  public Future<Reply> apply(Exchange ex, Chain next) {
    long start = System.nanoTime();
    Future<Reply> answer = next.proceed(ex).onSuccess(reply -> ex.tally().upstreamCall(reply.status(), System.nanoTime() - start));
    if (ex.batchSteps() != null) return answer;
    return answer.onSuccess(reply -> ex.tally().upstreamAnswered(resourceUnits(reply.headers(), ex.route().cost())));
  }

  /** The cost the upstream said ({@code x-ms-resource-unit}, a positive integer), else {@code estimate}. */
  public static int resourceUnits(MultiMap headers, int estimate) {
    String said = headers == null ? null : headers.get(RESOURCE_UNIT);
    if (said == null) return estimate;
    try {
      int ru = (int) Math.round(Double.parseDouble(said.trim()));
      return ru > 0 ? ru : estimate;
    } catch (NumberFormatException e) {
      return estimate;
    }
  }
}
