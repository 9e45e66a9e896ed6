#!/bin/sh
# Progress and Ctrl-C of the long operations, on a 256 MiB target
# (bench_cr_mem under the monitor "big"):
#   - checkpoint, restore and migrate on a terminal (run under script(1),
#     which gives the client a pty) redraw one line in place with the
#     phase, the bytes done of the total and a rate; at the end the one
#     line of figures; nothing but that line when stderr is not a
#     terminal, nothing at all with -q;
#   - the copy while the target is paused is a phase with its bytes, and
#     so are the pages a post-copy migration sends after its commit;
#   - Ctrl-C during a restore (each restore point held 40 ms by a test
#     hook, so that it lands half way): exit 130, the monitor has no
#     target, and the same restore then goes through;
#   - Ctrl-C during a migration's first round (its 256 MiB checkpoint)
#     and, with a counter, between the destination's "ready" and the
#     commit: exit 130, the target runs on at the source, the
#     destination has nothing; the migration then goes through.
b=${1:-build}
. tests/harness.sh
harness_begin progress
base=$((30000 + $$ % 20000))
pB=$base pC=$((base + 1)) pD=$((base + 2)) pF=$((base + 3))

# start_node NAME CONFIG ARGS...: node NAME in the background, control
# socket $tmp/NAME.sock, log $tmp/NAME.log
start_node() {
	name=$1 cfg=$2
	shift 2
	"$capt" node --rom "$tmp" --rom "$b/components" "$cfg" --control "$tmp/$name.sock" \
		"$@" >"$tmp/$name.log" 2>&1 &
	eval "pid_$name=$!"
	pids="$pids $!"
}
wait_node() {
	i=0
	while ! "$cap" ps --raw --node "$tmp/$1.sock" >/dev/null 2>&1; do
		[ $i -lt 300 ] || die "node $1 did not come up"
		sleep 0.1
		i=$((i + 1))
	done
}
# wait_log NAME TEXT: until node NAME's log has TEXT (60 s at most)
wait_log() {
	i=0
	while ! grep -qF -- "$2" "$tmp/$1.log"; do
		[ $i -lt 600 ] || return 1
		sleep 0.1
		i=$((i + 1))
	done
}
# monitor_state NODE NAME: the monitor's state as ps --json gives it
monitor_state() {
	"$cap" ps --json --node "$tmp/$1.sock" | tr '\n' ' ' |
		sed -n "s/.*\"name\": \"$2\"[^}]*\"monitor_state\": \"\([a-z]*\)\".*/\1/p"
}
# tty CMD...: run CMD with a pty as its terminal; its output in $tmp/tty.out
tty() {
	script -qec "$*" /dev/null >"$tmp/tty.out" 2>&1 </dev/null
}
# redrawn WHAT PATTERN: the pty output has at least two in-place redraws
# and one of them matches PATTERN
redrawn() {
	tr '\r' '\n' <"$tmp/tty.out" >"$tmp/tty.raw"
	sed 's/^.\[K//' "$tmp/tty.raw" >"$tmp/tty.lines"
	n=$(grep -c "$2" "$tmp/tty.lines")
	if [ "$(grep -c '\[K' "$tmp/tty.raw")" -ge 2 ] && [ "$n" -ge 1 ]; then
		ok "$1: $(grep "$2" "$tmp/tty.lines" | tail -n 1)"
	else
		bad "$1: no progress line matching '$2': $(cat "$tmp/tty.lines")"
	fi
}

cfg() { # cfg NAME CONFIG-OF-THE-MONITOR
	cat <<EOF
<config>
	<parent-provides>
		<service name="PD"/> <service name="CPU"/> <service name="LOG"/>
		<service name="ROM"/> <service name="RM"/> <service name="Timer"/>
		<service name="IRQ"/>
	</parent-provides>
	<default-route> <any-service> <parent/> </any-service> </default-route>
	<start name="$1" caps="600">
		<binary name="monitor"/>
		<resource name="RAM" quantum="300M"/>
		<config>$2</config>
	</start>
</config>
EOF
}
echo 600000 >"$tmp/bench_cr_mem.idle_ms" # it lives on through the test
cfg big '<target binary="bench_cr_mem" ram="264M" caps="150"/>' >"$tmp/a.xml"
cfg big '<restore/>' >"$tmp/empty.xml"
"$cap" keygen "$tmp/key" || die "keygen"
# A's images take at least 1 s for 256 MiB (4 ms a MiB, a switch of the
# test build): written faster, as on a quiet host, a checkpoint or a
# migration's round 1 ended within one redraw (no line with its bytes),
# and the migration before the Ctrl-C below
CAPSULE_TEST_WRITE_US_PER_MIB=4000 start_node A "$tmp/a.xml" --key "$tmp/key"
CAPSULE_TEST_RESTORE_POINT_MS=40 start_node B "$tmp/empty.xml"
# C's post-copy pushes (15 pages each) 200 us apart: some 1 s for 256 MiB
CAPSULE_TEST_POSTCOPY_PUSH_US=200 start_node C "$tmp/empty.xml" --listen "127.0.0.1:$pC" \
	--key "$tmp/key"
