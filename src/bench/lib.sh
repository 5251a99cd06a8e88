# Helpers shared by the benchmark scripts that start their own servers (sourced, not run).

# free_port: prints a loopback port nobody listens on right now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

# wait_for URL: until URL answers at all (60 s at most).
wait_for() {
  for _ in $(seq 600); do curl -s -m 1 -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "no answer from $1" >&2; return 1
}

# bench_copy [CLASS...]: copies target/tollgate.jar and compiles the named bench sources (if any) against it into a
# fresh directory, so that a rebuild meanwhile cannot pull classes from under a run; sets WORK and CP.
bench_copy() {
  WORK=$(mktemp -d)
  cp target/tollgate.jar "$WORK/sim.jar"
  local sources=() c
  for c in "$@"; do sources+=("src/bench/java/io/tollgate/bench/$c.java"); done
  if [ $# -gt 0 ]; then javac -nowarn -cp "$WORK/sim.jar" -d "$WORK/classes" "${sources[@]}"; fi
  CP=$WORK/sim.jar:$WORK/classes
}
