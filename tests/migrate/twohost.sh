#!/bin/sh
# capsule migrate between two hosts: two network namespaces joined by a
# veth pair (10.77.0.1/24 and 10.77.0.2/24, addresses this test assigns),
# the link shaped like a car's 100 Mbit/s Ethernet with tc tbf, one
# `capsule node` in each.  Every zdtm example (the table of
# tests/zdtm/run.sh, templates tests/zdtm/*.xml) is migrated both ways
# (A -> B and B -> A), in each mode of MIGRATE_MODES ("default": plain
# `capsule migrate`; any other word M adds --M, e.g. "default postcopy"),
# and the target's own lines of the source followed by the destination's
# must equal an uninterrupted run's, as tests/zdtm/run.sh compares them.
# The source's monitor holds the target at the point run.sh checkpoints
# it (<test ... then="hold">: paused after its Nth line, or after MS ms
# where the row wants no line before it),
# so the migration lands mid-run even for a target that never waits on
# time.  A target holding a cap of no class (run.sh's "!") must be
# refused by the migration in one line, and go on at the source exactly
# as uninterrupted.
# Without root or network namespaces (`ip netns add` fails) the same runs
# on 127.0.0.1 and says so.  No traffic leaves the two namespaces (or
# the loopback device); the namespaces and the veth pair are removed at
# the end, whatever happens.
b=${1:-build}
cap=$b/capsule
[ -x "$cap" ] || { echo "twohost: no $cap: build it with make B=$b all"; exit 1; }
modes=${MIGRATE_MODES:-default}
tmp=$(mktemp -d /tmp/capsule-twohost.XXXXXX) || exit 1
nsA=capsule-a-$$ nsB=capsule-b-$$ vA=cpa$$ vB=cpb$$
netns=0 pids= fail=0

