#!/bin/sh
# A node with many components: COMPONENTS (default 100) counters start,
# run and exit cleanly under one init (no limit but quota), and what they
# held is given back: the node's anonymous RSS (RssAnon: the binary's
# file pages vary by a few hundred kB from run to run) once they have all
# exited, compared with that of a node whose single counter exited, must
# not grow by more than EXITED_SLACK_KB, and once 32 have exited by no
# more than EXITED32_SLACK_KB (both 16 kB by default, not a kB per
# counter: one node's RssAnon varies by 8-16 kB from run to run; 0-12 kB
# measured for 32 and 100).  Before init freed its children's records
# and the config once they had all ended (and the node trimmed its heap
# after a native task ended) 32 kept 12-24 kB and 100 44 kB; before the
# idle node emptied its tcache into the heap (kernel/heap_trim.c) 100
# counters kept 560-640 kB of heap pages and 32 350-380 kB; before init
# freed a child's service table with it and allocated a <start>'s
# <provides> only for a start that has one, 2.3 kB a counter more;
# before core's and init's cap spaces gave back their empty pages
# (kernel/cap_space.c), 0.8 kB more: 870-920 kB for 100, 440-450 kB for
# 32 in all.  Past 100 counters a kB a counter more is allowed: 400
# keep ~160 kB, the pages of core's and init's libbase cap maps
# (base/native/native_component.c) that their caps touched.  While they
# run, the node's address
# space (VmSize) must stay below VM_PER_COMPONENT_KB (default 32 MiB) a
# component: each engine reserves 16 MiB for its translations
# (kernel/guest/guest.h; 19 MB a counter in all, 68 MB with main's 64 MiB
# buffers, 1 GiB before the kernel kept the buffer from filling,
# kernel/guest/tb_budget.c).
b=${1:-build}
cap=$b/capsule
n=${COMPONENTS:-100}
slack=${EXITED_SLACK_KB:-$((16 + (n > 100 ? n - 100 : 0)))}
slack32=${EXITED32_SLACK_KB:-16}
vm_per=${VM_PER_COMPONENT_KB:-32768}
# ASan keeps freed blocks in its own allocator and reserves terabytes of
# shadow: under it the RSS and VmSize bounds say nothing, only the starts
# and exits are checked
case "$b" in *san*) slack=${EXITED_SLACK_KB:-} slack32=${EXITED32_SLACK_KB:-} vm_per=${VM_PER_COMPONENT_KB:-} ;; esac
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

# config N FILE: N counters, caps and RAM from node-wide budgets
config() {
	{
		echo "<config caps=\"$(($1 * 50 + 1000))\">"
		i=1
		while [ $i -le "$1" ]; do
			echo "<start name=\"counter$i\" caps=\"40\"><binary name=\"counter\"/><resource name=\"RAM\" quantum=\"1M\"/></start>"
			i=$((i + 1))
		done
		echo "</config>"
	} >"$2"
}

# exited_rss N: start a node with N counters, wait until all have exited,
# echo its RSS in kB
exited_rss() {
	config "$1" "$tmp/c$1.xml"
	: >"$tmp/node$1.log" # counted below before the node may have opened it
	"$cap" node --rom "$b/components" "$tmp/c$1.xml" --control "$tmp/s$1" \
		>"$tmp/node$1.log" 2>&1 &
	node_pid=$!
	i=0
	echo 0 >"$tmp/vm$1"
	while [ "$(grep -c 'exited with' "$tmp/node$1.log")" -lt "$1" ]; do
		v=$(sed -n 's/^VmSize:[^0-9]*\([0-9]*\) kB/\1/p' /proc/"$node_pid"/status 2>/dev/null)
		[ "${v:-0}" -gt "$(cat "$tmp/vm$1")" ] && echo "$v" >"$tmp/vm$1"
		if [ $i -ge 3000 ] || ! kill -0 "$node_pid" 2>/dev/null; then
			echo "timeout"
			return 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
	sleep 0.5
	sed -n 's/^RssAnon:[^0-9]*\([0-9]*\) kB/\1/p' /proc/"$node_pid"/status
	kill -TERM "$node_pid"
	wait "$node_pid"
	node_pid=
}

start=$(date +%s)
r1=$(exited_rss 1)
r32=$(exited_rss 32)
rn=$(exited_rss "$n")
secs=$(($(date +%s) - start))
good=$(grep -c '^\[init\] counter[0-9]* exited with 0$' "$tmp/node$n.log")
counted=$(grep -c '^\[counter[0-9]*\] count 5$' "$tmp/node$n.log")
if [ "$good" != "$n" ] || [ "$counted" != "$n" ]; then
	bad "components: $good of $n counters exited with 0, $counted counted to 5: $(grep -v 'count [1-5]$' "$tmp/node$n.log" | head -n 5)"
elif [ "$rn" = timeout ] || [ "$r1" = timeout ] || [ "$r32" = timeout ]; then
	bad "components: not every counter ended"
elif [ -n "$slack32" ] && [ $((r32 - r1)) -gt "$slack32" ]; then
	bad "components: node anonymous RSS $r32 kB after 32 counters exited, $r1 kB after 1"
elif [ -n "$slack" ] && [ $((rn - r1)) -gt "$slack" ]; then
	bad "components: node anonymous RSS $rn kB after $n counters exited, $r1 kB after 1"
elif [ -n "$vm_per" ] && [ "$(cat "$tmp/vm$n")" -gt $((n * vm_per)) ]; then
	bad "components: node VmSize $(cat "$tmp/vm$n") kB with $n counters, over $vm_per kB a counter"
else
	ok "components: $n counters started, ran and exited with 0 (${secs}s); node anonymous RSS $rn kB after they exited, $r32 kB after 32, $r1 kB after 1; VmSize at most $(cat "$tmp/vm$n") kB while they ran"
fi
exit $fail
