package io.tollgate.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tollgate.Gateway;
import io.tollgate.Tollgate;
import io.tollgate.config.ConfigLoader;
import io.tollgate.config.TollgateOptions;
import io.vertx.core.Vertx;
import java.lang.reflect.Field;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;
import picocli.CommandLine.Option;

/**
 * No container engine runs where the tests run, so this reads deploy/ and fails when it drifts from the code:
 * variables, flags, probe paths and ports, the embedded configuration, and the jar the image runs.
 */
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class DeployFilesTest {
  static final Path DEPLOY = Path.of("deploy");
  static final Path DOCKERFILE = DEPLOY.resolve("Dockerfile");
  static final Path K8S = DEPLOY.resolve("kubernetes/tollgate-sidecar.yaml");
  static final Path COMPOSE = DEPLOY.resolve("docker-compose.yml");
  static final Path COMPOSE_CONFIG = DEPLOY.resolve("compose/tollgate.yaml");
  static final String SECRET_STAND_IN = "a-secret-from-the-cluster-0123456789";

  @Test
  void every_tollgate_variable_in_deploy_exists() throws Exception {
    Set<String> known = new HashSet<>();
    ConfigLoader.OVERRIDES.values().forEach(v -> known.add(v[0]));
    known.add(ConfigLoader.CONFIG_ENV);
    Pattern variable = Pattern.compile("TOLLGATE_[A-Z0-9_]+");
    List<String> unknown = new ArrayList<>();
    int seen = 0;
    for (Path file : deployFiles()) {
      Matcher m = variable.matcher(Files.readString(file));
      while (m.find()) {
        seen++;
        if (!known.contains(m.group())) unknown.add(file + ": " + m.group());
      }
    }
    assertTrue(seen >= 4, "the files use the variables: " + seen);
    assertEquals(List.of(), unknown, "known variables: " + known);
  }

  @Test
  void every_flag_given_to_tollgate_exists() throws Exception {
    List<List<String>> commandLines = new ArrayList<>();
    commandLines.add(dockerEntrypointArguments());
    for (Map<String, Object> container : tollgateContainers()) commandLines.add(strings(container.get("args")));
    Map<String, Map<String, Object>> services = composeServices();
    for (Map<String, Object> service : services.values()) {
      if (String.valueOf(service.get("image")).startsWith("tollgate")) commandLines.add(strings(service.get("command")));
    }
    Set<String> gatewayFlags = optionNames(Tollgate.class);
    Set<String> simulateFlags = optionNames(Class.forName("io.tollgate.Tollgate$Simulate"));
    int flags = 0;
    for (List<String> args : commandLines) {
      boolean simulate = !args.isEmpty() && args.get(0).equals("simulate");
      for (String arg : args) {
        if (!arg.startsWith("--")) continue;
        flags++;
        String name = arg.contains("=") ? arg.substring(0, arg.indexOf('=')) : arg;
        assertTrue((simulate ? simulateFlags : gatewayFlags).contains(name), name + " in " + args + " is not a flag of tollgate"
            + (simulate ? " simulate" : ""));
      }
    }
    assertTrue(flags >= 3, "flags checked: " + flags);
  }

  @Test
  void the_image_runs_the_jar_that_mvn_package_builds_as_a_non_root_user() throws Exception {
    String pom = Files.readString(Path.of("pom.xml"));
    Matcher finalName = Pattern.compile("<finalName>([^<]+)</finalName>").matcher(pom);
    assertTrue(finalName.find(), "pom.xml names the jar");
    String jar = finalName.group(1) + ".jar";
    String docker = Files.readString(DOCKERFILE);
    Matcher copy = Pattern.compile("COPY --from=build \\S*/target/(\\S+) (\\S+)").matcher(docker);
    assertTrue(copy.find(), "the runtime stage copies the built jar");
    assertEquals(jar, copy.group(1), "the jar mvn package builds");
    List<String> entrypoint = jsonArray(docker, "ENTRYPOINT");
    int dashJar = entrypoint.indexOf("-jar");
    assertTrue(dashJar >= 0 && entrypoint.get(0).equals("java"), "java -jar: " + entrypoint);
    assertEquals(copy.group(2), entrypoint.get(dashJar + 1), "the entrypoint runs the copied jar");
    assertTrue(docker.contains("RUN mvn -B -q package"), "the build stage runs mvn package");
    Matcher user = Pattern.compile("(?m)^USER (\\S+)").matcher(docker);
    assertTrue(user.find(), "a USER line");
    assertFalse(user.group(1).startsWith("root") || user.group(1).startsWith("0"), "non-root: " + user.group(1));
    assertTrue(docker.contains("COPY conf "), "conf/ ships in the image");
    // Class Data Sharing: the entrypoint maps the archive a training start of the same jar wrote at build time.
    String shared = entrypoint.stream().filter(a -> a.startsWith("-XX:SharedArchiveFile=")).findFirst().orElse("");
    Matcher training = Pattern.compile("RUN java -XX:ArchiveClassesAtExit=(\\S+) -jar (\\S+)").matcher(docker);
    assertTrue(training.find(), "a training start writes the CDS archive");
    assertEquals("-XX:SharedArchiveFile=" + training.group(1), shared, "the entrypoint maps that archive");
    assertEquals(copy.group(2), training.group(2), "trained on the jar the image runs");
    assertTrue(entrypoint.contains("-Xshare:auto"), "a missing or stale archive is ignored, not fatal");
    assertTrue(training.start() < user.start(), "the archive is written before the image drops to its user");
  }

  @Test
  void the_kubernetes_config_map_parses_and_its_probes_and_scrape_target_are_served() throws Exception {
    Map<String, Object> configMap = document("ConfigMap", "tollgate-config");
    String yaml = (String) map(configMap.get("data")).get("tollgate.yaml");
    Map<String, Object> container = tollgateContainers().get(0);
    List<String> args = strings(container.get("args"));
    String mountedAt = args.get(args.indexOf("--config") + 1);
    assertTrue(mountedAt.startsWith(mountPath(container, "config")), "--config points into the ConfigMap mount: " + mountedAt);
    TollgateOptions options = load(yaml, env(container));
    assertNotNull(options.getManagement().getAdminToken(), "the admin token comes from the Secret");
    assertFalse(options.getManagement().getHost().startsWith("127."), "the kubelet probes the pod IP: management.host must not be loopback");
    int management = options.getManagement().getPort();
    Map<String, Integer> ports = new HashMap<>();
    for (Object p : (List<?>) container.get("ports")) ports.put((String) map(p).get("name"), (Integer) map(p).get("containerPort"));
    List<String> paths = new ArrayList<>();
    for (String probe : List.of("livenessProbe", "readinessProbe")) {
      Map<String, Object> get = map(map(container.get(probe)).get("httpGet"));
      Object port = get.get("port");
      int number = port instanceof Integer i ? i : ports.getOrDefault((String) port, -1);
      assertEquals(management, number, probe + " targets the management port");
      paths.add((String) get.get("path"));
    }
    Map<String, Object> annotations = map(map(map(map(document("Deployment", "graph-audit").get("spec")).get("template")).get("metadata")).get("annotations"));
    assertEquals(String.valueOf(management), annotations.get("prometheus.io/port"));
    paths.add((String) annotations.get("prometheus.io/path"));
    assertServed(options, paths);
  }

  @Test
  void the_compose_configuration_parses_and_every_health_check_is_served() throws Exception {
    Map<String, Object> tollgate = composeServices().get("tollgate");
    Map<String, String> env = new HashMap<>();
    map(tollgate.get("environment")).forEach((k, v) -> env.put(k, String.valueOf(v).replaceAll("\\$\\{[A-Z_]+:-([^}]*)}", "$1")));
    String mountedAt = env.get(ConfigLoader.CONFIG_ENV);
    assertTrue(strings(tollgate.get("volumes")).stream().anyMatch(v -> v.startsWith("./compose/tollgate.yaml:" + mountedAt)),
        "TOLLGATE_CONFIG points at the mounted file");
    TollgateOptions options = load(Files.readString(COMPOSE_CONFIG), env);
    assertEquals("0.0.0.0", options.getServer().getHost(), "published ports need a non-loopback proxy");
    assertEquals("0.0.0.0", options.getManagement().getHost());
    List<String> healthCheck = strings(map(tollgate.get("healthcheck")).get("test"));
    URI composeUrl = URI.create(healthCheck.get(healthCheck.size() - 1));
    assertEquals(options.getManagement().getPort(), composeUrl.getPort(), "compose health check port");
    assertTrue(strings(tollgate.get("ports")).contains(options.getServer().getPort() + ":" + options.getServer().getPort()));
    // The image's own HEALTHCHECK runs with the defaults (no configuration mounted).
    Matcher docker = Pattern.compile("HEALTHCHECK[^\\n]*\\n?\\s*CMD curl -fsS (\\S+)").matcher(Files.readString(DOCKERFILE));
    assertTrue(docker.find(), "the image has a HEALTHCHECK");
    URI imageUrl = URI.create(docker.group(1));
    TollgateOptions defaults = load("{}", Map.of());
    assertEquals(defaults.getManagement().getPort(), imageUrl.getPort(), "image health check port is the default management port");
    assertServed(options, List.of(composeUrl.getPath(), imageUrl.getPath()));
  }

  @Test
  void every_heap_in_deploy_follows_its_l1_bound_and_the_memory_limit_holds_the_resident_set() throws Exception {
    // README.md "Memory": -Xmx = 1.5 x cache.l1MaxWeight + 64 MiB; with L1 full the resident set stays within
    // 1.5 x l1MaxWeight + 250 MiB (src/bench/memory.sh, which runs the image's heap by default).
    Matcher image = Pattern.compile("(?m)^ENV JAVA_TOOL_OPTIONS=\"(.*)\"$").matcher(Files.readString(DOCKERFILE));
    assertTrue(image.find(), "the image sets the heap in JAVA_TOOL_OPTIONS");
    long imageHeap = heapMib(image.group(1));
    assertHeapFollowsL1(load("{}", Map.of()), imageHeap, "image (default configuration)");
    Matcher bench = Pattern.compile("(?m)^SIDECAR_JVM_XMX=(\\d+)m$").matcher(Files.readString(Path.of("src/bench/memory.sh")));
    assertTrue(bench.find() && Long.parseLong(bench.group(1)) == imageHeap, "src/bench/memory.sh measures the image's heap");
    assertTrue(Files.readString(Path.of("README.md")).contains("-Xmx" + imageHeap + "m"), "README.md documents the image's heap");

    Map<String, Object> container = tollgateContainers().get(0);
    Map<String, String> env = env(container);
    TollgateOptions pod = load((String) map(document("ConfigMap", "tollgate-config").get("data")).get("tollgate.yaml"), env);
    assertHeapFollowsL1(pod, heapMib(env.get("JAVA_TOOL_OPTIONS")), "kubernetes");
    String limit = (String) map(map(container.get("resources")).get("limits")).get("memory");
    assertTrue(limit.endsWith("Mi"), "memory limit in Mi: " + limit);
    long residentSet = (pod.getCache().getL1MaxWeight() >> 20) * 3 / 2 + 250;
    assertTrue(Long.parseLong(limit.replace("Mi", "")) >= residentSet, "the limit " + limit + " holds " + residentSet + " MiB");

    Map<String, Object> compose = composeServices().get("tollgate");
    String composeOptions = String.valueOf(map(compose.get("environment")).get("JAVA_TOOL_OPTIONS"));
    assertHeapFollowsL1(load(Files.readString(COMPOSE_CONFIG), Map.of()), heapMib(composeOptions), "compose");
    // G1 everywhere: on one CPU the JVM would pick the serial collector, whose full collections stop the event loops.
    for (String options : List.of(image.group(1), env.get("JAVA_TOOL_OPTIONS"), composeOptions)) {
      assertTrue(options.contains("-XX:+UseG1GC"), "G1 in " + options);
    }
  }

  static long heapMib(String javaOptions) {
    Matcher m = Pattern.compile("-Xmx(\\d+)m\\b").matcher(String.valueOf(javaOptions));
    assertTrue(m.find(), "-Xmx<N>m in " + javaOptions);
    return Long.parseLong(m.group(1));
  }

  static void assertHeapFollowsL1(TollgateOptions options, long heapMib, String where) {
    long l1Mib = options.getCache().getL1MaxWeight() >> 20;
    assertEquals(l1Mib * 3 / 2 + 64, heapMib, where + ": -Xmx for cache.l1MaxWeight " + l1Mib + " MiB");
  }

  /** Starts a gateway with these options (ports 0, no Redis, upstream unused) and GETs every path: each must be 200. */
  static void assertServed(TollgateOptions options, List<String> paths) throws Exception {
    TollgateOptions o = new TollgateOptions(options);
    o.getServer().setPort(0).setHost("127.0.0.1").setInstances(1);
    o.getManagement().setPort(0).setHost("127.0.0.1");
    o.getRedis().setUrl(null);
    Gateway g = Gateway.start(o).await(20, TimeUnit.SECONDS);
    try {
      HttpClient http = HttpClient.newHttpClient();
      for (String path : paths) {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + g.managementPort() + path)).build(),
            HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), path + " -> " + r.body());
      }
    } finally {
      g.close().await(20, TimeUnit.SECONDS);
    }
  }

  /** Loads a configuration file the way the CLI does (defaults < file < environment); fails on any problem. */
  static TollgateOptions load(String yaml, Map<String, String> env) throws Exception {
    Path file = Files.createTempFile("tollgate-deploy", ".yaml");
    Files.writeString(file, yaml);
    Vertx vertx = Vertx.vertx();
    try {
      return ConfigLoader.load(vertx, file.toString(), env, Map.of()).await(10, TimeUnit.SECONDS);
    } finally {
      vertx.close();
      Files.delete(file);
    }
  }

  static Map<String, String> env(Map<String, Object> container) {
    Map<String, String> env = new HashMap<>();
    for (Object e : (List<?>) container.getOrDefault("env", List.of())) {
      Map<String, Object> var = map(e);
      env.put((String) var.get("name"), var.containsKey("value") ? String.valueOf(var.get("value")) : SECRET_STAND_IN);
    }
    return env;
  }

  static String mountPath(Map<String, Object> container, String volume) {
    for (Object m : (List<?>) container.get("volumeMounts")) if (volume.equals(map(m).get("name"))) return (String) map(m).get("mountPath");
    throw new AssertionError("no mount of volume " + volume);
  }

  static List<Map<String, Object>> tollgateContainers() throws Exception {
    List<Map<String, Object>> out = new ArrayList<>();
    for (Map<String, Object> doc : k8sDocuments()) {
      if (!"Deployment".equals(doc.get("kind"))) continue;
      Map<String, Object> pod = map(map(map(doc.get("spec")).get("template")).get("spec"));
      for (Object c : (List<?>) pod.get("containers")) if (String.valueOf(map(c).get("image")).startsWith("tollgate")) out.add(map(c));
    }
    assertFalse(out.isEmpty(), "a tollgate container");
    return out;
  }

  static Map<String, Object> document(String kind, String name) throws Exception {
    for (Map<String, Object> doc : k8sDocuments()) {
      if (kind.equals(doc.get("kind")) && name.equals(map(doc.get("metadata")).get("name"))) return doc;
    }
    throw new AssertionError("no " + kind + " " + name + " in " + K8S);
  }

  static List<Map<String, Object>> k8sDocuments() throws Exception {
    List<Map<String, Object>> docs = new ArrayList<>();
    for (Object doc : new Yaml().loadAll(Files.readString(K8S))) if (doc != null) docs.add(map(doc));
    return docs;
  }

  static Map<String, Map<String, Object>> composeServices() throws Exception {
    Map<String, Object> compose = new Yaml().load(Files.readString(COMPOSE));
    Map<String, Map<String, Object>> out = new HashMap<>();
    map(compose.get("services")).forEach((k, v) -> out.put(k, map(v)));
    return out;
  }

  /** The arguments after the jar in the image's ENTRYPOINT, then its CMD if any. */
  static List<String> dockerEntrypointArguments() throws Exception {
    String docker = Files.readString(DOCKERFILE);
    List<String> entry = jsonArray(docker, "ENTRYPOINT");
    List<String> args = new ArrayList<>(entry.subList(entry.indexOf("-jar") + 2, entry.size()));
    if (Pattern.compile("(?m)^CMD ").matcher(docker).find()) args.addAll(jsonArray(docker, "CMD"));
    return args;
  }

  static List<String> jsonArray(String dockerfile, String instruction) {
    Matcher m = Pattern.compile("(?m)^" + instruction + " (\\[.*])\\s*$").matcher(dockerfile);
    assertTrue(m.find(), instruction + " in exec (JSON) form");
    List<String> out = new ArrayList<>();
    new io.vertx.core.json.JsonArray(m.group(1)).forEach(v -> out.add((String) v));
    return out;
  }

  static Set<String> optionNames(Class<?> command) {
    Set<String> names = new HashSet<>(Set.of("--help", "-h", "--version", "-V"));
    for (Field f : command.getDeclaredFields()) {
      Option o = f.getAnnotation(Option.class);
      if (o != null) names.addAll(List.of(o.names()));
    }
    return names;
  }

  static List<Path> deployFiles() throws Exception {
    try (Stream<Path> files = Files.walk(DEPLOY)) {
      return files.filter(Files::isRegularFile).toList();
    }
  }

  static List<String> strings(Object list) {
    List<String> out = new ArrayList<>();
    if (list instanceof List<?> l) l.forEach(v -> out.add(String.valueOf(v)));
    return out;
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> map(Object o) {
    assertNotNull(o);
    return (Map<String, Object>) o;
  }
}
