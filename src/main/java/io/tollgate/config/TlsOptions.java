package io.tollgate.config;

import io.vertx.core.json.JsonObject;

/**
 * An optional TLS listener on the proxy port, YAML section {@code server.tls}: off by default. When on, the proxy port
 * speaks HTTPS only, with a certificate and key from PEM files ({@code certFile}, {@code keyFile}) or a self-signed
 * leaf certificate for {@code localhost}/{@code 127.0.0.1} that Tollgate generates at first start into
 * {@code selfSignedDir} and reuses while it is valid. The Graph SDKs need it: the Kiota-based ones and the JavaScript
 * client attach tokens to {@code https://} hosts only. Tollgate never edits a trust store; it logs the certificate's
 * path for the application to trust.
 */
public final class TlsOptions {
  /** Where a self-signed certificate ({@code cert.pem}) and its key ({@code key.pem}, mode 0600) are kept. */
  public static final String DEFAULT_SELF_SIGNED_DIR = "tollgate-tls";

  private boolean enabled;
  private String certFile;
  private String keyFile;
  private boolean selfSigned;
  private String selfSignedDir = DEFAULT_SELF_SIGNED_DIR;

  public TlsOptions() {}

  public TlsOptions(TlsOptions o) {
    enabled = o.enabled; certFile = o.certFile; keyFile = o.keyFile; selfSigned = o.selfSigned; selfSignedDir = o.selfSignedDir;
  }

  static TlsOptions read(ConfigReader r) {
    TlsOptions o = new TlsOptions();
    o.enabled = r.bool("enabled", false);
    o.certFile = blankToNull(r.string("certFile", null));
    o.keyFile = blankToNull(r.string("keyFile", null));
    o.selfSigned = r.bool("selfSigned", false);
    o.selfSignedDir = r.string("selfSignedDir", DEFAULT_SELF_SIGNED_DIR).trim();
    if (o.selfSignedDir.isEmpty()) r.problem("selfSignedDir", o.selfSignedDir, "a directory path");
    r.rejectUnknown();
    if (!o.enabled) return o;
    if (o.selfSigned) {
      if (o.certFile != null || o.keyFile != null) {
        r.problem("selfSigned", true, "false when certFile and keyFile are set (files or a self-signed certificate, not both)");
      }
    } else if (o.certFile == null) {
      r.problem("certFile", null, o.keyFile == null
          ? "a PEM certificate file (with keyFile), or selfSigned: true, when server.tls.enabled"
          : "a PEM certificate file to go with keyFile");
    } else if (o.keyFile == null) {
      r.problem("keyFile", null, "a PEM private key file to go with certFile");
    }
    return o;
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s.trim();
  }

  public JsonObject toJson() {
    JsonObject j = new JsonObject().put("enabled", enabled).put("selfSigned", selfSigned).put("selfSignedDir", selfSignedDir);
    if (certFile != null) j.put("certFile", certFile);
    if (keyFile != null) j.put("keyFile", keyFile);
    return j;
  }

  /** True: the proxy port speaks HTTPS (HTTP/1.1), and links rewritten to point at Tollgate say {@code https://}. */
  public boolean isEnabled() { return enabled; }
  public TlsOptions setEnabled(boolean enabled) { this.enabled = enabled; return this; }
  /** PEM file with the server certificate (then any intermediates); null with {@link #isSelfSigned()}. */
  public String getCertFile() { return certFile; }
  public TlsOptions setCertFile(String certFile) { this.certFile = certFile; return this; }
  /** PEM file with the unencrypted private key (PKCS#8, or PKCS#1 RSA) of the certificate. */
  public String getKeyFile() { return keyFile; }
  public TlsOptions setKeyFile(String keyFile) { this.keyFile = keyFile; return this; }
  /** Generate (first start) or reuse a self-signed leaf certificate for localhost, 127.0.0.1 and ::1. */
  public boolean isSelfSigned() { return selfSigned; }
  public TlsOptions setSelfSigned(boolean selfSigned) { this.selfSigned = selfSigned; return this; }
  public String getSelfSignedDir() { return selfSignedDir; }
  public TlsOptions setSelfSignedDir(String dir) { this.selfSignedDir = dir; return this; }
}
