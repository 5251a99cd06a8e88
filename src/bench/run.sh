#!/usr/bin/env bash
# Tollgate load benchmark: requests/s, p50 and p99 latency (wrk --latency) of Tollgate against nginx,
# all on 127.0.0.1, in front of the built-in Graph simulator (zero added latency):
#   a. pass-through on an uncached route: simulator direct, nginx proxy_pass, Tollgate (ratio Tollgate/nginx)
#   b. L1 cache hits on /v1.0/users/u1: Tollgate warm vs nginx proxy_cache warm (ratio Tollgate/nginx)
#   c. L1 hits with cache.hotPath in-process vs event-bus (two Tollgate runs, ratio event-bus/in-process)
#   d. L2 hits: Tollgate + its own redis-server, L1 shrunk to 1KiB, 500 keys (src/bench/keys.lua);
#      plus the X-Cache mix seen (metrics over the run and a 100-request curl sample)
#   e. hit rate: 10,000 GETs over 500 distinct keys in random order; upstream calls and L1 hit rate
# Prints one table row per target and writes everything to bench-results/latest.txt (logs in
# bench-results/logs/). Takes about 5 minutes with the defaults.
#
# Run from anywhere (as root when wrk/nginx must be installed; they come from Debian via apt-get):
#   src/bench/run.sh
#   DURATION=30s CONNECTIONS=64 src/bench/run.sh
# Environment: DURATION (10s) and WARMUP (10s) per target, CONNECTIONS (32), THREADS (2),
#   PASS_PATH ('/v1.0/users?$top=5'), HIT_PATH (/v1.0/users/u1), JAVA_OPTS (extra JVM flags),
#   QUIET_WAIT (60): seconds to wait before each target for the machine's CPU use to drop to 15 %
#   (wrk and the servers share the cores; a row measured on a busy machine is flagged in "notes"),
#   L2_OPERATION_TIMEOUT (2s): cache.l2.operationTimeout for row d (shipped default 250ms; see README).
#   RATE_LIMIT_AC (off): rateLimit.enabled for the gateways of rows a-c. The shipped identity-reads limit
#     (750 RU/s, GET /users cost 2, one bucket for the bench token) would pace row a at ~375 req/s, so
#     the proxy's cost is measured without it; "on" keeps the shipped limits. The notes report
#     tollgate_ratelimit_rejected_total / waits_total of every gateway either way.
#   ONLY (abcde): the rows to run, e.g. ONLY=d (a and b always run together).
# Builds target/tollgate.jar when it is missing. Every process it starts is stopped on exit.
set -euo pipefail

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
PASS_PATH=${PASS_PATH:-'/v1.0/users?$top=5'}
HIT_PATH=${HIT_PATH:-/v1.0/users/u1}
JAVA_OPTS=${JAVA_OPTS:-}
QUIET_WAIT=${QUIET_WAIT:-60}
L2_OPERATION_TIMEOUT=${L2_OPERATION_TIMEOUT:-2s}
RATE_LIMIT_AC=${RATE_LIMIT_AC:-off}
ONLY=${ONLY:-abcde}
TOKEN=bench
KEYS=500
HITRATE_REQUESTS=10000

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH=$ROOT/src/bench
JAR=$ROOT/target/tollgate.jar
OUT_DIR=$ROOT/bench-results
WORK=""
PIDS=()
declare -A USED_PORTS=() RPS=() P50=() P99=() ERRS=()
ROWS=()       # target labels in measurement order
NOTES=()      # extra result lines printed after the table
PROBLEMS=()   # anything that looked wrong

