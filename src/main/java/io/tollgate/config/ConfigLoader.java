package io.tollgate.config;

import io.vertx.config.ConfigRetriever;
import io.vertx.config.ConfigRetrieverOptions;
import io.vertx.config.ConfigStoreOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Layers the configuration with Vert.x Config: built-in defaults (the shipped {@code conf/tollgate.yaml},
 * bundled as a resource) &lt; the configuration file &lt; {@code TOLLGATE_*} environment &lt; command-line flags.
 * Each flag and variable maps to one dotted key, listed in {@link #OVERRIDES}.
 */
public final class ConfigLoader {
  /** Classpath copy of conf/tollgate.yaml, made by the build, so defaults and the shipped file cannot drift. */
  public static final String DEFAULTS_RESOURCE = "io/tollgate/defaults/tollgate.yaml";
  public static final String DEFAULT_FILE = "conf/tollgate.yaml";

  /** Flag name (without dashes) → environment variable → dotted key. */
  public static final Map<String, String[]> OVERRIDES;

  static {
    Map<String, String[]> m = new LinkedHashMap<>();
    m.put("port", new String[] {"TOLLGATE_PORT", "server.port"});
    m.put("upstream", new String[] {"TOLLGATE_UPSTREAM", "upstream.url"});
    m.put("redis", new String[] {"TOLLGATE_REDIS_URL", "redis.url"});
    m.put("admin-token", new String[] {"TOLLGATE_ADMIN_TOKEN", "management.adminToken"});
    m.put("management-port", new String[] {"TOLLGATE_MANAGEMENT_PORT", "management.port"});
    OVERRIDES = Map.copyOf(m);
  }

  public static final String CONFIG_ENV = "TOLLGATE_CONFIG";

  private ConfigLoader() {}

  /**
   * @param configFile explicit file (flag or {@code TOLLGATE_CONFIG}); null means {@code conf/tollgate.yaml} when present
   * @param env the process environment (only {@code TOLLGATE_*} entries are read)
   * @param flags flag name → value, for flags given on the command line
   * @return the options, or a failed future with a {@link ConfigException} listing every problem
   */
  public static Future<TollgateOptions> load(Vertx vertx, String configFile, Map<String, String> env, Map<String, String> flags) {
    String file = configFile != null ? configFile : env.get(CONFIG_ENV);
    boolean explicit = file != null;
    if (!explicit) file = DEFAULT_FILE;
    Path path = Path.of(file);
    if (explicit && !Files.isReadable(path)) {
      return Future.failedFuture(new ConfigException(List.of(new ConfigProblem("config", file, "a readable YAML file"))));
    }
    String shown = file;
    return builtInDefaults(vertx).compose(defaults -> {
      ConfigRetrieverOptions layers = new ConfigRetrieverOptions().setScanPeriod(0)
          .setIncludeDefaultStores(false)
          .addStore(json(defaults));
      if (Files.isReadable(path)) layers.addStore(yaml(path.toAbsolutePath().toString(), false));
      layers.addStore(json(overrides(env, true)));
      layers.addStore(json(overrides(flags, false)));
      ConfigRetriever retriever = ConfigRetriever.create(vertx, layers);
      return retriever.getConfig()
          .eventually(retriever::close)
          .recover(failure -> Future.failedFuture(new ConfigException(List.of(
              new ConfigProblem("config", shown, "valid YAML (" + firstLines(failure) + ")")))));
    }).map(json -> TollgateOptions.fromJson(json, env));
  }

  /**
   * The bundled defaults, read straight from the class path and parsed by Vert.x Config's YAML processor.
   * (Letting Vert.x's file resolver find a resource inside the fat jar costs seconds at start-up.)
   */
  private static Future<JsonObject> builtInDefaults(Vertx vertx) {
    return vertx.executeBlocking(() -> {
      try (java.io.InputStream in = ConfigLoader.class.getClassLoader().getResourceAsStream(DEFAULTS_RESOURCE)) {
        if (in == null) throw new IllegalStateException("built-in defaults " + DEFAULTS_RESOURCE + " missing from the build");
        return io.vertx.core.buffer.Buffer.buffer(in.readAllBytes());
      }
    }).compose(yaml -> new io.vertx.config.yaml.YamlProcessor().process(vertx, new JsonObject(), yaml));
  }

  private static ConfigStoreOptions yaml(String path, boolean optional) {
    return new ConfigStoreOptions().setType("file").setFormat("yaml").setOptional(optional)
        .setConfig(new JsonObject().put("path", path));
  }

  private static ConfigStoreOptions json(JsonObject config) {
    return new ConfigStoreOptions().setType("json").setConfig(config);
  }

  private static JsonObject overrides(Map<String, String> source, boolean fromEnv) {
    JsonObject out = new JsonObject();
    OVERRIDES.forEach((flag, target) -> {
      String value = source.get(fromEnv ? target[0] : flag);
      if (value == null) return;
      String[] key = target[1].split("\\.");
      JsonObject section = out.getJsonObject(key[0]);
      if (section == null) out.put(key[0], section = new JsonObject());
      section.put(key[1], value);
    });
    return out;
  }

  private static String firstLines(Throwable failure) {
    Throwable t = failure;
    while (t.getCause() != null && t.getCause() != t) t = t.getCause();
    String msg = String.valueOf(t.getMessage()).replaceAll("\\s+", " ").trim();
    return msg.length() > 300 ? msg.substring(0, 300) + "..." : msg;
  }
}
