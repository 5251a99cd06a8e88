#!/usr/bin/env bash
# Rate limiter figures (LimiterBenchmark): (a) one local bucket driven hard, (b) the same bucket shared by
# INSTANCES distributed limiters on one redis-server started here, (c) a throttling simulator behind a gateway
# whose limit paces at about the simulator's rate. Loopback only; each part is bounded in time.
# Usage: src/bench/limiter.sh [local|redis|throttle|all=all]
#   env: WARM_CONCURRENT (0; 1: open the Redis pools with concurrent admissions before the window (b)),
#        SECONDS_WINDOW (10), RATE (200), BURST (20), LOOPS (64 callers per instance), INSTANCES (3),
#        R (50, simulator rate for c), LIMIT_RATE (R), LIMIT_BURST (2R), N (10R), CONCURRENCY (64)
set -euo pipefail
cd "$(dirname "$0")/../.."
what=${1:-all}
[ -f target/tollgate.jar ] || mvn -B -q -o package -DskipTests
mkdir -p target/bench-classes
javac -nowarn -cp target/tollgate.jar -d target/bench-classes src/bench/java/io/tollgate/bench/LimiterBenchmark.java
run() { java -Xmx512m -cp target/tollgate.jar:target/bench-classes io.tollgate.bench.LimiterBenchmark "$@" 2> >(grep -E "WARN|ERROR|Exception" >&2 || true); }
W=${SECONDS_WINDOW:-10}; RT=${RATE:-200}; B=${BURST:-20}; L=${LOOPS:-64}
if [[ $what == all || $what == local ]]; then
  echo "### (a) LimiterBenchmark local $W $RT $B $L"; run local "$W" "$RT" "$B" "$L"
fi
if [[ $what == all || $what == redis ]]; then
  port=$(python3 -c 'import socket,random
for p in random.sample(range(20000,32768),200):
  s=socket.socket()
  try: s.bind(("127.0.0.1",p)); s.close(); print(p); break
  except OSError: pass')
  redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --daemonize no >/tmp/limiter-redis.$$.log 2>&1 &
  rpid=$!
  trap 'kill $rpid 2>/dev/null; wait $rpid 2>/dev/null || true' EXIT
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  echo "### (b) LimiterBenchmark redis $port $W $RT $B $L ${INSTANCES:-3}   (redis-server $(redis-server --version | awk '{print $3}') on 127.0.0.1:$port)"
  run redis "$port" "$W" "$RT" "$B" "$L" "${INSTANCES:-3}"
  kill $rpid; wait $rpid 2>/dev/null || true; trap - EXIT
fi
if [[ $what == all || $what == throttle ]]; then
  R=${R:-50}
  echo "### (c) LimiterBenchmark throttle $R ${LIMIT_RATE:-$R} ${LIMIT_BURST:-$((2*R))} ${N:-$((10*R))} ${CONCURRENCY:-64}"
  run throttle "$R" "${LIMIT_RATE:-$R}" "${LIMIT_BURST:-$((2*R))}" "${N:-$((10*R))}" "${CONCURRENCY:-64}"
fi
