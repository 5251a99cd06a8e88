package io.tollgate.cache;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.netty.buffer.ByteBuf;
import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * An immutable stored answer: status, the headers worth keeping, the (identity-encoded) body, when it was
 * fetched and how long it is fresh and may be served stale. Never holds request headers, so no token can
 * reach L1 or Redis through it.
 */
public final class CachedResponse {
  /**
   * End-to-end headers a hit does not repeat: the length (the body is re-sent whole), Tollgate's own
   * {@code Age}/{@code X-Cache}, and cookies, which belong to one response and are never shared from a cache.
   * Hop-by-hop headers never reach here ({@code Reply} drops them).
   */
  private static final Set<String> NOT_KEPT = Set.of("content-length", "age", "x-cache", "set-cookie", "set-cookie2");

  private final int status;
  private final MultiMap headers;
  private final Buffer body;
  private final long storedAtMillis;
  private final long ttlMillis;
  private final long staleWhileRevalidateMillis;
  private final long staleIfErrorMillis;
  /** How long past its TTL the entry is kept for revalidation with its ETag; 0 when its route does not revalidate. */
  private final long revalidateForMillis;
  /** Invalidated but kept (a soft purge): never served or used on error until a revalidation refreshed it. */
  private final boolean purged;
  /**
   * HTTP semantics only ({@link HttpCaching}): how old the answer already was when stored (its corrected initial age,
   * RFC 9111 §4.2.3), the request header names its {@code Vary} lists and what the storing request sent for them
   * ({@link HttpCaching#varyValues}). 0, empty and null for every other entry.
   */
  private final long initialAgeMillis;
  private final List<String> varyNames;
  private final String varyValues;
  /** Memoised answer of the link scan: hits skip it. Benign race (the scan is pure). */
  private byte links;

  /**
   * Heap bytes of the objects every answer holds besides its body bytes and headers, for {@link #weightBytes}: this
   * object (64), its header map (48) with its 16-bucket table (80) and list head (40), and the body's Vert.x buffer
   * (16), Netty heap buffer (48) and reference count (16).
   */
  static final int FIXED_BYTES = 312;
  /** Heap bytes of one header's map entry, besides its name and value strings. */
  static final int HEADER_BYTES = 40;

  /**
   * @param body kept as a copy of exactly its length: a body read or decoded in growing steps can hold twice its
   *     length in buffer capacity, which {@link #weightBytes} would not see
   */
  public CachedResponse(int status, MultiMap headers, Buffer body, long storedAtMillis, long ttlMillis,
      long staleWhileRevalidateMillis, long staleIfErrorMillis) {
    this(status, headers, body, storedAtMillis, ttlMillis, staleWhileRevalidateMillis, staleIfErrorMillis, 0);
  }

  /**
   * @param revalidateForMillis how long past its TTL (or a soft purge) the entry is kept to be revalidated with its
   *     {@code ETag}; 0 for none (the entry then has none to revalidate with, or its route does not revalidate)
   */
  public CachedResponse(int status, MultiMap headers, Buffer body, long storedAtMillis, long ttlMillis,
      long staleWhileRevalidateMillis, long staleIfErrorMillis, long revalidateForMillis) {
    this(status, headers, body.copy(), storedAtMillis, ttlMillis, staleWhileRevalidateMillis, staleIfErrorMillis,
        headers.contains("etag") ? revalidateForMillis : 0, false, 0, List.of(), null);
  }

  /**
   * An answer stored under HTTP semantics: it may be revalidated with its {@code ETag} or its {@code Last-Modified},
   * it arrived {@code initialAgeMillis} old, and it answers only requests that send what the storing one sent for
   * its {@code Vary} names.
   *
   * @param ttlMillis how long it stays fresh from {@code storedAtMillis} (0: revalidated before every use)
   */
  public static CachedResponse http(int status, MultiMap headers, Buffer body, long storedAtMillis, long ttlMillis,
      long staleWhileRevalidateMillis, long staleIfErrorMillis, long revalidateForMillis, long initialAgeMillis,
      List<String> varyNames, String varyValues) {
    boolean validators = headers.contains("etag") || headers.contains("last-modified");
    return new CachedResponse(status, headers, body.copy(), storedAtMillis, ttlMillis, staleWhileRevalidateMillis,
        staleIfErrorMillis, validators ? revalidateForMillis : 0, false, initialAgeMillis, List.copyOf(varyNames), varyValues);
  }

