#!/bin/sh
# capsule migrate between nodes on 127.0.0.1 (loopback only), with a key
# made by capsule keygen.  Node A runs slow_counter under a monitor
# ("counter"); every refused migration must leave it counting on A
# (frozen, then resumed: no count lost or repeated), and the successful
# one must move it to B, where the count goes on from A's last.
#   wrong key, no monitor for it at the destination, a destination whose
#   monitor is busy, a peer that sends garbage (both ways), a destination
#   killed while the image is in flight, one too slow for the deadline,
#   one that never acknowledges a round, then A -> B.
b=${1:-build}
. tests/harness.sh
harness_begin migrate

cc -std=gnu11 -O2 -o "$tmp/garbage" tests/migrate/garbage.c 2>"$tmp/cc.err" ||
	die "cannot build the garbage peer: $(cat "$tmp/cc.err")"

# Ports on 127.0.0.1 for this run.
base=$((30000 + $$ % 20000))
pB=$base pW=$((base + 1)) pS=$((base + 2)) pU=$((base + 3))
pG=$((base + 4)) pK=$((base + 5)) pT=$((base + 6)) pQ=$((base + 9))

# start_node NAME CONFIG ARGS...: node NAME in the background, control
# socket $tmp/NAME.sock, log $tmp/NAME.log.  The nodes run the test build
# (their CAPSULE_TEST_* switches act), unless bin= names another.
start_node() {
	name=$1 cfg=$2
	shift 2
	"${bin:-$capt}" node --rom "$b/components" "$cfg" --control "$tmp/$name.sock" "$@" \
		>"$tmp/$name.log" 2>&1 &
	eval "pid_$name=$!"
	pids="$pids $!"
}
# wait_node NAME: until its ps answers (20 s at most)
wait_node() {
	i=0
	while [ $i -lt 200 ]; do
		"$cap" ps --node "$tmp/$1.sock" >/dev/null 2>&1 && return 0
		sleep 0.1
		i=$((i + 1))
	done
	die "node $1 did not come up"
}

