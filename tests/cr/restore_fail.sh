#!/bin/sh
# A restore that fails at any step before its point of no return leaves
# the old target running as if no restore had been tried.  For each step
# (each proxy hook's prepare, binding the fault irq, re-queueing drained
# signals, the verify, the announce) a same-node restore of a scenario
# that has that state is made to fail there by the monitor's test hook
# <test fail_restore_at="STEP"/>.  The target's own output must then be
# the same as in a run whose checkpoint is followed by a plain resume,
# and it must exit as that run does; no "restored:" line may appear.
b=${1:-build}
tmp=$(mktemp -d /tmp/capsule-rfail.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0

# with SCENARIO ATTRS: the scenario with ATTRS added to its <test>
with() { sed "s|<test |<test $2 |" "tests/scenario/$1.xml"; }
run() { timeout -k 10 60 "$b/capsule-test" run --rom "$b/components" "$1" >"$2" 2>&1; }
own() { grep "^\[$1\] " "$2" | grep -v "^\[$1\] monitor: "; }

# check SCENARIO LABEL STEP
check() {
	with "$1" 'restore="none"' | sed 's|restore="same-node"||' >"$tmp/plain.xml"
	with "$1" "fail_restore_at=\"$3\"" >"$tmp/fail.xml"
	run "$tmp/plain.xml" "$tmp/plain.log"
	rp=$?
	run "$tmp/fail.xml" "$tmp/fail.log"
	rf=$?
	why=""
	grep -q "^\[$2\] monitor: restore: failing at '$3' (test hook)" "$tmp/fail.log" ||
		why="the step was not reached"
	[ -z "$why" ] && ! grep -q "^\[$2\] monitor: restore failed: $3: " "$tmp/fail.log" &&
		why="no 'restore failed: $3' line"
	[ -z "$why" ] && grep -q "^\[$2\] monitor: restored:" "$tmp/fail.log" &&
		why="it says restored"
	[ -z "$why" ] && [ "$rf" != "$rp" ] && why="exit $rf, the run without a restore $rp"
	if [ -z "$why" ]; then
		own "$2" "$tmp/plain.log" >"$tmp/want"
		own "$2" "$tmp/fail.log" >"$tmp/got"
		diff "$tmp/want" "$tmp/got" >"$tmp/diff" || why="the target went on differently: $(head -5 "$tmp/diff")"
	fi
	if [ -n "$why" ]; then
		echo "restore_fail: FAIL $1 at '$3': $why"
		sed 's/^/  | /' "$tmp/fail.log" | tail -20
		fail=1
	else
		echo "restore_fail: PASS $1 at '$3' (the old target went on unchanged)"
	fi
}

check cr_ticker ticker Timer
check cr_ticker ticker watch
check cr_ticker ticker verify
check cr_ticker ticker announce
check cr_same counter signals
check cr_rm rm "region map"
check cr_served server root
check cr_served server "served object"
exit $fail
