#!/usr/bin/env bash
# profile.sh: where a request's CPU and allocations go, with Java Flight Recorder, under the pinned
# bench's load (gateway on SUT_CPU, wrk and the simulator on LOAD_CPU, the ~2 KB JWT of pinned.sh).
#
#   ROW=pass src/bench/profile.sh          # uncached route, rate limiter off (pinned.sh's pass row)
#   ASPROF=auto ROW=pass src/bench/profile.sh   # async-profiler instead of JFR (auto: fetched from Maven Central)
#   ROW=l1 src/bench/profile.sh            # warm L1 hit, shipped configuration
#   ROW=l2 src/bench/profile.sh            # L2 hits (pinned.sh's l2 row: L1 1 KiB, redis-server on SUT_CPU, KEYS users)
#   JAR=/tmp/old.jar ROW=pass src/bench/profile.sh   # the same for another build, to compare
#
# The gateway is loaded for WARMUP (40s) unrecorded, then recorded for DURATION (20s) with JFR's
# "profile" settings. Printed: requests/s over the recorded window, the top TOP (25) frames by CPU
# samples (top of stack, Java frames only: jdk.ExecutionSample), the top allocation sites by sampled
# weight (jdk.ObjectAllocationSample, the frame that allocated), and the allocated bytes per request
# (jdk.ThreadAllocationStatistics difference / requests). The .jfr file stays in bench-results/ for JMC.
# Environment: JAR (target/tollgate.jar), ROW (pass), KEYS (500), WARMUP, DURATION, CONNECTIONS (64), TOP (25),
#   SUT_CPU (0), LOAD_CPU (1), JAVA_OPTS. Only 127.0.0.1 traffic; every process started is stopped on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
# shellcheck source=lib.sh
source src/bench/lib.sh
# The token and wrk script are pinned.sh's own, so both scripts load the gateway the same way.
# shellcheck disable=SC1090
source <(sed -n '/^make_token()/,/^}/p; /^write_lua()/,/^}/p' src/bench/pinned.sh)

JAR=${JAR:-target/tollgate.jar}
ROW=${ROW:-pass}
WARMUP=${WARMUP:-40s}
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-64}
TOP=${TOP:-25}
SUT_CPU=${SUT_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
JAVA_OPTS=${JAVA_OPTS:-}
OUT=bench-results
mkdir -p "$OUT"
# ASPROF=auto: async-profiler's library from Maven Central (tools.profiler:async-profiler, linux-x64), unpacked once.
if [[ ${ASPROF:-} == auto ]]; then
  ASPROF=$ROOT/target/async-profiler/linux-x64/libasyncProfiler.so
  if [[ ! -f $ASPROF ]]; then
    mvn -B -q dependency:copy -Dartifact=tools.profiler:async-profiler:4.6 -DoutputDirectory="$ROOT/target/async-profiler" >/dev/null
    (cd "$ROOT/target/async-profiler" && unzip -q -o async-profiler-4.6.jar 'linux-x64/*')
  fi
fi

WORK=$(mktemp -d /tmp/tollgate-profile.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
cp "$JAR" "$WORK/tollgate.jar"

make_token; write_lua
SIM_PORT=$(free_port); PORT=$(free_port); MPORT=$(free_port)
taskset -c "$LOAD_CPU" java -jar "$WORK/tollgate.jar" simulate --port "$SIM_PORT" --latency 0ms >"$WORK/sim.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$SIM_PORT/_sim/stats"

EXTRA=()
case $ROW in
  pass) printf 'rateLimit:\n  enabled: false\n' >"$WORK/conf.yaml"; PATH_=${PASS_PATH:-'/v1.0/users?$top=5'} ;;
  l1) : >"$WORK/conf.yaml"; PATH_=${HIT_PATH:-/v1.0/users/u1} ;;
  l2) # pinned.sh's l2 row: L1 holds at most one entry, its own redis-server on the gateway's core, KEYS users
    REDIS_PORT=$(free_port)
    taskset -c "$SUT_CPU" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$WORK/redis.log" 2>&1 &
    PIDS+=($!)
    printf 'cache:\n  l1MaxWeight: 1KiB\n  l2:\n    operationTimeout: 2s\n' >"$WORK/conf.yaml"
    PATH_=/v1.0/users/u; COUNT=${KEYS:-500}; EXTRA=(--redis "redis://127.0.0.1:$REDIS_PORT") ;;
  *) echo "ROW: pass, l1 or l2" >&2; exit 1 ;;
