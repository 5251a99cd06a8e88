#!/usr/bin/env bash
# Keeping 2,000 groups' transitiveMembers fresh (issue 13, second "Done when" line): gateway A (24 h TTL, delta feed)
# and gateway B (1 h TTL / SCALE, no feed) side by side against two simulators with the same directory and the same
# background change rate (1 % of the groups per hour x SCALE); a client reads every group's transitiveMembers through
# each. Reports upstream calls and resource units of both (A's feed included), and the eviction lag of every change.
# See the header of src/bench/java/io/tollgate/bench/DeltaScaleBenchmark.java.
#
# Usage: src/bench/delta-scale.sh            (about 12 minutes; MINUTES=3 SCALE=20 for a ~4-minute run)
# Env:   MINUTES=10 SCALE=6 POLL=30s DIR_GROUPS=2000 DIR_USERS=2000 PASS=10s CONCURRENCY=4 JAVA_OPTS="-Xmx1g"
set -euo pipefail
cd "$(dirname "$0")/../.."
MINUTES=${MINUTES:-10}
SCALE=${SCALE:-6}
POLL=${POLL:-30s}
DIR_GROUPS=${DIR_GROUPS:-2000}
DIR_USERS=${DIR_USERS:-2000}
PASS=${PASS:-10s}
CONCURRENCY=${CONCURRENCY:-4}
[ -f target/tollgate.jar ] || mvn -B -q package -DskipTests
mkdir -p bench-results/logs
source src/bench/lib.sh
bench_copy DeltaScaleBenchmark
trap 'rm -rf "$WORK"' EXIT INT TERM
echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) MINUTES=$MINUTES SCALE=$SCALE POLL=$POLL DIR_GROUPS=$DIR_GROUPS DIR_USERS=$DIR_USERS PASS=$PASS CONCURRENCY=$CONCURRENCY" \
  | tee -a bench-results/delta-scale.txt
java ${JAVA_OPTS:--Xmx1g} -cp "$CP" io.tollgate.bench.DeltaScaleBenchmark "$MINUTES" "$SCALE" "$POLL" "$DIR_GROUPS" "$DIR_USERS" \
  "$PASS" "$CONCURRENCY" 2>bench-results/logs/delta-scale.log | grep -v "^[0-9][0-9]:[0-9][0-9]:" | tee -a bench-results/delta-scale.txt \
  || { tail -50 bench-results/logs/delta-scale.log >&2; exit 1; }
