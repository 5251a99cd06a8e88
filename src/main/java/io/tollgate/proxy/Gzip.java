package io.tollgate.proxy;

import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

/**
 * The one gzip codec. CPU-heavy: call it on the worker pool, never on an event loop. Decoding is bounded,
 * so a small compressed body cannot expand into the heap without limit.
 */
public final class Gzip {
  private Gzip() {}

  /** True when the headers say the body is gzip-encoded. */
  public static boolean encoded(MultiMap headers) {
    String encoding = headers.get("Content-Encoding");
    return encoding != null && (encoding.trim().equalsIgnoreCase("gzip") || encoding.trim().equalsIgnoreCase("x-gzip"));
  }

  public static Buffer compress(Buffer plain) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(plain.length() / 4 + 64);
    try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
      gz.write(plain.getBytes());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return Buffer.buffer(out.toByteArray());
  }

  /**
   * @param maxBytes the largest decoded size accepted
   * @throws UncheckedIOException when the body is not gzip or decodes past {@code maxBytes}
   */
  public static Buffer decompress(Buffer packed, long maxBytes) {
    try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(packed.getBytes()))) {
      Buffer out = Buffer.buffer(Math.max(64, packed.length() * 4));
      byte[] chunk = new byte[16 << 10];
      for (int n; (n = in.read(chunk)) > 0; ) {
        out.appendBytes(chunk, 0, n);
        if (out.length() > maxBytes) throw new IOException("decoded body larger than " + maxBytes + " bytes");
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
