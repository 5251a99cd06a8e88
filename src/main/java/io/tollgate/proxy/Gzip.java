package io.tollgate.proxy;

import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import java.util.zip.Inflater;

/**
 * The one gzip codec, and what a message's headers say about gzip. Coding and decoding are CPU-heavy: call them on
 * the worker pool, never on an event loop (the header checks are cheap). Decoding a whole body is bounded, so a
 * small compressed body cannot expand into the heap without limit.
 */
public final class Gzip {
  private Gzip() {}

  /** True when the headers say the body is gzip-encoded. */
  public static boolean encoded(MultiMap headers) {
    String encoding = headers.get("Content-Encoding");
    return encoding != null && (encoding.trim().equalsIgnoreCase("gzip") || encoding.trim().equalsIgnoreCase("x-gzip"));
  }

  /**
   * True when a client's request headers accept a gzip answer: {@code gzip} (or {@code x-gzip}) named in
   * {@code Accept-Encoding} with a weight above 0. Nothing else counts, neither {@code *} nor a missing header
   * (which HTTP reads as "anything"): a client that did not name gzip gets identity (SPEC §2).
   */
  public static boolean accepted(MultiMap requestHeaders) {
    for (String value : requestHeaders.getAll("Accept-Encoding")) {
      for (String part : value.split(",")) {
        int semi = part.indexOf(';');
        String coding = (semi < 0 ? part : part.substring(0, semi)).trim();
        if (coding.equalsIgnoreCase("gzip") || coding.equalsIgnoreCase("x-gzip")) return semi < 0 || weight(part.substring(semi + 1)) > 0;
      }
    }
    return false;
  }

  /** The {@code q} of a coding's parameters; 1 when absent, 0 when unreadable (refusing is the safe reading). */
  private static double weight(String parameters) {
    for (String p : parameters.split(";")) {
      String t = p.trim();
      if (t.length() < 2 || Character.toLowerCase(t.charAt(0)) != 'q' || t.charAt(1) != '=') continue;
      try {
        return Double.parseDouble(t.substring(2).trim());
      } catch (NumberFormatException e) {
        return 0;
      }
    }
    return 1;
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

  /**
   * Decodes a gzip body as it streams, chunk by chunk (RFC 1952; members one after another make one body). For an
   * answer too large to buffer that a client cannot take compressed. CPU-heavy like the rest of this class: feed it
   * on the worker pool, one chunk at a time, in order. Fails with {@link UncheckedIOException} on bytes that are not
   * gzip, a checksum that does not match, or a body that ends early.
   */
  public static final class Decoder implements BodyTransform {
    private static final int FHCRC = 2;
    private static final int FEXTRA = 4;
    private static final int FNAME = 8;
    private static final int FCOMMENT = 16;

    private enum State { HEADER, DATA, TRAILER, BETWEEN_MEMBERS }

    private final Inflater inflater = new Inflater(true);
    private final CRC32 crc = new CRC32();
    private final byte[] out = new byte[16 << 10];
    /** Header or trailer bytes split across chunks, kept until the rest arrives. */
    private byte[] held = new byte[0];
    private State state = State.HEADER;

    @Override
    public Buffer feed(Buffer chunk) {
      byte[] in = joined(chunk);
      held = new byte[0];
      Buffer decoded = Buffer.buffer(chunk.length() * 4);
      int pos = 0;
      while (pos < in.length) {
        switch (state) {
          case HEADER, BETWEEN_MEMBERS -> {
            int length = headerLength(in, pos);
            if (length < 0) return hold(in, pos, decoded);
            pos += length;
            inflater.reset();
            crc.reset();
            state = State.DATA;
          }
          case DATA -> pos = inflate(in, pos, decoded);
          case TRAILER -> {
            if (in.length - pos < 8) return hold(in, pos, decoded);
            if (le32(in, pos) != crc.getValue() || le32(in, pos + 4) != (inflater.getBytesWritten() & 0xffffffffL)) {
              throw corrupt("gzip checksum or length does not match the data");
            }
            pos += 8;
            state = State.BETWEEN_MEMBERS;
          }
        }
      }
      return decoded;
    }

    /** Nothing is held back once a member is complete; a body that stops inside one was cut short. */
    @Override
    public Buffer finish() {
      inflater.end();
      boolean empty = state == State.HEADER && held.length == 0;
      if (!empty && state != State.BETWEEN_MEMBERS) throw corrupt("gzip body ended early");
      return Buffer.buffer();
    }

    private byte[] joined(Buffer chunk) {
      if (held.length == 0) return chunk.getBytes();
      byte[] all = new byte[held.length + chunk.length()];
      System.arraycopy(held, 0, all, 0, held.length);
      chunk.getBytes(all, held.length);
      return all;
    }

    private Buffer hold(byte[] in, int pos, Buffer decoded) {
      held = java.util.Arrays.copyOfRange(in, pos, in.length);
      return decoded;
    }

    /** Inflates from {@code pos}; @return where the member's trailer starts, or the end of the input. */
    private int inflate(byte[] in, int pos, Buffer decoded) {
      inflater.setInput(in, pos, in.length - pos);
      try {
        while (true) {
          int n = inflater.inflate(out);
          if (n > 0) {
            crc.update(out, 0, n);
            decoded.appendBytes(out, 0, n);
          }
          if (inflater.finished()) {
            state = State.TRAILER;
            return in.length - inflater.getRemaining();
          }
          if (inflater.needsDictionary()) throw corrupt("gzip data asks for a preset dictionary");
          if (n == 0 && inflater.needsInput()) return in.length;
        }
      } catch (DataFormatException e) {
        throw corrupt("gzip data is corrupt: " + e.getMessage());
      }
    }

    /** @return the length of the member header at {@code pos}, or -1 when it is not all here yet */
    private static int headerLength(byte[] in, int pos) {
      int end = in.length;
      if (end - pos < 10) return -1;
      if (in[pos] != (byte) 0x1f || in[pos + 1] != (byte) 0x8b || in[pos + 2] != 8) throw corrupt("not a gzip body");
      int flags = in[pos + 3];
      int p = pos + 10;
      if ((flags & FEXTRA) != 0) {
        if (end - p < 2) return -1;
        p += 2 + ((in[p] & 0xff) | (in[p + 1] & 0xff) << 8);
      }
      if ((flags & FNAME) != 0) p = afterZero(in, p);
      if (p >= 0 && (flags & FCOMMENT) != 0) p = afterZero(in, p);
      if (p >= 0 && (flags & FHCRC) != 0) p += 2;
      return p < 0 || p > end ? -1 : p - pos;
    }

    private static int afterZero(byte[] in, int from) {
      for (int i = from; i < in.length; i++) if (in[i] == 0) return i + 1;
      return -1;
    }

    private static long le32(byte[] in, int p) {
      return (in[p] & 0xffL) | (in[p + 1] & 0xffL) << 8 | (in[p + 2] & 0xffL) << 16 | (in[p + 3] & 0xffL) << 24;
    }

    private static UncheckedIOException corrupt(String why) {
      return new UncheckedIOException(new IOException(why));
    }
  }
}
