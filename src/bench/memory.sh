#!/usr/bin/env bash
# Issue 12's memory bound: the gateway's resident set with L1 full, under load, against
#   target = 1.5 x cache.l1MaxWeight + 250 MiB,
# with the JVM flags README.md documents for the sidecar (SIDECAR_JVM below).
#
# The gateway (shipped configuration, cache.l1MaxWeight = L1_WEIGHT) is pinned to core 0 with taskset; the
# Graph simulator and wrk are on core 1. wrk sends cacheable GETs, all to 127.0.0.1, from CALLERS callers
# (one opaque bearer token each, so every caller has its own cache partition), picked at random per request:
# 40 % users (~330 B bodies), 15 % groups (~350 B), 25 % group member pages (~5 KB), 20 % transitive member
# pages of the simulator's largest groups (12-18 KB). The key space is several times L1's bound, so L1 fills
# in the first seconds and then stays full, evicting as it stores. The load is bounded in time (DURATION) and
# count (MAX_REQUESTS). Every SAMPLE seconds the script reads VmRSS/VmHWM from /proc/<pid>/status and the L1
# weight and entries, heap used and committed, and direct buffers from the gateway's /metrics.
# Prints the peaks, the target and PASS/FAIL (FAIL too when L1 never reached 95 % of its bound).
#
# Usage: src/bench/memory.sh
# Env:   DURATION=180 (s of load) L1_WEIGHT (default: cache.l1MaxWeight of conf/tollgate.yaml, e.g. 256MiB)
#        XMX (default: the -Xmx of SIDECAR_JVM) JAVA_OPTS (extra gateway flags, after the documented ones)
#        CALLERS=200 CONNECTIONS=64 MAX_REQUESTS=5000000 SAMPLE=2 (s)
#        NMT=1: run the gateway with -XX:NativeMemoryTracking=summary and print `jcmd VM.native_memory summary`
#        at the end (it costs a few MiB itself); a class histogram of the heap is saved either way.
# Output: the terminal and bench-results/memory.txt (appended); the samples, GC log, NMT and histogram in
# bench-results/logs/memory-*. Takes DURATION + ~30 s. The jar is built if missing and run from a copy.
set -euo pipefail
cd "$(dirname "$0")/../.."
source src/bench/lib.sh

# The sidecar's heap and flags as README.md ("Memory") and deploy/Dockerfile document them (DeployFilesTest checks).
SIDECAR_JVM_XMX=448m
SIDECAR_JVM=(-XX:+UseG1GC -XX:+ExitOnOutOfMemoryError)

DURATION=${DURATION:-180}
L1_WEIGHT=${L1_WEIGHT:-$(awk '$1 == "l1MaxWeight:" { print $2; exit }' conf/tollgate.yaml)}
XMX=${XMX:-$SIDECAR_JVM_XMX}
JAVA_OPTS=${JAVA_OPTS:-}
CALLERS=${CALLERS:-200}
CONNECTIONS=${CONNECTIONS:-64}
MAX_REQUESTS=${MAX_REQUESTS:-5000000}
SAMPLE=${SAMPLE:-2}
NMT=${NMT:-}
MIB=1048576

# bytes SIZE: 256MiB, 1GiB, 512KiB or a bare number of bytes, in bytes.
bytes() {
  local n=${1%%[!0-9]*} unit=${1##*[0-9]}
  case $unit in
    "") echo "$n" ;; KiB) echo $((n * 1024)) ;; MiB) echo $((n * MIB)) ;; GiB) echo $((n * 1024 * MIB)) ;;
    *) echo "memory.sh: cannot read size '$1' (want e.g. 256MiB)" >&2; exit 2 ;;
  esac
}
L1_BYTES=$(bytes "$L1_WEIGHT")
TARGET=$((L1_BYTES * 3 / 2 + 250 * MIB))

[ -f target/tollgate.jar ] || mvn -B -q package -DskipTests
mkdir -p bench-results/logs
bench_copy
LOGS=bench-results/logs
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM

simport=$(free_port); port=$(free_port); mport=$(free_port)
taskset -c 1 java -Xmx1g -jar "$WORK/sim.jar" simulate --port "$simport" > "$LOGS/memory-sim.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$simport/v1.0/users/u1"

