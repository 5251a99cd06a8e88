package io.tollgate.graph;

import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;

/**
 * Rewrites {@code @odata.nextLink} / {@code @odata.deltaLink} values (at any nesting, inside {@code $batch}
 * sub-responses too) and {@code Location}/{@code Content-Location} headers that point at the upstream origin
 * so that they point at the gateway: paging then stays behind the cache and the limiter. Links to any other
 * origin are left alone, since Tollgate only ever contacts the configured upstream.
 *
 * <p>Works on a stream chunk by chunk: a small state machine recognises
 * {@code "@odata.nextLink"<ws>:<ws>"<upstream origin>} across chunk boundaries and holds back at most the
 * length of that pattern, so memory stays bounded whatever the body size. Not thread-safe: one
 * {@link Stream} per response.
 */
public final class LinkRewriter {
  private static final byte[][] KEYS = {
      "\"@odata.nextLink\"".getBytes(StandardCharsets.US_ASCII),
      "\"@odata.deltaLink\"".getBytes(StandardCharsets.US_ASCII)};

  private static final int MAX_HELD = 256;

  private final String upstreamOrigin;
  private final byte[] origin;

  /** @param upstreamOrigin {@code scheme://host[:port]} as configured, without trailing slash */
  public LinkRewriter(String upstreamOrigin) {
    this.upstreamOrigin = upstreamOrigin;
    this.origin = upstreamOrigin.getBytes(StandardCharsets.US_ASCII);
  }

  /**
   * Cheap pre-check so bodies without paging links (most cache hits) skip the byte-by-byte pass.
   * Looks for {@code @odata.} followed by {@code nextLink} or {@code deltaLink}.
   */
  public static boolean mayContainLinks(Buffer body) {
    int n = body.length() - 16;
    for (int i = 0; i < n; i++) {
      if (body.getByte(i) == '@' && body.getByte(i + 1) == 'o' && body.getByte(i + 6) == '.'
          && (body.getByte(i + 7) == 'n' || body.getByte(i + 7) == 'd') && body.getByte(i + 11) == 'L') return true;
    }
    return false;
  }

  /** @return the header value pointing at the gateway, or the value itself when it points elsewhere */
  public String rewriteHeader(String value, String gatewayOrigin) {
    if (value == null || !value.startsWith(upstreamOrigin)) return value;
    if (value.length() > upstreamOrigin.length() && value.charAt(upstreamOrigin.length()) != '/'
        && value.charAt(upstreamOrigin.length()) != '?') return value;
    return gatewayOrigin + value.substring(upstreamOrigin.length());
  }

  /** Rewrites a whole buffered JSON body. */
  public Buffer rewrite(Buffer body, String gatewayOrigin) {
    Stream s = stream(gatewayOrigin);
    Buffer out = s.feed(body);
    return out.appendBuffer(s.finish());
  }

  public Stream stream(String gatewayOrigin) {
    return new Stream(gatewayOrigin.getBytes(StandardCharsets.US_ASCII));
  }

  /** One response's rewriting state. */
  public final class Stream {
    private enum State { SCAN, KEY, AFTER_KEY, AFTER_COLON, VALUE }

    private final byte[] replacement;
    /** Bytes that may still turn out to be a link key, held back; bounded by {@link #MAX_HELD}. */
    private final java.io.ByteArrayOutputStream held = new java.io.ByteArrayOutputStream(64);
    private State state = State.SCAN;
    private int key = -1;
    private int matched;

    private Stream(byte[] replacement) {
      this.replacement = replacement;
    }

    /** @return the bytes that can be sent now (possibly empty); the rest is held until the next chunk */
    public Buffer feed(Buffer chunk) {
      Buffer out = Buffer.buffer(chunk.length() + 32);
      int n = chunk.length();
      for (int i = 0; i < n; i++) step(chunk.getByte(i), out);
      return out;
    }

    /** @return whatever was held back at the end of the body */
    public Buffer finish() {
      Buffer out = Buffer.buffer(held.toByteArray());
      held.reset();
      reset();
      return out;
    }

    private void step(byte b, Buffer out) {
      switch (state) {
        case SCAN -> {
          if (b == '"') {
            state = State.KEY;
            key = -1;
            matched = 1;
            held.write(b);
          } else {
            out.appendByte(b);
          }
        }
        case KEY -> {
          held.write(b);
          if (key < 0) {
            for (int k = 0; k < KEYS.length; k++) {
              if (matched < KEYS[k].length && KEYS[k][matched] == b && prefixMatches(k)) {
                key = k;
                break;
              }
            }
            if (key < 0) {
              flush(out);
              return;
            }
          } else if (matched >= KEYS[key].length || KEYS[key][matched] != b) {
            key = otherKey(b);
            if (key < 0) {
              flush(out);
              return;
            }
          }
          matched++;
          if (matched == KEYS[key].length) state = State.AFTER_KEY;
        }
        case AFTER_KEY -> {
          held.write(b);
          if (b == ':') state = State.AFTER_COLON;
          else if (!isSpace(b) || held.size() > MAX_HELD) flush(out);
        }
        case AFTER_COLON -> {
          held.write(b);
          if (b == '"') {
            state = State.VALUE;
            matched = 0;
          } else if (!isSpace(b) || held.size() > MAX_HELD) {
            flush(out);
          }
        }
        case VALUE -> {
          if (b == origin[matched]) {
            matched++;
            if (matched == origin.length) {
              out.appendBytes(held.toByteArray());
              out.appendBytes(replacement);
              held.reset();
              reset();
            }
          } else {
            out.appendBytes(held.toByteArray());
            out.appendBytes(origin, 0, matched);
            held.reset();
            reset();
            step(b, out);
          }
        }
        default -> out.appendByte(b);
      }
    }

    private boolean prefixMatches(int k) {
      byte[] h = held.toByteArray();
      for (int i = 0; i < matched; i++) if (h[i] != KEYS[k][i]) return false;
      return true;
    }

    private int otherKey(byte b) {
      for (int k = 0; k < KEYS.length; k++) {
        if (matched < KEYS[k].length && KEYS[k][matched] == b && prefixMatches(k)) return k;
      }
      return -1;
    }

    /** The held bytes are not a link after all: send them, but re-scan the last one (it may open a string). */
    private void flush(Buffer out) {
      byte[] h = held.toByteArray();
      out.appendBytes(h, 0, h.length - 1);
      held.reset();
      reset();
      step(h[h.length - 1], out);
    }

    private void reset() {
      state = State.SCAN;
      key = -1;
      matched = 0;
    }

    private boolean isSpace(byte b) {
      return b == ' ' || b == '\t' || b == '\n' || b == '\r';
    }
  }
}
