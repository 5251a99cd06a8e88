package io.tollgate.graph;

import io.tollgate.cache.CacheStage;
import io.tollgate.proxy.RouteTable;
import io.vertx.core.MultiMap;
import io.vertx.core.http.HttpMethod;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntUnaryOperator;

/**
 * What a {@code $batch} will do, worked out without any I/O: each sub-request with the route rules it falls
 * under (cache rule, evictions, cost, limits), as if it had been sent on its own; which ones are ready to
 * go upstream given the answers so far ({@code dependsOn}); and how they split into upstream batches of at
 * most 20. Pure and deterministic, so it is tested without a network.
 */
public final class BatchPlan {
  /** One sub-request and the rules that apply to it. */
  public record Step(BatchRequest.Sub sub, RouteTable.Route route, MultiMap headers, boolean bypassCache) {
    public int index() { return sub.index(); }
    public String id() { return sub.id(); }
    /** A GET with a cache rule whose client did not ask to bypass the cache. */
    public boolean cacheable() { return route.cacheRule() != null && route.method() == HttpMethod.GET; }
  }

  /**
   * The next wave: sub-requests whose dependencies all answered 2xx/3xx (ready), those with a failed
   * dependency (to be answered 424 locally), and whether anything is still unanswered.
   */
  public record Wave(List<Step> ready, List<Step> failedDependency, boolean pending) {}

  private final List<Step> steps;

  private BatchPlan(List<Step> steps) {
    this.steps = steps;
  }

  /**
   * @param version the batch's API version prefix ({@code /v1.0} or {@code /beta}): sub-request urls are relative to it
   */
  public static BatchPlan of(BatchRequest batch, String version, RouteTable routes) {
    List<Step> steps = new ArrayList<>(batch.subs().size());
    for (BatchRequest.Sub s : batch.subs()) {
      MultiMap headers = MultiMap.caseInsensitiveMultiMap();
      s.headers().forEach(e -> headers.add(e.getKey(), String.valueOf(e.getValue())));
      RouteTable.Route route = routes.match(HttpMethod.valueOf(s.method()), version + s.path(), s.query());
      steps.add(new Step(s, route, headers, CacheStage.clientBypasses(headers)));
    }
    return new BatchPlan(List.copyOf(steps));
  }



  public List<Step> steps() {
    return steps;
  }

  /**
   * @param statusOf the status a sub-request (by index) was answered with, or 0 while it is unanswered
   */
  public Wave nextWave(IntUnaryOperator statusOf) {
    List<Step> ready = new ArrayList<>();
    List<Step> failed = new ArrayList<>();
    boolean pending = false;
    for (Step s : steps) {
      if (statusOf.applyAsInt(s.index()) != 0) continue;
      pending = true;
      boolean depsDone = true;
      boolean depFailed = false;
      for (String dep : s.sub().dependsOn()) {
        int status = statusOf.applyAsInt(indexOf(dep));
        if (status == 0) depsDone = false;
        else if (status >= 400) depFailed = true;
      }
      if (depFailed) failed.add(s);
      else if (depsDone) ready.add(s);
    }
    return new Wave(ready, failed, pending);
  }

  /** Upstream batches of at most {@link BatchRequest#MAX_REQUESTS}, in order. */
  public static List<List<Step>> chunks(List<Step> ready) {
    List<List<Step>> out = new ArrayList<>();
    for (int i = 0; i < ready.size(); i += BatchRequest.MAX_REQUESTS) {
      out.add(ready.subList(i, Math.min(ready.size(), i + BatchRequest.MAX_REQUESTS)));
    }
    return out;
  }

  private int indexOf(String id) {
    for (Step s : steps) if (s.id().equals(id)) return s.index();
    throw new IllegalStateException("unknown dependency " + id);
  }
}
