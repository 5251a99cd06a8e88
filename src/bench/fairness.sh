#!/usr/bin/env bash
# Issue 11's fairness runs: one gateway (core 0) whose only limit is one app budget of RATE requests/s, in front of
# the simulator (unthrottled, core 1), loaded by FairnessBenchmark (core 1) with open-loop senders.
#   tenants: tenant B at B_RATE alone, then with tenant A offering 10x its share (RATE/2 x 10) on the same budget.
#            Done when B's p99 with A <= B's p99 alone + one token interval + 50 ms, A's ok/s >= 95 % of RATE - B_RATE.
#   lanes:   a background flood at 10x RATE plus an interactive trickle at 5 % of RATE, same app and tenant, with
#            lanes on and off. Done when interactive p99 < 1 s and >= 5x shorter than with lanes off, and
#            background ok/s >= 90 % of what interactive leaves.
# Usage: src/bench/fairness.sh [tenants|lanes|all=all]
# Env:   RATE=50 B_RATE=5 DURATION=40 WARMUP=10 MAXWAIT=10s
set -euo pipefail
cd "$(dirname "$0")/../.."
WHAT=${1:-all}
RATE=${RATE:-50}
B_RATE=${B_RATE:-5}
SECONDS_=${DURATION:-40}
WARMUP=${WARMUP:-10}
MAXWAIT=${MAXWAIT:-10s}
[ -f target/tollgate.jar ] || mvn -B -q package -DskipTests
mkdir -p bench-results/logs
source src/bench/lib.sh
bench_copy FairnessBenchmark
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
OUT=bench-results/fairness.txt
echo "# $(date -u +%FT%TZ) RATE=$RATE B_RATE=$B_RATE DURATION=$SECONDS_ WARMUP=$WARMUP MAXWAIT=$MAXWAIT" | tee -a "$OUT"

# run LABEL LANES(true|false) CLASS...: a fresh simulator and gateway, one load run.
run() {
  local label=$1 lanes=$2; shift 2
  local simport port mport burst
  simport=$(free_port); port=$(free_port); mport=$(free_port)
  burst=$(( RATE / 10 > 1 ? RATE / 10 : 1 ))
  cat > "$WORK/fair.yaml" <<YAML
cache: {enabled: false}
retry: {enabled: false}
rateLimit:
  maxWait: $MAXWAIT
  costs: []
  lanes: {enabled: $lanes, header: X-Tollgate-Priority}
  limits:
    - {name: app-budget, key: app, rate: $RATE, burst: $burst, useCosts: false, paths: ["/v1.0/users/**"]}
YAML
  taskset -c 1 java -Xmx1g -jar "$WORK/sim.jar" simulate --port "$simport" > bench-results/logs/fair-sim.log 2>&1 &
  PIDS+=($!)
  wait_for "http://127.0.0.1:$simport/_sim/stats"
  (cd "$WORK" && exec taskset -c 0 java -XX:+UseG1GC -Xmx448m -jar "$WORK/sim.jar" --config "$WORK/fair.yaml" \
    --upstream "http://127.0.0.1:$simport" --port "$port" --management-port "$mport") > "bench-results/logs/fair-gateway-$label.log" 2>&1 &
  PIDS+=($!)
  wait_for "http://127.0.0.1:$mport/health/live"
  echo "## $label" | tee -a "$OUT"
  taskset -c 1 java -XX:+UseG1GC -Xmx1g -cp "$CP" io.tollgate.bench.FairnessBenchmark "http://127.0.0.1:$port" "$SECONDS_" "$WARMUP" "$@" | tee -a "$OUT"
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=()
}

share=$(( RATE / 2 ))
if [ "$WHAT" = tenants ] || [ "$WHAT" = all ]; then
  run "B alone" true "B:tenant-b:-:$B_RATE"
  run "A at 10x its share + B" true "A:tenant-a:-:$(( share * 10 ))" "B:tenant-b:-:$B_RATE"
fi
if [ "$WHAT" = lanes ] || [ "$WHAT" = all ]; then
  trickle=$(python3 -c "print($RATE * 0.05)")
  run "lanes on" true "background:tenant-a:background:$(( RATE * 10 ))" "interactive:tenant-a:interactive:$trickle"
  run "lanes off" false "background:tenant-a:background:$(( RATE * 10 ))" "interactive:tenant-a:interactive:$trickle"
fi
