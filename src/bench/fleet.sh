#!/usr/bin/env bash
# Fleet-wide single flight (issue 14, item 5): 64 concurrent cold GETs of one key over 3 gateways on one Redis,
# per round; reports upstream calls per round and how many ms the other gateways' clients are answered after the
# leader's first. See the header of src/bench/java/io/tollgate/bench/FleetBenchmark.java.
#
# Usage: src/bench/fleet.sh            (fleetCoalesceWait 3s, then 0s = per-instance coalescing, for comparison)
# Env:   ROUNDS=200 WARMUP=30 LATENCY=100ms WAITS="3s 0s" JAVA_OPTS="-Xmx2g"
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-200}
WARMUP=${WARMUP:-30}
LATENCY=${LATENCY:-100ms}
WAITS=${WAITS:-"3s 0s"}
[ -f target/tollgate.jar ] || mvn -B -q package -DskipTests
mkdir -p bench-results/logs
source src/bench/lib.sh
bench_copy FleetBenchmark
port=$(free_port)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no > "$WORK/redis.log" 2>&1 &
REDIS=$!
trap 'kill $REDIS 2>/dev/null || true; rm -rf "$WORK"' EXIT INT TERM
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
echo "# $(date -u +%FT%TZ) ROUNDS=$ROUNDS WARMUP=$WARMUP LATENCY=$LATENCY" | tee -a bench-results/fleet.txt
for wait in $WAITS; do
  java ${JAVA_OPTS:--Xmx2g} -cp "$CP" io.tollgate.bench.FleetBenchmark "redis://127.0.0.1:$port" "$ROUNDS" "$WARMUP" "$LATENCY" "$wait" \
    2>"bench-results/logs/fleet-$wait.log" | grep -v "^[0-9][0-9]:[0-9][0-9]:" | tee -a bench-results/fleet.txt || { tail -50 "bench-results/logs/fleet-$wait.log" >&2; exit 1; }
done
