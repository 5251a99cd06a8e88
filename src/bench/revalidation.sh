#!/usr/bin/env bash
# ETag-revalidation benchmark (issue 13): a drive-permissions audit (every drive item's /permissions; 100 sites x 20
# items = 2,000) through Tollgate, time past the drive-items route's TTL (cut to 5 s here), 5 % of the drive items
# changed behind the gateway's back (the simulator's POST /_sim/drive-items/change), the audit repeated. Prints the
# share of revalidations that ended in 304 (target >= 90 %), whether every changed item was read again whole, and the
# body bytes the upstream sent per pass (target: >= 85 % fewer in the second); exits 1 when a target is missed.
# Usage: src/bench/revalidation.sh [sites=100] [fraction=0.05] [ttl=5s] [workers=32]
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -f target/tollgate.jar ] || mvn -B -q package -DskipTests
source src/bench/lib.sh
bench_copy RevalidationBenchmark
trap 'rm -rf "$WORK"' EXIT
java -Xmx1g -cp "$CP" io.tollgate.bench.RevalidationBenchmark "$@" 2> >(grep -E "WARN|ERROR" >&2 || true)