log() { printf '# %s\n' "$*"; }
problem() { PROBLEMS+=("$*"); printf '# PROBLEM: %s\n' "$*"; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ -n $WORK && -d $WORK ]]; then
    mkdir -p "$OUT_DIR/logs"
    cp "$WORK"/*.log "$WORK"/wrk-*.txt "$OUT_DIR/logs/" 2>/dev/null || true
    rm -rf "$WORK"
  fi
  exit "$rc"
}

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

# start NAME CMD...: runs CMD in the background, output to $WORK/NAME.log; sets LAST_PID.
start() {
  local name=$1; shift
  "$@" >"$WORK/$name.log" 2>&1 &
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
    curl -sf -o /dev/null "$url" && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      local rc=0; wait "$pid" || rc=$?
      echo "$name exited during start-up (exit code $rc); its log:" >&2; cat "$WORK/$name.log" >&2; return 1
    fi
    sleep 0.1
  done
  echo "$name did not answer $url within 30 s" >&2; return 1
}

# xcache URL [curl args]: "status x-cache" of one GET.
xcache() {
  local url=$1; shift
  curl -s -g -o /dev/null -w '%{http_code} %header{x-cache}' "$@" "$url"
}

# expect_xcache LABEL WANT URL [curl args]: one GET, recorded as a problem unless it answers "200 WANT".
expect_xcache() {
  local label=$1 want=$2 url=$3; shift 3
  local got; got=$(xcache "$url" "$@")
  [[ $got == "200 $want" ]] || problem "$label: expected '200 $want', got '$got' from $url"
}

# metric URL NAME: value of one Prometheus sample (0 when absent).
metric() {
  curl -s "$1" | awk -v n="$2" '$1 == n { v = $2 } END { printf "%d", (v == "" ? 0 : v) }'
}

# ms VALUE: wrk's 123.45us / 1.23ms / 1.02s / 1.00m in milliseconds.
ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : -1
    if (f < 0) print "?"; else printf "%.2f", n * f }'
}

# metric_sum URL NAME: sum of every series of NAME (any tags).
metric_sum() {
  curl -s "$1" | awk -v n="$2" 'index($1, n) == 1 && (length($1) == length(n) || substr($1, length(n) + 1, 1) == "{") { v += $2 }
    END { printf "%d", v }'
}

want() { [[ $ONLY == *"$1"* ]]; }

# limiter_note LABEL: the rate limiter's rejections and waits on the current gateway, as a note.
limiter_note() {
  local rej waits
  rej=$(metric_sum "$TG_METRICS" tollgate_ratelimit_rejected_total)
  waits=$(metric_sum "$TG_METRICS" tollgate_ratelimit_waits_total)
  NOTES+=("$1: rate limiter ($RL_DESC) rejected $rej, made $waits wait (tollgate_ratelimit_rejected_total / waits_total)")
  ((rej == 0 && waits == 0)) || problem "$1: Tollgate's own rate limiter rejected $rej and made $waits requests wait"
}

sim_total() { curl -s "$SIM/_sim/stats" | sed -n 's/.*"total":\([0-9]*\).*/\1/p'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }

# cpu_busy: machine-wide CPU use, in %, over the next second (/proc/stat).
cpu_busy() {
  local a b i ta=0 tb=0
  read -r -a a < <(head -1 /proc/stat); sleep 1; read -r -a b < <(head -1 /proc/stat)
  for i in 1 2 3 4 5 6 7 8; do ta=$((ta + a[i])); tb=$((tb + b[i])); done
  echo $((100 - 100 * ((b[4] + b[5]) - (a[4] + a[5])) / (tb - ta)))
}

# wait_quiet: the machine has 2 cores and wrk shares them with the servers; other work skews the
# numbers. Waits up to QUIET_WAIT seconds for CPU use <= 15 %; sets BUSY to the last reading.
wait_quiet() {
  local deadline=$((SECONDS + QUIET_WAIT))
  BUSY=$(cpu_busy)
  while ((BUSY > 15 && SECONDS < deadline)); do BUSY=$(cpu_busy); done
}

