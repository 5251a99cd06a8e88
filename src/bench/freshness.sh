#!/usr/bin/env bash
# Delta-fed invalidation (issue 13, first "Done when" line): USERS out-of-band renames and MEMBERSHIPS membership
# changes in the simulator, three gateways on one Redis following its delta feeds every POLL; reports the eviction
# lag of every affected cached answer on every gateway, affected answers left in place (must be 0) and unaffected
# answers evicted. See the header of src/bench/java/io/tollgate/bench/FreshnessBenchmark.java.
#
# Usage: src/bench/freshness.sh
# Env:   POLL=1s USERS=100 MEMBERSHIPS=20 DIR_USERS=2000 DIR_GROUPS=200 JAVA_OPTS="-Xmx2g"
set -euo pipefail
cd "$(dirname "$0")/../.."
POLL=${POLL:-1s}
USERS=${USERS:-100}
MEMBERSHIPS=${MEMBERSHIPS:-20}
DIR_USERS=${DIR_USERS:-2000}
DIR_GROUPS=${DIR_GROUPS:-200}
[ -f target/tollgate.jar ] || mvn -B -q package -DskipTests
mkdir -p bench-results/logs
source src/bench/lib.sh
bench_copy FreshnessBenchmark
port=$(free_port)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no > "$WORK/redis.log" 2>&1 &
REDIS=$!
trap 'kill $REDIS 2>/dev/null || true; rm -rf "$WORK"' EXIT INT TERM
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
echo "# $(date -u +%FT%TZ) POLL=$POLL USERS=$USERS MEMBERSHIPS=$MEMBERSHIPS DIR_USERS=$DIR_USERS DIR_GROUPS=$DIR_GROUPS" | tee -a bench-results/freshness.txt
java ${JAVA_OPTS:--Xmx2g} -cp "$CP" io.tollgate.bench.FreshnessBenchmark "redis://127.0.0.1:$port" "$POLL" "$USERS" "$MEMBERSHIPS" \
  "$DIR_USERS" "$DIR_GROUPS" 2>bench-results/logs/freshness.log | grep -v "^[0-9][0-9]:[0-9][0-9]:" | tee -a bench-results/freshness.txt \
  || { tail -50 bench-results/logs/freshness.log >&2; exit 1; }