counts() { sed -n 's/^\[counter\] count \([0-9]*\) (echo \1)$/\1/p' "$1"; }
last_count() { counts "$1" | tail -n 1; }
# contiguous "N1 N2 ...": the numbers are exactly 1..Nlast, each once
contiguous() {
	set -- $1
	i=1
	for n in "$@"; do
		[ "$n" = $i ] || { echo "  counts: $*"; return 1; }
		i=$((i + 1))
	done
}
# wait_count LOG N: until LOG has count N (10 s at most)
wait_count() {
	i=0
	while [ $i -lt 100 ]; do
		[ "$(last_count "$1")" ] && [ "$(last_count "$1")" -ge "$2" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
# still_on_a CASE: A counts on after CASE, with no count lost or repeated
still_on_a() {
	n=$(last_count "$tmp/A.log")
	wait_count "$tmp/A.log" $((n + 1)) || die "$1: the counter stopped on A at $n"
	contiguous "$(counts "$tmp/A.log")" || die "$1: A's counts are not 1..N"
}
# expect_err CASE PATTERN CMD...: exit code 1, one stderr line matching
# PATTERN, nothing on stdout
expect_err() {
	name=$1 pat=$2
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ $got -ne 1 ] || [ "$(wc -l <"$tmp/err")" -ne 1 ] ||
	   ! grep -q -- "$pat" "$tmp/err" || [ -s "$tmp/out" ]; then
		bad "$name (rc $got, stderr: $(cat "$tmp/err"), stdout: $(cat "$tmp/out"))"
		return 1
	fi
	ok "$name: $(cat "$tmp/err")"
}
# mon_state NODE: the state of its monitor "counter", as ps --json says
mon_state() {
	"$cap" ps --json --node "$tmp/$1.sock" | tr '\n' ' ' |
		sed -n 's/.*"name": "counter"[^}]*"monitor_state": "\([a-z]*\)".*/\1/p'
}
migrate_to() {
	port=$1
	shift
	"$cap" migrate --node "$tmp/A.sock" counter --to "127.0.0.1:$port" "$@"
}

"$cap" keygen "$tmp/key" && "$cap" keygen "$tmp/other.key" || die "keygen failed"
[ "$(stat -c %a "$tmp/key")" = 600 ] || bad "the key file is not 0600"
"$cap" node examples/empty-node.xml --control "$tmp/x.sock" --listen "127.0.0.1:$pB" \
	>"$tmp/out" 2>"$tmp/err"
if [ $? -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "needs --key" "$tmp/err"; then
	ok "--listen without --key: $(cat "$tmp/err")"
else
	bad "--listen without --key: $(cat "$tmp/err")"
fi

# The destinations first: slow_counter ends after 30 s, all of it is
# for the cases below.
sed 's/name="counter"/name="other"/' examples/empty-node.xml >"$tmp/other.xml"
start_node W examples/empty-node.xml --listen "127.0.0.1:$pW" --key "$tmp/other.key"
# S runs the node binary, whose test switches are reported and ignored
CAPSULE_TEST_MIGRATE_STALL_MS=20000 bin=$cap start_node S "$tmp/other.xml" --listen "127.0.0.1:$pS" --key "$tmp/key"
start_node U examples/counter-node.xml --listen "127.0.0.1:$pU" --key "$tmp/key"
mkdir "$tmp/received"
CAPSULE_TEST_MIGRATE_KEEP=$tmp/received start_node B examples/empty-node.xml \
	--listen "127.0.0.1:$pB" --key "$tmp/key"
start_node N examples/empty-node.xml
CAPSULE_TEST_MIGRATE_STALL_MS=20000 start_node K examples/empty-node.xml \
	--listen "127.0.0.1:$pK" --key "$tmp/key"
CAPSULE_TEST_MIGRATE_STALL_MS=3000 start_node T examples/empty-node.xml \
	--listen "127.0.0.1:$pT" --key "$tmp/key"
CAPSULE_TEST_MIGRATE_NO_ACK=1 start_node Q examples/empty-node.xml \
	--listen "127.0.0.1:$pQ" --key "$tmp/key"
for n in W S U B K T N Q; do wait_node $n; done
# exactly three pre-copy rounds from A (a small target would need one)
CAPSULE_TEST_MIGRATE_ROUNDS=3 start_node A examples/counter-node.xml --key "$tmp/key"
wait_node A
wait_count "$tmp/A.log" 1 || die "A does not count"

# 0. a node without a key cannot migrate
expect_err "no key: refused" "error: counter: this node has no key (start it with --key FILE)" \
	"$cap" migrate --node "$tmp/N.sock" counter --to "127.0.0.1:$pB"
kill -TERM "$pid_N"

# 1. a destination with another key
expect_err "wrong key refused" "does not hold our key (the target runs on here)" \
	migrate_to $pW
grep -q "capsule node: refused 127.0.0.1:[0-9]*: handshake" "$tmp/W.log" ||
	bad "W does not name the refused peer: $(cat "$tmp/W.log")"
grep -q "monitor: checkpoint" "$tmp/A.log" && bad "A was checkpointed for a peer without the key"
still_on_a "wrong key"

# 2. a destination without a monitor for it
expect_err "no monitor slot: refused, resumed on A" \
	"refused it: counter: not under a monitor; resumed here" migrate_to $pS
still_on_a "no monitor slot"
grep -q "capsule: CAPSULE_TEST_MIGRATE_STALL_MS is a switch of the test build (capsule-test); ignored" \
	"$tmp/S.log" && ! grep -q "stalls" "$tmp/S.log" &&
	ok "the node binary ignores a test switch, in one line" ||
	bad "the node binary and a test switch: $(cat "$tmp/S.log")"

# 3. a destination whose monitor has a target already
expect_err "busy monitor: refused, resumed on A" \
	"refused it: counter: restore: this monitor runs 'slow_counter' already .*; resumed here" migrate_to $pU
still_on_a "busy monitor"

# 4. a peer that answers garbage, and a client that sends garbage to B
"$tmp/garbage" serve $pG >"$tmp/G.log" 2>&1 &
pids="$pids $!"
i=0
while ! grep -q listening "$tmp/G.log" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
expect_err "garbage peer" "the peer is not a capsule node" migrate_to $pG
still_on_a "garbage peer"
"$tmp/garbage" send $pB 2>>"$tmp/G.log"
grep -q "refused 127.0.0.1:[0-9]*: handshake: not a capsule migration (bad greeting)" \
	"$tmp/B.log" && "$cap" ps --node "$tmp/B.sock" >/dev/null 2>&1 &&
	ok "garbage client refused by B in one line, B serves on" ||
	bad "garbage client: $(cat "$tmp/B.log")"

# 5. the destination is killed while the image is in flight
migrate_to $pK >"$tmp/k.out" 2>"$tmp/k.err" &
mig=$!
i=0
while ! grep -q "stalls" "$tmp/K.log" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.2
kill -KILL "$pid_K"
wait $mig
rc=$?
if [ $rc -eq 1 ] && [ "$(wc -l <"$tmp/k.err")" -eq 1 ] && grep -q "resumed here\|(the target runs on here)" "$tmp/k.err"; then
	ok "destination killed mid-transfer: $(cat "$tmp/k.err")"
else
	bad "destination killed mid-transfer: rc $rc: $(cat "$tmp/k.err" "$tmp/k.out")"
fi
still_on_a "destination killed"

# 6. a destination too slow for the deadline: round 1 is not
# acknowledged in time, A gives up before the freeze, counts on; the
# destination never runs it
expect_err "deadline passed: runs on A" \
	"round-1.img was not acknowledged: no answer (stream: timed out) (the target runs on here)" \
	migrate_to $pT --timeout 0.5
still_on_a "deadline"
i=0
while ! grep -q "migration from .*: error" "$tmp/T.log" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
grep -q "migration from .*: error" "$tmp/T.log" && [ -z "$(counts "$tmp/T.log")" ] &&
	ok "the late destination ended the migration, never ran it" ||
	bad "the late destination: $(cat "$tmp/T.log")"

# 6b. a destination that never acknowledges a round (test hook): A waits
# for round 1's ack until the deadline (+2 s), then says so in one line
# and counts on, never frozen; Q ends the copy it built
finals=$(grep -c "migrate: phase final" "$tmp/A.log")
# (whichever of the two times out first: A waiting for the ack, or the
# peer's own stream, which then says so to A)
expect_err "never-acking peer: runs on A" \
	"round-1.img was not acknowledged: no answer (stream: timed out) (the target runs on here)\|refused round-1.img: stream: timed out (the target runs on here)" \
	migrate_to $pQ --timeout 1
still_on_a "never-acking peer"
[ "$(grep -c "migrate: phase final" "$tmp/A.log")" = "$finals" ] ||
	bad "A froze its target for a peer that never acked"
i=0
while ! grep -q "prebuilt copy of counter (1 rounds) ended" "$tmp/Q.log" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
grep -q "prebuilt copy of counter (1 rounds) ended" "$tmp/Q.log" && [ -z "$(counts "$tmp/Q.log")" ] &&
	ok "the never-acking destination ended its copy" ||
	bad "the never-acking destination: $(cat "$tmp/Q.log")"

# 7. A -> B
"$cap" migrate --node "$tmp/A.sock" counter --to "127.0.0.1:$pB" >"$tmp/ok.out" 2>"$tmp/ok.err" ||
	die "migrate A -> B: $(cat "$tmp/ok.err")"
grep -Eq "^ok counter migrated to 127.0.0.1:$pB: total [0-9]+ ms, paused [0-9.]+ ms, rounds 3 \(pages [0-9]+\+[0-9]+\+[0-9]+, bytes [0-9+]+\), final [0-9]+ pages [0-9]+ bytes, image [1-9][0-9]* bytes" \
	"$tmp/ok.out" && [ ! -s "$tmp/ok.err" ] || bad "migrate's figures: $(cat "$tmp/ok.out" "$tmp/ok.err")"
last=$(last_count "$tmp/A.log")
wait_count "$tmp/B.log" $((last + 4)) || die "B does not count on from $last"
sleep 0.5
[ "$(last_count "$tmp/A.log")" = "$last" ] || bad "A counts on after the migration"
grep -q "monitor: target released" "$tmp/A.log" || bad "A's monitor did not release its target"
# right before the freeze A's monitor read the pages to compare into the
# caches, the target running (the freeze's pause counts from its request)
grep -Eq "monitor: before the freeze: [0-9]+ pages written and [1-9][0-9]* of the round before read into the caches" \
	"$tmp/A.log" && ok "A warmed the freeze's pages before it" ||
	bad "A did not warm the freeze's pages: $(grep 'before the freeze' "$tmp/A.log")"
[ "$(counts "$tmp/B.log" | head -n 1)" = $((last + 1)) ] ||
	bad "B starts at $(counts "$tmp/B.log" | head -n 1), A stopped at $last"
contiguous "$(counts "$tmp/A.log"; counts "$tmp/B.log")" &&
	ok "A -> B: $(cat "$tmp/ok.out"); counts 1..$last on A, $((last + 1))..$(last_count "$tmp/B.log") on B" ||
	bad "counts lost or repeated between A and B"
# the decrypted stream B received is a chain of images, round by round:
# inspect decodes each, and restore would follow final.img's chain
size=$(sed -n 's/.* image \([0-9]*\) bytes.*/\1/p' "$tmp/ok.out")
got=0 kinds=
for f in round-1 round-2 round-3 final; do
	"$cap" inspect "$tmp/received/$f.img" >"$tmp/inspect.out" 2>&1 &&
		grep -q "slow_counter" "$tmp/inspect.out" ||
		bad "capsule inspect on $f.img: $(head -n 5 "$tmp/inspect.out")"
	kinds="$kinds $f:$(sed -n 's/^  kind: "\(.*\)"/\1/p' "$tmp/inspect.out" | head -n 1)"
	got=$((got + $(stat -c %s "$tmp/received/$f.img")))
done
grep -q 'path: ".*/round-3.img"' "$tmp/inspect.out" || bad "final.img names no round-3.img"
[ "$got" = "$size" ] && [ "$kinds" = " round-1:full round-2:incremental round-3:incremental final:incremental" ] &&
	ok "the stream B received is a chain of images:$kinds, $got bytes" ||
	bad "received images:$kinds, $got bytes of $size"
# B's node thread sent "ready" as its monitor answered the restore and
# "started" as it answered the start, not the listener thread after
# being woken for it (one hand-over less each in the stop)
grep -q "migration from .*: ready counter (.* bytes received, sent from the node's thread)" "$tmp/B.log" &&
	grep -q "migration from .*: ok counter started (in [0-9.]* ms, answered from the node's thread)" "$tmp/B.log" &&
	ok "B answered ready and started from its node's thread" ||
	bad "B's ready and started: $(grep -E 'migration from .*: (ready|ok) ' "$tmp/B.log")"
# both sides logged each phase once, in order
want="handshake round-1 round-2 round-3 final commit done"
for n in A B; do
	phases=$(sed -n 's/^capsule node: migrate: phase \([^ ]*\).*/\1/p' "$tmp/$n.log" | tr '\n' ' ')
	case "$phases" in
	*"$want ") ok "$n's phases: $want" ;;
	*) bad "$n's phases: $phases" ;;
	esac
