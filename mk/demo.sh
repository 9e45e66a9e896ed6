#!/bin/sh
# make demo: the checkpoint/restore story with two node processes.
#   node A runs cr_all under a monitor; it is checkpointed while it counts
#   and keeps running; node B (another process, an empty monitor) restores
#   the image with new badges and goes on from the checkpointed count.
b=${1:-build}
cap="$b/capsule"
tmp=$(mktemp -d /tmp/capsule-demo.XXXXXX)
img="$tmp/cr_all.img"
trap 'kill $pa $pb 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM

wait_for() { # file text seconds
	i=0
	while ! grep -qF -- "$2" "$1" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt $(($3 * 100)) ] && return 1; sleep 0.01
	done
}
die() { echo "demo: $*" >&2; exit 1; }

echo "== node A: capsule node examples/demo-a.xml --control a.sock"
"$cap" node --rom "$b/components" examples/demo-a.xml --control "$tmp/a.sock" >"$tmp/a.log" 2>&1 &
pa=$!
wait_for "$tmp/a.log" "[cr_all] count 5 " 20 || die "node A did not start counting (see $tmp/a.log)"
echo "== capsule checkpoint --node a.sock cr_all -o cr_all.img"
"$cap" checkpoint --node "$tmp/a.sock" cr_all -o "$img" || die "checkpoint failed"
wait_for "$tmp/a.log" "[init] cr_all exited" 20 || die "node A's target did not finish"
sed 's/^/  A | /' "$tmp/a.log"
# A's monitor left the control plane when its target ended
"$cap" checkpoint --node "$tmp/a.sock" cr_all -o "$tmp/late.img" 2>"$tmp/late.err" &&
	die "checkpoint of a finished component succeeded"
grep -q "cr_all: not under a monitor" "$tmp/late.err" ||
	die "a finished monitor still looks reachable: $(cat "$tmp/late.err")"

echo "== capsule inspect cr_all.img (first lines)"
"$cap" inspect "$img" | head -12 | sed 's/^/  | /'

echo "== node B: capsule node examples/demo-b.xml --control b.sock"
"$cap" node --rom "$b/components" examples/demo-b.xml --control "$tmp/b.sock" >"$tmp/b.log" 2>&1 &
pb=$!
i=0; while [ ! -S "$tmp/b.sock" ]; do i=$((i + 1)); [ $i -gt 2000 ] && die "node B has no socket"; sleep 0.01; done
echo "== capsule restore --node b.sock cr_all.img"
"$cap" restore --node "$tmp/b.sock" "$img" || die "restore failed"
wait_for "$tmp/b.log" "[init] cr_all exited" 20 || die "node B's target did not finish"
sed 's/^/  B | /' "$tmp/b.log"
"$cap" ps --node "$tmp/b.sock" | sed 's/^/  ps B | /'
grep -q "cr_all exited with 0" "$tmp/a.log" && grep -q "cr_all exited with 0" "$tmp/b.log" ||
	die "a target did not exit cleanly"
echo "== done: A kept running after its checkpoint; B went on from the checkpoint with new badges"
