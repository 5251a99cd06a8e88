package io.tollgate.cache;

import io.tollgate.config.PathPattern;
import java.util.NavigableSet;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * L1's entries by path, so that an invalidation finds what it evicts without looking at the rest.
 *
 * <p>Design note. Paths are keyed case-folded ({@link PathPattern#fold}), as patterns match them; a sorted set
 * of the folded paths lets a pattern look only under its {@link PathPattern#prefixes()} (for a write's eviction,
 * the written object's own paths), so an invalidation costs about the entries it evicts, not the size of L1.
 * Values are held by identity: an entry is added before it enters the cache and removed after it has left,
 * whatever the order in which a replaced or evicted entry's removal and its successor's addition arrive, so
 * the index always holds at least every entry in the cache (invariant). A stale member costs one failed
 * conditional remove, never a missed eviction.
 *
 * <p>Thread-safe, lock-free for readers: the per-path sets are changed inside {@link ConcurrentHashMap#compute}
 * for their path, and a path is in the sorted set exactly while it has a set. Called from every event loop
 * (adds) and from the worker pool (invalidations).
 */
final class PathIndex<E> {
  private final ConcurrentHashMap<String, Set<E>> byPath = new ConcurrentHashMap<>();
  private final NavigableSet<String> paths = new ConcurrentSkipListSet<>();
  private final Function<E, String> pathOf;

  /** @param pathOf the (unfolded) path of a value */
  PathIndex(Function<E, String> pathOf) {
    this.pathOf = pathOf;
  }

  void add(E value) {
    byPath.compute(PathPattern.fold(pathOf.apply(value)), (path, set) -> {
      if (set == null) {
        set = ConcurrentHashMap.newKeySet();
        paths.add(path);
      }
      set.add(value);
      return set;
    });
  }

  void remove(E value) {
    byPath.computeIfPresent(PathPattern.fold(pathOf.apply(value)), (path, set) -> {
      set.remove(value);
      if (!set.isEmpty()) return set;
      paths.remove(path);
      return null;
    });
  }

  /**
   * Hands every value whose path {@code pattern} matches to {@code matched}; values added meanwhile may or may
   * not be seen.
   *
   * @return how many values were looked at (those under the pattern's prefixes)
   */
  long forEachMatching(PathPattern pattern, Consumer<E> matched) {
    long examined = 0;
    for (PathPattern.Prefix prefix : pattern.prefixes()) {
      String text = prefix.text();
      if (prefix.wholeSegments()) {
        examined += visit(text, pattern, matched);
        String below = text + "/";
        for (String path : paths.tailSet(below, true)) {
          if (!path.startsWith(below)) break;
          examined += visit(path, pattern, matched);
        }
      } else {
        for (String path : paths.tailSet(text, true)) {
          if (!path.startsWith(text)) break;
          examined += visit(path, pattern, matched);
        }
      }
    }
    return examined;
  }

  private long visit(String foldedPath, PathPattern pattern, Consumer<E> matched) {
    Set<E> set = byPath.get(foldedPath);
    if (set == null) return 0;
    long n = 0;
    for (E value : set) {
      n++;
      if (pattern.matches(pathOf.apply(value))) matched.accept(value);
    }
    return n;
  }
}