done
# B built the copy while the rounds arrived (one line per round; round
# 1 while its listener wrote it, handed over as its FIFO, the others
# from their spool files once whole), with its regions attached in
# round 1, and the restore of final.img took it instead of restoring
# the chain
n=$(grep -cE "migration from .*: prebuilt: ok counter .*/round-(1\.img\.pipe: round 1|[23]\.img: round [23]) built" "$tmp/B.log")
if [ "$n" = 3 ] && grep -q "monitor: prebuild: round 3 applied to the paused copy" "$tmp/B.log" &&
   grep -q "monitor: prebuild: round 1 read as it arrived" "$tmp/B.log" &&
   grep -q "migration from .*: round-1.img received in .*, built while it came" "$tmp/B.log" &&
   grep -q "monitor: prebuild: round 1 applied to the paused copy: [0-9]* pages, [1-9][0-9]* regions attached, [1-9][0-9]* threads made, [2-9][0-9]* sessions opened" "$tmp/B.log" &&
   grep -q "monitor: prebuild: the restore of the final image takes the copy of 3 rounds" "$tmp/B.log" &&
   grep -q "monitor: prebuild: the restore took [1-9][0-9]* threads, [2-9][0-9]* sessions and [1-9][0-9]* dataspaces of the copy" "$tmp/B.log"; then
	ok "B prebuilt the target (dataspaces, regions, threads, sessions) from 3 rounds and restored final.img onto it"
