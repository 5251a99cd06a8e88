package io.tollgate.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

/** The gzip codec: what a client accepts, and the streaming decoder fed however the network splits a body. */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class GzipTest {
  static final byte[] JSON = "{\"value\":[{\"id\":\"u1\",\"displayName\":\"Adele Vance\"}],\"@odata.nextLink\":\"x\"}"
      .repeat(200).getBytes(StandardCharsets.UTF_8);

  @Test
  void a_client_accepts_gzip_only_when_it_names_it_with_a_weight_above_zero() {
    assertTrue(accepts("gzip"));
    assertTrue(accepts("br, GZIP;q=0.5"));
    assertTrue(accepts("x-gzip"));
    assertTrue(accepts("deflate, gzip ; q=1"));
    assertFalse(accepts(null), "no header: identity (SPEC: never gzip unless asked)");
    assertFalse(accepts("identity"));
    assertFalse(accepts("*"));
    assertFalse(accepts("br"));
    assertFalse(accepts("gzip;q=0"));
    assertFalse(accepts("gzip;q=0.000"));
    assertFalse(accepts("gzip;q=nonsense"));
  }

  @Test
  void a_body_decodes_the_same_however_it_is_split() {
    byte[] packed = gzip(JSON);
    for (int size : new int[] {1, 2, 7, 10, 11, 64, 1000, packed.length}) {
      assertEquals(new String(JSON, StandardCharsets.UTF_8), decodeInChunks(packed, size), "chunks of " + size);
    }
  }

  @Test
  void incompressible_bytes_and_optional_header_fields_decode() throws IOException {
    byte[] random = new byte[300_000];
    new SplittableRandom(7).nextBytes(random);
    assertEquals(Buffer.buffer(random), Buffer.buffer(decodeBytes(gzip(random), 16 << 10)));
    // FEXTRA, FNAME, FCOMMENT and FHCRC, which GZIPOutputStream never writes but other servers may.
    byte[] plain = "hello".getBytes(StandardCharsets.UTF_8);
    ByteArrayOutputStream member = new ByteArrayOutputStream();
    member.write(new byte[] {0x1f, (byte) 0x8b, 8, 2 | 4 | 8 | 16, 0, 0, 0, 0, 0, (byte) 0xff});
    member.write(new byte[] {3, 0, 'a', 'b', 'c'});
    member.write("name.json\0".getBytes(StandardCharsets.ISO_8859_1));
    member.write("a comment\0".getBytes(StandardCharsets.ISO_8859_1));
    member.write(new byte[] {0, 0});
    member.write(rawDeflate(plain));
    java.util.zip.CRC32 crc = new java.util.zip.CRC32();
    crc.update(plain);
    member.write(le32(crc.getValue()));
    member.write(le32(plain.length));
    for (int size : new int[] {1, 3, 100}) assertEquals("hello", decodeInChunks(member.toByteArray(), size));
  }

  @Test
  void members_one_after_another_are_one_body() {
    byte[] two = Buffer.buffer(gzip("first ".getBytes(StandardCharsets.UTF_8))).appendBytes(gzip("second".getBytes(StandardCharsets.UTF_8))).getBytes();
    assertEquals("first second", decodeInChunks(two, 5));
  }

  @Test
  void an_empty_body_labelled_gzip_is_empty() {
    Gzip.Decoder d = new Gzip.Decoder();
    assertEquals(0, d.finish().length());
  }

  @Test
  void a_cut_short_corrupt_or_foreign_body_fails_rather_than_pass_for_whole() {
    byte[] packed = gzip(JSON);
    byte[] cut = java.util.Arrays.copyOf(packed, packed.length - 3);
    assertThrows(UncheckedIOException.class, () -> decodeInChunks(cut, 100), "trailer missing");
    byte[] badCrc = packed.clone();
    badCrc[badCrc.length - 6] ^= 1;
    assertThrows(UncheckedIOException.class, () -> decodeInChunks(badCrc, 100), "checksum");
    assertThrows(UncheckedIOException.class, () -> decodeInChunks(JSON, 100), "not gzip at all");
  }

  static boolean accepts(String acceptEncoding) {
    MultiMap h = MultiMap.caseInsensitiveMultiMap();
    if (acceptEncoding != null) h.add("Accept-Encoding", acceptEncoding);
    return Gzip.accepted(h);
  }

  static String decodeInChunks(byte[] packed, int size) {
    return new String(decodeBytes(packed, size), StandardCharsets.UTF_8);
  }

  static byte[] decodeBytes(byte[] packed, int size) {
    Gzip.Decoder d = new Gzip.Decoder();
    Buffer out = Buffer.buffer();
    for (int i = 0; i < packed.length; i += size) {
      out.appendBuffer(d.feed(Buffer.buffer(packed).getBuffer(i, Math.min(packed.length, i + size))));
    }
    out.appendBuffer(d.finish());
    return out.getBytes();
  }

  static byte[] gzip(byte[] plain) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
      gz.write(plain);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  static byte[] rawDeflate(byte[] plain) {
    Deflater deflater = new Deflater(Deflater.DEFAULT_COMPRESSION, true);
    deflater.setInput(plain);
    deflater.finish();
    byte[] buf = new byte[1024];
    int n = deflater.deflate(buf);
    deflater.end();
    return java.util.Arrays.copyOf(buf, n);
  }

  static byte[] le32(long v) {
    return new byte[] {(byte) v, (byte) (v >> 8), (byte) (v >> 16), (byte) (v >> 24)};
  }
}
