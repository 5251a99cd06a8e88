#!/usr/bin/env bash
# Issue 10's stale-while-throttled run: expired entries are answered STALE while the upstream has paused the
# budget (Retry-After 30 s), as fast as L1 hits, with at most one probe upstream per paused scope per window.
# Usage: src/bench/stale-throttled.sh   Env: JAR=target/tollgate.jar SECONDS_=70 CLIENTS=8
# The gateway is pinned to core 0 (taskset), the simulator and the clients to core 1.
set -euo pipefail
cd "$(dirname "$0")/../.."
JAR=${JAR:-target/tollgate.jar}
SECONDS_=${SECONDS_:-70}
CLIENTS=${CLIENTS:-8}
[ -f target/tollgate.jar ] || mvn -B -q package -DskipTests
mkdir -p bench-results/logs
source src/bench/lib.sh
bench_copy StaleThrottledBenchmark
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
cat > "$WORK/stale.yaml" <<'YAML'
cache:
  staleIfError: 10m
  routes:
    - {name: user,  path: "/v1.0|beta/users/{id}",  ttl: 3s}
    - {name: group, path: "/v1.0|beta/groups/{id}", ttl: 1h}
retry:
  enabled: false
YAML
simport=$(free_port); port=$(free_port); mport=$(free_port)
taskset -c 1 java -cp "$CP" io.tollgate.bench.StaleThrottledBenchmark sim "$simport" > bench-results/logs/stale-sim.log 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$simport/_sim/stats"
taskset -c 0 java -Xmx1g -jar "$JAR" --config "$WORK/stale.yaml" --upstream "http://127.0.0.1:$simport" --port "$port" \
  --management-port "$mport" > bench-results/logs/stale-gateway.log 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$mport/health/live"
taskset -c 1 java -cp "$CP" io.tollgate.bench.StaleThrottledBenchmark load "$simport" "http://127.0.0.1:$port" "$SECONDS_" "$CLIENTS" \
  | tee bench-results/stale-throttled.txt
curl -s "http://127.0.0.1:$mport/metrics" | grep -E '^tollgate_ratelimit_stale_while_throttled_total' | tee -a bench-results/stale-throttled.txt
