#!/bin/sh
# Signals queued at the checkpoint arrive after a restore on another node.
# Node A runs cr_pending under a monitor that checkpoints it after its
# first LOG line, when signals it submitted to itself are still queued at
# core (its entrypoint is busy), into an image, and stops it.  The image
# must carry them as its signal record's pending count (capsule inspect);
# node B restores the image and cr_pending must see every signal it
# submitted (it exits 1 naming how many arrived otherwise).
b=${1:-build}
tmp=$(mktemp -d /tmp/capsule-pending.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "pending_signal: FAIL: $*"; for f in "$tmp"/*.log; do echo "--- $f"; sed 's/^/  | /' "$f"; done; exit 1; }

. tests/cr/monitor_node.sh
monitor_node cr_pending "<target binary=\"cr_pending\" ram=\"2M\" caps=\"100\"/>
	<test checkpoint_after_log=\"1\" image=\"$tmp/a.img\" then=\"exit\"/>" >"$tmp/a.xml"
monitor_node cr_pending "<restore image=\"$tmp/a.img\"/>" >"$tmp/b.xml"

timeout -k 10 60 "$b/capsule" run --rom "$b/components" "$tmp/a.xml" >"$tmp/a.log" 2>&1 ||
	fail "node A exited with $?"
grep -q "monitor: target stopped after its image was written" "$tmp/a.log" ||
	fail "node A did not stop at the checkpoint"
grep -q "signals arrived" "$tmp/a.log" && fail "A saw signals arrive before the checkpoint"
"$b/capsule" inspect "$tmp/a.img" >"$tmp/inspect.log" 2>&1 || fail "inspect failed"
pending=$(sed -n 's/^  - badge=[^ ]* pd_session=[0-9]* imprint=[^ ]* pending=\([0-9]*\)$/\1/p' \
	"$tmp/inspect.log" | awk '{ n += $1 } END { print n + 0 }')
[ "$pending" -gt 0 ] || fail "the image holds no pending signal"

timeout -k 10 60 "$b/capsule" run --rom "$b/components" "$tmp/b.xml" >"$tmp/b.log" 2>&1 ||
	fail "node B exited with $?"
for line in "monitor: restored: " "monitor: verify: " \
	"[cr_pending] cr_pending: all 4 signals arrived" "[init] cr_pending exited with 0"; do
	grep -qF -- "$line" "$tmp/b.log" || fail "B: missing: $line"
done
echo "pending_signal: PASS ($pending signal(s) pending in the image arrived on node B)"