esac
# shellcheck disable=SC2086
taskset -c "$SUT_CPU" java $JAVA_OPTS -jar "$WORK/tollgate.jar" --config "$WORK/conf.yaml" --port "$PORT" \
  --management-port "$MPORT" --upstream "http://127.0.0.1:$SIM_PORT" "${EXTRA[@]}" >"$WORK/tollgate.log" 2>&1 &
TG_PID=$!; PIDS+=("$TG_PID")
wait_for "http://127.0.0.1:$MPORT/health/ready"
wait_for "http://127.0.0.1:$PORT/"
if [[ $ROW == l2 ]]; then
  for _ in $(seq 100); do curl -s "http://127.0.0.1:$MPORT/metrics" | grep -q '^tollgate_cache_l2_connected 1' && break; sleep 0.1; done
  for k in $(seq "$COUNT"); do echo "url = \"http://127.0.0.1:$PORT/v1.0/users/u$k\""; echo "output = /dev/null"; done \
    | curl -s -K - -H "Authorization: Bearer $TOKEN"
  echo "L2 filled: $(redis-cli -p "$REDIS_PORT" dbsize) Redis keys"
fi

echo "profile $ROW of $JAR: warm-up $WARMUP"
# Loading the agent deoptimises compiled code: it is loaded before the warm-up, which then recompiles, and restarted
# for the recorded window.
if [[ -n ${ASPROF:-} ]]; then jcmd "$TG_PID" JVMTI.agent_load "$ASPROF" "\"start,event=itimer,interval=1ms\"" >/dev/null; fi
taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d"$WARMUP" -s "$WORK/bearer.lua" "http://127.0.0.1:$PORT" -- "$TOKEN" "$PATH_" ${COUNT:-} >/dev/null
JFR="$OUT/profile-$ROW.jfr"
# Starting JFR recompiles much of the hot code (65 % of the window went to C2 when both ran): one tool per run.
[[ -n ${ASPROF:-} ]] || jcmd "$TG_PID" JFR.start name=p settings=profile filename="$ROOT/$JFR" >/dev/null
if [[ -n ${ASPROF:-} ]]; then
  jcmd "$TG_PID" JVMTI.agent_load "$ASPROF" "\"stop,file=$WORK/warmup.collapsed,collapsed\"" >/dev/null
  jcmd "$TG_PID" JVMTI.agent_load "$ASPROF" "\"start,event=itimer,interval=1ms,threads\"" >/dev/null
fi
taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -s "$WORK/bearer.lua" "http://127.0.0.1:$PORT" -- "$TOKEN" "$PATH_" ${COUNT:-} >"$WORK/wrk.txt"
[[ -n ${ASPROF:-} ]] || jcmd "$TG_PID" JFR.stop name=p >/dev/null
COLLAPSED="$ROOT/$OUT/profile-$ROW.collapsed"
if [[ -n ${ASPROF:-} ]]; then jcmd "$TG_PID" JVMTI.agent_load "$ASPROF" "\"stop,file=$COLLAPSED,collapsed\"" >/dev/null; fi
REQS=$(awk '/requests in/ { print $1 }' "$WORK/wrk.txt")
echo "recorded: $(grep -E 'Requests/sec' "$WORK/wrk.txt") ($REQS requests in $DURATION)"

