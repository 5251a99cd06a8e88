#!/usr/bin/env bash
# Issue 10's hidden-budget runs: 25 clients read distinct users through Tollgate in front of a simulator whose
# RU budget (RATE RU/s, 10 s of it held, Retry-After = time to refill) the gateway is not told. The reads are
# sized so that the budget floor, (total RU - capacity) / RATE, is FLOOR seconds. One line per run: wall time
# as a multiple of the floor, 429s at the clients, upstream 429s as a share of upstream calls.
#
# Usage: src/bench/hidden-budget.sh
# Env:   JARS="target/tollgate.jar [other.jar...]" (each run with each jar, its built-in shipped profile)
#        RUNS="on:0 off:0 on:20 off:20" (usage headers on|off : 0 = single GETs, 20 = $batch of 20)
#        RATE=200 (RU/s; the shipped identity-reads estimate is 750) FLOOR=120 (s) CLIENTS=25
# The gateway is pinned to core 0 (taskset), the simulator and the clients to core 1.
set -euo pipefail
cd "$(dirname "$0")/../.."
JARS=${JARS:-target/tollgate.jar}
RUNS=${RUNS:-on:0 off:0 on:20 off:20}
RATE=${RATE:-200}
FLOOR=${FLOOR:-120}
CLIENTS=${CLIENTS:-25}
[ -f target/tollgate.jar ] || mvn -B -q package -DskipTests
mkdir -p bench-results/logs
source src/bench/lib.sh
bench_copy HiddenBudgetBenchmark
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
OUT=bench-results/hidden-budget.txt
echo "# $(date -u +%FT%TZ) RATE=$RATE FLOOR=$FLOOR CLIENTS=$CLIENTS RUNS='$RUNS'" | tee -a "$OUT"
for jar in $JARS; do
  jarpath=$(realpath "$jar")
  for run in $RUNS; do
    usage=${run%%:*}; batch=${run##*:}
    simport=$(free_port); port=$(free_port); mport=$(free_port)
    taskset -c 1 java -Xmx2g -cp "$CP" io.tollgate.bench.HiddenBudgetBenchmark x "$simport" "$RATE" "$usage" "$batch" "$FLOOR" "$CLIENTS" sim \
      > bench-results/logs/hidden-sim.log 2>&1 &
    sim=$!; PIDS+=("$sim")
    wait_for "http://127.0.0.1:$simport/_sim/stats"
    # From an empty directory: each jar runs its own built-in profile, not this checkout's conf/tollgate.yaml.
    (cd "$WORK" && exec taskset -c 0 java -Xmx1g -jar "$jarpath" --upstream "http://127.0.0.1:$simport" --port "$port" --management-port "$mport") \
      > "bench-results/logs/hidden-gateway-$(basename "$jar" .jar)-$usage-$batch.log" 2>&1 &
    gw=$!; PIDS+=("$gw")
    wait_for "http://127.0.0.1:$mport/health/live"
    printf '%-28s ' "$(basename "$jar")" | tee -a "$OUT"
    taskset -c 1 java -Xmx1g -cp "$CP" io.tollgate.bench.HiddenBudgetBenchmark "http://127.0.0.1:$port" "$simport" "$RATE" "$usage" "$batch" "$FLOOR" "$CLIENTS" \
      | tee -a "$OUT"
    learned=$(curl -s "http://127.0.0.1:$mport/metrics" | grep '^tollgate_ratelimit_learned_rate' | tr '\n' ' ' || true)
    [ -n "$learned" ] && echo "    learned: $learned" | tee -a "$OUT"
    kill "$gw" "$sim" 2>/dev/null || true; wait "$gw" "$sim" 2>/dev/null || true
    PIDS=()
  done
done
