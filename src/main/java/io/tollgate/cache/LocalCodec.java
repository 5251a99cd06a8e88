package io.tollgate.cache;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.MessageCodec;

/**
 * Passes immutable objects through the local event bus by reference: the hot-path event-bus mode measures
 * the hop itself, not JSON serialisation. Never used across a cluster (encodeToWire refuses).
 */
final class LocalCodec<T> implements MessageCodec<T, T> {
  private final String name;

  LocalCodec(Class<T> type) {
    this.name = "tollgate-local-" + type.getSimpleName();
  }

  @Override public void encodeToWire(Buffer buffer, T t) { throw new UnsupportedOperationException("local only"); }
  @Override public T decodeFromWire(int pos, Buffer buffer) { throw new UnsupportedOperationException("local only"); }
  @Override public T transform(T t) { return t; }
  @Override public String name() { return name; }
  @Override public byte systemCodecID() { return -1; }
}
