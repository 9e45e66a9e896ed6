#!/bin/sh
# Faults during `capsule migrate`, on 127.0.0.1 only.  Node A runs
# slow_counter under a monitor ("counter"), node B waits with an empty
# one; tests/migrate/relay.c sits between them so the connection can be
# cut.  A first migration through the relay, with no fault, finds the
# phases each side logs ("migrate: phase NAME"); then, for each side and
# each phase it logged, the side is held in that phase
# (CAPSULE_TEST_MIGRATE_HOLD) and
#   - killed (kill -9), or
#   - the connection is cut by the relay (a reset to both);
# afterwards exactly one copy of the counter runs (capsule ps on both
# nodes, and its count goes on with no count lost or repeated), or none,
# and then only where the protocol says none can: the source died before
# the destination had restored it (the target lived only there), or the
# destination died after the source had released its copy.  Then: the
# destination's answer lost in the connection (held and cut), a wrong
# key, no key, a peer sending garbage both ways, a stream cut
# mid-section: one-line errors, both nodes unchanged (a pre-copy source
# that lost its destination before the freeze says the target runs on).
# MIGRATE_MODES: "default" (plain capsule migrate) and/or other modes M,
# run as --M (e.g. "default postcopy").
b=${1:-build}
cap=$b/capsule
capt=$b/capsule-test # the nodes: their CAPSULE_TEST_* switches act
modes=${MIGRATE_MODES:-default}
hold=${FAULTS_HOLD_MS:-1500}
tmp=$(mktemp -d /tmp/capsule-faults.XXXXXX)
pids=
fail=0
known=