# our_ticks: CPU ticks (user + system) used so far by the processes this run started and their children.
our_ticks() {
  local p pids=() t=0 f
  for p in "${PIDS[@]}"; do pids+=("$p"); mapfile -t -O "${#pids[@]}" pids < <(pgrep -P "$p" || true); done
  for p in "${pids[@]}"; do
    f=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    f=${f##*) }   # fields after "(comm) "; utime and stime are the 12th and 13th of them
    read -r -a f <<<"$f"
    t=$((t + f[11] + f[12]))
  done
  echo "$t"
}

# machine_ticks: "busy total" CPU ticks of the whole machine so far.
machine_ticks() {
  local a i t=0
  read -r -a a < <(head -1 /proc/stat)
  for i in 1 2 3 4 5 6 7 8; do t=$((t + a[i])); done
  echo "$((t - a[4] - a[5])) $t"
}

# URL goes before the extra args: a wrk script's own arguments follow "--" at the end.
wrk_warm() { local url=$1; shift; wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "$url" "$@" >/dev/null; }

# wrk_measure LABEL URL [wrk args]: one measured run; stores requests/s, p50, p99, errors under LABEL.
wrk_measure() {
  local label=$1 url=$2; shift 2
  local out="$WORK/wrk-${#ROWS[@]}.txt"
  wait_quiet
  log "measuring: $label ($DURATION, $CONNECTIONS connections, CPU ${BUSY}% busy before) $url"
  local m0 m1 o0 o1 wrk_cpu
  read -r -a m0 < <(machine_ticks); o0=$(our_ticks)
  { echo "== $label: $url"; TIMEFORMAT='%U %S'
    { time wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$url" "$@" 2>&1; } 2>"$out.time"; } >"$out"
  read -r -a m1 < <(machine_ticks); o1=$(our_ticks)
  # CPU used during the run by anything that is not wrk or a server of this run, in % of the machine.
  wrk_cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($1 + $2) * hz }' "$out.time")
  OTHER=$(( (m1[0] - m0[0] - (o1 - o0) - wrk_cpu) * 100 / (m1[1] - m0[1]) ))
  ((OTHER >= 0)) || OTHER=0
  local rps p50 p99 non2xx sock
  rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
  p50=$(ms "$(awk '$1 == "50%" { print $2 }' "$out")")
  p99=$(ms "$(awk '$1 == "99%" { print $2 }' "$out")")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
  sock=$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$out")
  local errs="${non2xx:-0} non-2xx, ${sock:-0} socket errors"
  [[ ${non2xx:-0} == 0 && ${sock:-0} == 0 ]] || problem "$label: $errs (see bench-results/logs/$(basename "$out"))"
  if ((BUSY > 15 || OTHER > 10)); then
    errs="$errs; other work on the machine: ${BUSY}% CPU before, ${OTHER}% during"
    problem "$label: other processes used ${BUSY}% CPU before and ${OTHER}% during the run; its numbers are skewed"
  fi
  ROWS+=("$label"); RPS[$label]=${rps:-0}; P50[$label]=$p50; P99[$label]=$p99; ERRS[$label]=$errs
}

run_target() { local label=$1 url=$2; shift 2; wrk_warm "$url" "$@"; wrk_measure "$label" "$url" "$@"; }

# start_tollgate NAME [extra flags]: sets TG (proxy base URL), TG_METRICS and TG_PID.
start_tollgate() {
  local name=$1; shift
  local port mport
  free_port port; free_port mport
  # shellcheck disable=SC2086 # JAVA_OPTS is a list of flags
  start "$name" java $JAVA_OPTS -jar "$JAR" --port "$port" --management-port "$mport" \
    --upstream "$SIM" "$@"
  TG_PID=$LAST_PID; TG="http://127.0.0.1:$port"; TG_METRICS="http://127.0.0.1:$mport/metrics"
  wait_http "http://127.0.0.1:$mport/health/ready" "$TG_PID" "$name"
  # /health/ready can answer 200 before the proxy listens (when Redis reports first): wait for the port too.
  local i
  for i in $(seq 300); do ss -Htln "sport = :$port" | grep -q . && break; sleep 0.1; done
  ss -Htln "sport = :$port" | grep -q . || { echo "$name: proxy port $port not listening" >&2; return 1; }
  log "started $name on $TG (pid $TG_PID) $*"
}

ensure_tools() {
  local missing=() t
  for t in wrk nginx; do command -v "$t" >/dev/null || missing+=("$t"); done
  if ((${#missing[@]})); then
    log "installing ${missing[*]} from Debian (apt-get, output in bench-results/logs/apt.log)"
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"; } >"$WORK/apt.log" 2>&1
  fi
  for t in wrk nginx redis-server curl java ss awk shuf; do
    command -v "$t" >/dev/null || { echo "missing tool: $t" >&2; exit 1; }
  done
  if [[ ! -f $JAR ]]; then
    log "building $JAR (mvn -B -q package -DskipTests)"
    (cd "$ROOT" && mvn -B -q package -DskipTests) >"$WORK/mvn.log" 2>&1
  fi
}

start_nginx() {
  local dir=$WORK/nginx user=""
  mkdir -p "$dir/cache" "$dir/tmp"
  [[ $EUID -eq 0 ]] && user="user root;"
  free_port NGX_PLAIN_PORT; free_port NGX_CACHE_PORT
  cat >"$dir/nginx.conf" <<EOF
$user
worker_processes auto;
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
  # Plain reverse proxy: the same work Tollgate does on an uncached route.
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
  # Caching reverse proxy: route rules decide, like Tollgate (Graph says no-cache everywhere).
  server {
    listen 127.0.0.1:$NGX_CACHE_PORT;
    location / {
      proxy_pass http://sim;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache bench;
      proxy_cache_key "\$request_method|\$scheme|\$host|\$request_uri|\$http_authorization";
      proxy_ignore_headers Cache-Control Expires Set-Cookie;
      proxy_cache_valid 200 1h;
      add_header X-Cache \$upstream_cache_status;
    }
  }
}
EOF
  start nginx-main nginx -e "$WORK/nginx.log" -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;'
  NGX_PID=$LAST_PID
  wait_http "http://127.0.0.1:$NGX_PLAIN_PORT/_sim/stats" "$NGX_PID" nginx-main
  log "started nginx: proxy on :$NGX_PLAIN_PORT, proxy_cache on :$NGX_CACHE_PORT (pid $NGX_PID)"
}

# curl_many OUT URL...: GETs the URLs over one keep-alive connection with the bench token;
# appends "status x-cache" per URL to OUT.
curl_many() {
  local out=$1; shift
  curl -s -S -g -H "Authorization: Bearer $TOKEN" -w '%{stderr}%{http_code} %header{x-cache}\n' "$@" \
    >/dev/null 2>>"$out" || problem "curl failed (exit $?) on one of $# requests; see $(basename "$out")"
}

# mix FILE: "N× 200 HIT-L1, ..." from curl_many output.
mix() { sort "$1" | uniq -c | sort -rn | awk '{ c = $1; $1 = ""; printf "%s%d×%s", (NR > 1 ? ", " : ""), c, $0 }'; }

main() {
  WORK=$(mktemp -d /tmp/tollgate-bench.XXXXXX)
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  cd "$ROOT"
  ensure_tools
  log "Tollgate benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
  log "$(nproc) cores, $(java -version 2>&1 | head -1), $(nginx -v 2>&1), $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}')"
  log "wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency after a $WARMUP warm-up per target; JAVA_OPTS='$JAVA_OPTS'"

  free_port SIM_PORT
  SIM="http://127.0.0.1:$SIM_PORT"
  # shellcheck disable=SC2086
  start simulator java $JAVA_OPTS -jar "$JAR" simulate --port "$SIM_PORT" --latency 0ms
  SIM_PID=$LAST_PID
  wait_http "$SIM/_sim/stats" "$SIM_PID" simulator
  log "started simulator on $SIM (pid $SIM_PID)"
  start_nginx
  local auth=(-H "Authorization: Bearer $TOKEN")
  local ngx="http://127.0.0.1:$NGX_PLAIN_PORT" ngxc="http://127.0.0.1:$NGX_CACHE_PORT"

  local rl_yaml="" RL_DESC="shipped limits"
  if [[ $RATE_LIMIT_AC == off ]]; then rl_yaml=$'rateLimit:\n  enabled: false\n'; RL_DESC="disabled by RATE_LIMIT_AC=off"; fi
  printf '%s' "$rl_yaml" >"$WORK/default.yaml"
  if want a || want b; then
  # a. pass-through, b. nginx cache (nginx and the simulator alone, before any Tollgate runs)
  expect_xcache "simulator" "" "$SIM$PASS_PATH"
  run_target "a. simulator direct ($PASS_PATH)" "$SIM$PASS_PATH"
  run_target "a. nginx proxy_pass" "$ngx$PASS_PATH"
  xcache "$ngxc$HIT_PATH" "${auth[@]}" >/dev/null
  expect_xcache "nginx proxy_cache" HIT "$ngxc$HIT_PATH" "${auth[@]}"
  run_target "b. nginx proxy_cache hit ($HIT_PATH)" "$ngxc$HIT_PATH" "${auth[@]}"

  # a. + b. Tollgate with the shipped configuration
  start_tollgate tollgate-default --config "$WORK/default.yaml"
  expect_xcache "tollgate pass-through" MISS "$TG$PASS_PATH"
  run_target "a. Tollgate pass-through" "$TG$PASS_PATH"
  xcache "$TG$HIT_PATH" "${auth[@]}" >/dev/null
  expect_xcache "tollgate L1" HIT-L1 "$TG$HIT_PATH" "${auth[@]}"
  run_target "b. Tollgate L1 hit (shipped config)" "$TG$HIT_PATH" "${auth[@]}"
  limiter_note "a.+b. tollgate-default"
  stop "$TG_PID"
  fi

  # c. hotPath in-process vs event-bus: config files that differ only in that key
  local mode
  want c && for mode in in-process event-bus; do
    printf 'cache:\n  hotPath: %s\n%s' "$mode" "$rl_yaml" >"$WORK/hotpath-$mode.yaml"
    start_tollgate "tollgate-$mode" --config "$WORK/hotpath-$mode.yaml"
    xcache "$TG$HIT_PATH" "${auth[@]}" >/dev/null
    expect_xcache "tollgate hotPath $mode" HIT-L1 "$TG$HIT_PATH" "${auth[@]}"
    run_target "c. Tollgate L1 hit, hotPath $mode" "$TG$HIT_PATH" "${auth[@]}"
    limiter_note "c. tollgate-$mode"
    stop "$TG_PID"
  done

  if want d; then
  # d. L2 hits: own redis-server, L1 of 1 KiB (one entry at most), requests spread over 500 keys (shipped limits)
  RL_DESC="shipped limits"
  local redis_port
  free_port redis_port
  start redis redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no
  local redis_pid=$LAST_PID i
  for i in $(seq 100); do redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
  printf 'cache:\n  l1MaxWeight: 1KiB\n  l2:\n    operationTimeout: %s\n' "$L2_OPERATION_TIMEOUT" >"$WORK/l2.yaml"
  # A gateway whose L2 is down at start-up never reconnects for good (see README, problems): retry.
  local try
  for try in 1 2 3 4 5; do
    start_tollgate "tollgate-l2-$try" --config "$WORK/l2.yaml" --redis "redis://127.0.0.1:$redis_port"
    sleep 1
    [[ $(metric "$TG_METRICS" tollgate_cache_l2_connected) == 1 ]] && break
    problem "L2: start $try: tollgate_cache_l2_connected is 0 one second after start, $(grep -c 'subscription connection closed' "$WORK/tollgate-l2-$try.log" || true) 'subscription connection closed' so far"
    ((try == 5)) || stop "$TG_PID"
  done
  local users=() k
  for k in $(seq "$KEYS"); do users+=("$TG/v1.0/users/u$k"); done
  curl_many "$WORK/l2-fill.txt" "${users[@]}"
  log "L2 fill ($KEYS keys): $(mix "$WORK/l2-fill.txt"); redis keys: $(redis-cli -p "$redis_port" dbsize)"
  wrk_warm "$TG" -s "$BENCH/keys.lua" -- "$KEYS" /v1.0/users/u "$TOKEN"
  local h1 h2 m2 h1b h2b m2b
  h1=$(metric "$TG_METRICS" 'tollgate_cache_hits_total{level="l1"}')
  h2=$(metric "$TG_METRICS" 'tollgate_cache_hits_total{level="l2"}')
  m2=$(metric "$TG_METRICS" 'tollgate_cache_misses_total{level="l2"}')
  local up0 up1; up0=$(sim_total)
  wrk_measure "d. Tollgate L2 hit (L1 1KiB, $KEYS keys, L2 timeout $L2_OPERATION_TIMEOUT)" "$TG" -s "$BENCH/keys.lua" -- "$KEYS" /v1.0/users/u "$TOKEN"
  h1b=$(metric "$TG_METRICS" 'tollgate_cache_hits_total{level="l1"}')
  h2b=$(metric "$TG_METRICS" 'tollgate_cache_hits_total{level="l2"}')
  m2b=$(metric "$TG_METRICS" 'tollgate_cache_misses_total{level="l2"}')
  up1=$(sim_total)
  local dl1=$((h1b - h1)) dl2=$((h2b - h2)) dm=$((m2b - m2))
  local dall=$((dl1 + dl2 + dm))
  local share; share=$(ratio "$((dl2 * 100))" "$dall")
  NOTES+=("d. X-Cache mix during the L2 run (metrics): L1 hits $dl1, L2 hits $dl2, L2 misses $dm; upstream calls $((up1 - up0)); L2 share $share %")
  awk -v s="$share" 'BEGIN { exit !(s + 0 >= 90) }' \
    || problem "L2: only $share % of the requests in the L2 run were L2 hits; the row does not measure L2 hits"
  [[ $(metric "$TG_METRICS" tollgate_cache_l2_connected) == 1 ]] \
    || problem "L2: tollgate_cache_l2_connected is 0 after the run ($(grep -c 'subscription connection closed' "$WORK/tollgate-l2-$try.log" || true) 'subscription connection closed' in the log)"
  local sample=()
  for k in $(shuf -i 1-"$KEYS" -n 100 -r); do sample+=("$TG/v1.0/users/u$k"); done
  curl_many "$WORK/l2-sample.txt" "${sample[@]}"
  NOTES+=("d. X-Cache of 100 random-key curl requests: $(mix "$WORK/l2-sample.txt")")
  grep -q 'HIT-L2' "$WORK/l2-sample.txt" || problem "L2: no HIT-L2 in the 100-request sample"
  limiter_note "d. tollgate-l2"
  stop "$TG_PID"
  stop "$redis_pid"
  fi

  if want e; then
  # e. hit rate: 10,000 requests over 500 keys, random (fixed-seed) order, 4 curl clients in parallel (shipped limits)
  RL_DESC="shipped limits"
  start_tollgate tollgate-hitrate
  curl -s -o /dev/null -X POST "$SIM/_sim/reset"
  local per=$((HITRATE_REQUESTS / KEYS))
  for k in $(seq "$KEYS"); do for i in $(seq "$per"); do echo "$TG/v1.0/users/u$k"; done; done \
    | shuf --random-source=<(yes) >"$WORK/hitrate-urls.txt"
  local t0 t1
  t0=$(date +%s.%N)
  # 4 clients, each one curl over one keep-alive connection, each with its own output file.
  split -n l/4 -d "$WORK/hitrate-urls.txt" "$WORK/hitrate-part."
  local part jobs=()
  for part in "$WORK"/hitrate-part.0?; do
    mapfile -t urls <"$part"
    curl_many "$part.out" "${urls[@]}" &
    jobs+=($!)
  done
  for part in "${jobs[@]}"; do wait "$part" || problem "hit rate: a curl client failed"; done
  cat "$WORK"/hitrate-part.0?.out >"$WORK/hitrate.txt"
  t1=$(date +%s.%N)
  local upstream l1h l1m coalesced answered
  upstream=$(sim_total)
  l1h=$(metric "$TG_METRICS" 'tollgate_cache_hits_total{level="l1"}')
  l1m=$(metric "$TG_METRICS" 'tollgate_cache_misses_total{level="l1"}')
  coalesced=$(metric "$TG_METRICS" tollgate_cache_coalesced_total)
  answered=$(wc -l <"$WORK/hitrate.txt")
  NOTES+=("e. $answered requests over $KEYS keys in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b - a}') s (4 curl clients): upstream calls $upstream (ideal $KEYS)")
  NOTES+=("e. L1 hit rate (metrics): $l1h / ($l1h + $l1m) = $(ratio "$((l1h * 100))" "$((l1h + l1m))") % (ideal $(ratio "$(((HITRATE_REQUESTS - KEYS) * 100))" "$HITRATE_REQUESTS") %); coalesced $coalesced")
  NOTES+=("e. X-Cache counted: $(mix "$WORK/hitrate.txt")")
  [[ $answered == "$HITRATE_REQUESTS" ]] || problem "hit rate: $answered answers for $HITRATE_REQUESTS requests"
  [[ $upstream == "$KEYS" ]] || problem "hit rate: $upstream upstream calls, expected $KEYS"
  limiter_note "e. tollgate-hitrate"
  stop "$TG_PID"
  fi

  # Gateway logs: blocked event loops, warnings, errors
  local f
  for f in "$WORK"/tollgate-*.log "$WORK"/simulator.log; do
    local blocked warn
    blocked=$(grep -c 'Thread blocked' "$f" || true)
    warn=$(grep -ciE 'WARN|SEVERE|ERROR|Exception' "$f" || true)
    [[ $blocked == 0 ]] || problem "$(basename "$f"): $blocked 'Thread blocked' warnings"
    [[ $warn == 0 ]] || problem "$(basename "$f"): $warn lines with WARN/SEVERE/ERROR/Exception"
  done

  # The table
  echo
  echo "| target | requests/s | p50 ms | p99 ms | notes |"
  echo "|---|---:|---:|---:|---|"
  local r
  for r in "${ROWS[@]}"; do
    printf '| %s | %s | %s | %s | %s |\n' "$r" "${RPS[$r]}" "${P50[$r]}" "${P99[$r]}" "${ERRS[$r]}"
  done
  echo
  local tp="a. Tollgate pass-through" np="a. nginx proxy_pass"
  local tc="b. Tollgate L1 hit (shipped config)" nc="b. nginx proxy_cache hit ($HIT_PATH)"
  local ip="c. Tollgate L1 hit, hotPath in-process" eb="c. Tollgate L1 hit, hotPath event-bus"
  if want a || want b; then
  echo "a. pass-through  Tollgate/nginx: requests/s $(ratio "${RPS[$tp]}" "${RPS[$np]}"), p99 $(ratio "${P99[$tp]}" "${P99[$np]}")"
  echo "b. L1 cache hit  Tollgate/nginx proxy_cache: requests/s $(ratio "${RPS[$tc]}" "${RPS[$nc]}"), p99 $(ratio "${P99[$tc]}" "${P99[$nc]}")"
  fi
  want c && echo "c. hotPath       event-bus/in-process: requests/s $(ratio "${RPS[$eb]}" "${RPS[$ip]}"), p99 $(ratio "${P99[$eb]}" "${P99[$ip]}")"
  for r in "${NOTES[@]}"; do echo "$r"; done
  echo
  if ((${#PROBLEMS[@]})); then
    echo "Problems (${#PROBLEMS[@]}):"
    for r in "${PROBLEMS[@]}"; do echo "- $r"; done
  else
    echo "Problems: none (no wrk errors, no blocked threads or warnings in the logs, expected X-Cache everywhere)"
  fi
  echo "Logs: bench-results/logs/ (wrk output, gateway, simulator, nginx, redis)"
}

mkdir -p "$OUT_DIR"
main "$@" 2>&1 | tee "$OUT_DIR/latest.txt"