# The large transitive member pages: groups whose page is 12 KB or more.
big=()
for g in $(seq 1 200); do
  n=$(curl -s -H 'Authorization: Bearer size-probe' "http://127.0.0.1:$simport/v1.0/groups/g$g/transitiveMembers" | wc -c)
  if [ "$n" -ge 12000 ]; then big+=("g$g"); fi
done
[ ${#big[@]} -gt 0 ] || { echo "memory.sh: the simulator has no transitive member page of 12 KB or more" >&2; exit 1; }

cat > "$WORK/memory.yaml" <<EOF
cache:
  l1MaxWeight: $L1_WEIGHT
EOF
cat > "$WORK/memory.lua" <<'EOF'
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_no", #threads)
end
function init(args)
  callers, limit = tonumber(args[1]), tonumber(args[2])
  big = {}
  for i = 3, #args do big[#big + 1] = args[i] end
  sent = 0
  math.randomseed(4242 + thread_no * 7919)
end
function request()
  sent = sent + 1
  if sent > limit then wrk.thread:stop() end
  local r, path = math.random(100)
  if r <= 40 then path = "/v1.0/users/u" .. math.random(500)
  elseif r <= 55 then path = "/v1.0/groups/g" .. math.random(200)
  elseif r <= 80 then path = "/v1.0/groups/g" .. math.random(200) .. "/members"
  else path = "/v1.0/groups/" .. big[math.random(#big)] .. "/transitiveMembers" end
  return wrk.format("GET", path, { ["Authorization"] = "Bearer memory-bench-caller-" .. math.random(callers) })
end
EOF

nmt=()
[ -n "$NMT" ] && nmt=(-XX:NativeMemoryTracking=summary)
gwflags=("-Xmx$XMX" "${SIDECAR_JVM[@]}" "${nmt[@]}" -Xlog:gc:file="$PWD/$LOGS/memory-gc.log" $JAVA_OPTS)
(cd "$WORK" && exec taskset -c 0 java "${gwflags[@]}" -jar "$WORK/sim.jar" --config "$WORK/memory.yaml" \
  --upstream "http://127.0.0.1:$simport" --port "$port" --management-port "$mport") > "$LOGS/memory-gateway.log" 2>&1 &
gw=$!; PIDS+=("$gw")
wait_for "http://127.0.0.1:$mport/health/live"

OUT=bench-results/memory.txt
SAMPLES=$LOGS/memory-samples.csv
mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
{
  echo "# $(date -u +%FT%TZ) memory.sh: L1_WEIGHT=$L1_WEIGHT ($(mib "$L1_BYTES") MiB) gateway flags: ${gwflags[*]/-Xlog*/}"
  echo "# load: ${DURATION}s, $CALLERS callers, $CONNECTIONS connections, ${#big[@]} large groups; target: 1.5 x $(mib "$L1_BYTES") + 250 = $(mib "$TARGET") MiB RSS"
} | tee -a "$OUT"

timeout -k 5 $((DURATION + 30)) taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -s "$WORK/memory.lua" \
  "http://127.0.0.1:$port" -- "$CALLERS" "$MAX_REQUESTS" "${big[@]}" > "$LOGS/memory-wrk.txt" 2>&1 &
load=$!; PIDS+=("$load")

# metric NAME [LABEL-FILTER]: the sum of the samples of NAME in $metrics.
metric() { awk -v n="$1" -v f="${2:-}" 'index($0, n) == 1 && (f == "" || index($0, f)) { s += $NF } END { printf "%.0f", s }' <<<"$metrics"; }
echo "t_s,rss_bytes,hwm_bytes,heap_used_bytes,heap_committed_bytes,direct_bytes,nonheap_used_bytes,l1_weight_bytes,l1_entries" > "$SAMPLES"
start=$(date +%s); full_at=""; peak_heap=0; peak_weight=0; peak_entries=0; peak_direct=0; peak_rss=0; next_print=0
while kill -0 "$load" 2>/dev/null; do
  sleep "$SAMPLE"
  t=$(($(date +%s) - start))
  rss=$(awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$gw/status"); hwm=$(awk '/^VmHWM:/ { print $2 * 1024 }' "/proc/$gw/status")
  metrics=$(curl -s -m 2 "http://127.0.0.1:$mport/metrics" || true)
  heap=$(metric 'jvm_memory_used_bytes{area="heap"'); committed=$(metric 'jvm_memory_committed_bytes{area="heap"')
  nonheap=$(metric 'jvm_memory_used_bytes{area="nonheap"'); direct=$(metric 'jvm_buffer_memory_used_bytes{id="direct"}')
  weight=$(metric tollgate_cache_l1_weight_bytes); entries=$(metric tollgate_cache_l1_size)
  echo "$t,$rss,$hwm,$heap,$committed,$direct,$nonheap,$weight,$entries" >> "$SAMPLES"
  [ -z "$full_at" ] && [ "$weight" -ge $((L1_BYTES * 95 / 100)) ] && full_at=$t
  ((rss > peak_rss)) && peak_rss=$rss; ((heap > peak_heap)) && peak_heap=$heap; ((direct > peak_direct)) && peak_direct=$direct
  ((weight > peak_weight)) && peak_weight=$weight; ((entries > peak_entries)) && peak_entries=$entries
  if ((t >= next_print)); then
    printf '  %4ds  RSS %4s MiB  heap used %4s MiB (committed %s)  direct %3s MiB  L1 %4s MiB, %s entries\n' "$t" \
      "$(mib "$rss")" "$(mib "$heap")" "$(mib "$committed")" "$(mib "$direct")" "$(mib "$weight")" "$entries"
    next_print=$((t + 20))
  fi
done
wait "$load" || true
hwm=$(awk '/^VmHWM:/ { print $2 * 1024 }' "/proc/$gw/status")
jcmd "$gw" GC.class_histogram > "$LOGS/memory-histogram.txt" 2>&1 || true
[ -n "$NMT" ] && { jcmd "$gw" VM.native_memory summary > "$LOGS/memory-nmt.txt" 2>&1 || true; }

# One fresh read through the gateway and one straight to the simulator: both should be 200 after the load.
probe=$(curl -s -m 10 -w ' %{http_code}' -H 'Authorization: Bearer memory-bench-probe' "http://127.0.0.1:$port/v1.0/users/u1" | tail -c 300)
direct=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer memory-bench-probe' "http://127.0.0.1:$simport/v1.0/users/u1" || true)
reqs=$(awk '/ requests in / { print $1 }' "$LOGS/memory-wrk.txt")
rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$LOGS/memory-wrk.txt")
non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$LOGS/memory-wrk.txt")
metrics=$(curl -s -m 2 "http://127.0.0.1:$mport/metrics" || true)
hits=$(metric 'tollgate_cache_hits_total{level="l1"}'); misses=$(metric 'tollgate_cache_misses_total{level="l1"}')
evictions=$(metric 'tollgate_cache_evictions_total{level="l1"}')
verdict=PASS; why=""
((hwm <= TARGET)) || { verdict=FAIL; why=" (peak RSS above the target)"; }
[ -n "$full_at" ] || { verdict=FAIL; why="$why (L1 never reached 95 % of its bound)"; }
{
  echo "  requests: ${reqs:-?} (${rps:-?}/s), non-2xx: ${non2xx:-0}, L1 hits $hits, misses $misses, evictions $evictions; L1 full (>= 95 %) after ${full_at:-never} s"
  echo "  peak RSS (VmHWM) $(mib "$hwm") MiB (sampled VmRSS peak $(mib "$peak_rss")); peak heap used $(mib "$peak_heap") MiB; peak direct buffers $(mib "$peak_direct") MiB"
  echo "  L1 peak weight $(mib "$peak_weight") MiB of $(mib "$L1_BYTES"), peak entries $peak_entries"
  echo "  after the load: a fresh read through the gateway -> ${probe##* }, straight to the simulator -> $direct"
  echo "  target $(mib "$TARGET") MiB: $verdict$why"
} | tee -a "$OUT"
if [ -n "$NMT" ]; then
  grep -E '^(Total|-)' "$LOGS/memory-nmt.txt" | sed 's/^/  NMT /' || true
fi
head -8 "$LOGS/memory-histogram.txt" | tail -6 | sed 's/^/  histogram /'
[ "${probe##* }" = 200 ] || echo "  gateway's answer: ${probe% *}"
grep -E "Thread blocked|ERROR|WARN" "$LOGS/memory-gateway.log" | cut -c1-200 | head -5 || true
[ "$verdict" = PASS ]
