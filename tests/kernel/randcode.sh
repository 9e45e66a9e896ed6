#!/bin/sh
# Random code at node level: RANDCODE_BLOBS child components (default
# 3000 in make test, about 25 s; 1000 in the sanitizer build, about 20 s;
# as many as wanted with the variable), each
# running its own seeded blob of random bytes laced with privileged,
# system and odd instructions (components/randcode).  They run in nodes
# of up to RANDCODE_PER_NODE children (default 200); node k mixes
# RANDCODE_SEED + k - 1 (default seed 1) into its children's seeds (the ROM randcode.seed), so every child of
# every node runs another blob.  In each node:
#   - the node survives: init sums up, no crash, no deadlock;
#   - init reports every blob's end: "blobN faulted (" or "blobN exited
#     with" (a blob that loops is ended by its own timeout thread);
#   - a well-behaved counter at the blobs' priority exits 0, and a 10 ms
#     ticker one priority above them (neighbour) gets every tick with a
#     median lateness below one 10 ms slice.
# The engine-level test of the same kind is tests/unit/test_vcpu_random.c
# (3000 blobs in one process, CAPSULE_RANDOM_BLOBS for more).
b=${1:-build}
cap=$b/capsule
case "$b" in *san*) blobs=${RANDCODE_BLOBS:-1000} ;; *) blobs=${RANDCODE_BLOBS:-3000} ;; esac
per=${RANDCODE_PER_NODE:-200}
seed=${RANDCODE_SEED:-1}
ticks=50
tmp=$(mktemp -d /tmp/capsule-randcode.XXXXXX)
fail=0
trap 'rm -rf "$tmp"' EXIT

bad() { echo "randcode: FAIL $1"; sed 's/^/  | /' "$tmp/$2.log" | grep -v 'randcode: running blob' | tail -20; fail=1; }

# config N FILE: neighbour above, counter and N blobs below
config() {
	{
		echo "<config prio_levels=\"2\" caps=\"$(($1 * 60 + 1000))\">"
		echo '<parent-provides> <service name="PD"/> <service name="CPU"/> <service name="LOG"/>'
		echo '<service name="ROM"/> <service name="RM"/> <service name="Timer"/> </parent-provides>'
		echo '<default-route> <any-service> <parent/> </any-service> </default-route>'
		echo '<start name="neighbour" caps="100"> <resource name="RAM" quantum="4M"/> </start>'
		echo '<start name="counter" caps="50" priority="-1"> <resource name="RAM" quantum="1M"/> </start>'
		i=1
		while [ $i -le "$1" ]; do
			echo "<start name=\"blob$i\" caps=\"50\" priority=\"-1\"><binary name=\"randcode\"/><resource name=\"RAM\" quantum=\"1M\"/></start>"
			i=$((i + 1))
		done
		echo "</config>"
	} >"$2"
}

echo "$ticks" >"$tmp/bench.count"
start=$(date +%s)
left=$blobs k=0 faulted=0
while [ "$left" -gt 0 ]; do
	n=$per
	[ "$n" -gt "$left" ] && n=$left
	k=$((k + 1))
	echo $((seed + k - 1)) >"$tmp/randcode.seed"
	config "$n" "$tmp/n$k.xml"
	timeout -k 10 120 "$cap" run --rom "$b/components" --rom "$tmp" "$tmp/n$k.xml" >"$tmp/n$k.log" 2>&1
	rc=$?
	what="node $k (seed $((seed + k - 1)), $n blobs)"
	ended=$(grep -c '^\[init\] blob[0-9]* \(faulted (\|exited with \)' "$tmp/n$k.log")
	med=$(sed -n 's/.*neighbour: [0-9]* ticks of 10000 us: late worst [0-9]* us, median \([0-9]*\) us.*/\1/p' "$tmp/n$k.log")
	got=$(sed -n 's/.*neighbour: \([0-9]*\) ticks of 10000 us.*/\1/p' "$tmp/n$k.log")
	if [ $rc -gt 2 ] || grep -q 'deadlock' "$tmp/n$k.log"; then
		bad "$what: the node ended with $rc" "n$k"
	elif [ "$ended" != "$n" ]; then
		bad "$what: init reported the end of $ended blobs" "n$k"
	elif grep -q 'randcode: [a-z]* failed' "$tmp/n$k.log"; then
		bad "$what: a blob could not be set up" "n$k"
	elif ! grep -q '^\[init\] counter exited with 0$' "$tmp/n$k.log" ||
		! grep -q '^\[init\] neighbour exited with 0$' "$tmp/n$k.log"; then
		bad "$what: the counter or the ticker did not finish" "n$k"
	elif [ "${got:-0}" -lt "$ticks" ] || [ "${med:-10000}" -ge 10000 ]; then
		bad "$what: the ticker above the blobs: ${got:-no} ticks, median lateness ${med:-none} us" "n$k"
	fi
	faulted=$((faulted + $(grep -c '^\[init\] blob[0-9]* faulted (' "$tmp/n$k.log")))
	left=$((left - n))
done
[ $fail = 0 ] &&
	echo "randcode: PASS $blobs blobs in $k nodes ($(($(date +%s) - start))s), $faulted faulted, the rest ended by their timeout; counter and ticker finished in every node"
exit $fail