for n in A B C; do wait_node $n; done
wait_log A "bench_cr_mem: touched" || die "the target did not start"

# 1. checkpoint: on a terminal, with -q, and not on a terminal
tty "$cap" checkpoint --node "$tmp/A.sock" big -o "$tmp/big.img"
redrawn "checkpoint on a terminal" 'writing .*, [0-9.]* of [0-9.]* MiB, [0-9.]* MiB/s, [0-9.]* s$'
grep -q "^ok big $tmp/big.img: paused .* total [0-9]* ms" "$tmp/tty.lines" ||
	bad "checkpoint: no line of figures at the end: $(tail -n 2 "$tmp/tty.lines")"
# the copy while the target is paused is a phase with its bytes (-v
# prints each phase on a line of its own, also when not on a terminal)
grep -q "copying 2[0-9][0-9]\.[0-9] MiB of memory while paused" "$tmp/tty.lines" ||
	bad "checkpoint on a terminal: no paused copy with its bytes: $(cat "$tmp/tty.lines")"
"$cap" checkpoint -v --node "$tmp/A.sock" big -o "$tmp/v.img" >"$tmp/out" 2>"$tmp/err" ||
	bad "checkpoint -v: $(cat "$tmp/err")"
if grep -q "^checkpoint big: copying 2[0-9][0-9]\.[0-9] MiB of memory while paused (at " "$tmp/err"; then
	ok "checkpoint -v: $(grep "while paused" "$tmp/err")"
else
	bad "checkpoint -v: no paused copy with its bytes: $(cat "$tmp/err")"
fi
tty "$cap" checkpoint -q --node "$tmp/A.sock" big -o "$tmp/q.img"
[ -s "$tmp/tty.out" ] && bad "checkpoint -q printed: $(cat "$tmp/tty.out")"
[ -s "$tmp/q.img" ] || bad "checkpoint -q wrote no image"
"$cap" checkpoint --node "$tmp/A.sock" big -o "$tmp/n.img" >"$tmp/out" 2>"$tmp/err" ||
	bad "checkpoint not on a terminal: $(cat "$tmp/err")"
if [ -s "$tmp/err" ] || [ "$(wc -l <"$tmp/out")" -ne 1 ]; then
	bad "not on a terminal: more than the line of figures: $(cat "$tmp/out" "$tmp/err")"
else
	ok "not on a terminal, and with -q: nothing but the figures"
fi

# 2. restore cancelled half way, then done (on a terminal)
"$cap" restore --node "$tmp/B.sock" "$tmp/big.img" >"$tmp/out" 2>"$tmp/err" &
cpid=$!
wait_log B "monitor: restoring 'bench_cr_mem'" || die "the restore did not begin"
sleep 0.3
kill -INT $cpid
wait $cpid
rc=$?
if [ $rc -eq 130 ] && grep -q "^error: big: restore cancelled" "$tmp/err" &&
   grep -q "monitor: restore: cancelled at point" "$tmp/B.log"; then
	ok "restore cancelled: $(cat "$tmp/err")"
else
	bad "restore cancel: rc $rc, $(cat "$tmp/out" "$tmp/err")"
fi
st=$(monitor_state B big)
[ "$st" = empty ] || bad "after the cancelled restore the monitor is '$st', not empty"
tty "$cap" restore --node "$tmp/B.sock" "$tmp/big.img"
redrawn "restore on a terminal" 'restoring .*, [0-9.]* of [0-9.]* MiB, [0-9.]* MiB/s, [0-9.]* s$'
grep -q "^ok big $tmp/big.img: .* total [0-9]* ms" "$tmp/tty.lines" ||
	bad "restore after the cancel: $(tail -n 2 "$tmp/tty.lines")"