cleanup() {
	for p in $pids; do kill -KILL "$p" 2>/dev/null; done
	if [ $netns = 1 ]; then
		ip netns del "$nsA" 2>/dev/null
		ip netns del "$nsB" 2>/dev/null
		ip link del "$vA" 2>/dev/null
	fi
	[ -n "$MIGRATE_KEEP" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# The two hosts: namespaces, veth, addresses, tbf on both ends.
setup_netns() {
	[ "$(id -u)" = 0 ] && command -v ip >/dev/null && command -v tc >/dev/null || return 1
	ip netns add "$nsA" 2>/dev/null || return 1
	netns=1
	ip netns add "$nsB" &&
		ip link add "$vA" type veth peer name "$vB" &&
		ip link set "$vA" netns "$nsA" && ip link set "$vB" netns "$nsB" &&
		ip -n "$nsA" addr add 10.77.0.1/24 dev "$vA" &&
		ip -n "$nsB" addr add 10.77.0.2/24 dev "$vB" &&
		ip -n "$nsA" link set lo up && ip -n "$nsB" link set lo up &&
		ip -n "$nsA" link set "$vA" up && ip -n "$nsB" link set "$vB" up &&
		tc -n "$nsA" qdisc add dev "$vA" root tbf rate 100mbit burst 32kb latency 20ms &&
		tc -n "$nsB" qdisc add dev "$vB" root tbf rate 100mbit burst 32kb latency 20ms
}
if setup_netns; then
	addrA=10.77.0.1 addrB=10.77.0.2
	inA="ip netns exec $nsA" inB="ip netns exec $nsB"
	echo "twohost: network namespaces $nsA (10.77.0.1) and $nsB (10.77.0.2)," \
		"veth shaped by tbf 100mbit"
else
	[ $netns = 1 ] && ip netns del "$nsA" 2>/dev/null
	netns=0 addrA=127.0.0.1 addrB=127.0.0.1 inA= inB=
	echo "twohost: no network namespaces here (not root, or ip netns add failed):" \
		"the same test over 127.0.0.1, unshaped"
fi
"$cap" keygen "$tmp/key" >/dev/null || { echo "twohost: FAIL keygen"; exit 1; }
port=$((30000 + $$ % 20000))

. tests/cr/monitor_node.sh
cfg() {
	if [ "$1" = - ]; then
		monitor_node "$2" "@TARGET@"
	else
		cat "tests/zdtm/$1"
	fi | sed "s|@TARGET@|$3|"
}
lines() { grep "^\[$1\] " "$2" | grep -v "^\[$1\] monitor: "; }
own() { lines "$1" "$2" | grep -Ev "$3"; }
# node NS-PREFIX NAME CONFIG ARGS...: a node in the background
node() {
	n_in=$1 n_name=$2 n_conf=$3
	shift 3
	$n_in "$cap" node --rom "$b/components" "$n_conf" --control "$tmp/$n_name.sock" \
		--key "$tmp/key" "$@" >"$tmp/$n_name.log" 2>&1 &
	pids="$pids $!"
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
stop_nodes() {
	for p in $pids; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	pids=
}

# one NAME TPL LABEL BIN RAM CAPS MS BEFORE UNORDERED DIR MODE: migrate
# from the source (DIR "AB": A -> B, "BA": B -> A) at the hold point
one() {
	name=$1 tpl=$2 label=$3 ms=$7 before=$8 unordered=$9 dir=${10} mode=${11}
	refusal=0
	case "$ms" in *!) refusal=1 ms=${ms%!} ;; esac
	# a hold after MS ms lands before the target's first lines on a
	# loaded machine: where the row wants lines before it, the hold
	# follows the last of them instead (the same point, without the race)
	case "$ms" in
	L*) when="checkpoint_after_log=\"${ms#L}\"" ;;
	*) if [ "$before" -ge 1 ]; then
		when="checkpoint_after_log=\"$before\""
	   else
		when="checkpoint_after_ms=\"$ms\""
	   fi ;;
	esac
	if [ "$dir" = AB ]; then
		inS=$inA inD=$inB to=$addrB
	else
		inS=$inB inD=$inA to=$addrA
	fi
	port=$((port + 1))
	flag=
	[ "$mode" = default ] || flag=--$mode
	target="<target binary=\"$4\" ram=\"$5\" caps=\"$6\"/>"
	cfg "$tpl" "$label" "$target<test $when then=\"hold\"/>" >"$tmp/src.xml"
	cfg "$tpl" "$label" "<restore/>" >"$tmp/dst.xml"
	node "$inD" dst "$tmp/dst.xml" --listen "$to:$port"
	wait_log "$tmp/dst.log" "waiting for a restore" 100 ||
		{ echo "twohost $name: the destination did not come up"; return 1; }
	node "$inS" src "$tmp/src.xml"
	i=0
	until "$cap" ps --node "$tmp/src.sock" >/dev/null 2>&1; do
		[ $i -ge 100 ] && { echo "twohost $name: the source did not come up"; return 1; }
		sleep 0.1
		i=$((i + 1))
	done
	if [ $refusal = 1 ]; then
		# the hold's checkpoint is the migration's: refused, naming the cap
		wait_log "$tmp/src.log" "^\[$label\] monitor: checkpoint: .*badge 0x[0-9a-f]* fits no class" 100 &&
			wait_log "$tmp/src.log" "^\[$label\] monitor: checkpoint failed" 10 ||
			{ echo "twohost $name: the hold's checkpoint was not refused naming a kcap"; return 1; }
		"$cap" migrate --node "$tmp/src.sock" "$label" --to "$to:$port" $flag \
			>"$tmp/mig.out" 2>"$tmp/mig.err"
		rc=$?
		wait_log "$tmp/src.log" "^\[init\] $label exited" 100
		stop_nodes
		[ $rc = 1 ] && [ "$(wc -l <"$tmp/mig.err")" = 1 ] && [ ! -s "$tmp/mig.out" ] ||
			{ echo "twohost $name: migrate of a refused target: rc $rc: $(cat "$tmp/mig.err" "$tmp/mig.out")"; return 1; }
		lines "$label" "$tmp/plain.log" >"$tmp/want"
		lines "$label" "$tmp/src.log" >"$tmp/got"
		diff "$tmp/want" "$tmp/got" >"$tmp/diff" ||
			{ echo "twohost $name: after the refusal the target went on differently:"; cat "$tmp/diff"; return 1; }
		[ -z "$(lines "$label" "$tmp/dst.log")" ] ||
			{ echo "twohost $name: the destination runs a refused target"; return 1; }
		echo "twohost: PASS $name $dir $mode (refused: $(cat "$tmp/mig.err"))"
		return 0
	fi
	wait_log "$tmp/src.log" "monitor: target held for a migration" 100 ||
		{ echo "twohost $name: the source did not hold the target"; return 1; }
	"$cap" migrate --node "$tmp/src.sock" "$label" --to "$to:$port" $flag \
		>"$tmp/mig.out" 2>"$tmp/mig.err" ||
		{ echo "twohost $name: migrate failed: $(cat "$tmp/mig.err")"; return 1; }
	# the destination runs it to its end; the source ended its copy
	wait_log "$tmp/dst.log" "^\[init\] $label exited" 300 ||
		{ echo "twohost $name: the target did not end at the destination"; return 1; }
	wait_log "$tmp/src.log" "monitor: target released" 50 ||
		{ echo "twohost $name: the source did not release its copy"; return 1; }
	sleep 0.2
	stop_nodes
	rd=$(sed -n "s/^\[init\] $label exited with \([0-9-]*\).*/\1/p" "$tmp/dst.log" | tail -n 1)
	rp=$(sed -n "s/^\[init\] $label exited with \([0-9-]*\).*/\1/p" "$tmp/plain.log" | tail -n 1)
	[ "$rd" = "$rp" ] ||
		{ echo "twohost $name: the target exited with $rd at the destination, $rp uninterrupted"; return 1; }
	na=$(lines "$label" "$tmp/src.log" | wc -l) nb=$(lines "$label" "$tmp/dst.log" | wc -l)
	nall=$(lines "$label" "$tmp/plain.log" | wc -l)
	[ "$na" -ge "$before" ] && { [ "$nb" -gt 0 ] || [ "$na" = "$nall" ]; } ||
		{ echo "twohost $name: the source printed $na of the target's lines (want $before or more), the destination $nb (want some)"; return 1; }
	own "$label" "$tmp/plain.log" "$unordered" >"$tmp/want"
	{ own "$label" "$tmp/src.log" "$unordered"; own "$label" "$tmp/dst.log" "$unordered"; } >"$tmp/got"
	diff "$tmp/want" "$tmp/got" >"$tmp/diff" ||
		{ echo "twohost $name: source then destination differ from the plain run:"; cat "$tmp/diff"; return 1; }
	if [ "$unordered" != "^$" ] && ! lines "$label" "$tmp/dst.log" | grep -Eq "$unordered"; then
		echo "twohost $name: no '$unordered' line at the destination"; return 1
	fi
	echo "twohost: PASS $name $dir $mode ($na lines before, $nb after; $(sed 's/^ok [^:]*: //' "$tmp/mig.out"))"
}

