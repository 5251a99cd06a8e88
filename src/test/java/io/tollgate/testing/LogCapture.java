package io.tollgate.testing;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.LoggerFactory;

/**
 * Collects every log line (formatted, with throwables) written while open, at every level down to DEBUG; or,
 * for long runs that would not fit in memory, hands each line to a sink instead of keeping it.
 */
public final class LogCapture extends AppenderBase<ILoggingEvent> implements AutoCloseable {
  private final List<String> lines = new CopyOnWriteArrayList<>();
  private final List<String> threads = new CopyOnWriteArrayList<>();
  private final Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
  private final ch.qos.logback.classic.Level previous;
  private final java.util.function.Consumer<String> sink;

  public LogCapture() {
    this(null);
  }

  /** Hands each line to {@code sink} (on the logging thread) and keeps none; {@link #all()} stays empty. */
  public LogCapture(java.util.function.Consumer<String> sink) {
    this.sink = sink;
    previous = root.getLevel();
    root.setLevel(ch.qos.logback.classic.Level.DEBUG);
    setContext(root.getLoggerContext());
    start();
    root.addAppender(this);
  }

  @Override
  protected void append(ILoggingEvent e) {
    StringBuilder sb = new StringBuilder(e.getFormattedMessage());
    for (var t = e.getThrowableProxy(); t != null; t = t.getCause()) sb.append(" | ").append(t.getMessage());
    if (sink != null) {
      sink.accept(sb.toString());
      return;
    }
    threads.add(e.getThreadName());
    lines.add(sb.toString());
  }

  /** The threads that wrote the lines containing {@code fragment}, in order. */
  public List<String> threadsOf(String fragment) {
    List<String> out = new java.util.ArrayList<>();
    for (int i = 0; i < lines.size(); i++) if (lines.get(i).contains(fragment)) out.add(threads.get(i));
    return out;
  }

  public String all() {
    return String.join("\n", lines);
  }

  @Override
  public void close() {
    root.detachAppender(this);
    root.setLevel(previous);
    stop();
  }
}
