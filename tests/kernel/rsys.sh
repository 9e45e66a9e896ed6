#!/bin/sh
# Random system calls from several threads (components/rsys): RSYS_CALLS
# of them (default 200000; millions with RSYS_CALLS=5000000).  The node
# survives; once rsys has ended, the kernel's counts of `capsule ps`
# (tasks, threads, gates, irqs, mappings, live badges) equal those a node
# shows after hello ended in the same place, and the node's anonymous
# RSS (RssAnon) is within RSYS_SLACK_KB of that node's (default 32 kB:
# -8 to 0 kB measured; it was VmRSS within 16 MiB; 16 MiB under ASan,
# whose allocator keeps freed blocks).
b=${1:-build}
cap=$b/capsule
calls=${RSYS_CALLS:-200000}
slack=${RSYS_SLACK_KB:-32}
case "$b" in *san*) slack=${RSYS_SLACK_KB:-16384} ;; esac
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
mkdir "$tmp/rom"
echo "$calls" >"$tmp/rom/rsys.calls"

# after BINARY: run the config with BINARY as the subject until it ended;
# leaves the kernel line in $tmp/k.BINARY and the RSS in $tmp/rss.BINARY
after() {
	sed "s/SUBJECT/$1/" tests/kernel/rsys.xml >"$tmp/$1.xml"
	"$cap" node --rom "$b/components" --rom "$tmp/rom" "$tmp/$1.xml" \
		--control "$tmp/s.$1" >"$tmp/log.$1" 2>&1 &
	node_pid=$!
	i=0
	while ! grep -qs '^\[init\] subject \(exited\|faulted\)' "$tmp/log.$1"; do
		if [ $i -ge 6000 ] || ! kill -0 "$node_pid" 2>/dev/null; then
			echo "node ended or subject never did: $(tail -n 3 "$tmp/log.$1")"
			return 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
	sleep 0.5
	"$cap" ps --node "$tmp/s.$1" | grep '^kernel: ' |
		sed 's/allocated [0-9]*, //' >"$tmp/k.$1"
	sed -n 's/^RssAnon:[^0-9]*\([0-9]*\) kB/\1/p' /proc/"$node_pid"/status >"$tmp/rss.$1"
	kill -TERM "$node_pid"
	wait "$node_pid"
	node_pid=
}

start=$(date +%s)
if ! why=$(after rsys) || ! why2=$(after hello); then
	bad "rsys: $why $why2"
	exit 1
fi
secs=$(($(date +%s) - start))
made=$(sed -n 's/^\[subject\] rsys: \([0-9]*\) calls from.*/\1/p' "$tmp/log.rsys")
r1=$(cat "$tmp/rss.rsys") r0=$(cat "$tmp/rss.hello")
if [ -z "$made" ]; then
	bad "rsys did not report: $(grep -v '^\[subject\] rsys: [0-9]* random' "$tmp/log.rsys" | tail -n 3)"
elif ! cmp -s "$tmp/k.rsys" "$tmp/k.hello" || [ ! -s "$tmp/k.rsys" ]; then
	bad "rsys: counts after it ended: $(cat "$tmp/k.rsys"); after hello: $(cat "$tmp/k.hello")"
elif [ $((r1 - r0)) -gt "$slack" ]; then
	bad "rsys: node RSS $r1 kB after it ended, $r0 kB after hello"
else
	ok "rsys: $made random calls from 4 threads (${secs}s); counts after it ended as after hello ($(cat "$tmp/k.rsys")); RSS $r1 kB, $r0 kB after hello; $(grep -c '^\[init\] subject' "$tmp/log.rsys") end line"
fi
exit $fail
