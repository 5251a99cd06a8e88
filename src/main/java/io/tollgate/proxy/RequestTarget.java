package io.tollgate.proxy;

/**
 * Confines what a client may ask the upstream for. Only origin-form targets ({@code /path?query}) are
 * accepted; absolute-form ({@code http://other.example/x}), the asterisk form ({@code *}), dot segments
 * ({@code .}, {@code ..}, also percent-encoded or hidden behind an encoded slash) and malformed
 * percent-encoding get a Graph-shaped 400 before anything else runs. What passes is forwarded as the
 * normalised path the cache keys on ({@link RequestPath#normalise}), so the upstream never receives a
 * request other than the one Tollgate reasoned about.
 */
public final class RequestTarget {
  static final GatewayException NOT_ORIGIN_FORM = new GatewayException(400, "BadRequest",
      "Only origin-form request targets (/path?query) are accepted.", null);
  static final GatewayException DOT_SEGMENT = new GatewayException(400, "BadRequest",
      "The request path may not contain . or .. segments.", null);
  static final GatewayException BAD_ENCODING = new GatewayException(400, "BadRequest",
      "The request target is not valid percent-encoding.", null);

  private RequestTarget() {}

  /** @return why the target is refused, or null when it may be forwarded */
  public static GatewayException refusal(String uri) {
    if (uri == null || uri.isEmpty() || uri.charAt(0) != '/' || uri.startsWith("//")) return NOT_ORIGIN_FORM;
    int q = uri.indexOf('?');
    int end = q < 0 ? uri.length() : q;
    int segment = 1;
    for (int i = 1; i <= end; i++) {
      if (i == end || uri.charAt(i) == '/') {
        GatewayException e = checkSegment(uri, segment, i);
        if (e != null) return e;
        segment = i + 1;
      }
    }
    if (q >= 0 && !validEscapes(uri, q + 1, uri.length())) return BAD_ENCODING;
    return null;
  }

  private static GatewayException checkSegment(String uri, int from, int to) {
    boolean plain = true;
    for (int i = from; i < to; i++) {
      char c = uri.charAt(i);
      if (c == '%') plain = false;
      else if (c == '\\' || c < 0x21 || c == 0x7f) return BAD_ENCODING;
    }
    if (plain) return isDots(uri, from, to) ? DOT_SEGMENT : null;
    if (!validEscapes(uri, from, to)) return BAD_ENCODING;
    String decoded = decode(uri, from, to);
    // An encoded slash or backslash would let an upstream that decodes it see extra segments: judge those too.
    int start = 0;
    for (int i = 0; i <= decoded.length(); i++) {
      if (i == decoded.length() || decoded.charAt(i) == '/' || decoded.charAt(i) == '\\') {
        if (isDots(decoded, start, i)) return DOT_SEGMENT;
        start = i + 1;
      }
    }
    return null;
  }

  private static boolean isDots(String s, int from, int to) {
    int n = to - from;
    return (n == 1 && s.charAt(from) == '.') || (n == 2 && s.charAt(from) == '.' && s.charAt(from + 1) == '.');
  }

  private static boolean validEscapes(String s, int from, int to) {
    for (int i = from; i < to; i++) {
      if (s.charAt(i) != '%') continue;
      if (i + 2 >= to || hex(s.charAt(i + 1)) < 0 || hex(s.charAt(i + 2)) < 0) return false;
      i += 2;
    }
    return true;
  }

  private static String decode(String s, int from, int to) {
    StringBuilder out = new StringBuilder(to - from);
    for (int i = from; i < to; i++) {
      char c = s.charAt(i);
      if (c == '%') {
        out.append((char) (hex(s.charAt(i + 1)) * 16 + hex(s.charAt(i + 2))));
        i += 2;
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }

  private static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
}