else
	bad "B did not prebuild: $(grep -i prebuil "$tmp/B.log")"
fi
# 8. exactly one copy: source C dies after D's "ready", before its commit.
# D keeps its restored copy paused (it cannot know whether C ended
# its copy) and says so; `capsule resume` starts it there, from C's last
# count, none lost or repeated.
pD=$((base + 7))
start_node D examples/empty-node.xml --listen "127.0.0.1:$pD" --key "$tmp/key"
CAPSULE_TEST_MIGRATE_DIE_AT_COMMIT=1 start_node C examples/counter-node.xml --key "$tmp/key"
wait_node D
wait_node C
wait_count "$tmp/C.log" 3 || die "C does not count"
"$cap" migrate --node "$tmp/C.sock" counter --to "127.0.0.1:$pD" >"$tmp/c.out" 2>"$tmp/c.err"
i=0
while ! grep -q "no commit" "$tmp/D.log" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
last=$(last_count "$tmp/C.log")
sleep 0.5
if grep -q "no commit (.*): counter is kept paused here" "$tmp/D.log" &&
   [ -z "$(counts "$tmp/D.log")" ] && ! kill -0 "$pid_C" 2>/dev/null; then
	ok "source died before its commit: D keeps it paused: $(grep -o 'no commit.*kept paused here' "$tmp/D.log")"