  /** Shares {@code body} (already an exact copy). */
  private CachedResponse(int status, MultiMap headers, Buffer body, long storedAtMillis, long ttlMillis,
      long staleWhileRevalidateMillis, long staleIfErrorMillis, long revalidateForMillis, boolean purged,
      long initialAgeMillis, List<String> varyNames, String varyValues) {
    this.status = status;
    this.headers = headers;
    this.body = body;
    this.storedAtMillis = storedAtMillis;
    this.ttlMillis = ttlMillis;
    this.staleWhileRevalidateMillis = staleWhileRevalidateMillis;
    this.staleIfErrorMillis = staleIfErrorMillis;
    this.revalidateForMillis = revalidateForMillis;
    this.purged = purged;
    this.initialAgeMillis = initialAgeMillis;
    this.varyNames = varyNames;
    this.varyValues = varyValues;
  }

  /** The stored {@code ETag}, or null. */
  public String etag() { return headers.get("etag"); }

  /** The stored {@code Last-Modified}, or null. */
  public String lastModified() { return headers.get("last-modified"); }

  /**
   * True when the request sends what the storing request sent for the entry's {@code Vary} names (RFC 9111 §4.1);
   * always true for an entry without them.
   */
  public boolean varyMatches(MultiMap requestHeaders) {
    return varyNames.isEmpty() || varyValues.equals(HttpCaching.varyValues(varyNames, requestHeaders));
  }

  /** What the storing request sent for the entry's {@code Vary} names, or null when it has none. */
  public String varyValues() { return varyValues; }

  /**
   * True when the entry (HTTP semantics) can still be revalidated at {@code now}: it has a validator and is within
   * {@code revalidateFor} after its freshness ended.
   */
  public boolean revalidatableAt(long now) {
    return revalidateForMillis > 0 && now < storedAtMillis + ttlMillis + revalidateForMillis;
  }

  /** True when the entry may be kept past its TTL or an invalidation, to be revalidated with its ETag. */
  public boolean revalidatable() { return revalidateForMillis > 0; }

  /** True once a soft purge marked the entry: it must be revalidated before it is used again. */
  public boolean purged() { return purged; }

  /**
   * The ETag to revalidate the entry with at {@code now} (past its TTL or purged, within {@code revalidateFor}
   * after its TTL), or null when it cannot be revalidated any more.
   */
  public String revalidationTag(long now) {
    if (revalidateForMillis <= 0 || now >= storedAtMillis + ttlMillis + revalidateForMillis) return null;
    return etag();
  }

  /** The same answer, kept for revalidation only: what an invalidation leaves of a revalidatable entry. */
  public CachedResponse purge() {
    return new CachedResponse(status, headers, body, storedAtMillis, ttlMillis, staleWhileRevalidateMillis,
        staleIfErrorMillis, revalidateForMillis, true, initialAgeMillis, varyNames, varyValues);
  }

  /**
   * The entry a 304 made fresh again (RFC 9111 §4.3.4): stored {@code now}, same status and body, and each header
   * the 304 carries replacing the stored one of that name (but the length and the entry's own headers, which
   * describe the stored body or this gateway).
   *
   * @param notModified the 304's end-to-end headers
   */
  public CachedResponse revalidated(MultiMap notModified, long now) {
    MultiMap updated = MultiMap.caseInsensitiveMultiMap().addAll(headers);
    for (String name : notModified.names()) {
      String lower = name.toLowerCase(Locale.ROOT);
      if (NOT_KEPT.contains(lower) || lower.equals("content-encoding") || lower.equals("content-type")
          || lower.equals("transfer-encoding")) continue;
      updated.remove(name);
      for (String value : notModified.getAll(name)) updated.add(name, value);
    }
    return new CachedResponse(status, updated, body, now, ttlMillis, staleWhileRevalidateMillis, staleIfErrorMillis,
        revalidateForMillis, false, 0, varyNames, varyValues);
  }

