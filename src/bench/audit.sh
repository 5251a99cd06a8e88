#!/usr/bin/env bash
# Audit-workload benchmark: a SharePoint/Entra permission audit (sites → permissions → group transitive
# members) against the Graph simulator with Graph-like throttling and latency, once direct with the naive
# retry-after client, then twice through Tollgate. Prints upstream calls, 429s seen by the client, group
# expansion hit rate and wall time per pass, and the ratios.
# Usage: src/bench/audit.sh [sites=200] [workers=16] [config=conf/graph-audit.yaml]
#   TENANTS=2: that many audits side by side in every pass, each its own tenant (default 1). After the Tollgate
#   passes it prints the per-tenant economics of /admin/cache/stats and checks, for every tenant, reads from the
#   cache + reads from the upstream = the logical reads its client made (exit 1 when they do not add up).
#   FACTOR=3: the simulator's hidden RU budgets as a multiple of the profile's estimates (SharePoint 40 RU/s,
#   directory 750 RU/s);
#   issue 10's runs are FACTOR=0.333, 3 and 20.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -f target/tollgate.jar ] || mvn -B -q package -DskipTests
# Runs from a copy, so that a rebuild meanwhile cannot pull classes from under it.
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
cp target/tollgate.jar "$WORK/tollgate.jar"
javac -nowarn -cp "$WORK/tollgate.jar" -d "$WORK/classes" src/bench/java/io/tollgate/bench/AuditBenchmark.java
java -Xmx2g -cp "$WORK/tollgate.jar:$WORK/classes" io.tollgate.bench.AuditBenchmark "$@" 2> >(grep -E "WARN|ERROR" >&2 || true)
