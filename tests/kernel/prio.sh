#!/bin/sh
# Fixed priorities: "neighbour", a 10 ms periodic timer that measures how
# late each of its TICKS ticks comes (worst, median), beside "spinner",
# SPINNERS threads that compute without ever blocking.  Two nodes:
#   prio:  <config prio_levels="4">, the spinner at priority="-1".  The
#          ticker preempts the spinners at each tick: all ticks come and
#          the median lateness is below one 10 ms slice and at most a
#          third of the equal-priority median (a ratio measured in the
#          same run, so that the host's own load, which delays the whole
#          node, cancels out);
#   equal: both at init's priority, round robin: the ticks still come
#          (count right; late ones merge into one signal of count > 1),
#          late by about a slice per spinner thread (printed).
# The spinners must have run in both (rounds > 0).
b=${1:-build}
cap=$b/capsule
ticks=${TICKS:-100}
spinners=${SPINNERS:-8}
tmp=$(mktemp -d /tmp/capsule-prio.XXXXXX)
fail=0
trap 'rm -rf "$tmp"' EXIT

bad() { echo "prio: FAIL $*"; sed 's/^/  | /' "$tmp/$2.log" | tail -20; fail=1; }

echo "$ticks" >"$tmp/bench.count"
echo "$spinners" >"$tmp/spin.threads"
echo $((ticks * 10 + 500)) >"$tmp/spin.ms"
# node NAME LEVELS PRIORITY
node() {
	cat >"$tmp/$1.xml" <<XML
<config prio_levels="$2">
	<parent-provides>
		<service name="PD"/> <service name="CPU"/> <service name="LOG"/>
		<service name="ROM"/> <service name="RM"/> <service name="Timer"/>
	</parent-provides>
	<default-route> <any-service> <parent/> </any-service> </default-route>
	<start name="neighbour" caps="100"> <resource name="RAM" quantum="4M"/> </start>
	<start name="spinner" caps="$((spinners * 4 + 100))" priority="$3">
		<resource name="RAM" quantum="$((spinners / 4 + 8))M"/>
	</start>
</config>
XML
	timeout -k 10 120 "$cap" run --rom "$b/components" --rom "$tmp" "$tmp/$1.xml" \
		>"$tmp/$1.log" 2>&1
}
# median NAME: the neighbour's median lateness in µs ("" if it did not report)
median() {
	sed -n "s/.*neighbour: [0-9]* ticks of 10000 us: late worst [0-9]* us, median \([0-9]*\) us.*/\1/p" \
		"$tmp/$1.log"
}
for run in prio:4:-1 equal:1:0; do
	name=${run%%:*}; rest=${run#*:}
	node "$name" "${rest%%:*}" "${rest#*:}" || { bad "$name: node failed" "$name"; continue; }
	# late ticks come merged (one signal, count > 1): at least TICKS
	got=$(sed -n 's/.*neighbour: \([0-9]*\) ticks of.*/\1/p' "$tmp/$name.log")
	[ "${got:-0}" -ge "$ticks" ] ||
		bad "$name: the ticker counted ${got:-no} ticks, want $ticks" "$name"
	grep -q "spinner: $spinners threads spun .* [1-9][0-9]* rounds" "$tmp/$name.log" ||
		bad "$name: the spinners did not run" "$name"
	grep "neighbour: [0-9]* ticks of" "$tmp/$name.log" | sed "s/^/prio: $name: /"
done
mp=$(median prio)
me=$(median equal)
if [ -n "$mp" ] && [ -n "$me" ]; then
	if [ "$mp" -lt 10000 ] && [ $((mp * 3)) -le "$me" ]; then
		echo "prio: PASS median lateness ${mp} us above $spinners busy threads, ${me} us beside them"
	else
		bad "median lateness ${mp} us with priority, ${me} us at equal priority" prio
	fi
fi
[ $fail = 0 ] && echo "prio: PASS priorities (ticks on time above busy threads, round robin beside them)"
exit $fail