  /**
   * The headers a hit carries: every end-to-end header of the answer it stands for ({@code ETag},
   * {@code Cache-Control}, {@code Date}, Graph's {@code request-id} and the rest), so a hit reads like the miss
   * that filled it.
   */
  public static MultiMap keptHeaders(MultiMap upstream) {
    MultiMap kept = MultiMap.caseInsensitiveMultiMap();
    for (var e : upstream) if (!NOT_KEPT.contains(e.getKey().toLowerCase(Locale.ROOT))) kept.add(e.getKey(), e.getValue());
    return kept;
  }

  /**
   * True when the body may hold paging links that need rewriting for the client.
   *
   * @param scan the Graph stage's pre-check, run once per entry
   */
  public boolean hasLinks(java.util.function.Predicate<Buffer> scan) {
    if (links == 0) links = scan.test(body) ? (byte) 1 : (byte) 2;
    return links == 1;
  }

  public int status() { return status; }
  public MultiMap headers() { return headers; }
  public Buffer body() { return body; }
  public long storedAtMillis() { return storedAtMillis; }
  public long ttlMillis() { return ttlMillis; }
  public long staleWhileRevalidateMillis() { return staleWhileRevalidateMillis; }
  public long staleIfErrorMillis() { return staleIfErrorMillis; }

  /** How an entry may be used at a moment: the one place that decides it, for single reads and $batch alike. */
  public enum Freshness {
    /** Within its TTL: serve it. */
    FRESH,
    /** Past its TTL but within {@code staleWhileRevalidate}: serve it and refresh in the background. */
    STALE_WHILE_REVALIDATE,
    /** Past both, but within {@code staleIfError}: ask the upstream, serve it only if that fails. */
    STALE_IF_ERROR,
    /** Of no use. */
    EXPIRED
  }

  public Freshness freshness(long now) {
    if (purged) return Freshness.EXPIRED;
    long expires = storedAtMillis + ttlMillis;
    if (now < expires) return Freshness.FRESH;
    if (now < expires + staleWhileRevalidateMillis) return Freshness.STALE_WHILE_REVALIDATE;
    if (now < expires + staleIfErrorMillis) return Freshness.STALE_IF_ERROR;
    return Freshness.EXPIRED;
  }

  /** True when the entry may stand in for a failed upstream call (within its TTL plus {@code staleIfError}). */
  public boolean usableOnError(long now) { return !purged && now < storedAtMillis + ttlMillis + staleIfErrorMillis; }
  /** How long the entry is worth keeping at all: fresh time plus the longest stale or revalidation window. */
  public long retainMillis() {
    return ttlMillis + Math.max(Math.max(staleWhileRevalidateMillis, staleIfErrorMillis), revalidateForMillis);
  }
  /** Its current age (RFC 9111 §4.2.3): the age it arrived with plus the time since it was stored. */
  public long ageSeconds(long now) { return ageMillis(now) / 1000; }
  public long ageMillis(long now) { return Math.max(0, initialAgeMillis + now - storedAtMillis); }

  /**
   * Heap bytes this answer holds, for L1's byte bound: the body's array, the objects around it and, per header, its
   * map entry and two strings. Sizes are those of a 64-bit JVM with compressed references (heaps below 32 GiB),
   * checked against a class histogram of a full L1 ({@code src/bench/memory.sh}).
   */
  public int weightBytes() {
    int w = FIXED_BYTES + arrayBytes(body.length());
    for (var e : headers) w += HEADER_BYTES + stringBytes(e.getKey()) + stringBytes(e.getValue());
    if (varyValues != null) w += stringBytes(varyValues) + 16 * varyNames.size();
    return w;
  }

