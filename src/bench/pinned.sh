#!/usr/bin/env bash
# pinned.sh: what a request COSTS the system under test (SUT), not how it fares in a fight for CPU.
#
# The SUT (Tollgate, or nginx for comparison) is pinned to one core (SUT_CPU); wrk and the Graph
# simulator are pinned to the other (LOAD_CPU), with taskset. Every request carries a realistic ~2 KB
# JWT-shaped bearer token (header.payload.signature with Graph's claims, signed with the simulator's HMAC key
# so the simulator accepts it as Graph would a real one), set by a wrk Lua script. Reported per target:
#   requests/s, p50 and p99 (wrk --latency), RSS (and a Tollgate's heap in use) at the end of the window, and CPU µs per request of the SUT =
#   (utime + stime from /proc/PID/stat, all threads, over the measured window) / requests completed;
#   for nginx master + worker, for the L2 row Tollgate + its redis-server (both on SUT_CPU).
# Each value is the median of PASSES passes, per column.
#
# Rows (ROWS, default "pass l1 l2"):
#   pass  GET PASS_PATH, an uncached route: Tollgate (rate limiter disabled, so the proxy's cost is
#         measured and not the shipped identity-reads pacing) vs nginx proxy_pass (keepalive pool).
#   l1    GET HIT_PATH, warm L1 hit: Tollgate (shipped config) vs nginx proxy_cache (ignores the
#         upstream's Cache-Control, keys on Authorization too).
#   l2    L2 hits: Tollgate (shipped config, cache.l1MaxWeight 1KiB so L1 holds at most one entry,
#         cache.l2.operationTimeout L2_OPERATION_TIMEOUT) with its own redis-server on a free loopback
#         port; L2 filled with KEYS users, then the requests are spread uniformly over them. The X-Cache
#         mix over the window comes from the gateway's /metrics and is checked (>= 90 % L2 hits).
#
# Warm-up: every Tollgate target is a fresh JVM per pass, loaded for WARMUP (default 40s: the notes in
# README.md found pass-through still speeding up until ~40 s of load) before its measured DURATION, given as
# WARMUP_RUNS wrk runs each followed by a scrape of its /metrics (see wrk_load).
# nginx (one instance for the whole run) gets NGINX_WARMUP (5s) before each measured pass; the
# simulator gets SIM_WARMUP (15s) of direct load once at the start.
#
# Two jars side by side: JARS="/tmp/tollgate-before.jar target/tollgate.jar" src/bench/pinned.sh
# runs every Tollgate row for each jar (A = first, B = second), in the order A B, B A, A B, ... per
# pass, and prints the per-jar medians and the ratio B/A (new/old) of CPU µs/request. nginx runs once per
# pass. The jars are copied at start, so a rebuild during the run does not change what is measured.
#
# Run from anywhere, on a quiet 2-core machine (as root when wrk/nginx must be installed from Debian):
#   src/bench/pinned.sh
#   JARS="/tmp/tollgate-before.jar target/tollgate.jar" src/bench/pinned.sh
#   WARMUP=5s DURATION=3s PASSES=1 ROWS=l2 src/bench/pinned.sh          # smoke test
# Environment: JARS (target/tollgate.jar; relative paths are from the repository root), ROWS
#   ("pass l1 l2"), PASSES (3), DURATION (10s), WARMUP (40s), NGINX_WARMUP (5s), SIM_WARMUP (15s),
#   WARMUP_RUNS (8: the warm-up as that many wrk runs, see wrk_load), CONNECTIONS (64), THREADS (1: wrk has one core), SUT_CPU (0), LOAD_CPU (1),
#   PASS_PATH ('/v1.0/users?$top=5'), HIT_PATH (/v1.0/users/u1), KEYS (500, row l2),
#   L2_OPERATION_TIMEOUT (2s, as run.sh row d), JAVA_OPTS (extra JVM flags for Tollgate; note that a JVM
#   pinned to one core picks SerialGC and 2 event loops, the log says which GC).
# Defaults take about 10 minutes with one jar, 18 with two. Output: the terminal and
# bench-results/pinned-latest.txt; wrk output and server logs in bench-results/pinned-logs/. The jars
# are not built here (mvn -B package -DskipTests builds target/tollgate.jar). Only 127.0.0.1 traffic;
# every process this script starts is stopped on exit, Ctrl-C included.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
JARS=${JARS:-target/tollgate.jar}
ROWS=${ROWS:-pass l1 l2}
PASSES=${PASSES:-3}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-40s}
WARMUP_RUNS=${WARMUP_RUNS:-8}
NGINX_WARMUP=${NGINX_WARMUP:-5s}
SIM_WARMUP=${SIM_WARMUP:-15s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-1}
SUT_CPU=${SUT_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
PASS_PATH=${PASS_PATH:-'/v1.0/users?$top=5'}
HIT_PATH=${HIT_PATH:-/v1.0/users/u1}
KEYS=${KEYS:-500}
L2_OPERATION_TIMEOUT=${L2_OPERATION_TIMEOUT:-2s}
JAVA_OPTS=${JAVA_OPTS:-}

OUT_DIR=$ROOT/bench-results
HZ=$(getconf CLK_TCK)
WORK=""
PIDS=()
declare -A USED_PORTS=()
# Per "ROW|target label": space-separated per-pass values (CPU1/CPU2: gateway and redis in row l2).
declare -A V_RPS=() V_P50=() V_P99=() V_CPU=() V_CPU1=() V_CPU2=() V_UTIL=() V_NOTE=() V_RSS=() V_HEAP=()
TARGETS=()    # "ROW|label" keys in first-measured order
PROBLEMS=()
NOTES=()

log() { printf '# %s %s\n' "$(date +%T)" "$*"; }
problem() { PROBLEMS+=("$*"); printf '# PROBLEM: %s\n' "$*"; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ -n $WORK && -d $WORK ]]; then
    rm -rf "$OUT_DIR/pinned-logs"; mkdir -p "$OUT_DIR/pinned-logs"
    cp "$WORK"/*.log "$WORK"/wrk-*.txt "$OUT_DIR/pinned-logs/" 2>/dev/null || true
    rm -rf "$WORK"
  fi
  exit "$rc"
}

# ---------------------------------------------------------------- helpers (as in run.sh)

# free_port VAR: a loopback port nobody listens on and that this run has not handed out yet.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))   # below Linux's ephemeral range (32768+): no clash with client sockets
    [[ -n ${USED_PORTS[$p]:-} ]] && continue
    if ! ss -Htln "sport = :$p" | grep -q .; then
      USED_PORTS[$p]=1
      printf -v "$1" '%s' "$p"
      return
    fi
  done
}

# start NAME CMD...: runs CMD in the background (cwd $WORK), output to $WORK/NAME.log; sets LAST_PID.
# taskset execs its command, so LAST_PID is the server's own pid.
start() {
  local name=$1; shift
  (cd "$WORK" && exec "$@") >"$WORK/$name.log" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

# stop PID: TERM, then KILL after 10 s.
stop() {
  local pid=$1 i
  kill "$pid" 2>/dev/null || true
  for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  local kept=() p
  for p in "${PIDS[@]}"; do [[ $p == "$pid" ]] || kept+=("$p"); done
  PIDS=("${kept[@]}")
}

# wait_http URL PID NAME: until URL answers 2xx (30 s at most) while PID is alive.
wait_http() {
  local url=$1 pid=$2 name=$3 i
  for i in $(seq 300); do
    curl -sf -m 2 -o /dev/null "$url" && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name exited during start-up; its log:" >&2; cat "$WORK/$name.log" >&2; return 1
    fi
    sleep 0.1
  done
  echo "$name did not answer $url within 30 s" >&2; return 1
}

# wait_listen PORT NAME: until something listens on PORT (30 s at most).
wait_listen() {
  local i
  for i in $(seq 300); do ss -Htln "sport = :$1" | grep -q . && return 0; sleep 0.1; done
  echo "$2: port $1 not listening after 30 s" >&2; return 1
}

# xcache URL: "status x-cache" of one GET with the bench token.
xcache() { curl -s -g -m 10 -o /dev/null -w '%{http_code} %header{x-cache}' -H "$AUTH" "$1"; }

# expect_xcache LABEL WANT URL: one GET, a problem unless it answers "200 WANT".
expect_xcache() {
  local got; got=$(xcache "$3")
  [[ $got == "200 $2" ]] || problem "$1: expected '200 $2', got '$got' from $3"
}

# metric URL NAME: value of one Prometheus sample (0 when absent).
metric() {
  curl -s -m 5 "$1" | awk -v n="$2" '$1 == n { v = $2 } END { printf "%d", (v == "" ? 0 : v) }'
}

# metric_sum URL NAME: sum of every series of NAME (any tags).
metric_sum() {
  curl -s -m 5 "$1" | awk -v n="$2" 'index($1, n) == 1 && (length($1) == length(n) || substr($1, length(n) + 1, 1) == "{") { v += $2 }
    END { printf "%d", v }'
}

sim_total() { curl -s -m 5 "$SIM/_sim/stats" | sed -n 's/.*"total":\([0-9]*\).*/\1/p'; }

