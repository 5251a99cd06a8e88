package io.tollgate.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.azure.core.credential.AccessToken;
import com.azure.core.credential.TokenCredential;
import com.microsoft.graph.core.requests.GraphClientFactory;
import com.microsoft.graph.serviceclient.GraphServiceClient;
import com.microsoft.kiota.authentication.AzureIdentityAuthenticationProvider;
import io.tollgate.sim.SimulatorOptions;
import io.tollgate.testing.GatewayHarness;
import io.tollgate.testing.LogCapture;
import io.tollgate.testing.TrustOnly;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.util.HashSet;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Mono;

/**
 * The official Graph Java SDK as the README tells an application to set it up against Tollgate's TLS listener: base
 * URL {@code https://127.0.0.1:<port>/v1.0}, Kiota's own token handling ({@link AzureIdentityAuthenticationProvider},
 * which attaches the token to allowed hosts only) with {@code 127.0.0.1} allowed, and an OkHttp client that trusts
 * only the certificate Tollgate generated. No test-only authentication shortcut: what works here works in an app.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class GraphSdkOverTlsTest {
  /** What a credential (Azure Identity) hands Kiota: the access token without its scheme. */
  static final String ACCESS_TOKEN = GraphSdkConformanceTest.TOKEN.substring("Bearer ".length());

  @TempDir Path dir;
  GatewayHarness harness;
  OkHttpClient http;
  final GraphSdkConformanceTest.Wire wire = new GraphSdkConformanceTest.Wire();

  @AfterEach
  void stop() {
    if (http != null) {
      http.dispatcher().executorService().shutdown();
      http.connectionPool().evictAll();
    }
    if (harness != null) harness.close();
  }

  @Test
  @Timeout(60)
  void a_page_iterator_over_https_sends_the_token_on_every_page_and_every_page_goes_through_the_gateway() throws Exception {
    int users = 300;
    int pages = users / 20;
    harness = GatewayHarness.builder().simulator(new SimulatorOptions().setUsers(users).setPageSize(20))
        .config(new JsonObject().put("server", new JsonObject().put("tls", new JsonObject()
            .put("enabled", true).put("selfSigned", true).put("selfSignedDir", dir.resolve("tls").toString()))))
        .start();
    int port = harness.gateway().proxyPort();
    Path cert = harness.gateway().proxyCertificate().certFile();

    try (LogCapture logs = new LogCapture()) {
      List<String> ids = GraphSdkConformanceTest.walkUsers(sdk(cert, "127.0.0.1", "https://127.0.0.1:" + port + "/v1.0"));
      assertEquals(users, ids.size(), "one callback per user");
      assertEquals(users, new HashSet<>(ids).size(), "no user twice");
      assertEquals(false, logs.all().contains(GraphSdkConformanceTest.signature(GraphSdkConformanceTest.TOKEN)),
          "the token never appears in the logs");
    }
    assertEquals(pages, harness.sim().stats().count("GET /v1.0/users"), "each page fetched upstream once");
    assertEquals(pages, wire.exchanges.size(), wire.describe());
    for (GraphSdkConformanceTest.Wire.Exchange e : wire.exchanges) {
      assertEquals("https", e.request().url().scheme(), e.url());
      assertEquals("127.0.0.1", e.request().url().host(), "every page, nextLinks included, went to the gateway: " + e.url());
      assertEquals(port, e.port(), e.url());
      assertEquals("Bearer " + ACCESS_TOKEN, e.request().header("Authorization"), "the SDK's token handler sent the token: " + e.url());
      assertEquals(200, e.status(), e.url());
    }

    // The same SDK without 127.0.0.1 among its allowed hosts: Kiota sends no token at all (and the simulator, like an
    // anonymous Graph endpoint in a test, still answers), which is why the README lists the allowed host.
    wire.exchanges.clear();
    http.connectionPool().evictAll();
    GraphServiceClient unlisted = sdk(cert, "graph.microsoft.com", "https://127.0.0.1:" + port + "/v1.0");
    unlisted.users().byUserId("u1").get();
    assertEquals(1, wire.exchanges.size(), wire.describe());
    assertNull(wire.exchanges.peek().request().header("Authorization"), "no token for a host that is not allowed");
  }

  /** The SDK as the README sets it up: Kiota's token handling with {@code allowedHost}, trusting only {@code cert}. */
  GraphServiceClient sdk(Path cert, String allowedHost, String baseUrl) throws Exception {
    X509TrustManager trust = TrustOnly.trustManager(cert);
    SSLContext tls = SSLContext.getInstance("TLS");
    tls.init(null, new TrustManager[] {trust}, null);
    if (http == null) {
      http = GraphClientFactory.create().sslSocketFactory(tls.getSocketFactory(), trust).addNetworkInterceptor(wire).build();
    }
    TokenCredential credential = request -> Mono.just(new AccessToken(ACCESS_TOKEN, OffsetDateTime.now().plusHours(1)));
    var auth = new AzureIdentityAuthenticationProvider(credential, new String[] {allowedHost},
        "https://graph.microsoft.com/.default");
    GraphServiceClient graph = new GraphServiceClient(auth, http);
    graph.getRequestAdapter().setBaseUrl(baseUrl);
    return graph;
  }
}