  /** Heap bytes of a byte array of {@code length}: a 16-byte header, rounded up to 8. */
  static int arrayBytes(int length) {
    return (16 + length + 7) & ~7;
  }

  /**
   * Heap bytes of a string: its object (24) and its array, one byte a character (HTTP headers, normalised paths
   * and hex digests are Latin-1; a string with wider characters takes twice as much and is undercounted).
   */
  static int stringBytes(String s) {
    return 24 + arrayBytes(s.length());
  }

  /**
   * Metadata for L2 and the event-bus API (the body travels separately, possibly compressed); a soft-purged entry
   * says so, so that a lookup through the event bus never serves it as it is.
   */
  public JsonObject meta() {
    JsonArray hs = new JsonArray();
    for (var e : headers) hs.add(new JsonArray().add(e.getKey()).add(e.getValue()));
    JsonObject meta = new JsonObject().put("status", status).put("headers", hs).put("storedAt", storedAtMillis).put("ttl", ttlMillis)
        .put("swr", staleWhileRevalidateMillis).put("sie", staleIfErrorMillis).put("rv", revalidateForMillis);
    if (initialAgeMillis != 0) meta.put("ia", initialAgeMillis);
    if (varyValues != null) meta.put("vn", new JsonArray(varyNames)).put("vv", varyValues);
    return purged ? meta.put("purged", true) : meta;
  }

  /** First byte of the binary meta ({@link #storedMeta}); a JSON meta begins with '{'. */
  private static final byte BINARY_META = 1;
  private static final int PURGED = 1, VARY = 2, LINKS_SCANNED = 4, MAY_HOLD_LINKS = 8;

  /**
   * The meta as L2 stores it: what {@link #meta()} says, in a binary form that an L2 hit reads in a fraction of what
   * parsing the JSON took (~6 % of an L2 hit's CPU, most of it making strings of UTF-8): {@code 0x01}, status (int),
   * storedAt, ttl, swr, sie, rv, ia (longs), flags (purged 1, vary 2; 4 when the body's link pre-check ran, 8 when it
   * found that the body may hold links: a fact about the bytes, kept so that hits need not scan them again), the
   * header count (int) and each name and value,
   * then, with vary, the count of its names, each name, and the values. A string is an int length and Latin-1
   * bytes (what HTTP/1 header bytes are to Vert.x), or, for one with a wider character, minus one minus the length
   * of its UTF-8 bytes. {@link #fromMeta(Buffer, Buffer)} reads both forms: entries stored as JSON by an earlier
   * version stay readable.
   */
  public Buffer storedMeta() {
    int count = 0;
    // Not headers.size(): that counts names, and a name may repeat.
    for (var ignored : headers) count++;
    Buffer b = Buffer.buffer(64 + 48 * count).appendByte(BINARY_META).appendInt(status)
        .appendLong(storedAtMillis).appendLong(ttlMillis).appendLong(staleWhileRevalidateMillis).appendLong(staleIfErrorMillis)
        .appendLong(revalidateForMillis).appendLong(initialAgeMillis)
        .appendByte((byte) ((purged ? PURGED : 0) | (varyValues != null ? VARY : 0)
            | (links == 0 ? 0 : LINKS_SCANNED | (links == 1 ? MAY_HOLD_LINKS : 0)))).appendInt(count);
    for (var e : headers) {
      appendString(b, e.getKey());
      appendString(b, e.getValue());
    }
    if (varyValues != null) {
      b.appendInt(varyNames.size());
      for (String name : varyNames) appendString(b, name);
      appendString(b, varyValues);
    }
    return b;
  }

