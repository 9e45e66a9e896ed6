#!/bin/sh
# zdtm-style checkpoint/restore harness (after CRIU's zdtm) over the
# example scenarios.  Each test names a config template: tests/zdtm/FILE
# (a scenario whose target <start> is the monitor, with @TARGET@ in its
# <config>) or "-" (a node with the monitor alone, tests/cr/monitor_node.sh).
# The node runs three times: (1) uninterrupted, (2) node A, whose monitor
# checkpoints the target after MS ms into an image file and stops it,
# (3) node B, a fresh node whose monitor restores that file.  The other
# components of the scenario run as they are in all three.  The target's
# own lines ("[LABEL] ..." without the monitor's) of A followed by B must
# equal the uninterrupted run's, in order; lines matching the test's
# UNORDERED pattern (timer-driven, so their position among the others
# depends on time) are left out of the order and only required to appear
# in B too.  The checkpoint has to land mid-run: A must print at least
# the test's BEFORE lines of the target's, B some (none only if A printed
# them all: B then just ends the target); B must exit as the
# uninterrupted run did.
b=${1:-build}
[ -x "$b/capsule" ] || { echo "zdtm: no $b/capsule: build it with make B=$b all"; exit 1; }
tmp=$(mktemp -d /tmp/capsule-zdtm.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0

. tests/cr/monitor_node.sh
# cfg TEMPLATE LABEL MONITOR-CONFIG: the node config with the monitor's
# <config> filled in
cfg() {
	if [ "$1" = - ]; then
		monitor_node "$2" "@TARGET@"
	else
		cat "tests/zdtm/$1"
	fi | sed "s|@TARGET@|$3|"
}
run() { timeout -k 10 60 "$b/capsule" run --rom "$b/components" "$1" >"$2" 2>&1; }
# run_a CONFIG LOG LABEL: node A, until its monitor has ended.  Other
# components of the scenario may wait for the stopped target forever: a
# node still up a second after init reported the monitor's end is stopped.
run_a() {
	: >"$2"
	timeout -k 10 60 "$b/capsule" run --rom "$b/components" "$1" >>"$2" 2>&1 &
	pid=$! n=0
	while kill -0 $pid 2>/dev/null && [ $n -lt 50 ]; do
		grep -q "^\[init\] $3 exited" "$2" && n=$((n + 1))
		sleep 0.02
	done
	kill $pid 2>/dev/null
	wait $pid 2>/dev/null
	return 0
}
# lines LABEL LOG: the target's own lines; own LABEL LOG UNORDERED: those
# whose order is compared
lines() { grep "^\[$1\] " "$2" | grep -v "^\[$1\] monitor: "; }
own() { lines "$1" "$2" | grep -Ev "$3"; }

# refused NAME LABEL AT: node A's checkpoint was refused as docs/design.md
# wants for a cap (or an attached dataspace) of no class, named, and the
# target, resumed, went on
# exactly as in the uninterrupted run
refused() {
	grep -q "^\[$2\] monitor: checkpoint: .*badge 0x[0-9a-f]* fits no class" "$tmp/a.log" &&
		grep -q "^\[$2\] monitor: checkpoint failed" "$tmp/a.log" ||
		{ echo "zdtm $1: checkpoint $3 was not refused naming a kcap"; return 1; }
	lines "$2" "$tmp/plain.log" >"$tmp/want"
	lines "$2" "$tmp/a.log" >"$tmp/got"
	diff "$tmp/want" "$tmp/got" >"$tmp/diff" ||
		{ echo "zdtm $1: after the refused checkpoint the target went on differently:"; cat "$tmp/diff"; return 1; }
	echo "zdtm: PASS $1 ($2, checkpoint $3 refused as it must be, the target went on)"
}

# test_one NAME TEMPLATE LABEL BINARY RAM CAPS MS BEFORE UNORDERED
test_one() {
	name=$1 tpl=$2 label=$3 ms=$7 before=$8 unordered=$9
	rm -f "$tmp"/*.log
	[ "$tpl" = - ] || [ -f "tests/zdtm/$tpl" ] ||
		{ echo "zdtm $name: no template tests/zdtm/$tpl"; return 1; }
	img=$tmp/$name.img
	target="<target binary=\"$4\" ram=\"$5\" caps=\"$6\"/>"
	cfg "$tpl" "$label" "$target" >"$tmp/plain.xml"
	expect_refusal=0
	case "$ms" in *!) expect_refusal=1 ms=${ms%!} ;; esac
	case "$ms" in
	L*) when="checkpoint_after_log=\"${ms#L}\"" at="after line ${ms#L}" ;;
	*) when="checkpoint_after_ms=\"$ms\"" at="at $ms ms" ;;
	esac
	cfg "$tpl" "$label" "$target<test $when image=\"$img\" then=\"exit\"/>" >"$tmp/a.xml"
	cfg "$tpl" "$label" "<restore image=\"$img\"/>" >"$tmp/b.xml"
	run "$tmp/plain.xml" "$tmp/plain.log"
	rc=$?
	[ $rc -lt 124 ] || { echo "zdtm $name: plain run timed out or was killed ($rc)"; return 1; }
	run_a "$tmp/a.xml" "$tmp/a.log" "$label"
	if [ $expect_refusal = 1 ]; then
		refused "$name" "$label" "$at"
		return
	fi
	[ -s "$img" ] && grep -q "^\[$label\] monitor: target stopped after its image" "$tmp/a.log" ||
		{ echo "zdtm $name: node A wrote no image and did not stop"; return 1; }
	run "$tmp/b.xml" "$tmp/b.log"
	rb=$?
	[ $rb = $rc ] || { echo "zdtm $name: node B exited with $rb, the plain run with $rc"; return 1; }
	na=$(lines "$label" "$tmp/a.log" | wc -l) nb=$(lines "$label" "$tmp/b.log" | wc -l)
	nall=$(lines "$label" "$tmp/plain.log" | wc -l)
	# B prints some, unless A printed all there is (B then only ends it)
	[ "$na" -ge "$before" ] && { [ "$nb" -gt 0 ] || [ "$na" = "$nall" ]; } ||
		{ echo "zdtm $name: checkpoint $at: A printed $na of the target's lines (want $before or more), B $nb (want some)"; return 1; }
	own "$label" "$tmp/plain.log" "$unordered" >"$tmp/want"
	{ own "$label" "$tmp/a.log" "$unordered"; own "$label" "$tmp/b.log" "$unordered"; } >"$tmp/got"
	diff "$tmp/want" "$tmp/got" >"$tmp/diff" ||
		{ echo "zdtm $name: A then B differ from the plain run:"; cat "$tmp/diff"; return 1; }
	if [ "$unordered" != "^$" ] && ! lines "$label" "$tmp/b.log" | grep -Eq "$unordered"; then
		echo "zdtm $name: no '$unordered' line after the restore"; return 1
	fi
	echo "zdtm: PASS $name ($label, checkpoint $at: $na lines before, $nb after)"
}

# name  template  label  binary  ram  caps  checkpoint-ms  before  unordered
#   template: tests/zdtm/FILE or "-" (the monitor alone); label: the
#   target's <start> name; before: the fewest of the target's lines node A
#   must print (0 where the checkpoint lands before the first one);
#   checkpoint-ms "LN": after the target's Nth LOG line instead of a time
#   (<test checkpoint_after_log>), for targets that never wait on time;
#   a trailing "!": the target holds a cap of no class there, so the
#   checkpoint must be refused, naming it, and the target go on unchanged
while read -r name tpl label bin ram caps ms before unordered; do
	case "$name" in "" | "#"*) continue ;; esac
	if ! test_one "$name" "$tpl" "$label" "$bin" "$ram" "$caps" "$ms" "$before" "${unordered:-^$}"; then
		echo "zdtm: FAIL $name"; fail=1
		for f in plain a b; do
			[ -f "$tmp/$f.log" ] || continue
			echo "--- $f"; sed 's/^/  | /' "$tmp/$f.log" | tail -25
		done
	fi
done <<'TESTS'
cr_counter	-	cr_counter	cr_counter	2M	200	40	1	^$
ticker	-	ticker	ticker	2M	200	50	1	^$
cr_all	-	cr_all	cr_all	2M	200	60	1	(tick|oneshot)
cr_rm	-	cr_rm	cr_rm	2M	200	90	1	^$
# objects on two entrypoints of its own besides the main one
cr_eps	-	cr_eps	cr_eps	2M	200	40	1	^$
# the examples (tests/scenario/*.xml, examples/demo.xml); most never wait
# on time, so their checkpoint follows a LOG line
hello	-	hello	hello	2M	200	L1	1	^$
counter	-	counter	counter	2M	200	L2	2	^$
# worker in round 1: its four threads blocked on the mutex the main thread holds
worker	-	worker	worker	2M	200	10	0	^$
# clients whose server stays outside: their session is opened again at node B's server
rpc	rpc.xml	client	rpc_client	2M	200	L1	1	^$
demo	demo.xml	calc_client	rpc_client	2M	200	L1	1	^$
# a server whose client stays outside: node B's client reaches the restored root
rpc_server	rpc_server.xml	server	rpc_server	2M	200	L1	1	^$
# a server whose session is its signal context: node B's producer signals it
signals	signals.xml	consumer	sig_consumer	2M	200	L1	1	^$
# worker after round 1: its first four threads were killed and joined
worker_round2	-	worker	worker	2M	200	L1	1	^$
# quota after its RAM round: the dataspaces it freed are still in its cap map
quota	-	quota	quota	2M	200	L2	2	^$
# caps of no class (docs/cr.md): objects got through calls in a session
# routed outside (revoke), a foreign managed dataspace (lazy)
revoke	revoke.xml	revoke_client	revoke_client	2M	200	L1!	1	^$
pager	pager.xml	lazy	lazy	2M	200	L5!	5	^$
# lazy before it attaches the pager's dataspace: its stack area's own
# dataspace, a cap it holds, is restored as the new PD's
pager_stack	pager.xml	lazy	lazy	2M	200	L2	2	^$
# seed002 during construction (its signal thread may not have bound its
# semaphore yet); its lines name badges, which are new after a restore
seed002	-	seed002	seed002	2M	200	L2	2	badge 0x
TESTS
exit $fail
