package io.tollgate.proxy;

/** Where an answer came from, as the {@code X-Cache} response header says it. */
public enum XCache {
  HIT_L1("HIT-L1"),
  HIT_L2("HIT-L2"),
  MISS("MISS"),
  /** An expired entry served while the upstream is refreshed, failing, or throttled. */
  STALE("STALE"),
  REVALIDATED("REVALIDATED"),
  /** The client asked not to be answered from the cache. */
  BYPASS("BYPASS");

  private final String header;

  XCache(String header) {
    this.header = header;
  }

  /** The header value. */
  public String header() {
    return header;
  }
}
