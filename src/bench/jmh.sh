#!/usr/bin/env bash
# JMH: rate limiter cost per admission without waiting (TokenBucket.tryTake, local RateLimiter.acquire).
# Usage: src/bench/jmh.sh [JMH options, default: -f 1 -wi 3 -w 2s -i 5 -r 2s]
# Needs JMH 1.37 in ~/.m2 (fetched with mvn dependency:get when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
M2=${M2:-$HOME/.m2/repository}
core=$M2/org/openjdk/jmh/jmh-core/1.37/jmh-core-1.37.jar
ap=$M2/org/openjdk/jmh/jmh-generator-annprocess/1.37/jmh-generator-annprocess-1.37.jar
[ -f "$core" ] || mvn -B -q dependency:get -Dartifact=org.openjdk.jmh:jmh-core:1.37
[ -f "$ap" ] || mvn -B -q dependency:get -Dartifact=org.openjdk.jmh:jmh-generator-annprocess:1.37
cp="$core:$M2/net/sf/jopt-simple/jopt-simple/5.0.4/jopt-simple-5.0.4.jar:$M2/org/apache/commons/commons-math3/3.6.1/commons-math3-3.6.1.jar"
[ -f target/tollgate.jar ] || mvn -B -q -o package -DskipTests
rm -rf target/jmh-classes && mkdir -p target/jmh-classes
javac -nowarn -processorpath "$ap:$core" -cp "target/tollgate.jar:$cp" -d target/jmh-classes \
  src/bench/jmh/io/tollgate/bench/LimiterJmh.java
if [ $# -eq 0 ]; then set -- -f 1 -wi 3 -w 2s -i 5 -r 2s; fi
exec java -cp "target/jmh-classes:target/tollgate.jar:$cp" org.openjdk.jmh.Main 'io.tollgate.bench.LimiterJmh' "$@"
