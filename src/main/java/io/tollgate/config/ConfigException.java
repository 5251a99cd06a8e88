package io.tollgate.config;

import java.util.List;

/** A configuration that must not start: carries every problem found, not just the first. */
public final class ConfigException extends RuntimeException {
  private final List<ConfigProblem> problems;

  public ConfigException(List<ConfigProblem> problems) {
    super(problems.size() + " configuration problem(s): " + problems, null, false, false);
    this.problems = List.copyOf(problems);
  }

  public List<ConfigProblem> problems() {
    return problems;
  }
}