  private static void appendString(Buffer b, String s) {
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) > 0xFF) {
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        b.appendInt(-1 - utf8.length).appendBytes(utf8);
        return;
      }
    }
    b.appendInt(s.length()).appendBytes(s.getBytes(StandardCharsets.ISO_8859_1));
  }

  /**
   * A stored meta's bytes where they lie (a heap buffer's array, not copied out first), with readers for
   * {@link #storedMeta}'s binary form; the JSON form is parsed from the same bytes.
   */
  private static final class MetaBytes {
    private final byte[] a;
    private final int end;
    private int at;

    MetaBytes(Buffer meta) {
      ByteBuf b = ((BufferInternal) meta).getByteBuf();
      if (b.hasArray()) {
        a = b.array();
        at = b.arrayOffset() + b.readerIndex();
      } else {
        a = meta.getBytes();
        at = 0;
      }
      end = at + b.readableBytes();
    }

    private void need(int n) {
      if (n < 0 || end - at < n) throw new IllegalArgumentException("cache entry meta is cut short");
    }

    byte readByte() {
      need(1);
      return a[at++];
    }

    int readInt() {
      need(4);
      int v = ((a[at] & 0xFF) << 24) | ((a[at + 1] & 0xFF) << 16) | ((a[at + 2] & 0xFF) << 8) | (a[at + 3] & 0xFF);
      at += 4;
      return v;
    }

    /** A count of items to follow, each at least a byte long: one larger than what is left is cut short too. */
    int readCount() {
      int n = readInt();
      need(n);
      return n;
    }

    long readLong() {
      return ((long) readInt() << 32) | (readInt() & 0xFFFFFFFFL);
    }

    String readString() {
      int n = readInt();
      boolean utf8 = n < 0;
      if (utf8) n = -1 - n;
      need(n);
      String s = new String(a, at, n, utf8 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
      at += n;
      return s;
    }
  }

  private static CachedResponse fromBinary(Buffer meta, Buffer exactBody) {
    MetaBytes r = new MetaBytes(meta);
    r.readByte();
    int status = r.readInt();
    long storedAt = r.readLong(), ttl = r.readLong(), swr = r.readLong(), sie = r.readLong(), rv = r.readLong(), ia = r.readLong();
    int flags = r.readByte();
    int count = r.readCount();
    MultiMap hs = MultiMap.caseInsensitiveMultiMap();
    for (int i = 0; i < count; i++) hs.add(r.readString(), r.readString());
    List<String> varyNames = List.of();
    String varyValues = null;
    if ((flags & VARY) != 0) {
      int names = r.readCount();
      List<String> read = new ArrayList<>(names);
      for (int i = 0; i < names; i++) read.add(r.readString());
      varyNames = List.copyOf(read);
      varyValues = r.readString();
      if (varyNames.isEmpty()) varyValues = null;
    }
    CachedResponse read = new CachedResponse(status, hs, exactBody, storedAt, ttl, swr, sie, rv, (flags & PURGED) != 0, ia, varyNames, varyValues);
    if ((flags & LINKS_SCANNED) != 0) read.links = (flags & MAY_HOLD_LINKS) != 0 ? (byte) 1 : (byte) 2;
    return read;
  }

  /** {@link #fromMeta(Buffer, Buffer)} of a meta already parsed (a landed frame's, the event-bus API's). */
  public static CachedResponse fromMeta(JsonObject meta, Buffer body) {
    return fromMeta(meta.toBuffer(), body);
  }

  private static final JsonFactory JSON = new JsonFactory();

  /**
   * The entry a stored meta describes: {@link #storedMeta}'s binary form, or {@link #meta()}'s JSON bytes (entries an
   * earlier version stored, landed frames), read with Jackson's streaming parser straight into the fields (going
   * through a String and a {@link JsonObject} took ~11 % of an L2 hit's CPU). JSON fields it does not know are skipped.
   *
   * @param body kept as an exact copy (see the constructor)
   * @throws IllegalArgumentException when the meta is cut short, or is JSON that is not an object with status,
   *     storedAt and ttl
   */
  public static CachedResponse fromMeta(Buffer meta, Buffer body) {
    return fromStored(meta, body.copy());
  }

  /**
   * {@link #fromMeta(Buffer, Buffer)} keeping {@code exactBody} as it is: a buffer of its own whose array is exactly
   * its length, such as a Redis reply's bulk string (the client copies each out of its socket buffer).
   */
  static CachedResponse fromStored(Buffer meta, Buffer exactBody) {
    if (meta.length() > 0 && meta.getByte(0) == BINARY_META) return fromBinary(meta, exactBody);
    try (JsonParser p = parser(meta)) {
      if (p.nextToken() != JsonToken.START_OBJECT) throw new IllegalArgumentException("cache entry meta is not a JSON object");
      MultiMap hs = MultiMap.caseInsensitiveMultiMap();
      List<String> varyNames = List.of();
      String varyValues = null;
      Integer status = null;
      Long storedAt = null;
      Long ttl = null;
      long swr = 0, sie = 0, rv = 0, ia = 0;
      boolean purged = false;
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String field = p.currentName();
        JsonToken value = p.nextToken();
        if (value == JsonToken.VALUE_NULL) continue;
        switch (field) {
          case "status" -> status = p.getIntValue();
          case "storedAt" -> storedAt = p.getLongValue();
          case "ttl" -> ttl = p.getLongValue();
          case "swr" -> swr = p.getLongValue();
          case "sie" -> sie = p.getLongValue();
          case "rv" -> rv = p.getLongValue();
          case "ia" -> ia = p.getLongValue();
          case "purged" -> purged = p.getBooleanValue();
          case "vv" -> varyValues = p.getText();
          case "headers" -> readHeaders(p, hs);
          case "vn" -> varyNames = readStrings(p);
          default -> p.skipChildren();
        }
      }
      if (status == null || storedAt == null || ttl == null) throw new IllegalArgumentException("cache entry meta lacks status, storedAt or ttl");
      if (varyNames.isEmpty()) varyValues = null;
      return new CachedResponse(status, hs, exactBody, storedAt, ttl, swr, sie, rv, purged, ia, varyNames, varyValues);
    } catch (java.io.IOException e) {
      throw new IllegalArgumentException("cache entry meta is not JSON: " + e.getMessage(), e);
    }
  }

  private static JsonParser parser(Buffer meta) throws java.io.IOException {
    MetaBytes bytes = new MetaBytes(meta);
    return JSON.createParser(bytes.a, bytes.at, bytes.end - bytes.at);
  }

  /** {@code [["name","value"], ...]} */
  private static void readHeaders(JsonParser p, MultiMap into) throws java.io.IOException {
    if (p.currentToken() != JsonToken.START_ARRAY) throw new IllegalArgumentException("cache entry headers are not an array");
    while (p.nextToken() == JsonToken.START_ARRAY) {
      p.nextToken();
      String name = p.getText();
      p.nextToken();
      String value = p.getText();
      while (p.nextToken() != JsonToken.END_ARRAY) p.skipChildren();
      into.add(name, value);
    }
  }

  private static List<String> readStrings(JsonParser p) throws java.io.IOException {
    if (p.currentToken() != JsonToken.START_ARRAY) throw new IllegalArgumentException("cache entry vary names are not an array");
    List<String> out = new ArrayList<>();
    while (p.nextToken() != JsonToken.END_ARRAY) out.add(p.getText());
    return List.copyOf(out);
  }

  /** The event-bus API's JSON form: body as text when it is UTF-8 JSON/text, else base64. */
  public JsonObject toJson() {
    JsonObject j = meta();
    String type = headers.get("content-type");
    if (type == null || type.contains("json") || type.startsWith("text/")) j.put("body", body.toString());
    else j.put("bodyBase64", Base64.getEncoder().encodeToString(body.getBytes()));
    return j;
  }

  public static CachedResponse fromJson(JsonObject j) {
    Buffer body = j.containsKey("bodyBase64") ? Buffer.buffer(Base64.getDecoder().decode(j.getString("bodyBase64")))
        : Buffer.buffer(j.getString("body", ""));
    return fromMeta(j, body);
  }
}
