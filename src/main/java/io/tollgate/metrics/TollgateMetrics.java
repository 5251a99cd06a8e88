package io.tollgate.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The Prometheus registry shared by Vert.x's metrics and Tollgate's meters. Meters are created once per tag
 * combination and kept, so the hot path does a map lookup, not a registry registration.
 */
public final class TollgateMetrics {
  private static final String[] STATUS_CLASSES = {"1xx", "2xx", "3xx", "4xx", "5xx"};

  private final PrometheusMeterRegistry registry;
  private final ConcurrentHashMap<String, Counter> errorCounters = new ConcurrentHashMap<>();
  private final AtomicLong inFlight = new AtomicLong();
  private JvmGcMetrics gc;

  public TollgateMetrics() {
    this.registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    new ClassLoaderMetrics().bindTo(registry);
    new JvmMemoryMetrics().bindTo(registry);
    gc = new JvmGcMetrics();
    gc.bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    registry.gauge(MeterNames.IN_FLIGHT, inFlight);
  }

  public MeterRegistry registry() {
    return registry;
  }

  /** Prometheus text exposition. */
  public String scrape() {
    return registry.scrape();
  }

  public void requestStarted() {
    inFlight.incrementAndGet();
  }

  /**
   * One proxy event loop's request meters: {@code tollgate.requests} by route, status class and cache source, and
   * {@code tollgate.responses} by exact status. Made once per tag combination and kept, so a request's end is two map
   * lookups and an array slot. Each proxy verticle has its own (the registry hands them all the same meters); the maps
   * are concurrent anyway, as a request may end on another thread than the one it began on, and two threads filling
   * one slot at once only register the same meter twice.
   */
  public final class RequestMeters {
    private final Map<String, Map<String, Timer[]>> timers = new ConcurrentHashMap<>();
    private final Counter[] responses = new Counter[600];

    private RequestMeters() {}

    /** @param cache where the answer came from (the X-Cache value, or CANCELLED) */
    public void ended(String route, int status, String cache, long nanos) {
      inFlight.decrementAndGet();
      int statusClass = status >= 100 && status < 600 ? status / 100 - 1 : STATUS_CLASSES.length;
      Map<String, Timer[]> byCache = timers.get(route);
      if (byCache == null) byCache = timers.computeIfAbsent(route, r -> new ConcurrentHashMap<>());
      Timer[] byClass = byCache.get(cache);
      if (byClass == null) byClass = byCache.computeIfAbsent(cache, c -> new Timer[STATUS_CLASSES.length + 1]);
      Timer t = byClass[statusClass];
      if (t == null) {
        byClass[statusClass] = t = Timer.builder(MeterNames.REQUESTS).tag(MeterNames.TAG_ROUTE, route)
            .tag(MeterNames.TAG_STATUS, statusClass < STATUS_CLASSES.length ? STATUS_CLASSES[statusClass] : "other")
            .tag(MeterNames.TAG_CACHE, cache).publishPercentileHistogram().register(registry);
      }
      t.record(nanos, TimeUnit.NANOSECONDS);
      if (status < 100 || status >= responses.length) return;
      Counter c = responses[status];
      if (c == null) {
        responses[status] = c = Counter.builder(MeterNames.RESPONSES).tag(MeterNames.TAG_CODE, Integer.toString(status))
            .register(registry);
      }
      c.increment();
    }
  }

  public RequestMeters requestMeters() {
    return new RequestMeters();
  }

  /**
   * The timer of upstream answers with {@code status} from {@code origin}, made once; callers keep it (a
   * {@link UpstreamTimers}), so the hot path registers nothing.
   */
  public Timer upstreamTimer(String origin, int status) {
    return Timer.builder(MeterNames.UPSTREAM_REQUESTS).tag(MeterNames.TAG_ORIGIN, origin)
        .tag(MeterNames.TAG_CODE, Integer.toString(status)).register(registry);
  }

  /**
   * One origin's upstream timers by status, made on first use: the hot path reads an array slot. Not shared between
   * threads: each proxy event loop's forwarder has its own (the registry hands them all the same meters).
   */
  public final class UpstreamTimers {
    private final String origin;
    private final Timer[] byStatus = new Timer[600];

    private UpstreamTimers(String origin) {
      this.origin = origin;
    }

    public void record(int status, long nanos) {
      if (status < 100 || status >= byStatus.length) return;
      Timer t = byStatus[status];
      if (t == null) byStatus[status] = t = upstreamTimer(origin, status);
      t.record(nanos, TimeUnit.NANOSECONDS);
    }
  }

  public UpstreamTimers upstreamTimers(String origin) {
    return new UpstreamTimers(origin);
  }

  public void gatewayError(int status, String code) {
    errorCounters.computeIfAbsent(status + code, k -> Counter.builder(MeterNames.GATEWAY_ERRORS)
        .tag(MeterNames.TAG_STATUS, Integer.toString(status)).tag(MeterNames.TAG_CODE, code).register(registry)).increment();
  }

  public void close() {
    if (gc != null) gc.close();
    registry.close();
  }
}
