#!/bin/sh
# Restore on another node: node A runs cr_all under a monitor that
# checkpoints it after its 5th line (some 30 ms in, before its 150 ms
# one-shot) to an image file and stops it; node B (a
# fresh `capsule run`, an empty monitor) restores that file.  B must go on
# where A stopped: the next count, the own RPC object, the heap and stack
# caps, signals, the periodic timer and the one-shot armed in A, LOG, the
# exit through the entrypoint, and the monitor's verify line.
b=${1:-build}
tmp=$(mktemp -d /tmp/capsule-cross.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
[ -n "$CR_KEEP" ] && trap - EXIT
fail() { echo "cross_node: FAIL: $*"; for f in "$tmp"/*.log; do echo "--- $f"; sed 's/^/  | /' "$f"; done; exit 1; }

. tests/cr/monitor_node.sh
node_cfg() { monitor_node cr_all "$1"; }
node_cfg "<target binary=\"cr_all\" ram=\"2M\" caps=\"200\"/>
	<test checkpoint_after_log=\"5\" image=\"$tmp/a.img\" then=\"exit\"/>" >"$tmp/a.xml"
node_cfg "<restore image=\"$tmp/a.img\"/>" >"$tmp/b.xml"

timeout -k 10 60 "$b/capsule" run --rom "$b/components" "$tmp/a.xml" >"$tmp/a.log" 2>&1 ||
	fail "node A exited with $?"
[ -s "$tmp/a.img" ] || fail "node A wrote no image"
grep -q "monitor: target stopped after its image was written" "$tmp/a.log" ||
	fail "node A did not stop at the checkpoint"
last=$(sed -n 's/^\[cr_all\] count \([0-9]*\) echo \1$/\1/p' "$tmp/a.log" | tail -1)
[ -n "$last" ] || fail "node A counted nothing"
# (after 40 ms of the monitor's timer, until session 13: on a loaded host
# the node's thread could wake after both timers and fire the one-shot
# first)
grep -q "oneshot fired" "$tmp/a.log" && fail "the one-shot fired before the checkpoint"

timeout -k 10 60 "$b/capsule" run --rom "$b/components" "$tmp/b.xml" >"$tmp/b.log" 2>&1 ||
	fail "node B exited with $?"
first=$(sed -n 's/^\[cr_all\] count \([0-9]*\) echo \1$/\1/p' "$tmp/b.log" | head -1)
[ "$first" = $((last + 1)) ] || fail "B starts at count '$first', A stopped at $last"
grep -q "cr_all: started" "$tmp/b.log" && fail "B started the target anew"
n=$(sed -n 's/^\[cr_all\] count \([0-9]*\) echo \1$/\1/p' "$tmp/b.log" | tr '\n' ' ')
want=$(seq $((last + 1)) 30 | tr '\n' ' ')
[ "$n" = "$want" ] || fail "B's counts are '$n', want '$want'"
for line in "monitor: restored: " \
	"monitor: verify: " "cap map and object pool consistent in the target" \
	"[cr_all] tick " "[cr_all] oneshot fired" \
	"cr_all: done: 30 signals, heap intact" \
	"monitor: target exited with 0" "[init] cr_all exited with 0"; do
	grep -qF -- "$line" "$tmp/b.log" || fail "B: missing: $line"
done
grep "monitor: verify:" "$tmp/b.log" | grep -qv " 0 with new badges" ||
	fail "B: no new badges"
echo "cross_node: PASS (A stopped at count $last, B went on from $((last + 1)))"
grep -E "monitor: (restored|verify)" "$tmp/b.log"
