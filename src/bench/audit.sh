#!/usr/bin/env bash
# Audit-workload benchmark: a SharePoint/Entra permission audit (sites → permissions → group transitive
# members) against the Graph simulator with Graph-like throttling and latency, once direct with the naive
# retry-after client, then twice through Tollgate. Prints upstream calls, 429s seen by the client, group
# expansion hit rate and wall time per pass, and the ratios.
# Usage: src/bench/audit.sh [sites=200] [workers=16] [config=conf/graph-audit.yaml]   (RATE=100 req/s per caller)
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -f target/tollgate.jar ] || mvn -B -q package -DskipTests
mkdir -p target/bench-classes
javac -nowarn -cp target/tollgate.jar -d target/bench-classes src/bench/java/io/tollgate/bench/AuditBenchmark.java
exec java -Xmx1g -cp target/tollgate.jar:target/bench-classes io.tollgate.bench.AuditBenchmark "$@" 2> >(grep -E "WARN|ERROR" >&2 || true)