# ms VALUE: wrk's 123.45us / 1.23ms / 1.02s / 1.00m in milliseconds.
ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : -1
    if (f < 0) print "?"; else printf "%.2f", n * f }'
}

# secs DURATION: 40s / 2m / 500ms / 40 in whole seconds (rounded up), for time-outs.
secs() { awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
  f = (u == "m") ? 60 : (u == "h") ? 3600 : (u == "ms") ? 0.001 : 1; s = n * f; printf "%d", (s == int(s)) ? s : int(s) + 1 }'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }

# median V...: the median (mean of the middle two for an even count).
median() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ---------------------------------------------------------------- CPU accounting

# proc_ticks PID...: utime + stime, in clock ticks, of the processes (all their threads: /proc/PID/stat
# of a process sums its threads).
proc_ticks() {
  local p f t=0
  for p in "$@"; do
    f=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    f=${f##*) }   # fields after "(comm) "; utime and stime are the 12th and 13th of them
    read -r -a f <<<"$f"
    t=$((t + f[11] + f[12]))
  done
  echo "$t"
}

# core_ticks CPU: "busy total" clock ticks of one core so far (/proc/stat; busy = all but idle and iowait).
core_ticks() {
  local a i t=0
  read -r -a a < <(grep "^cpu$1 " /proc/stat)
  for i in 1 2 3 4 5 6 7 8; do t=$((t + a[i])); done
  echo "$((t - a[4] - a[5])) $t"
}

# ---------------------------------------------------------------- token and wrk script

# make_token: a ~2 KB JWT-shaped Graph access token (delegated, RS256-shaped, exp in 2100) in $TOKEN.
make_token() {
  b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
  local tid=72f988bf-86f1-41af-91ab-2d7cd011db47 oid=4d3c2b1a-9e8f-4a7b-8c6d-5e4f3a2b1c0d
  local appid=1fec8e78-bce4-4aaf-ab1b-5451cc387264 now; now=$(date +%s)
  local header payload sig
  header=$(printf '{"typ":"JWT","nonce":"xq7Ezj0PZ3hKo5mT1dYcW8rGvN2uBf4sLaJiQ6eRtXk","alg":"RS256","x5t":"kWbkaa6qs8wsTnBwiiNYOhHbnAw","kid":"kWbkaa6qs8wsTnBwiiNYOhHbnAw"}' | b64url)
  payload=$(printf '%s' "{\"aud\":\"https://graph.microsoft.com\",\"iss\":\"https://sts.windows.net/$tid/\",\
\"iat\":$((now - 300)),\"nbf\":$((now - 300)),\"exp\":4102444800,\"acr\":\"1\",\
\"aio\":\"AVQAq/8WAAAAgq3Z0Y8k1nW7v2mQeR5xT4yU6iO9pA3sD1fG2hJ4kL7zX8cV0bN5mM3qW6eR9=\",\"amr\":[\"pwd\",\"mfa\"],\
\"app_displayname\":\"Contoso Access Review Auditor\",\"appid\":\"$appid\",\"appidacr\":\"1\",\
\"idtyp\":\"user\",\"ipaddr\":\"203.0.113.42\",\"name\":\"Astrid Lindqvist (Compliance)\",\"oid\":\"$oid\",\"platf\":\"3\",\
\"roles\":[\"Compliance.Auditor\",\"AccessReview.Reader\",\"Reports.Viewer\"],\
\"scp\":\"AuditLog.Read.All Directory.Read.All Files.Read.All Group.Read.All GroupMember.Read.All Mail.Read openid \
profile Reports.Read.All Sites.Read.All Sites.FullControl.All User.Read User.Read.All User.ReadBasic.All email offline_access\",\
\"sub\":\"pQ3mV9xR2tY7uI4oP1aS6dF8gH0jK5lZ3xC9vB2nM7q\",\"tenant_region_scope\":\"EU\",\"tid\":\"$tid\",\
\"upn\":\"astrid.lindqvist@contoso.onmicrosoft.com\",\"uti\":\"Hq2Wk8Yd0UqPZr4mT7xXAA\",\"ver\":\"1.0\",\
\"wids\":[\"f2ef992c-3afb-46b9-b7cf-a126ee74c451\",\"5d6b6bb7-de71-4623-b4af-96380a352509\",\"b79fbf4d-3ef9-4689-8143-76b194e85509\"],\
\"xms_cc\":[\"CP1\"],\"xms_tcdt\":1496217600,\"xms_tdbr\":\"EU\"}" | b64url)
  # Signed the way the Graph simulator checks (HMAC-SHA256 with its default key, sim.Tokens): like Graph, it
  # answers 401 to a JWT whose signature it cannot verify.
  sig=$(printf '%s' "$header.$payload" | openssl dgst -sha256 -hmac "tollgate-simulator-signing-key" -binary | b64url)
  TOKEN="$header.$payload.$sig"
  AUTH="Authorization: Bearer $TOKEN"
}

# write_lua: wrk script that sends GETs with "Authorization: Bearer TOKEN".
# Arguments after "--": TOKEN PATH [COUNT]. With COUNT, each request picks PATH..1 .. PATH..COUNT at
# random (distinct cache keys); without, every request is GET PATH.
write_lua() {
  cat >"$WORK/bearer.lua" <<'EOF'
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_no", #threads)
end
function init(args)
  local token, path, count = args[1], args[2], tonumber(args[3])
  local headers = { ["Authorization"] = "Bearer " .. token }
  requests = {}   -- pre-formatted once: the per-request cost in wrk is one table lookup
  if count then
    for i = 1, count do requests[i] = wrk.format("GET", path .. i, headers) end
  else
    requests[1] = wrk.format("GET", path, headers)
  end
  math.randomseed(os.time() * 1000 + (thread_no or 0) * 7919)
end
function request()
  if #requests == 1 then return requests[1] end
  return requests[math.random(#requests)]
end
EOF
}

# wrk_load DURATION URL PATH [COUNT]: load from LOAD_CPU (used for warm-ups; output discarded), as WARMUP_RUNS
# back-to-back wrk runs sharing DURATION. Each run opens and closes CONNECTIONS connections, so a JIT-compiled SUT
# has compiled its connection set-up and tear-down paths before the window, as a sidecar that has run for a while
# has. After one long run they were first taken when the measured run connected: -XX:+PrintCompilation showed
# ~380 compilations, hot Netty and Vert.x methods deoptimised and recompiled, in the window's first 5 s.
# With SCRAPE set (a Tollgate's /metrics), each run is followed by a scrape, as Prometheus scrapes a sidecar that has
# run for a while: the script reads counters from /metrics just before each window, and a first scrape there
# (~50 ms, then C2 compiling the exposition code during the window) doubled an L1 window's p99 (4.3 against 2.2 ms).
wrk_load() {
  local d=$1 url=$2; shift 2
  local total runs each i
  total=$(secs "$d"); runs=$WARMUP_RUNS
  ((runs > total)) && runs=$total
  ((runs < 1)) && runs=1
  each=$((total / runs))
  for ((i = 0; i < runs; i++)); do
    timeout -k 5 --foreground $((each + 30)) taskset -c "$LOAD_CPU" \
      wrk -t"$THREADS" -c"$CONNECTIONS" -d"${each}s" -s "$WORK/bearer.lua" "$url" -- "$TOKEN" "$@" >"$WORK/warm.txt" 2>&1 \
      || problem "wrk warm-up on $url failed: $(tail -1 "$WORK/warm.txt")"
    [[ -z ${SCRAPE:-} ]] || curl -s -m 10 -o /dev/null "$SCRAPE" || problem "scrape of $SCRAPE failed"
  done
}

# measure ROW LABEL URL PATH [COUNT]: one measured pass against the SUT whose pids are in SUT_PIDS
# (and SUT2_PIDS, reported separately in the notes, e.g. redis). Appends the values under LABEL.
measure() {
  local row=$1 label=$2 url=$3; shift 3
  local out; out=$WORK/wrk-$(printf '%03d' "$MEASURE_NO").txt; MEASURE_NO=$((MEASURE_NO + 1))
  local s0 s1 r0 r1 c0 c1 l0 l1 m0 m1 rc=0 TIMEFORMAT='%U %S'
  s0=$(proc_ticks "${SUT_PIDS[@]}"); r0=$(proc_ticks "${SUT2_PIDS[@]}"); m0=$(proc_ticks "$SIM_PID")
  read -r -a c0 < <(core_ticks "$SUT_CPU"); read -r -a l0 < <(core_ticks "$LOAD_CPU")
  echo "== pass $PASS, $label: $url $*" >"$out"
  { time timeout -k 5 --foreground $(($(secs "$DURATION") + 30)) taskset -c "$LOAD_CPU" \
      wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$WORK/bearer.lua" "$url" -- "$TOKEN" "$@" >>"$out" 2>&1; } \
    2>"$out.time" || rc=$?
  s1=$(proc_ticks "${SUT_PIDS[@]}"); r1=$(proc_ticks "${SUT2_PIDS[@]}"); m1=$(proc_ticks "$SIM_PID")
  read -r -a c1 < <(core_ticks "$SUT_CPU"); read -r -a l1 < <(core_ticks "$LOAD_CPU")
  ((rc == 0)) || problem "pass $PASS, $label: wrk failed, exit $rc (see pinned-logs/$(basename "$out"))"
  local wrk_ticks; wrk_ticks=$(awk -v hz="$HZ" '{ printf "%d", ($1 + $2) * hz }' "$out.time")
  local reqs rps p50 p99 non2xx sock
  reqs=$(awk '/ requests in / { print $1 }' "$out")
  rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
  p50=$(ms "$(awk '$1 == "50%" { print $2 }' "$out")")
  p99=$(ms "$(awk '$1 == "99%" { print $2 }' "$out")")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
  sock=$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$out")
  local sut=$((s1 - s0)) extra=$((r1 - r0)) core=$((c1[1] - c0[1]))
  ((core > 0)) || core=1
  local cpu cpu1 cpu2 util other loadbusy loadother note=""
  cpu=$(us_per_req "$((sut + extra))" "${reqs:-0}"); cpu1=$(us_per_req "$sut" "${reqs:-0}"); cpu2=$(us_per_req "$extra" "${reqs:-0}")
  util=$(( (sut + extra) * 100 / core ))
  # CPU of the SUT core not used by the SUT: other processes (and interrupts) that ran on it.
  other=$(( (c1[0] - c0[0] - sut - extra) * 100 / core )); ((other >= 0)) || other=0
  loadbusy=$(( (l1[0] - l0[0]) * 100 / (l1[1] - l0[1] > 0 ? l1[1] - l0[1] : 1) ))
  # The same for the load core: what neither wrk nor the simulator used there.
  loadother=$(( (l1[0] - l0[0] - wrk_ticks - (m1 - m0)) * 100 / (l1[1] - l0[1] > 0 ? l1[1] - l0[1] : 1) ))
  ((loadother >= 0)) || loadother=0
  if [[ ${non2xx:-0} != 0 || ${sock:-0} != 0 ]]; then
    problem "pass $PASS, $label: ${non2xx:-0} non-2xx, ${sock:-0} socket errors (see pinned-logs/$(basename "$out"))"
    note="${note:+$note; }errors"
  fi
  if ((other > 10)); then
    problem "pass $PASS, $label: ${other}% of the SUT core went to something else during the window; numbers skewed"
    note="${note:+$note; }SUT core ${other}% other"
  fi
  if ((loadother > 10)); then
    problem "pass $PASS, $label: ${loadother}% of the load core went to something else; req/s and latency skewed"
    note="${note:+$note; }load core ${loadother}% other"
  fi
  local split=""; ((${#SUT2_PIDS[@]})) && split=" = gateway $cpu1 + $SUT2_NAME $cpu2"
  # Memory at the end of the window: resident set of the SUT's processes, and a Tollgate's heap in use.
  local rss heap="-"
  rss=$(rss_mib "${SUT_PIDS[@]}")
  [[ $label == Tollgate* ]] && heap=$(curl -s -m 5 "$TG_METRICS" | awk '/^jvm_memory_used_bytes\{.*area="heap"/ { v += $NF } END { printf "%.0f", v / 1048576 }')
  log "pass $PASS $label: $rps req/s, p50 $p50 ms, p99 $p99 ms, $cpu µs CPU/req$split ($((sut + extra)) ticks / ${reqs:-0} req), SUT ${util}% of its core, other on SUT core ${other}%, load core ${loadbusy}% busy (${loadother}% other), RSS $rss MiB, heap $heap MiB"
  local k="$row|$label"
  [[ -n ${V_RPS[$k]:-} ]] || TARGETS+=("$k")
  V_RPS[$k]+=" ${rps:-0}"; V_P50[$k]+=" $p50"; V_P99[$k]+=" $p99"; V_CPU[$k]+=" $cpu"
  V_CPU1[$k]+=" $cpu1"; V_CPU2[$k]+=" $cpu2"; V_UTIL[$k]+=" $util"; V_RSS[$k]+=" $rss"; V_HEAP[$k]+=" $heap"
  [[ -z $note ]] || V_NOTE[$k]+="${V_NOTE[$k]:+; }pass $PASS: $note"
}

# rss_mib PID...: the summed VmRSS of the processes, in MiB.
rss_mib() {
  local p t=0 kb
  for p in "$@"; do kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0); t=$((t + ${kb:-0})); done
  echo $((t / 1024))
}

# us_per_req TICKS REQUESTS: CPU microseconds per request.
us_per_req() { awk -v t="$1" -v hz="$HZ" -v n="$2" 'BEGIN { if (n == 0) print "n/a"; else printf "%.1f", t * 1e6 / hz / n }'; }

# ---------------------------------------------------------------- servers

ensure_tools() {
  local missing=() t
  command -v wrk >/dev/null || missing+=(wrk)
  command -v nginx >/dev/null || missing+=(nginx-light)
  if ((${#missing[@]})); then
    log "installing ${missing[*]} from Debian (apt-get; output in pinned-logs/apt.log)"
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"; } >"$WORK/apt.log" 2>&1
  fi
  for t in wrk nginx redis-server redis-cli taskset curl java ss awk xxd base64 sha256sum timeout; do
    command -v "$t" >/dev/null || { echo "missing tool: $t" >&2; exit 1; }
  done
  local n; n=$(nproc --all)
  ((SUT_CPU < n && LOAD_CPU < n && SUT_CPU != LOAD_CPU)) \
    || { echo "SUT_CPU ($SUT_CPU) and LOAD_CPU ($LOAD_CPU) must be two different cores of $n" >&2; exit 1; }
}

# copy_jars: JAR_LETTER[i], JAR_NAME[i] (as given) and JAR_PATH[i] (a copy in $WORK) for every jar in JARS.
copy_jars() {
  local j i=0 src letters=ABCDEFGH
  JAR_NAME=(); JAR_PATH=(); JAR_LETTER=()
  for j in $JARS; do
    if [[ $j == /* ]]; then src=$j; else src=$ROOT/$j; fi
    [[ -f $src ]] || { echo "jar not found: $src (build it with: mvn -B package -DskipTests)" >&2; exit 1; }
    cp "$src" "$WORK/jar-$i.jar"
    JAR_NAME+=("$j"); JAR_PATH+=("$WORK/jar-$i.jar"); JAR_LETTER+=("${letters:i:1}")
    log "jar ${letters:i:1}: $j (sha256 $(sha256sum "$src" | cut -c1-12), $(date -u -r "$src" +%Y-%m-%dT%H:%M:%SZ))"
    i=$((i + 1))
  done
  ((i >= 1 && i <= 8)) || { echo "JARS: 1 to 8 jars" >&2; exit 1; }
}

start_nginx() {
  local dir=$WORK/nginx user=""
  mkdir -p "$dir/cache" "$dir/tmp"
  [[ $EUID -eq 0 ]] && user="user root;"
  free_port NGX_PLAIN_PORT; free_port NGX_CACHE_PORT
  cat >"$dir/nginx.conf" <<EOF
$user
worker_processes 1;   # one core
pid $dir/nginx.pid;
error_log $WORK/nginx.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  upstream sim {
    server 127.0.0.1:$SIM_PORT;
    keepalive 64;
  }
  proxy_cache_path $dir/cache levels=1:2 keys_zone=bench:10m max_size=256m inactive=1h use_temp_path=off;
  # Plain reverse proxy: the work Tollgate does on an uncached route.
  server {
    listen 127.0.0.1:$NGX_PLAIN_PORT;
    location / {
      proxy_pass http://sim;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Forwarded-Host \$http_host;
    }
  }
  # Caching reverse proxy: our rule decides, not the upstream (Graph says no-cache); one entry per token.
  server {
    listen 127.0.0.1:$NGX_CACHE_PORT;
    location / {
      proxy_pass http://sim;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Forwarded-Host \$http_host;
      proxy_cache bench;
      proxy_cache_key "\$request_method|\$scheme|\$host|\$request_uri|\$http_authorization";
      proxy_ignore_headers Cache-Control Expires Set-Cookie;
      proxy_cache_valid 200 1h;
      add_header X-Cache \$upstream_cache_status;
    }
  }
}
EOF
  start nginx taskset -c "$SUT_CPU" nginx -e "$WORK/nginx.log" -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;'
  NGX_PID=$LAST_PID
  wait_http "http://127.0.0.1:$NGX_PLAIN_PORT/_sim/stats" "$NGX_PID" nginx
  wait_listen "$NGX_CACHE_PORT" nginx
  NGX_PIDS=("$NGX_PID"); mapfile -t -O 1 NGX_PIDS < <(pgrep -P "$NGX_PID")
  NGX="http://127.0.0.1:$NGX_PLAIN_PORT"; NGXC="http://127.0.0.1:$NGX_CACHE_PORT"
  log "started nginx on :$NGX_PLAIN_PORT (proxy_pass) and :$NGX_CACHE_PORT (proxy_cache), pids ${NGX_PIDS[*]}, CPU $SUT_CPU"
}

# start_tollgate NAME JAR CONFIG [flags]: a gateway pinned to SUT_CPU; sets TG, TG_METRICS, TG_PID.
start_tollgate() {
  local name=$1 jar=$2 config=$3; shift 3
  local port mport
  free_port port; free_port mport
  # shellcheck disable=SC2086 # JAVA_OPTS is a list of flags
  start "$name" taskset -c "$SUT_CPU" java $JAVA_OPTS -jar "$jar" --config "$config" --port "$port" \
    --management-port "$mport" --upstream "$SIM" "$@"
  TG_PID=$LAST_PID; TG="http://127.0.0.1:$port"; TG_METRICS="http://127.0.0.1:$mport/metrics"
  wait_http "http://127.0.0.1:$mport/health/ready" "$TG_PID" "$name"
  wait_listen "$port" "$name"   # /health/ready may answer before the proxy listens
}

# start_redis: a redis-server pinned to SUT_CPU on a free loopback port; sets REDIS_PORT, REDIS_PID.
start_redis() {
  local name=$1 i
  free_port REDIS_PORT
  start "$name" taskset -c "$SUT_CPU" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no
  REDIS_PID=$LAST_PID
  for i in $(seq 100); do redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && return 0; sleep 0.1; done
  echo "$name did not answer PING on $REDIS_PORT" >&2; return 1
}

# mix FILE: "N× 200 HIT-L2, ..." from lines "status x-cache".
mix() { sort "$1" | uniq -c | sort -rn | awk '{ c = $1; $1 = ""; printf "%s%d×%s", (NR > 1 ? ", " : ""), c, $0 }'; }

# curl_many OUT URL...: GETs the URLs over one keep-alive connection with the bench token; appends
# "status x-cache" per URL to OUT.
curl_many() {
  local out=$1; shift
  curl -s -S -g -m 120 -H "$AUTH" -w '%{stderr}%{http_code} %header{x-cache}\n' "$@" >/dev/null 2>>"$out" \
    || problem "curl failed (exit $?) on one of $# requests; see $(basename "$out")"
}

# ---------------------------------------------------------------- rows

LIMITER_OFF=$'rateLimit:\n  enabled: false\n'

# tollgate_target ROW JAR_INDEX: one fresh gateway, checked, warmed for WARMUP, measured, stopped.
tollgate_target() {
  local row=$1 j=$2
  local jar=${JAR_PATH[$j]} label="Tollgate ${JAR_LETTER[$j]} (${JAR_NAME[$j]})"
  local name="tollgate-$row-p$PASS-${JAR_LETTER[$j]}"
  SUT2_PIDS=(); SUT2_NAME=""
  case $row in
    pass)
      printf '%s' "$LIMITER_OFF" >"$WORK/pass.yaml"
      start_tollgate "$name" "$jar" "$WORK/pass.yaml"
      SUT_PIDS=("$TG_PID")
      expect_xcache "pass $PASS, $label" MISS "$TG$PASS_PATH"
      log "$name (pid $TG_PID): warm-up $WARMUP"
      SCRAPE=$TG_METRICS wrk_load "$WARMUP" "$TG" "$PASS_PATH"
      local rej0 wait0 rej1 wait1
      rej0=$(metric_sum "$TG_METRICS" tollgate_ratelimit_rejected_total); wait0=$(metric_sum "$TG_METRICS" tollgate_ratelimit_waits_total)
      measure pass "$label" "$TG" "$PASS_PATH"
      rej1=$(metric_sum "$TG_METRICS" tollgate_ratelimit_rejected_total); wait1=$(metric_sum "$TG_METRICS" tollgate_ratelimit_waits_total)
      ((rej1 - rej0 == 0 && wait1 - wait0 == 0)) \
        || problem "pass $PASS, $label: the rate limiter (disabled) rejected $((rej1 - rej0)) and made $((wait1 - wait0)) wait"
      ;;
    l1)
      : >"$WORK/l1.yaml"   # shipped configuration (L1 hits are answered before the rate limiter)
      start_tollgate "$name" "$jar" "$WORK/l1.yaml"
      SUT_PIDS=("$TG_PID")
      xcache "$TG$HIT_PATH" >/dev/null
      expect_xcache "pass $PASS, $label" HIT-L1 "$TG$HIT_PATH"
      log "$name (pid $TG_PID): warm-up $WARMUP"
      SCRAPE=$TG_METRICS wrk_load "$WARMUP" "$TG" "$HIT_PATH"
      local up0 h0 h1; up0=$(sim_total); h0=$(metric "$TG_METRICS" 'tollgate_cache_hits_total{level="l1"}')
      measure l1 "$label" "$TG" "$HIT_PATH"
      h1=$(metric "$TG_METRICS" 'tollgate_cache_hits_total{level="l1"}')
      [[ $(sim_total) == "$up0" ]] || problem "pass $PASS, $label: $(($(sim_total) - up0)) upstream calls during the L1 window"
      ((h1 > h0)) || problem "pass $PASS, $label: tollgate_cache_hits_total{level=\"l1\"} did not grow during the window"
      ;;
    l2)
      start_redis "redis-p$PASS-${JAR_LETTER[$j]}"
      printf 'cache:\n  l1MaxWeight: 1KiB\n  l2:\n    operationTimeout: %s\n' "$L2_OPERATION_TIMEOUT" >"$WORK/l2.yaml"
      local try
      for try in 1 2 3; do
        start_tollgate "$name-$try" "$jar" "$WORK/l2.yaml" --redis "redis://127.0.0.1:$REDIS_PORT"
        local i; for i in $(seq 50); do [[ $(metric "$TG_METRICS" tollgate_cache_l2_connected) == 1 ]] && break; sleep 0.1; done
        [[ $(metric "$TG_METRICS" tollgate_cache_l2_connected) == 1 ]] && break
        problem "pass $PASS, $label: L2 not connected 5 s after start (try $try)"
        stop "$TG_PID"
      done
      SUT_PIDS=("$TG_PID"); SUT2_PIDS=("$REDIS_PID"); SUT2_NAME=redis
      local users=() k
      for k in $(seq "$KEYS"); do users+=("$TG/v1.0/users/u$k"); done
      curl_many "$WORK/$name-fill.log" "${users[@]}"
      log "$name (pid $TG_PID, redis pid $REDIS_PID): L2 fill ($KEYS keys): $(mix "$WORK/$name-fill.log"); redis keys: $(redis-cli -p "$REDIS_PORT" dbsize); warm-up $WARMUP"
      SCRAPE=$TG_METRICS wrk_load "$WARMUP" "$TG" /v1.0/users/u "$KEYS"
      local a1 a2 am b1 b2 bm up0
      a1=$(metric "$TG_METRICS" 'tollgate_cache_hits_total{level="l1"}'); a2=$(metric "$TG_METRICS" 'tollgate_cache_hits_total{level="l2"}')
      am=$(metric "$TG_METRICS" 'tollgate_cache_misses_total{level="l2"}'); up0=$(sim_total)
      measure l2 "$label" "$TG" /v1.0/users/u "$KEYS"
      b1=$(metric "$TG_METRICS" 'tollgate_cache_hits_total{level="l1"}'); b2=$(metric "$TG_METRICS" 'tollgate_cache_hits_total{level="l2"}')
      bm=$(metric "$TG_METRICS" 'tollgate_cache_misses_total{level="l2"}')
      local d1=$((b1 - a1)) d2=$((b2 - a2)) dm=$((bm - am)) share
      share=$(awk -v h="$d2" -v t="$((d1 + d2 + dm))" 'BEGIN { if (t == 0) print 0; else printf "%.2f", h * 100 / t }')
      NOTES+=("pass $PASS, l2, $label: X-Cache mix over the window (metrics): L1 hits $d1, L2 hits $d2, L2 misses $dm, upstream calls $(($(sim_total) - up0)); L2 share $share %")
      awk -v s="$share" 'BEGIN { exit !(s + 0 >= 90) }' \
        || problem "pass $PASS, $label: only $share % L2 hits in the window; this row does not measure L2 hits"
      [[ $(metric "$TG_METRICS" tollgate_cache_l2_connected) == 1 ]] || problem "pass $PASS, $label: L2 disconnected after the window"
      if ((PASS == 1)); then
        local sample=()
        for k in $(shuf -i 1-"$KEYS" -n 20 -r); do sample+=("$TG/v1.0/users/u$k"); done
        curl_many "$WORK/$name-sample.log" "${sample[@]}"
        NOTES+=("pass $PASS, l2, $label: X-Cache of 20 random-key curl requests after the window: $(mix "$WORK/$name-sample.log")")
      fi
      ;;
  esac
  stop "$TG_PID"
  if [[ $row == l2 ]]; then stop "$REDIS_PID"; fi
  SUT2_PIDS=(); SUT2_NAME=""
}

# nginx_target ROW: the nginx counterpart of a row (none for l2), warmed NGINX_WARMUP, measured.
nginx_target() {
  SUT_PIDS=("${NGX_PIDS[@]}"); SUT2_PIDS=(); SUT2_NAME=""
  case $1 in
    pass)
      expect_xcache "pass $PASS, nginx proxy_pass" "" "$NGX$PASS_PATH"
      wrk_load "$NGINX_WARMUP" "$NGX" "$PASS_PATH"
      measure pass "nginx proxy_pass" "$NGX" "$PASS_PATH"
      ;;
    l1)
      xcache "$NGXC$HIT_PATH" >/dev/null
      expect_xcache "pass $PASS, nginx proxy_cache" HIT "$NGXC$HIT_PATH"
      wrk_load "$NGINX_WARMUP" "$NGXC" "$HIT_PATH"
      local up0; up0=$(sim_total)
      measure l1 "nginx proxy_cache hit" "$NGXC" "$HIT_PATH"
      [[ $(sim_total) == "$up0" ]] || problem "pass $PASS, nginx proxy_cache: $(($(sim_total) - up0)) upstream calls during the window"
      ;;
  esac
}

row_title() {
  case $1 in
    pass) echo "pass-through, GET $PASS_PATH (uncached; Tollgate's rate limiter disabled)" ;;
    l1) echo "L1 hit, GET $HIT_PATH (Tollgate shipped config vs nginx proxy_cache)" ;;
    l2) echo "L2 hit, GET /v1.0/users/u1..u$KEYS at random (Tollgate + redis-server on the SUT core, L1 1KiB, L2 timeout $L2_OPERATION_TIMEOUT)" ;;
  esac
}

report() {
  local row t
  for row in $ROWS; do
    echo
    echo "### $row: $(row_title "$row")"
    echo
    echo "| target | req/s | p50 ms | p99 ms | CPU µs/req | CPU µs/req per pass | SUT CPU % | RSS MiB | heap MiB | notes |"
    echo "|---|---:|---:|---:|---:|---|---:|---:|---:|---|"
    for t in "${TARGETS[@]}"; do
      [[ $t == "$row|"* ]] || continue
      local note=${V_NOTE[$t]:-}
      # shellcheck disable=SC2086 # the per-pass lists are space-separated
      [[ $row == l2 ]] && note="gateway $(median ${V_CPU1[$t]}) + redis $(median ${V_CPU2[$t]}) µs/req${note:+; $note}"
      # shellcheck disable=SC2086
      local heap="-"; [[ ${V_HEAP[$t]} == *[0-9]* ]] && heap=$(median ${V_HEAP[$t]})
      printf '| %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s |\n' "${t#*|}" "$(median ${V_RPS[$t]})" "$(median ${V_P50[$t]})" \
        "$(median ${V_P99[$t]})" "$(median ${V_CPU[$t]})" "$(echo ${V_CPU[$t]} | tr ' ' '/')" \
        "$(median ${V_UTIL[$t]})" "$(median ${V_RSS[$t]})" "$heap" "$note"
    done
    # Ratios: each jar against nginx, and every other jar against jar A (new/old).
    local ngx="" j a="$row|Tollgate A (${JAR_NAME[0]})"
    [[ $row == pass ]] && ngx="$row|nginx proxy_pass"
    [[ $row == l1 ]] && ngx="$row|nginx proxy_cache hit"
    echo
    for ((j = 0; j < ${#JAR_PATH[@]}; j++)); do
      t="$row|Tollgate ${JAR_LETTER[$j]} (${JAR_NAME[$j]})"
      [[ -n ${V_CPU[$t]:-} ]] || continue
      # shellcheck disable=SC2086
      if [[ -n $ngx && -n ${V_CPU[$ngx]:-} ]]; then
        echo "$row: CPU µs/req Tollgate ${JAR_LETTER[$j]}/nginx: $(ratio "$(median ${V_CPU[$t]})" "$(median ${V_CPU[$ngx]})");" \
          "req/s $(ratio "$(median ${V_RPS[$t]})" "$(median ${V_RPS[$ngx]})")"
      fi
      if ((j > 0)) && [[ -n ${V_CPU[$a]:-} ]]; then
        local per=() x y i
        read -r -a x <<<"${V_CPU[$t]}"; read -r -a y <<<"${V_CPU[$a]}"
        for i in "${!x[@]}"; do per+=("$(ratio "${x[$i]}" "${y[$i]:-}")"); done
        # shellcheck disable=SC2086
        echo "$row: CPU µs/req ${JAR_LETTER[$j]}/A (new/old, ${JAR_NAME[$j]} / ${JAR_NAME[0]}): $(ratio "$(median ${V_CPU[$t]})" "$(median ${V_CPU[$a]})")" \
          "(per pass: ${per[*]}); req/s $(ratio "$(median ${V_RPS[$t]})" "$(median ${V_RPS[$a]})"); p99 $(ratio "$(median ${V_P99[$t]})" "$(median ${V_P99[$a]})")"
      fi
    done
  done
}

main() {
  WORK=$(mktemp -d /tmp/tollgate-pinned.XXXXXX)
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  cd "$ROOT"
  ensure_tools
  local row
  for row in $ROWS; do [[ $row == pass || $row == l1 || $row == l2 ]] || { echo "ROWS: unknown row '$row' (pass l1 l2)" >&2; exit 1; }; done
  log "Tollgate pinned cost benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ), repository at $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
  copy_jars
  make_token; write_lua
  local gc; gc=$(cd "$WORK" && taskset -c "$SUT_CPU" java $JAVA_OPTS -XX:+PrintFlagsFinal -version 2>/dev/null \
    | awk '$2 ~ /^Use(Serial|Parallel|G1|Z|Shenandoah)GC$/ && $4 == "true" { print $2 }')
  log "$(nproc --all) cores: SUT on CPU $SUT_CPU, wrk + simulator on CPU $LOAD_CPU; $(java -version 2>&1 | head -1), GC of a pinned JVM: ${gc:-?}; $(nginx -v 2>&1); $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'); $(redis-server --version | awk '{print $1, $3}')"
  log "rows: $ROWS; $PASSES passes; wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency; warm-up: Tollgate $WARMUP (fresh JVM per target and pass), nginx $NGINX_WARMUP, simulator $SIM_WARMUP once; JAVA_OPTS='$JAVA_OPTS'"
  log "bearer token: ${#TOKEN} characters, JWT-shaped (header.payload.signature), exp 2100-01-01"

  free_port SIM_PORT
  SIM="http://127.0.0.1:$SIM_PORT"
  start simulator taskset -c "$LOAD_CPU" java -jar "${JAR_PATH[0]}" simulate --port "$SIM_PORT" --latency 0ms
  SIM_PID=$LAST_PID
  wait_http "$SIM/_sim/stats" "$SIM_PID" simulator
  log "started simulator (jar A) on $SIM (pid $SIM_PID), CPU $LOAD_CPU; warm-up $SIM_WARMUP"
  wrk_load "$SIM_WARMUP" "$SIM" "$PASS_PATH"
  log "simulator warm-up: $(awk '/^Requests\/sec:/ { printf "%.0f req/s", $2 }' "$WORK/warm.txt") direct"
  if [[ " $ROWS " == *" pass "* || " $ROWS " == *" l1 "* ]]; then start_nginx; fi

  MEASURE_NO=0
  local order=() j
  for ((PASS = 1; PASS <= PASSES; PASS++)); do
    order=()
    if ((PASS % 2)); then for ((j = 0; j < ${#JAR_PATH[@]}; j++)); do order+=("$j"); done
    else for ((j = ${#JAR_PATH[@]} - 1; j >= 0; j--)); do order+=("$j"); done; fi
    log "---- pass $PASS of $PASSES (jar order: $(for j in "${order[@]}"; do printf '%s' "${JAR_LETTER[$j]}"; done))"
    for row in $ROWS; do
      [[ $row == l2 ]] || nginx_target "$row"
      for j in "${order[@]}"; do tollgate_target "$row" "$j"; done
    done
  done

  # Server logs: blocked event loops, warnings, errors.
  # "Stream reset" ERRORs are counted apart: they come when wrk stops with requests in flight.
  local f blocked warn resets
  for f in "$WORK"/tollgate-*.log "$WORK"/simulator.log; do
    [[ -f $f ]] || continue
    blocked=$(grep -c 'Thread blocked' "$f" || true)
    warn=$(grep -E 'WARN|SEVERE|ERROR|Exception' "$f" | grep -vc 'Stream reset' || true)
    resets=$(grep -c 'ERROR.*Stream reset' "$f" || true)
    [[ $blocked == 0 ]] || problem "$(basename "$f"): $blocked 'Thread blocked' warnings"
    [[ $warn == 0 ]] || problem "$(basename "$f"): $warn lines with WARN/SEVERE/ERROR/Exception (not counting Stream reset)"
    [[ $resets == 0 ]] || NOTES+=("$(basename "$f"): $resets 'ERROR ... Stream reset' log entries (with stack traces), logged at $(grep 'ERROR.*Stream reset' "$f" | cut -c1-8 | sort -u | tr '\n' ' ')")
  done

  echo
  echo "Medians of $PASSES passes (each column separately). CPU µs/req: utime+stime of the SUT over the window / requests"
  echo "completed (nginx: master + worker; l2: gateway + redis). SUT CPU %: of its one core; below ~95 % the load side,"
  echo "not the SUT, limited req/s. Tollgate: fresh JVM per pass, $WARMUP warm-up; wrk -t$THREADS -c$CONNECTIONS -d$DURATION."
  report
  echo
  local n
  for n in "${NOTES[@]}"; do echo "$n"; done
  if ((${#PROBLEMS[@]})); then
    echo "Problems (${#PROBLEMS[@]}):"
    for n in "${PROBLEMS[@]}"; do echo "- $n"; done
  else
    echo "Problems: none (no wrk errors, expected X-Cache everywhere, no warnings in the logs, SUT core not shared)"
  fi
  echo "Logs: bench-results/pinned-logs/ (wrk output, gateway, simulator, nginx, redis)"
}

mkdir -p "$OUT_DIR"
main "$@" 2>&1 | tee "$OUT_DIR/pinned-latest.txt"