st=$(monitor_state B big)
[ "$st" = running ] || bad "the restore after the cancel: monitor '$st', not running"

# 3. a migration cancelled in its first round (its checkpoint), then done
# (on a terminal)
"$cap" migrate --node "$tmp/A.sock" big --to "127.0.0.1:$pC" --timeout 300 \
	>"$tmp/out" 2>"$tmp/err" &
cpid=$!
wait_log A "migrate: phase round-1" || die "the migration did not begin"
sleep 0.2 # the round's checkpoint of 256 MiB takes over 1 s: cancelled too
kill -INT $cpid
wait $cpid
rc=$?
if [ $rc -eq 130 ] && grep -q "^error: big: .*migration cancelled" "$tmp/err"; then
	ok "migration cancelled in round 1: $(cat "$tmp/err")"
else
	bad "migration cancel in round 1: rc $rc, $(cat "$tmp/out" "$tmp/err")"
fi
[ "$(monitor_state A big)" = running ] || bad "after the cancel big does not run at A"
[ "$(monitor_state C big)" = empty ] || bad "after the cancel C is not empty"
tty "$cap" migrate --node "$tmp/A.sock" big --to "127.0.0.1:$pC" --timeout 300
redrawn "migrate on a terminal" 'sending round-1.img, [0-9.]* of [0-9.]* MiB,'
grep -q "waiting for 127.0.0.1:$pC to restore it" "$tmp/tty.lines" ||
	bad "migrate on a terminal: no phase while the destination restores"
grep -q "^ok big migrated to 127.0.0.1:$pC: total" "$tmp/tty.lines" ||
	bad "migrate after the cancel: $(tail -n 2 "$tmp/tty.lines")"
[ "$(monitor_state C big)" = running ] || bad "big does not run at C after the migration"

# 3b. post-copy from C to F on a terminal: after the commit the pages
# that follow are shown with their bytes
start_node F "$tmp/empty.xml" --listen "127.0.0.1:$pF" --key "$tmp/key"
wait_node F
tty "$cap" migrate --node "$tmp/C.sock" big --to "127.0.0.1:$pF" --postcopy --timeout 300
redrawn "migrate --postcopy on a terminal" 'sending its pages, [0-9.]* of [0-9.]* MiB'
grep -q "waiting for 127.0.0.1:$pF to restore it" "$tmp/tty.lines" ||
	bad "migrate --postcopy on a terminal: no phase while the destination restores"
grep -q "^ok big migrated to 127.0.0.1:$pF (post-copy): total" "$tmp/tty.lines" ||
	bad "migrate --postcopy: $(tail -n 2 "$tmp/tty.lines")"
[ "$(monitor_state F big)" = running ] || bad "big does not run at F after the post-copy"

# 4. a counter's migration cancelled between "ready" and the commit
CAPSULE_TEST_MIGRATE_HOLD=commit:2000 start_node D examples/counter-node.xml \
	--key "$tmp/key"
start_node E examples/empty-node.xml --listen "127.0.0.1:$pD" --key "$tmp/key"
for n in D E; do wait_node $n; done
counts() { sed -n 's/^\[counter\] count \([0-9]*\) (echo \1)$/\1/p' "$tmp/$1.log"; }
"$cap" migrate --node "$tmp/D.sock" counter --to "127.0.0.1:$pD" >"$tmp/out" 2>"$tmp/err" &
cpid=$!
wait_log D "migrate: phase commit (held" || die "the counter's migration did not reach the commit"
kill -INT $cpid
wait $cpid
rc=$?
if [ $rc -eq 130 ] && grep -q "migration cancelled, .* drops its copy; resumed here" "$tmp/err"; then
	ok "migration cancelled before the commit: $(cat "$tmp/err")"
else
	bad "migration cancel before the commit: rc $rc, $(cat "$tmp/out" "$tmp/err")"
fi
wait_log E "aborted by the source" || bad "E was not told to drop its copy"
n=$(counts D | tail -n 1)
sleep 1.5
m=$(counts D | tail -n 1)
[ "$m" -gt "$n" ] 2>/dev/null || bad "the counter does not go on at D after the cancel ($n, $m)"
st=$(monitor_state E counter) # the monitor ended with its copy: not listed
case "$st" in running | frozen) bad "E keeps a copy after the cancel: $st" ;; esac
ok "the counter runs on at D (count $n, then $m), E has no copy (${st:-none})"

[ $fail = 0 ] && echo "progress: all passed"
exit $fail