else
	bad "source died before its commit: $(tail -n 5 "$tmp/D.log")"
fi
"$cap" resume --node "$tmp/D.sock" counter >/dev/null 2>"$tmp/err" || bad "resume: $(cat "$tmp/err")"
wait_count "$tmp/D.log" $((last + 2)) && [ "$(counts "$tmp/D.log" | head -n 1)" = $((last + 1)) ] &&
	ok "capsule resume starts it on D from $((last + 1)) (C's last: $last)" ||
	bad "resume on D: C's last $last, D: $(counts "$tmp/D.log" | tr '\n' ' ')"
kill -TERM "$pid_D"
# 9. the source dies between two rounds (held after round-1, then
# killed): E had built a copy from round 1 and ends it; nothing of the
# target is left there (one PD "counter", its monitor's) and none of it ran
pE=$((base + 8))
pds() { "$cap" ps --raw --node "$tmp/$1.sock" 2>/dev/null | grep -c '^pd "counter"'; }
start_node E examples/empty-node.xml --listen "127.0.0.1:$pE" --key "$tmp/key"
mkdir -p "$tmp/spoolF" # F's spool directory, looked at while it is held
TMPDIR=$tmp/spoolF CAPSULE_TEST_MIGRATE_ROUNDS=3 CAPSULE_TEST_MIGRATE_HOLD=round-2:20000 \
	start_node F examples/counter-node.xml --key "$tmp/key"
wait_node E
wait_node F
wait_count "$tmp/F.log" 2 || die "F does not count"
"$cap" migrate --node "$tmp/F.sock" counter --to "127.0.0.1:$pE" >/dev/null 2>&1 &
i=0
while ! grep -q "prebuild: round 1 applied" "$tmp/E.log" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
during=$(pds E)
# round 1 went out while F's monitor wrote it: a FIFO, no file written
r1=$(ls -d "$tmp"/spoolF/capsule-migrate-*/round-1.img 2>/dev/null | head -n 1)
[ -p "$r1" ] && ok "F sent round 1 as its monitor wrote it (a FIFO in its spool directory)" ||
	bad "F's round 1 was not streamed: $(ls -l "$tmp"/spoolF/capsule-migrate-* 2>&1 | tr '\n' ' ')"
kill -KILL "$pid_F"
i=0
while ! grep -q "prebuilt copy of counter (1 rounds) ended" "$tmp/E.log" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
after=$(pds E)
if [ "$during" -ge 2 ] && [ "$after" = 1 ] && [ -z "$(counts "$tmp/E.log")" ] &&
   grep -q "monitor: prebuilt copy ended after 1 rounds" "$tmp/E.log"; then
	ok "source died mid-rounds: E ended its prebuilt copy (PDs \"counter\": $during while building, $after after)"
else
	bad "source died mid-rounds: PDs $during then $after: $(grep -i "prebuil\|migration from" "$tmp/E.log")"
fi
kill -TERM "$pid_E"
# 10. what the restore onto the copy leaves (the copy's leftovers, the
# models, the monitor's views of the memory) is freed after the commit
# that starts the target, not in the stop: an end of the copy slowed by
# 800 ms (the test build's CAPSULE_TEST_PREBUILD_END_MS) is neither in
# the destination's restore until ready nor in its commit until started
# (G's line)
pH=$((base + 10))
CAPSULE_TEST_PREBUILD_END_MS=800 start_node H examples/empty-node.xml \
	--listen "127.0.0.1:$pH" --key "$tmp/key"
