#!/bin/sh
# `capsule checkpoint` of a target caught in a signal handler that logs:
# log_burst's handler writes 64 LOG lines, then waits a millisecond, called by the
# target's signal thread, which waits in that call meanwhile.  A pause
# that lands in a burst finds the signal thread in a call the target's
# own entrypoint has taken, and the entrypoint in a LOG call to the
# monitor; the monitor must go back to serving it and try the pause
# again (monitor/pause_retry.c).  Before that, such a checkpoint failed
# after 200 ms ("a thread's call is still being served").  Ten
# checkpoints while it runs must all succeed, and the target's lines must
# come out whole and in order, and it must end with its summary.
b=${1:-build}
. tests/harness.sh
harness_begin log_burst
. tests/cr/monitor_node.sh
echo 800 >"$tmp/log_burst.bursts"
echo 64 >"$tmp/log_burst.lines"
echo 1000 >"$tmp/log_burst.gap_us"
monitor_node burst '<target binary="log_burst" ram="2M" caps="100"/>' >"$tmp/a.xml"

"$cap" node --rom "$tmp" --rom "$b/components" "$tmp/a.xml" \
	--control "$tmp/a.sock" >"$tmp/a.log" 2>&1 &
pid=$!
pids=$pid
wait_line "$tmp/a.log" "burst 2 line 64" || die "the target did not start"
n=0
# (not near its end: a checkpoint there may find the target gone)
while [ $n -lt 10 ] && ! grep -qF "burst 600 line" "$tmp/a.log"; do
	n=$((n + 1))
	"$cap" checkpoint --node "$tmp/a.sock" burst -o "$tmp/c$n.img" >"$tmp/ckpt.log" 2>&1 ||
		die "checkpoint $n: $(tail -n 1 "$tmp/ckpt.log")"
done
wait_line "$tmp/a.log" "burst exited with" 600 || die "the target did not end"
grep -qF "[init] burst exited with 0" "$tmp/a.log" || die "$(grep -F 'burst exited' "$tmp/a.log")"
grep -q "log_burst: 800 bursts of 64 lines" "$tmp/a.log" || die "no summary line"
# every line once, in order
grep -o 'burst [0-9]* line [0-9]*' "$tmp/a.log" >"$tmp/got"
k=1
while [ $k -le 800 ]; do
	l=1
	while [ $l -le 64 ]; do
		echo "burst $k line $l"
		l=$((l + 1))
	done
	k=$((k + 1))
done >"$tmp/want"
cmp -s "$tmp/got" "$tmp/want" || die "the target's lines differ from a plain run"
w=$(grep -c "checkpoint waited" "$tmp/a.log")
[ $n -ge 3 ] || bad "only $n checkpoints before the target neared its end"
ok "$n checkpoints while the handler logs, lines whole and in order ($w waited for a call)"
exit $fail
