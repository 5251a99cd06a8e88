package io.tollgate.config;

import io.vertx.core.json.JsonObject;
import java.util.Locale;
import java.util.Set;

/**
 * The access log: one line per request, written off the event loop. YAML section {@code accessLog}. Off by
 * default. A line never holds a token, and by default neither the path (ids and user names are personal data)
 * nor query values ({@code $filter=mail eq '...'}): the route name and the query parameter names say what was
 * asked.
 */
public final class AccessLogOptions {
  public static final String OFF = "off";
  public static final String STDOUT = "stdout";
  public static final String FILE = "file";
  static final Set<String> DESTINATIONS = Set.of(OFF, STDOUT, FILE);
  static final Set<String> FORMATS = Set.of("text", "json");
  public static final long DEFAULT_MAX_FILE_SIZE = 100L << 20;
  public static final int DEFAULT_MAX_FILES = 5;
  /** Lines waiting for the writer thread; when it falls behind, more are dropped (counted), never waited for. */
  public static final int DEFAULT_QUEUE_SIZE = 8192;

  private String destination = OFF;
  private String path = "tollgate-access.log";
  private String format = "text";
  private long maxFileSize = DEFAULT_MAX_FILE_SIZE;
  private int maxFiles = DEFAULT_MAX_FILES;
  private int queueSize = DEFAULT_QUEUE_SIZE;
  private boolean paths;

  public AccessLogOptions() {}

  public AccessLogOptions(AccessLogOptions o) {
    destination = o.destination; path = o.path; format = o.format; maxFileSize = o.maxFileSize; maxFiles = o.maxFiles;
    queueSize = o.queueSize; paths = o.paths;
  }

  static AccessLogOptions read(ConfigReader r) {
    AccessLogOptions o = new AccessLogOptions();
    // YAML 1.1 reads a bare `off` as false: take it as meant.
    o.destination = Boolean.FALSE.equals(r.raw("destination")) ? OFF : oneOf(r, "destination", OFF, DESTINATIONS);
    o.path = r.string("path", o.path);
    if (o.path.isBlank()) r.problem("path", o.path, "a file path");
    o.format = oneOf(r, "format", "text", FORMATS);
    o.maxFileSize = r.size("maxFileSize", DEFAULT_MAX_FILE_SIZE);
    if (o.maxFileSize < 1024) r.problem("maxFileSize", o.maxFileSize, "a size of at least 1KiB");
    o.maxFiles = r.integer("maxFiles", DEFAULT_MAX_FILES, 1, 1000);
    o.queueSize = r.integer("queueSize", DEFAULT_QUEUE_SIZE, 16, 10_000_000);
    o.paths = r.bool("paths", false);
    r.rejectUnknown();
    return o;
  }

  private static String oneOf(ConfigReader r, String name, String def, Set<String> allowed) {
    String v = r.string(name, def).trim().toLowerCase(Locale.ROOT);
    if (!allowed.contains(v)) {
      r.problem(name, v, "one of " + String.join(", ", new java.util.TreeSet<>(allowed)));
      return def;
    }
    return v;
  }

  public JsonObject toJson() {
    return new JsonObject().put("destination", destination).put("path", path).put("format", format)
        .put("maxFileSize", Units.formatSize(maxFileSize)).put("maxFiles", maxFiles).put("queueSize", queueSize)
        .put("paths", paths);
  }

  /** {@code off}, {@code stdout} or {@code file}. */
  public String getDestination() { return destination; }
  public AccessLogOptions setDestination(String destination) { this.destination = destination; return this; }
  public String getPath() { return path; }
  public AccessLogOptions setPath(String path) { this.path = path; return this; }
  /** {@code text} or {@code json} (one object per line). */
  public String getFormat() { return format; }
  public AccessLogOptions setFormat(String format) { this.format = format; return this; }
  /** A file this large is rolled over to {@code path.1} (and older ones shifted up to {@code maxFiles}). */
  public long getMaxFileSize() { return maxFileSize; }
  public AccessLogOptions setMaxFileSize(long bytes) { this.maxFileSize = bytes; return this; }
  public int getMaxFiles() { return maxFiles; }
  public AccessLogOptions setMaxFiles(int maxFiles) { this.maxFiles = maxFiles; return this; }
  public int getQueueSize() { return queueSize; }
  public AccessLogOptions setQueueSize(int queueSize) { this.queueSize = queueSize; return this; }
  /** Log the normalised path too (it may hold ids and user names); off by default. */
  public boolean isPaths() { return paths; }
  public AccessLogOptions setPaths(boolean paths) { this.paths = paths; return this; }
}
