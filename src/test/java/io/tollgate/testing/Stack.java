package io.tollgate.testing;

import io.tollgate.Gateway;
import io.tollgate.config.TollgateOptions;
import io.tollgate.sim.GraphSimulator;
import io.tollgate.sim.SimulatorOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Clock;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A Graph simulator and a gateway in front of it, both on free loopback ports, for tests that speak HTTP.
 * Built on the JUnit thread in {@code @BeforeEach}; {@link #close()} in {@code @AfterEach}.
 */
public final class Stack implements AutoCloseable {
  public final GraphSimulator sim;
  public final Gateway gateway;
  private final Vertx simVertx;

  private Stack(Vertx simVertx, GraphSimulator sim, Gateway gateway) {
    this.simVertx = simVertx;
    this.sim = sim;
    this.gateway = gateway;
  }

  /** Options for a test gateway: ports 0, two proxy instances, Graph profile of the shipped defaults. */
  public static TollgateOptions options() {
    TollgateOptions o = defaults();
    o.getServer().setPort(0).setInstances(2);
    o.getManagement().setPort(0);
    return o;
  }

  /** The shipped conf/tollgate.yaml, as a test starting point. */
  public static TollgateOptions defaults() {
    Vertx v = Vertx.vertx();
    try {
      return io.tollgate.config.ConfigLoader.load(v, null, java.util.Map.of(), java.util.Map.of()).await(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    } finally {
      v.close();
    }
  }

  public static Stack start(SimulatorOptions simOptions, Consumer<TollgateOptions> customize) {
    return start(simOptions, customize, Clock.systemUTC());
  }

  public static Stack start(SimulatorOptions simOptions, Consumer<TollgateOptions> customize, Clock clock) {
    Vertx simVertx = Vertx.vertx();
    try {
      GraphSimulator sim = GraphSimulator.start(simVertx, simOptions).await(10, TimeUnit.SECONDS);
      TollgateOptions o = options();
      o.getUpstream().setUrl(sim.origin());
      customize.accept(o);
      Gateway gateway = Gateway.start(o, clock).await(20, TimeUnit.SECONDS);
      return new Stack(simVertx, sim, gateway);
    } catch (Exception e) {
      simVertx.close();
      throw new IllegalStateException(e);
    }
  }

  /** Another gateway in front of the same simulator (a second sidecar). */
  public Gateway another(Consumer<TollgateOptions> customize) {
    TollgateOptions o = options();
    o.getUpstream().setUrl(sim.origin());
    customize.accept(o);
    try {
      return Gateway.start(o).await(20, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  public String proxy() {
    return "http://127.0.0.1:" + gateway.proxyPort();
  }

  public String management() {
    return "http://127.0.0.1:" + gateway.managementPort();
  }

  @Override
  public void close() {
    try {
      Future.join(gateway.close(), simVertx.close()).await(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