start_node G examples/counter-node.xml --key "$tmp/key"
wait_node H
wait_node G
wait_count "$tmp/G.log" 2 || die "G does not count"
"$cap" migrate --node "$tmp/G.sock" counter --to "127.0.0.1:$pH" >"$tmp/g.out" 2>&1
ready=$(sed -n 's/.*the destination.s restore until ready \([0-9]*\)\.[0-9]*,.*/\1/p' "$tmp/G.log")
started=$(sed -n 's/.*commit until started \([0-9]*\)\.[0-9]*.*/\1/p' "$tmp/G.log")
if [ -n "$ready" ] && [ "$ready" -lt 800 ] && [ -n "$started" ] && [ "$started" -lt 800 ] &&
   grep -q "monitor: prebuild: the restore took [1-9][0-9]* threads" "$tmp/H.log"; then
	ok "the copy's end (slowed by 800 ms) came after H's start: restore until ready $ready ms, commit until started $started ms"
else
	bad "the copy's end in the stop: $(grep 'restore until ready' "$tmp/G.log") $(cat "$tmp/g.out")"
fi
# (H's monitor answers ps once the copy's slowed end and its frees are
# done: ended before, the node's sanitizer build reported them leaked)
i=0
while [ "$(mon_state H)" != running ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
kill -TERM "$pid_H" "$pid_G"
# 11. a restore refused while the destination's copy waits for its
# commit (ready; the source held 2 s after it logged phase commit) does
# not drop what the copy's restore left for after the commit: the copy's
# end still runs then (its line), and the monitor is "running", not
# "building" (a refused restore cleared it, and the leftovers stayed)
pJ=$((base + 11))
start_node J examples/empty-node.xml --listen "127.0.0.1:$pJ" --key "$tmp/key"
CAPSULE_TEST_MIGRATE_HOLD=commit:2000 start_node I examples/counter-node.xml --key "$tmp/key"
wait_node J
wait_node I
wait_count "$tmp/I.log" 2 || die "I does not count"
"$cap" checkpoint --node "$tmp/I.sock" counter -o "$tmp/i.img" >/dev/null 2>&1 ||
	die "I's checkpoint failed"
"$cap" migrate --node "$tmp/I.sock" counter --to "127.0.0.1:$pJ" >"$tmp/i.out" 2>&1 &
mpid=$!
i=0
while ! grep -q "migrate: phase commit (held" "$tmp/I.log" && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
"$cap" restore --node "$tmp/J.sock" "$tmp/i.img" >"$tmp/j.out" 2>&1 &&
	bad "J restored into a monitor whose copy waits for its commit"
wait $mpid
state=$(mon_state J)
if grep -q "this monitor runs '[a-z_]*' already" "$tmp/j.out" && grep -q "^ok counter migrated" "$tmp/i.out" &&
   grep -q "monitor: prebuild: the restore took [1-9][0-9]* threads" "$tmp/J.log" &&
   [ "$state" = running ]; then
	ok "a restore refused before the commit ($(cat "$tmp/j.out")) left the copy's end to it: J's monitor $state"
else
	bad "a restore refused before the commit: J's monitor '$state', $(cat "$tmp/j.out" "$tmp/i.out") $(grep 'prebuild' "$tmp/J.log")"
fi
kill -TERM "$pid_J" "$pid_I"
for n in W S U; do
	[ -z "$(grep -v '^\[counter\] count' "$tmp/$n.log" | grep 'restored')" ] ||
		bad "node $n restored something"
done
# every node stops cleanly on SIGTERM, listener included, and no
# sanitizer (make san-test) reported anything
for n in A B W S U T Q; do
	eval "p=\$pid_$n"
	kill -TERM "$p" 2>/dev/null
	wait "$p" 2>/dev/null || bad "node $n did not stop cleanly on SIGTERM"
done
pids=
if grep -l "Sanitizer\|runtime error" "$tmp"/*.log 2>/dev/null; then
	bad "sanitizer reports in the node logs"
	grep -h -A5 "Sanitizer\|runtime error" "$tmp"/*.log | head -n 30
fi
exit $fail