bad() { echo "faults: FAIL $*"; fail=1; }
ok() { echo "faults: PASS $*"; }
cleanup() {
	for p in $pids; do kill -KILL "$p" 2>/dev/null; done
	[ -n "$MIGRATE_KEEP" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
show() {
	for f in A B R mig; do
		[ -f "$tmp/$f.log" ] && { echo "--- $f"; tail -n 12 "$tmp/$f.log" | sed 's/^/  | /'; }
	done
}

for t in relay garbage; do
	cc -std=gnu11 -O2 -o "$tmp/$t" "tests/migrate/$t.c" 2>"$tmp/cc.err" ||
		{ echo "faults: FAIL cannot build $t: $(cat "$tmp/cc.err")"; exit 1; }
done
"$cap" keygen "$tmp/key" >/dev/null && "$cap" keygen "$tmp/other.key" >/dev/null ||
	{ echo "faults: FAIL keygen"; exit 1; }
port=$((30000 + $$ % 20000))

counts() { sed -n 's/^\[counter\] count \([0-9]*\) (echo \1)$/\1/p' "$1"; }
last_count() { counts "$1" | tail -n 1; }
contiguous() {
	set -- $1
	i=1
	for n in "$@"; do
		[ "$n" = $i ] || { echo "  counts: $*"; return 1; }
		i=$((i + 1))
	done
}
# until LOG has a line matching PATTERN (MAX tenths of a second)
wait_log() {
	i=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		[ $i -ge "$3" ] && return 1
		sleep 0.1
		i=$((i + 1))
	done
}
alive() { kill -0 "$1" 2>/dev/null; }
# has_target NODE: its ps shows the target's PD besides its monitor's
# (two PDs "counter"; a restored target's threads are named "restored")
has_target() {
	[ "$("$cap" ps --raw --node "$tmp/$1.sock" 2>/dev/null | grep -c '^pd "counter"')" -ge 2 ]
}
# runs_on NODE: it is alive, has the target, and its count grows
runs_on() {
	eval "p=\$pid_$1"
	alive "$p" && has_target "$1" || return 1
	n=$(last_count "$tmp/$1.log")
	i=0
	while [ $i -lt 30 ]; do
		[ "$(last_count "$tmp/$1.log")" != "$n" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
# start [A-ENV] [B-ENV] [B-KEY]: fresh nodes A and B and the relay R
# (port $pR -> B's $pB); A counts
start() {
	port=$((port + 3))
	pB=$port pR=$((port + 1))
	rm -f "$tmp"/*.log "$tmp"/*.sock
	env ${2:-X=} "$capt" node --rom "$b/components" examples/empty-node.xml \
		--control "$tmp/B.sock" --listen "127.0.0.1:$pB" --key "${3:-$tmp/key}" \
		>"$tmp/B.log" 2>&1 &
	pid_B=$!
	env ${1:-X=} "$capt" node --rom "$b/components" examples/counter-node.xml \
		--control "$tmp/A.sock" --key "$tmp/key" >"$tmp/A.log" 2>&1 &
	pid_A=$!
	"$tmp/relay" $pR $pB $RELAY_CUT >"$tmp/R.log" 2>&1 &
	pid_R=$!
	pids="$pid_A $pid_B $pid_R"
	for n in A B; do
		i=0
		until "$cap" ps --node "$tmp/$n.sock" >/dev/null 2>&1; do
			[ $i -ge 100 ] && { echo "faults: node $n did not come up"; return 1; }
			sleep 0.1
			i=$((i + 1))
		done
	done
	wait_log "$tmp/R.log" listening 50 && wait_log "$tmp/A.log" "count 2 " 100
}
stop() {
	for p in $pids; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	pids=
}
migrate() { "$cap" migrate --node "$tmp/A.sock" counter --to "127.0.0.1:$pR" $flag "$@"; }

# verdict CASE: exactly one copy runs and counts on from where it was,
# or none, where none can
verdict() {
	a=0 bb=0
	runs_on A && a=1
	runs_on B && bb=1
	all="$(counts "$tmp/A.log"; counts "$tmp/B.log")"
	# post-copy, the destination lost after its start: the source goes on
	# from its freeze, and what B counted since is lost (B is gone, or
	# holds its copy stopped or paused; docs/migration.md, "Exactly one
	# copy")
	if [ "$mode" = postcopy ] && [ $a = 1 ] &&
		grep -q "resumed here from the freeze" "$tmp/mig.log"; then
		all=$(counts "$tmp/A.log")
	fi
	if [ $((a + bb)) = 1 ]; then
		if contiguous "$all" >"$tmp/cont"; then
			ok "$1: one copy, on $([ $a = 1 ] && echo A || echo B), counts 1..$(echo "$all" | tail -n 1) ($(tail -n 1 "$tmp/mig.log"))"
		else
			bad "$1: counts lost or repeated: $(cat "$tmp/cont")"
			show
		fi
		return
	fi
	if [ $((a + bb)) = 2 ]; then
		bad "$1: TWO copies run, on A and on B ($(tail -n 1 "$tmp/mig.log"))"
		show
		return
	fi
	# none: only if the killed node held the only copy by then
	if ! alive "$pid_A" && ! grep -q "restored" "$tmp/B.log" &&
	   ! has_target B; then
		ok "$1: none runs: the source died before the destination had restored it (it lived only there); B unchanged"
	elif ! alive "$pid_A" && grep -q "no commit (.*): counter ended here" "$tmp/B.log" &&
		! has_target B; then
		ok "$1: none runs: the source died before its commit; B ended its paused copy, which lacked its pages"
	elif ! alive "$pid_A" && grep -q "post-copy failed: the source was lost" "$tmp/B.log" &&
		! has_target B; then
		ok "$1: none runs: the source died during post-copy; B stopped its copy: $(grep -o '[0-9]* of [0-9]* pages never arrived' "$tmp/B.log" | head -n 1)"
	elif ! alive "$pid_B" && grep -q "monitor: target released" "$tmp/A.log"; then
		ok "$1: none runs: the destination died after the source had released its copy (it lived only there)"
	elif alive "$pid_B" && has_target B && ! runs_on A &&
		grep -q "capsule resume --node" "$tmp/B.log"; then
		# the commit never came: B holds its copy paused and says what to
		# do; the operator's resume must make it the one copy
		if "$cap" resume --node "$tmp/B.sock" counter >"$tmp/resume.out" 2>&1 &&
			runs_on B && ! runs_on A &&
			contiguous "$(counts "$tmp/A.log"; counts "$tmp/B.log")" >"$tmp/cont"; then
			ok "$1: none ran until the operator's resume: B held its copy paused with a report; resumed, it counts on"
		else
			bad "$1: B held a paused copy, but resuming it failed: $(cat "$tmp/resume.out" "$tmp/cont" 2>/dev/null)"
			show
		fi
	else
		bad "$1: no copy runs, and none of the nodes that died held the only one"
		show
	fi
}

# fault SIDE PHASE ACTION: hold SIDE (A or B) in PHASE, then ACTION:
# kill (that node), cut (the connection)
fault() {
	side=$1 phase=$2 action=$3
	envA= envB=
	eval "env$side=CAPSULE_TEST_MIGRATE_HOLD=$phase:$hold"
	start "$envA" "$envB" || { bad "$side $phase $action: nodes did not start"; show; stop; return; }
	migrate >"$tmp/mig.log" 2>&1 &
	mig=$!
	if ! wait_log "$tmp/$side.log" "migrate: phase $phase (held" 200; then
		wait $mig
		bad "$side $phase $action: $side never entered phase $phase"
		show
		stop
		return
	fi
	sleep 0.2
	case $action in
	kill) eval "kill -KILL \$pid_$side" ;;
	cut)
		# the source holds its handshake phase before it connects: the
		# cut is for the connection, once it is there
		wait_log "$tmp/R.log" "relay: connection" $((hold / 100 + 20))
		kill -USR1 $pid_R
		;;
	esac
	wait $mig
	# the source's monitor decides within the hold; give the survivor time
	sleep $(((hold + 1500) / 1000))
	[ "$(wc -l <"$tmp/mig.log")" -le 1 ] ||
		bad "$side $phase $action: migrate printed more than one line: $(cat "$tmp/mig.log")"
	who=$([ $side = A ] && echo source || echo destination)
	verdict "$mode: $action the $who in phase $phase"
	stop
}

for mode in $modes; do
	flag=
	[ "$mode" = default ] || flag=--$mode
	# 0. through the relay with no fault: the phases of each side
	start || { bad "$mode: nodes did not start"; show; stop; exit 1; }
	migrate >"$tmp/mig.log" 2>&1 || { bad "$mode: migrate through the relay: $(cat "$tmp/mig.log")"; show; }
	sleep 1
	phA=$(sed -n 's/.*migrate: phase \([a-z0-9-]*\).*/\1/p' "$tmp/A.log" | tr '\n' ' ')
	phB=$(sed -n 's/.*migrate: phase \([a-z0-9-]*\).*/\1/p' "$tmp/B.log" | tr '\n' ' ')
	verdict "$mode: no fault, through the relay (phases: source $phA; destination $phB)"
	stop
	for p in $phA; do fault A "$p" kill; done
	for p in $phB; do fault B "$p" kill; done
	for p in $phA; do fault A "$p" cut; done
	for p in $phB; do fault B "$p" cut; done

	# the destination's answer lost: the relay holds what B sends once B
	# restored it, then cuts; the source cannot learn that it runs there
	start "" "CAPSULE_TEST_MIGRATE_HOLD=commit:$hold" || { bad "answer lost: nodes did not start"; stop; }
	migrate >"$tmp/mig.log" 2>&1 &
	mig=$!
	wait_log "$tmp/B.log" "migrate: phase commit (held" 200 && kill -USR2 $pid_R
	wait_log "$tmp/B.log" "migrate: phase done\|migration from" 100
	sleep 0.3
	kill -USR1 $pid_R
	wait $mig
	sleep 2
	verdict "$mode: the destination's answer lost (held by the relay, then cut)"
	stop

	# a stream cut mid-section: the relay passes 12000 bytes of A's stream
	# (inside the image, which is about 21 KB)
	RELAY_CUT=12000 start || { bad "mid-section: nodes did not start"; stop; }
	migrate >"$tmp/mig.log" 2>&1
	rc=$?
	sleep 1
	if [ $rc = 1 ] && [ "$(wc -l <"$tmp/mig.log")" = 1 ] && grep -q "resumed here\|(the target runs on here)" "$tmp/mig.log" &&
	   grep -q "capsule node: migration from .*: error: " "$tmp/B.log" &&
	   [ "$(grep -c "capsule node: migration from" "$tmp/B.log")" = 1 ] &&
	   ! grep -q restored "$tmp/B.log"; then
		ok "$mode: stream cut after 12000 bytes: A: $(cat "$tmp/mig.log"); B: $(grep "migration from" "$tmp/B.log" | sed 's/^capsule node: //')"
	else
		bad "$mode: stream cut mid-section: rc $rc: $(cat "$tmp/mig.log")"
		show
	fi
	verdict "$mode: after the stream cut mid-section"
	stop
done

# wrong key, no key, garbage both ways: one line each, nothing changes
start "" "" "$tmp/other.key" || { bad "wrong key: nodes did not start"; stop; }
migrate >"$tmp/mig.log" 2>&1
rc=$?
[ $rc = 1 ] && [ "$(wc -l <"$tmp/mig.log")" = 1 ] &&
	grep -q "does not hold our key (the target runs on here)" "$tmp/mig.log" &&
	[ "$(grep -c "refused" "$tmp/B.log")" = 1 ] && ! grep -q "monitor: checkpoint" "$tmp/A.log" &&
	ok "wrong key: A: $(cat "$tmp/mig.log"); B: $(grep refused "$tmp/B.log")" ||
	{ bad "wrong key: rc $rc: $(cat "$tmp/mig.log")"; show; }
verdict "after the wrong key"
stop

start || { bad "no key: nodes did not start"; stop; }
"$tmp/garbage" send $pB >/dev/null 2>&1
sleep 0.5
[ "$(grep -c "refused 127.0.0.1:[0-9]*: handshake: not a capsule migration" "$tmp/B.log")" = 1 ] &&
	"$cap" ps --node "$tmp/B.sock" >/dev/null 2>&1 &&
	ok "a client sending garbage: B: $(grep refused "$tmp/B.log")" ||
	{ bad "a client sending garbage"; show; }
"$tmp/garbage" serve $((port + 2)) >"$tmp/G.log" 2>&1 &
pids="$pids $!"
wait_log "$tmp/G.log" listening 50
"$cap" migrate --node "$tmp/A.sock" counter --to "127.0.0.1:$((port + 2))" >"$tmp/mig.log" 2>&1
rc=$?
[ $rc = 1 ] && [ "$(wc -l <"$tmp/mig.log")" = 1 ] && grep -q "the peer is not a capsule node" "$tmp/mig.log" &&
	ok "a peer answering garbage: A: $(cat "$tmp/mig.log")" ||
	{ bad "a peer answering garbage: rc $rc: $(cat "$tmp/mig.log")"; show; }
verdict "after garbage both ways"
stop

"$cap" node --rom "$b/components" examples/counter-node.xml --control "$tmp/N.sock" \
	>"$tmp/N.log" 2>&1 &
pids=$!
i=0
until "$cap" ps --node "$tmp/N.sock" >/dev/null 2>&1 || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
"$cap" migrate --node "$tmp/N.sock" counter --to "127.0.0.1:$port" >"$tmp/mig.log" 2>&1
rc=$?
[ $rc = 1 ] && [ "$(wc -l <"$tmp/mig.log")" = 1 ] && grep -q "this node has no key" "$tmp/mig.log" &&
	! grep -q "monitor: checkpoint" "$tmp/N.log" &&
	ok "no key: $(cat "$tmp/mig.log")" || bad "no key: rc $rc: $(cat "$tmp/mig.log")"
stop
exit $fail
