package io.tollgate.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestEncoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AsciiString;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpConnection;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP/1.1 codec of every upstream connection, in place of the one Vert.x installs (Netty's
 * {@link HttpClientCodec}), to keep two promises Vert.x 5.0 does not:
 * <ul>
 *   <li>an interim answer ({@code 1xx}) never ends an exchange. Vert.x knows 100 and 103 and takes any other
 *       {@code 1xx} (102 Processing, 104...) for the final answer, then fails the connection when the real one
 *       arrives; here every interim answer is dropped before Vert.x sees it, and the answer after it is the answer;</li>
 *   <li>an answer that breaks framing affects no other request. Bytes after an answer's end (a body longer than its
 *       {@code Content-Length}, data after the last chunk) would stay in the decoder and become the start of the next
 *       answer on the pooled connection: usually someone else's request, which would get a 502. Here they are
 *       dropped, and the answer is delivered as it framed itself but marked {@code Connection: close} before its
 *       end reaches Vert.x, so Vert.x closes the connection instead of pooling it. Bytes that arrive while no
 *       request is waiting close the connection at once.</li>
 * </ul>
 *
 * <p>Design note. Requests and answers pair in order on a connection (the client does not pipeline): the encoder
 * queues each request's method, and the decoder takes it off when the final answer's head arrives, so an answer to
 * HEAD has no body whatever its headers say, and interim answers take nothing. Netty's own client codec takes a
 * method for interim answers too, which would pair the next answer with the wrong request.
 *
 * <p>Installed by {@link #install} from the client's connect handler, before the connection carries a request.
 * That reaches into Vert.x's connection internals ({@code ConnectionBase}, the handler named {@code codec}); when
 * they are not as expected the connection keeps Vert.x's codec and {@link #install} says so once. Every method
 * runs on the connection's event loop.
 */
final class UpstreamCodec extends CombinedChannelDuplexHandler<UpstreamCodec.Decoder, UpstreamCodec.Encoder> {
  private static final Logger LOG = LoggerFactory.getLogger(UpstreamCodec.class);
  private static final String CODEC = "codec";
  private static volatile boolean warned;

  /** Methods of the requests sent whose final answer has not begun, oldest first. */
  private final ArrayDeque<HttpMethod> awaiting = new ArrayDeque<>();

  private UpstreamCodec(HttpDecoderConfig config) {
    init(new Decoder(config), new Encoder());
  }

  /**
   * Puts this codec in place of Vert.x's on an HTTP/1.x upstream connection; HTTP/2 connections are left alone.
   *
   * @param options the client's options: line, header and chunk limits as Vert.x would have used them
   */
  static void install(HttpConnection connection, HttpClientOptions options) {
    ChannelPipeline pipeline;
    try {
      pipeline = ((io.vertx.core.net.impl.ConnectionBase) connection).channelHandlerContext().pipeline();
    } catch (RuntimeException e) {
      warnOnce(connection);
      return;
    }
    // HTTP/2 connections have no codec of this name: their frames carry no interim answer Vert.x mistakes.
    ChannelHandler codec = pipeline.get(CODEC);
    if (codec instanceof HttpClientCodec) {
      HttpDecoderConfig config = new HttpDecoderConfig()
          .setMaxInitialLineLength(options.getMaxInitialLineLength())
          .setMaxHeaderSize(options.getMaxHeaderSize())
          .setMaxChunkSize(options.getMaxChunkSize())
          .setInitialBufferSize(options.getDecoderInitialBufferSize());
      pipeline.replace(CODEC, CODEC, new UpstreamCodec(config));
    } else if (codec != null && !(codec instanceof UpstreamCodec)) {
      warnOnce(connection);
    }
  }

  private static void warnOnce(HttpConnection connection) {
    if (warned) return;
    warned = true;
    LOG.warn("upstream connections keep Vert.x's HTTP/1.1 codec ({} is not as expected): an interim 1xx answer will end"
        + " its exchange", connection.getClass().getName());
  }

  /** Records each request's method as its head is written. */
  final class Encoder extends HttpRequestEncoder {
    @Override
    protected void encode(ChannelHandlerContext ctx, Object msg, List<Object> out) throws Exception {
      if (msg instanceof HttpRequest request) awaiting.addLast(request.method());
      super.encode(ctx, msg, out);
    }

    /**
     * The header block as Netty writes it ({@code name: value CRLF}, US-ASCII with {@code ?} for anything beyond
     * Latin-1), but each string copied as a block: Netty writes a {@code String} a byte at a time through the pooled
     * buffer's wrapper, which for the ~2 KB bearer token every request forwards took ~4 % of pass-through's CPU.
     */
    @Override
    protected void encodeHeaders(HttpHeaders headers, ByteBuf buf) {
      var entries = headers.iteratorCharSequence();
      while (entries.hasNext()) {
        var header = entries.next();
        writeAscii(buf, header.getKey());
        buf.writeShort(COLON_SPACE);
        writeAscii(buf, header.getValue());
        buf.writeShort(CRLF);
      }
    }
  }

  private static final int COLON_SPACE = (':' << 8) | ' ';
  private static final int CRLF = ('\r' << 8) | '\n';

  private static void writeAscii(ByteBuf buf, CharSequence text) {
    if (text instanceof AsciiString ascii) {
      buf.writeBytes(ascii.array(), ascii.arrayOffset(), ascii.length());
    } else if (text instanceof String string) {
      // Latin-1 strings are stored as bytes: this is a copy, and unmappable characters become '?' as in Netty.
      buf.writeBytes(string.getBytes(StandardCharsets.ISO_8859_1));
    } else {
      buf.writeCharSequence(text, StandardCharsets.US_ASCII);
    }
  }

  /**
   * Netty's response decoder, with interim answers dropped, HEAD answers paired by the queue above, and the bytes
   * after an answer's end checked. Netty calls {@link #decode} again for whatever a call leaves in the buffer, and an
   * answer's last content always ends a call: the check right after it sees exactly what followed the answer.
   */
  final class Decoder extends HttpResponseDecoder {
    /** An interim head was dropped: the empty last content Netty emits after it goes too. */
    private boolean droppingInterim;
    /** The head of the final answer being read, until its last content; null between answers. */
    private HttpResponse answer;
    /** Framing broke: everything that still arrives is dropped while the connection closes. */
    private boolean broken;

    Decoder(HttpDecoderConfig config) {
      super(config);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf buffer, List<Object> out) throws Exception {
      if (broken) {
        buffer.skipBytes(buffer.readableBytes());
        return;
      }
      if (answer == null && awaiting.isEmpty() && strayBytes(buffer)) {
        // Nothing asked for these: whatever they are, the next answer on this connection could not be trusted.
        LOG.debug("upstream sent bytes while no request was waiting: connection closed");
        broken = true;
        buffer.skipBytes(buffer.readableBytes());
        ctx.close();
        return;
      }
      int from = out.size();
      super.decode(ctx, buffer, out);
      for (int i = from; i < out.size(); i++) {
        Object message = out.get(i);
        if (message instanceof HttpResponse head && head.decoderResult().isSuccess()) {
          if (interim(head.status().code())) {
            out.remove(i--);
            droppingInterim = true;
            LOG.debug("upstream sent an interim {}: dropped, its final answer follows", head.status().code());
            continue;
          }
          awaiting.pollFirst();
          answer = head;
        }
        if (message instanceof LastHttpContent) {
          if (droppingInterim) {
            out.remove(i--);
            droppingInterim = false;
          } else if (answer != null) {
            ended(buffer);
          }
        }
      }
    }

    /** The final answer's last content was decoded: what is left in {@code buffer} came after its end. */
    private void ended(ByteBuf buffer) {
      HttpResponse head = answer;
      answer = null;
      if (!awaiting.isEmpty() || !strayBytes(buffer)) return;
      LOG.debug("upstream answer {} went on past its end: delivered as framed, connection closed", head.status().code());
      broken = true;
      buffer.skipBytes(buffer.readableBytes());
      // Read when the last content reaches Vert.x, which then closes the connection rather than pool it.
      head.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    }

    @Override
    protected boolean isContentAlwaysEmpty(HttpMessage msg) {
      int status = ((HttpResponse) msg).status().code();
      if (!interim(status) && HttpMethod.HEAD.equals(awaiting.peekFirst())) return true;
      return super.isContentAlwaysEmpty(msg);
    }
  }

  /**
   * True when {@code buffer} holds more than line ends: blank lines between messages are tolerated (Netty skips them
   * too), so they are consumed here and say nothing.
   */
  private static boolean strayBytes(ByteBuf buffer) {
    while (buffer.isReadable()) {
      byte b = buffer.getByte(buffer.readerIndex());
      if (b != '\r' && b != '\n') return true;
      buffer.skipBytes(1);
    }
    return false;
  }

  /** Every 1xx but 101 (Switching Protocols, which ends HTTP/1.1 on the connection; Tollgate never asks for it). */
  static boolean interim(int status) {
    return status >= 100 && status < 200 && status != 101;
  }
}
