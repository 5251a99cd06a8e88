#!/usr/bin/env bash
# Event-loop time of one write's invalidation with 150k entries in L1 (issue 12, item 5): see the header of
# src/bench/java/io/tollgate/bench/InvalidationBenchmark.java for what is measured.
#
# Usage: src/bench/invalidation.sh [jar...]   (default: target/tollgate.jar; e.g. /tmp/tollgate-before.jar target/tollgate.jar)
# Env:   ENTRIES=150000 WARMUP=200 RUNS=1000 JAVA_OPTS="-Xmx2g"
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -gt 0 ] || set -- target/tollgate.jar
[ -f target/tollgate.jar ] || mvn -B -q -o package -DskipTests
for jar in "$@"; do
  work=$(mktemp -d)
  javac -nowarn -cp "$jar" -d "$work" src/bench/java/io/tollgate/bench/InvalidationBenchmark.java
  echo "== $jar"
  java ${JAVA_OPTS:--Xmx2g} -cp "$jar:$work" io.tollgate.bench.InvalidationBenchmark 2>"$work/log" || { cat "$work/log" >&2; exit 1; }
  rm -rf "$work"
done