if [[ -n ${ASPROF:-} ]]; then
  # async-profiler sees native and kernel frames too (syscalls, epoll, the JIT), which JFR's sampler does not.
  echo; echo "== async-profiler: CPU by thread group"
  awk '{ n = $NF; split($0, f, ";"); g = f[1]; sub(/^\[/, "", g); sub(/[-#0-9 ]*(tid=[0-9]+)?\]$/, "", g); gsub(/[0-9]+/, "", g); c[g] += n; t += n }
    END { for (x in c) printf "%6.2f%%  %s\n", 100 * c[x] / t, x }' "$COLLAPSED" | sort -rn | head -12
  echo; echo "== async-profiler: top $TOP frames by self CPU (all threads, kernel included)"
  awk '{ n = $NF; sub(/ [0-9]+$/, ""); k = split($0, f, ";"); c[f[k]] += n; t += n } END { for (x in c) printf "%6.2f%%  %s\n", 100 * c[x] / t, x }' "$COLLAPSED" | sort -rn | head -"$TOP"
  echo; echo "== async-profiler: top $TOP io.tollgate/micrometer/vertx-web frames by inclusive CPU"
  awk '{ n = $NF; sub(/ [0-9]+$/, ""); k = split($0, f, ";"); delete seen; for (i = 1; i <= k; i++) if (!(f[i] in seen)) { seen[f[i]] = 1; c[f[i]] += n } t += n }
    END { for (x in c) printf "%6.2f%%  %s\n", 100 * c[x] / t, x }' "$COLLAPSED" | sort -rn | grep -E 'io[./]tollgate|micrometer|Gzip|Inflater|Deflater' | head -"$TOP"
fi
if [[ -n ${ASPROF:-} ]]; then echo "Collapsed stacks: $OUT/profile-$ROW.collapsed"; exit 0; fi
echo; echo "== JFR: top $TOP frames by CPU samples (top of stack, Java code only)"
jfr print --events jdk.ExecutionSample "$JFR" | awk '/stackTrace = \[/ { getline; sub(/^[ \t]+/, ""); sub(/line:.*/, ""); c[$0]++; n++ }
  END { for (f in c) printf "%6.2f%%  %s\n", 100 * c[f] / n, f }' | sort -rn | head -"$TOP"

echo; echo "== top $TOP methods by inclusive CPU samples (on the stack anywhere, 64 frames deep)"
jfr print --stack-depth 64 --events jdk.ExecutionSample "$JFR" | awk '
  /stackTrace = \[/ { inside = 1; delete seen; n++; next }
  inside && /^[ \t]*\]/ { inside = 0; next }
  inside { f = $0; sub(/^[ \t]+/, "", f); sub(/[ \t]*line:.*/, "", f); if (!(f in seen)) { seen[f] = 1; c[f]++ } }
  END { for (f in c) printf "%6.2f%%  %s\n", 100 * c[f] / n, f }' | sort -rn | grep -v -E 'Thread.run|FastThreadLocalRunnable|SingleThreadEventExecutor|ThreadExecutorMap|EpollEventLoop.run|NioEventLoop.run' | head -"$TOP"

echo; echo "== top $TOP allocation sites by sampled weight"
jfr print --events jdk.ObjectAllocationSample "$JFR" | awk '
  /objectClass = / { cls = $3 }
  /weight = / { w = $3; u = $4; m = (u ~ /^kB/) ? 1024 : (u ~ /^MB/) ? 1048576 : (u ~ /^GB/) ? 1073741824 : 1; wt = w * m }
  /stackTrace = \[/ { getline; sub(/^[ \t]+/, ""); sub(/line:.*/, ""); s[$0 "  <" cls ">"] += wt; tot += wt }
  END { for (k in s) printf "%6.2f%%  %s\n", 100 * s[k] / tot, k }' | sort -rn | head -"$TOP"

echo; echo "== allocated bytes per request (all threads, recorded window)"
jfr print --events jdk.ThreadAllocationStatistics "$JFR" | awk -v reqs="$REQS" '
  /startTime = / { t = $3 } /allocated = / { v = $3; u = $4; m = (u ~ /^kB/) ? 1024 : (u ~ /^MB/) ? 1048576 : (u ~ /^GB/) ? 1073741824 : 1; a = v * m }
  /thread = / { th = $0; if (!(th in first)) first[th] = a; last[th] = a }
  END { for (k in first) d += last[k] - first[k]; printf "%.0f bytes/request (%d requests)\n", d / reqs, reqs }'
grep -c 'Thread blocked' "$WORK/tollgate.log" | awk '{ if ($1 > 0) print "WARNING: " $1 " Thread blocked warnings" }'
echo "JFR file: $JFR"
