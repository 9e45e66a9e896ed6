#!/bin/sh
# What a guest makes the node allocate is given back: churn (churn.xml)
# opens and closes 12 zero-quota PD sessions 50 times and takes 1000
# data faults per step, pausing after each of its 6 steps.  The node's
# anonymous RSS (RssAnon) in the pause after step 6 must be within
# RSS_SLACK_KB (default 256 kB: -44 to +16 kB measured at first, +76 kB
# once in make test; a leak added about 5 MB a step; it was VmRSS within
# 8 MiB) of that after step 2.
b=${1:-build}
cap=$b/capsule
slack=${RSS_SLACK_KB:-256}
# ASan holds freed blocks in a quarantine (256 MB by default): keep it
# small, so that what the node frees shows as freed
case "$b" in *san*)
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
	slack=${RSS_SLACK_KB:-16384} ;;
esac
tmp=$(mktemp -d)
fail=0
node_pid=

bad() { echo "kernel: FAIL $*"; fail=1; }
ok() { echo "kernel: PASS $*"; }
cleanup() {
	[ -n "$node_pid" ] && kill -KILL "$node_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# wait_log PATTERN [SECONDS]: poll the node's output until a line matches
wait_log() {
	i=0
	while ! grep -q -- "$1" "$tmp/node.log"; do
		[ $i -ge $((${2:-60} * 10)) ] && return 1
		kill -0 "$node_pid" 2>/dev/null || return 1
		sleep 0.1
		i=$((i + 1))
	done
}
rss_kb() { sed -n 's/^RssAnon:[^0-9]*\([0-9]*\) kB/\1/p' /proc/"$node_pid"/status; }

# rss_in_pause STEP: the node's RSS in kB, read in churn's pause after STEP
rss_in_pause() {
	wait_log "churn: step $1 done, paused" 300 || return 1
	rss_kb >"$tmp/rss$1"
	! grep -q "churn: step $1 resumed" "$tmp/node.log"
}

"$cap" node --rom "$b/components" tests/kernel/churn.xml --control "$tmp/s" \
	>"$tmp/node.log" 2>&1 &
node_pid=$!
if ! rss_in_pause 2 || ! rss_in_pause 6; then
	bad "memory: no RSS in churn's pauses: $(tail -n 5 "$tmp/node.log")"
else
	r2=$(cat "$tmp/rss2") r6=$(cat "$tmp/rss6")
	if [ $((r6 - r2)) -gt "$slack" ]; then
		bad "memory: node RSS grew from $r2 kB to $r6 kB over 4 steps of 600 PD sessions and 1000 data faults"
	else
		ok "memory: node RSS $r2 kB after step 2, $r6 kB after step 6 (600 PD sessions and 1000 faults a step)"
	fi
fi
wait_log "churn exited with" 60 || bad "churn did not exit: $(tail -n 3 "$tmp/node.log")"
grep -q "churn exited with 0" "$tmp/node.log" ||
	bad "churn: $(grep churn "$tmp/node.log" | tail -n 3)"
# preemption holds in loops of system calls and faults: the ticker's five
# 20 ms ticks come in time while churn's first step runs
if ! grep -q "ticker: 5 ticks of 20 ms took plausible time" "$tmp/node.log" ||
	! grep -q "^\[init\] ticker exited with 0" "$tmp/node.log"; then
	bad "ticker beside churn: $(grep ticker "$tmp/node.log" | tail -n 3)"
elif [ "$(grep -n 'ticker: 5 ticks' "$tmp/node.log" | cut -d: -f1)" -gt \
	"$(grep -n 'churn: step 1 done' "$tmp/node.log" | cut -d: -f1)" ]; then
	bad "ticker beside churn: its ticks ended only after churn's first step"
else
	ok "memory: the ticker beside churn's loops of sessions and faults ticked in time"
fi
exit $fail
