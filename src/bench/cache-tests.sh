#!/usr/bin/env bash
# HTTP caching conformance (issue 13, item 5): runs the public http-tests/cache-tests suite (cache-tests.fyi) with its
# own unmodified client against Tollgate in HTTP-semantics mode, and prints the required tests passed and failed, in
# all and per group (test file). Only 127.0.0.1: the suite's origin server, one Tollgate in front of it, the client.
#
# The suite is not part of this repository: check it out yourself and run `npm install` in it, then
#   CACHE_TESTS=/path/to/cache-tests src/bench/cache-tests.sh
# Env:   CACHE_TESTS (required), CONF (src/bench/cache-tests.yaml), JAR (target/tollgate.jar; built if missing),
#        OUT (bench-results/cache-tests.json: the client's raw results), JAVA_OPTS (-Xmx512m)
# A test is required when its `kind` is absent or `required` (the suite's own rule, test-engine/lib/results.mjs);
# `optimal` and `check` tests run too but are not counted. Browser-only tests are not run by the client.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${CACHE_TESTS:?set CACHE_TESTS to a checkout of https://github.com/http-tests/cache-tests with npm install done}"
CACHE_TESTS=$(cd "$CACHE_TESTS" && pwd)
[ -f "$CACHE_TESTS/tests/index.mjs" ] && [ -d "$CACHE_TESTS/node_modules" ] \
  || { echo "$CACHE_TESTS: not a cache-tests checkout with npm install done" >&2; exit 1; }
CONF=${CONF:-src/bench/cache-tests.yaml}
JAR=${JAR:-target/tollgate.jar}
OUT=${OUT:-bench-results/cache-tests.json}
[ -f "$JAR" ] || mvn -B -q package -DskipTests
mkdir -p bench-results/logs "$(dirname "$OUT")"
source src/bench/lib.sh
WORK=$(mktemp -d)
cp "$JAR" "$WORK/tollgate.jar"
origin_port=$(free_port)
proxy_port=$(free_port)
mgmt_port=$(free_port)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
# The suite's server reads its port and pid file from npm's config variables; set them as `npm run server` would.
(cd "$CACHE_TESTS" && npm_config_port=$origin_port npm_config_protocol=http npm_config_pidfile=$WORK/origin.pid \
  exec node test-engine/server/server.mjs) > bench-results/logs/cache-tests-origin.log 2>&1 &
PIDS+=($!)
java ${JAVA_OPTS:--Xmx512m} -jar "$WORK/tollgate.jar" --config "$CONF" --port "$proxy_port" --management-port "$mgmt_port" \
  --upstream "http://127.0.0.1:$origin_port" > bench-results/logs/cache-tests-tollgate.log 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$origin_port/"
wait_for "http://127.0.0.1:$mgmt_port/health/live"
echo "# $(date -u +%FT%TZ) cache-tests $(git -C "$CACHE_TESTS" rev-parse --short HEAD 2>/dev/null || echo '?') against $JAR with $CONF"
(cd "$CACHE_TESTS" && npm run --silent cli --base="http://127.0.0.1:$proxy_port") > "$OUT" 2> bench-results/logs/cache-tests-client.log \
  || { tail -20 bench-results/logs/cache-tests-client.log >&2; exit 1; }
CACHE_TESTS_DIR=$CACHE_TESTS node --input-type=module - "$OUT" <<'JS'
import fs from 'fs'
const { default: suites } = await import(process.env.CACHE_TESTS_DIR + '/tests/index.mjs')
const results = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))
const rows = []
let pass = 0, fail = 0
const failed = []
for (const s of suites) {
  let p = 0, f = 0
  for (const t of s.tests) {
    if (t.browser_only || !(t.kind === undefined || t.kind === 'required')) continue
    if (results[t.id] === true) p++
    else { f++; failed.push(`${t.id}: ${Array.isArray(results[t.id]) ? results[t.id].join(' ') : 'no result'}`) }
  }
  if (p + f > 0) rows.push(`| ${s.id} | ${p} | ${f} |`)
  pass += p; fail += f
}
console.log(`required tests: ${pass} passed, ${fail} failed, of ${pass + fail}\n`)
console.log('| group | passed | failed |\n|---|---:|---:|')
rows.forEach(r => console.log(r))
console.log(`| **all** | **${pass}** | **${fail}** |`)
console.log('\nfailed required tests:')
failed.forEach(f => console.log('  ' + f))
JS
blocked=$(grep -c "Thread blocked" bench-results/logs/cache-tests-tollgate.log || true)
errors=$(grep -c " ERROR \| WARN " bench-results/logs/cache-tests-tollgate.log || true)
echo
echo "gateway log: $blocked 'Thread blocked' warnings, $errors WARN/ERROR lines (bench-results/logs/cache-tests-tollgate.log)"