# The zdtm table, from tests/zdtm/run.sh: one list for both harnesses.
sed -n "/^done <<'TESTS'$/,/^TESTS$/p" tests/zdtm/run.sh | sed '1d;$d' >"$tmp/table"
[ -s "$tmp/table" ] || { echo "twohost: FAIL no zdtm table in tests/zdtm/run.sh"; exit 1; }
n=0
while read -r r_name r_tpl r_label r_bin r_ram r_caps r_ms r_before r_unordered; do
	case "$r_name" in "" | "#"*) continue ;; esac
	cfg "$r_tpl" "$r_label" "<target binary=\"$r_bin\" ram=\"$r_ram\" caps=\"$r_caps\"/>" \
		>"$tmp/plain.xml"
	timeout -k 10 60 "$cap" run --rom "$b/components" "$tmp/plain.xml" >"$tmp/plain.log" 2>&1
	for mode in $modes; do
		for dir in AB BA; do
			n=$((n + 1))
			if ! one "$r_name" "$r_tpl" "$r_label" "$r_bin" "$r_ram" "$r_caps" "$r_ms" \
				"$r_before" "${r_unordered:-^$}" $dir $mode </dev/null; then
				echo "twohost: FAIL $r_name $dir $mode"
				fail=1
				stop_nodes
				for f in plain src dst; do
					[ -f "$tmp/$f.log" ] || continue
					echo "--- $f"; sed 's/^/  | /' "$tmp/$f.log" | tail -20
				done
			fi
		done
	done
done <"$tmp/table"
# every zdtm template is in the table, but multi.xml: the counter its
# clients see is the outside server's state, which a migration (as a
# restore on another node) finds anew at the destination's server
for t in tests/zdtm/*.xml; do
	[ "$(basename "$t")" = multi.xml ] && continue
	grep -q "	$(basename "$t")	" "$tmp/table" ||
		{ echo "twohost: FAIL $(basename "$t") is in no row of the zdtm table"; fail=1; }
done
[ $fail = 0 ] && echo "twohost: $n migrations passed ($modes; $([ $netns = 1 ] && echo "two namespaces, tbf 100mbit" || echo "loopback"))"
exit $fail
