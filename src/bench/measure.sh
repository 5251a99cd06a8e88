#!/usr/bin/env bash
# Runs a command and reports how much of the machine's CPU other processes used meanwhile:
# machine busy core-seconds (/proc/stat) minus the command's own (its rusage, children included).
# Usage: src/bench/measure.sh CMD [ARGS...]   → the command's output, then one "load:" line on stderr.
set -uo pipefail
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
cores=$(nproc); hz=$(getconf CLK_TCK)
read -r b0 t0 < <(busy); load0=$(cut -d' ' -f1 /proc/loadavg)
TIMEFORMAT='%R %U %S'
{ time "$@" 2>&3 ; } 3>&2 2> >(tail -n1 > /tmp/measure.$$) ; rc=$?
sleep 0.2
read -r b1 t1 < <(busy); read -r real user sys < /tmp/measure.$$; rm -f /tmp/measure.$$
awk -v b=$((b1-b0)) -v t=$((t1-t0)) -v hz=$hz -v c=$cores -v r="$real" -v u="$user" -v s="$sys" -v l0="$load0" 'BEGIN{
  own=u+s; mach=b/hz; other=mach-own; if (other<0) other=0;
  printf "load: wall %.1f s; machine busy %.1f of %.1f core-s; this command %.1f core-s; other processes %.0f%% of the machine (loadavg before %s)\n",
    r, mach, t/hz, own, 100*other/(t/hz), l0 }' >&2
exit $rc
