#!/bin/sh
# Lazy restore of a target caught in the middle of its work: node A runs
# bench_wset (32 MiB, then rewriting its working set without end), is
# checkpointed through its control socket while it loops, and node B
# restores the image with --lazy.  The loop's blocks compute flags and
# then store to pages that are not there yet, so the restored thread's
# first faults come from the middle of blocks: each must be served as the
# page fault it is (once, a fault there came back as a made-up #GP,
# "faulted at ip=... addr=0xd", in about 3 of 4 images).  B must complete
# the restore with the target still running, and be able to checkpoint it
# again, and the target must have run (faulted on pages not there yet)
# while they were filled.  ROUNDS (default 3) images are tried.
b=${1:-build}
. tests/harness.sh
harness_begin lazy_wset
rounds=${ROUNDS:-3}
mb=32
echo $mb >"$tmp/bench.count"

. tests/cr/monitor_node.sh
monitor_node wset "<target binary=\"bench_wset\" ram=\"$((mb + 16))M\" caps=\"150\"/>" |
	sed "s/quantum=\"16M\"/quantum=\"$((2 * mb + 32))M\"/" >"$tmp/a.xml"
monitor_node wset "<restore/>" |
	sed "s/quantum=\"16M\"/quantum=\"$((2 * mb + 32))M\"/" >"$tmp/b.xml"

# wait_log FILE TEXT [TENTHS]: until FILE has a line with TEXT (a minute)
wait_log() { wait_line "$1" "$2" "${3:-600}"; }

# node NAME CONFIG: start a node with control socket $tmp/NAME.sock
node() {
	"$cap" node --rom "$tmp" --rom "$b/components" "$tmp/$2" \
		--control "$tmp/$1.sock" >"$tmp/$1.log" 2>&1 &
	pids="$pids $!"
	eval "pid_$1=$!"
}

stop() {
	eval "p=\$pid_$1"
	kill -TERM "$p" 2>/dev/null
	wait "$p" 2>/dev/null
}

r=1
while [ $r -le "$rounds" ]; do
	rm -f "$tmp"/*.log "$tmp"/*.sock "$tmp"/*.img
	node a a.xml
	wait_log "$tmp/a.log" "bench_wset: touched" || die "round $r: A's target did not start"
	sleep 0.3 # in the loop
	"$cap" checkpoint --node "$tmp/a.sock" wset -o "$tmp/a.img" >"$tmp/ckpt_a.log" 2>&1 ||
		die "round $r: checkpoint on A: $(cat "$tmp/ckpt_a.log")"
	stop a
	node b b.xml
	wait_log "$tmp/b.log" "waiting for a restore" || die "round $r: node B did not come up"
	"$cap" restore --node "$tmp/b.sock" --lazy "$tmp/a.img" >"$tmp/restore.log" 2>&1 ||
		die "round $r: capsule restore --lazy: $(cat "$tmp/restore.log")"
	wait_log "$tmp/b.log" "lazy restore " 100 # its first lines
	i=0
	until grep -q "lazy restore complete" "$tmp/b.log"; do
		grep -q "faulted" "$tmp/b.log" &&
			die "round $r: the target faulted on B: $(grep faulted "$tmp/b.log" | head -n 1)"
		i=$((i + 1))
		[ $i -lt 600 ] || die "round $r: the lazy restore did not complete"
		sleep 0.1
	done
	grep -q "faulted" "$tmp/b.log" && die "round $r: the target faulted on B"
	# it ran while its pages were filled: its working set (1% of its
	# pages, spread over them all) rewritten without end faults on pages
	# not there yet (once, the background fill kept the node's thread
	# until every page was there: 0 faults in every round)
	faults=$(sed -n 's/.*lazy restore complete: .*(\([0-9]*\) faults).*/\1/p' "$tmp/b.log")
	[ "${faults:-0}" -gt 0 ] ||
		die "round $r: the target did not run while its pages were filled: $(grep -o 'lazy restore complete.*' "$tmp/b.log")"
	"$cap" checkpoint --force --node "$tmp/b.sock" wset -o "$tmp/b.img" \
		>"$tmp/ckpt_b.log" 2>&1 || die "round $r: checkpoint on B: $(cat "$tmp/ckpt_b.log")"
	grep -q "faulted\|exited" "$tmp/b.log" && die "round $r: the target ended on B"
	stop b
	r=$((r + 1))
done
ok "$rounds lazy restores of bench_wset (${mb} MiB) checkpointed in its loop"
