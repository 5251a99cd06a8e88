#!/usr/bin/env bash
# startup.sh: time-to-live of a fresh gateway JVM, without and with a Class Data Sharing archive (the image's
# ENTRYPOINT maps one, deploy/Dockerfile). The archive is made as the image makes it: one training start with
# -XX:ArchiveClassesAtExit, stopped once /health/live answers. Then RUNS pairs (plain, CDS) alternate, each a JVM on
# CPU (0) from launch to the first answer of /health/live, in milliseconds.
#   src/bench/startup.sh
#   RUNS=10 CPU=1 JAR=/tmp/other.jar src/bench/startup.sh
# Environment: JAR (target/tollgate.jar), RUNS (5), CPU (0). Only 127.0.0.1; nothing is left running.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
# shellcheck source=lib.sh
source src/bench/lib.sh
JAR=${JAR:-target/tollgate.jar}
RUNS=${RUNS:-5}
CPU=${CPU:-0}
W=$(mktemp -d /tmp/tollgate-startup.XXXXXX)
cp "$JAR" "$W/tollgate.jar"

start() {   # start OUT JVM_FLAGS...: a gateway with no upstream listening; sets PID, MPORT
  local out=$1; shift
  local port; port=$(free_port); MPORT=$(free_port)
  taskset -c "$CPU" java "$@" -jar "$W/tollgate.jar" --port "$port" --management-port "$MPORT" --upstream http://127.0.0.1:9 >"$out" 2>&1 &
  PID=$!
}
live_ms() {  # live_ms JVM_FLAGS...: launch to the first answer of /health/live
  local t0 t1; t0=$(date +%s%N)
  start "$W/run.log" "$@"
  until curl -s -o /dev/null -m 1 "http://127.0.0.1:$MPORT/health/live"; do
    kill -0 "$PID" 2>/dev/null || { echo "the gateway exited: $(tail -3 "$W/run.log")" >&2; exit 1; }
    sleep 0.02
  done
  t1=$(date +%s%N)
  kill "$PID"; wait "$PID" 2>/dev/null || true
  echo $(((t1 - t0) / 1000000))
}

start "$W/train.log" -XX:ArchiveClassesAtExit="$W/tollgate.jsa"
wait_for "http://127.0.0.1:$MPORT/health/live"
kill "$PID"; wait "$PID" 2>/dev/null || true
echo "CDS archive: $(stat -c %s "$W/tollgate.jsa") bytes ($(java -version 2>&1 | head -1)), gateway on CPU $CPU"
plain=(); cds=()
for _ in $(seq "$RUNS"); do
  plain+=("$(live_ms)"); cds+=("$(live_ms -XX:SharedArchiveFile="$W/tollgate.jsa" -Xshare:auto)")
  echo "plain ${plain[-1]} ms, CDS ${cds[-1]} ms"
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "median time-to-live: plain $(median "${plain[@]}") ms, CDS $(median "${cds[@]}") ms"
rm -rf "$W"
