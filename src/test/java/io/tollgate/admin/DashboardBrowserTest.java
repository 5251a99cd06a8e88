package io.tollgate.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.tollgate.sim.SimulatorOptions;
import io.tollgate.sim.Tokens;
import io.tollgate.testing.Await;
import io.tollgate.testing.GatewayHarness;
import io.tollgate.testing.LogCapture;
import io.vertx.core.json.JsonObject;
import java.io.File;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

/**
 * The dashboard in a real browser (issue 15 items 1 and 2): Debian's headless {@code chromium} driven through its
 * {@code chromedriver} opens {@code GET /} on the management port, traffic goes through the proxy, and the figures
 * on the page follow: L1 hits and calls avoided rise from 0, the route and the tenant get their rows, and an
 * upstream 429 shows up as a {@code throttled} event. The page is saved as {@code target/dashboard.png} (the
 * README's screenshot is a copy of it).
 *
 * <p>Without chromium or chromedriver the test fails, saying how to install them ({@code .ci/run} does); it never
 * skips. Both paths are explicit, so Selenium Manager never looks for a driver on the network. Every wait polls the
 * DOM with {@link Await}, with timeouts meant for a loaded two-core machine.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class DashboardBrowserTest {
  static final Path CHROMIUM = Paths.get(System.getProperty("tollgate.test.chromium", "/usr/bin/chromium"));
  static final Path CHROMEDRIVER = Paths.get(System.getProperty("tollgate.test.chromedriver", "/usr/bin/chromedriver"));
  static final Path SCREENSHOT = Paths.get("target", "dashboard.png");
  static final Duration PATIENCE = Duration.ofSeconds(30);
  static final String ADMIN = "dashboard-admin-token-0123456789";
  static final String TID_A = "aaaaaaaa-1111-4111-8111-00000000000a";
  static final String TID_B = "bbbbbbbb-2222-4222-8222-00000000000b";

  GatewayHarness harness;
  ChromeDriver browser;
  Path profile;
  /** The test got as far as its screenshot. */
  boolean saved;

  @AfterEach
  void stop() throws Exception {
    try {
      if (browser != null && !saved) {
        // What the page showed when the test failed, beside the surefire report.
        Files.copy(browser.getScreenshotAs(OutputType.FILE).toPath(), Paths.get("target", "dashboard-failed.png"),
            StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      try {
        if (browser != null) browser.quit();
      } finally {
        if (harness != null) harness.close();
        if (profile != null) {
          try (Stream<Path> files = Files.walk(profile)) {
            files.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
          }
        }
      }
    }
  }

  static String token(String tid) {
    return Tokens.issue(new JsonObject().put("tid", tid).put("appid", "dashboard-app").put("oid", "user-" + tid.charAt(0)));
  }

  @Test
  void the_page_follows_hits_calls_avoided_tenants_and_events_live() throws Exception {
    requireBrowser();
    String alice = token(TID_A);
    String bob = token(TID_B);
    try (LogCapture logs = new LogCapture()) {
      // A hidden upstream budget of 4 units at once and 8 a second per tenant (a user read costs 1): alice's 4 reads
      // fit, bob's 9 at once after his first cannot, whatever the machine's speed.
      harness = GatewayHarness.builder()
          .simulator(new SimulatorOptions().setThrottleRate(8).setThrottleBurst(4).setRetryAfter(Duration.ofSeconds(1)))
          .gateway(o -> {
            o.getManagement().setAdminToken(ADMIN);
            o.getCache().setStatsInterval(Duration.ofMillis(250));
            o.getEconomics().setTenantAliases(Map.of(TID_A, "contoso"));
          }).start();
      browser = open(harness.management() + "/");
      Await.until(() -> "live".equals(text("live")) && browser.findElement(By.tagName("body")).getDomAttribute("data-updated") != null,
          PATIENCE, "the page is connected to /dashboard/events and has drawn a state");
      Await.until(() -> !"–".equals(text("l1-hit-rate")), PATIENCE, "the first statistics message is drawn");
      assertEquals(0, number("l1-hits"), "no traffic yet");
      assertEquals(0, number("calls-avoided"));

      // Misses, then hits: 4 users read once from the upstream, then twice each from L1.
      for (int round = 0; round < 3; round++) {
        for (int u = 1; u <= 4; u++) {
          HttpResponse<String> r = harness.getAs(alice, "/v1.0/users/u" + u);
          assertEquals(200, r.statusCode(), r.body());
          assertEquals(round == 0 ? "MISS" : "HIT-L1", GatewayHarness.xCache(r), "round " + round + ", user " + u);
        }
      }
      Await.until(() -> number("l1-hits") == 8 && number("calls-avoided") == 8 && number("calls-made") == 4, PATIENCE,
          "L1 hits 8, calls avoided 8 and made 4 on the page");
      assertEquals(4, number("l1-misses"));
      assertEquals("66.7 %", text("l1-hit-rate"));
      // A request is timed (and booked to its tenant) as its answer ends, a moment after the client has it.
      List<String> user = List.of("user", "12", "8", "0", "0", "0", "4", "0");
      Await.until(() -> cells("routes", "user").size() > 8 && cells("routes", "user").subList(0, 8).equals(user), PATIENCE,
          "the route 'user' shows requests 12, L1 8, L2 0, stale 0, revalidated 0, miss 4, bypass 0 (page: "
          + cells("routes", "user") + ")");
      Await.until(() -> cells("tenants", "contoso").size() > 3 && cells("tenants", "contoso").subList(0, 4)
          .equals(List.of("contoso", "interactive", "8", "4")), PATIENCE,
          "the tenant 'contoso' shows 8 reads from the cache and 4 from the upstream");

      // A burst past the hidden budget: the upstream answers 429, Tollgate absorbs it and the page says so.
      // Bob's first read goes alone (his token is verified by it), then 9 at once against at most 4 units.
      assertEquals(200, harness.getAs(bob, "/v1.0/users/u10").statusCode());
      List<CompletableFuture<HttpResponse<String>>> burst = new ArrayList<>();
      for (int i = 0; i < 9; i++) burst.add(harness.send("GET", "/v1.0/users/u" + (11 + i), "Authorization", bob));
      for (CompletableFuture<HttpResponse<String>> f : burst) assertEquals(200, f.get().statusCode(), "absorbed, not passed on");
      assertTrue(harness.sim().stats().throttled() > 0, "the upstream did throttle");
      Await.until(() -> !browser.findElements(By.cssSelector("#events .type.throttled")).isEmpty(), PATIENCE,
          "a 'throttled' event on the page");
      Await.until(() -> number("upstream-throttled") > 0 && number("absorbed") > 0, PATIENCE,
          "upstream 429s and 429s absorbed counted on the page");
      Await.until(() -> number("calls-made") >= 14, PATIENCE, "bob's calls counted as made");
      assertFalse(browser.findElements(By.cssSelector("#budgets tr")).isEmpty(), "the shipped profile's budgets are listed");

      String page = browser.getPageSource();
      for (String secret : new String[] {ADMIN, alice.substring(7), bob.substring(7), TID_A, TID_B}) {
        assertFalse(page.contains(secret), "the page shows no token, admin token or tenant id");
      }
      screenshot();
      assertFalse(logs.all().contains(alice.substring(7)), "no token in the logs");
      assertFalse(logs.all().contains(bob.substring(7)), "no token in the logs");
    }
  }

  /** Fails (never skips) when the browser is missing: the test is part of {@code mvn -B verify}. */
  static void requireBrowser() {
    if (!Files.isExecutable(CHROMIUM) || !Files.isExecutable(CHROMEDRIVER)) {
      fail("DashboardBrowserTest needs Debian's headless browser: " + CHROMIUM + (Files.isExecutable(CHROMIUM) ? " found" : " MISSING")
          + ", " + CHROMEDRIVER + (Files.isExecutable(CHROMEDRIVER) ? " found" : " MISSING")
          + ". Install them with: apt-get install -y chromium chromium-driver (.ci/run does when they are missing).");
    }
  }

  ChromeDriver open(String url) throws Exception {
    profile = Files.createTempDirectory("tollgate-chromium-");
    ChromeOptions options = new ChromeOptions().setBinary(CHROMIUM.toFile())
        .addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
            "--window-size=1280,1180", "--user-data-dir=" + profile.toAbsolutePath());
    ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile())
        .usingAnyFreePort().withLogFile(Paths.get("target", "chromedriver.log").toFile()).build();
    ChromeDriver driver = new ChromeDriver(service, options);
    driver.manage().timeouts().pageLoadTimeout(PATIENCE).scriptTimeout(PATIENCE);
    driver.get(url);
    return driver;
  }

  String text(String id) {
    return browser.findElement(By.id(id)).getText().trim();
  }

  /** A count on the page ({@code 1,234} → 1234). */
  long number(String id) {
    String t = text(id).replace(",", "");
    return t.isEmpty() || t.equals("–") ? -1 : Long.parseLong(t);
  }

  /**
   * The cells of the row of table body {@code tbodyId} whose first cell is {@code first}; empty when there is none.
   * Read in one script: the page redraws its tables with every statistics message.
   */
  @SuppressWarnings("unchecked")
  List<String> cells(String tbodyId, String first) {
    Object cells = browser.executeScript("var rows = document.querySelectorAll('#' + arguments[0] + ' tr');"
        + "for (var i = 0; i < rows.length; i++) {"
        + "  var tds = rows[i].querySelectorAll('td');"
        + "  if (tds.length && tds[0].textContent.trim() === arguments[1])"
        + "    return Array.prototype.map.call(tds, function (td) { return td.textContent.trim(); });"
        + "}"
        + "return [];", tbodyId, first);
    return (List<String>) cells;
  }

  void screenshot() throws Exception {
    // The whole page: the window grows to the document's height (plus the headless window's own frame).
    long height = ((Number) browser.executeScript("return document.documentElement.scrollHeight;")).longValue();
    browser.manage().window().setSize(new Dimension(1280, (int) Math.min(4000, height + 160)));
    Path shot = browser.getScreenshotAs(OutputType.FILE).toPath();
    Files.createDirectories(SCREENSHOT.getParent());
    Files.copy(shot, SCREENSHOT, StandardCopyOption.REPLACE_EXISTING);
    assertTrue(Files.size(SCREENSHOT) > 10_000, "a real screenshot");
    saved = true;
  }
}
