#!/bin/sh
# Restore fault injection: every point of an image restore that can fail
# (each session opened, allocation, core call, cap mapping, prepare step,
# the verify; the monitor counts them, restore_point) is made to fail in
# turn by <test fail_restore_nth="N"/>.  For each N a node with an empty
# monitor is asked over its control socket to restore cr_all's image:
# the restore must fail at point N, after which core's object, mapping
# and live badge counts (`capsule ps`) are as before and the node's RSS
# within SLACK_KB of what it was; then the same image restores in the same
# node and the target runs to its end.  (The "badges allocated" figure is
# not compared: core never hands a badge out twice.)  make test takes every STRIDE-th (5th)
# point (STRIDE=1 or INJECT_ALL=1: all of them).
b=${1:-build}
cap=$b/capsule-test # the fault injection is compiled into the test build only
tmp=$(mktemp -d /tmp/capsule-inject.XXXXXX)
sock=$tmp/b.sock
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
die() { echo "restore_inject: FAIL: $*"; exit 1; }
fails=0
SLACK_KB=8192
STRIDE=${STRIDE:-5}
[ -n "$INJECT_ALL" ] && STRIDE=1

. tests/cr/monitor_node.sh
monitor_node cr_all "<target binary=\"cr_all\" ram=\"2M\" caps=\"200\"/>
	<test checkpoint_after_ms=\"40\" image=\"$tmp/good.img\" then=\"exit\"/>" >"$tmp/a.xml"
timeout -k 10 60 "$cap" run --rom "$b/components" "$tmp/a.xml" >"$tmp/a.log" 2>&1 ||
	die "node A exited with $?"
monitor_node cr_all "<restore image=\"$tmp/good.img\"/>" >"$tmp/count.xml"
timeout -k 10 60 "$cap" run --rom "$b/components" "$tmp/count.xml" >"$tmp/count.log" 2>&1
points=$(sed -n 's/.*monitor: restore: \([0-9]*\) points that can fail passed.*/\1/p' "$tmp/count.log")
[ -n "$points" ] || { tail -5 "$tmp/count.log"; die "no count of failure points"; }

# counts: core's kernel line without the badges ever allocated
counts() { "$cap" ps --raw --node "$sock" 2>/dev/null | sed -n 's/^kernel: \(.*\); badges allocated [0-9]*, \(live [0-9]*\)$/\1; \2/p'; }
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status"; }

n=1
while [ $n -le "$points" ]; do
	# with a ticker that ends before the restore: core starts its timer
	# once, at the first Timer session, and keeps it (not the restore's)
	monitor_node cr_all "<restore/><test fail_restore_nth=\"$n\"/>" |
		sed 's|^</config>|<start name="warm" caps="100"><binary name="ticker"/><resource name="RAM" quantum="2M"/></start></config>|' >"$tmp/b.xml"
	rm -f "$tmp/b.log" # (the last point's: the wait below must not see it)
	"$cap" node --rom "$b/components" "$tmp/b.xml" --control "$sock" >"$tmp/b.log" 2>&1 &
	pid=$!
	i=0
	until grep -qs "^\[warm\] tick 5" "$tmp/b.log" && grep -q "waiting for a restore" "$tmp/b.log" &&
		before=$(counts) && [ -n "$before" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] && kill -0 $pid 2>/dev/null || die "node B does not answer ps"
		sleep 0.1
	done
	rss0=$(rss)
	why=
	"$cap" restore --node "$sock" "$tmp/good.img" cr_all >"$tmp/r1.out" 2>&1 &&
		why="the restore did not fail"
	[ -z "$why" ] && ! grep -q "failing at point $n " "$tmp/b.log" && why="point $n not reached"
	after=$(counts)
	rss1=$(rss)
	[ -z "$why" ] && [ "$after" != "$before" ] && why="counts before '$before', after '$after'"
	[ -z "$why" ] && [ -z "$rss0$rss1" ] && why="no RSS of the node"
	[ -z "$why" ] && [ "$rss1" -gt $((rss0 + SLACK_KB)) ] && why="RSS $rss0 KiB before, $rss1 after"
	if [ -z "$why" ]; then
		"$cap" restore --node "$sock" "$tmp/good.img" cr_all >"$tmp/r2.out" 2>&1 ||
			why="the next restore failed: $(cat "$tmp/r2.out")"
		i=0
		while [ -z "$why" ] && ! grep -qF "cr_all: done: 30 signals" "$tmp/b.log"; do
			i=$((i + 1))
			[ $i -lt 100 ] || why="the restored target did not run to its end"
			sleep 0.1
		done
	fi
	at=$(sed -n "s/.*failing at point $n (\(.*\)) (test hook).*/\1/p" "$tmp/b.log")
	kill $pid 2>/dev/null
	wait $pid 2>/dev/null
	pid=
	if [ -n "$why" ]; then
		echo "restore_inject: FAIL point $n ($at): $why"
		sed 's/^/  | /' "$tmp/b.log" | tail -15
		fails=1
	else
		echo "restore_inject: PASS point $n of $points ($at): counts and RSS as before ($before; $rss0 -> $rss1 KiB), the next restore ran"
	fi
	n=$((n + STRIDE))
done
exit $fails
