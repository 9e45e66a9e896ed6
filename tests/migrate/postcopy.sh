#!/bin/sh
# capsule migrate --postcopy on 127.0.0.1 (docs/migration.md "Post-copy").
# The target is cr_lazy (8 MiB of patterned memory in 4 dataspaces that
# it checks word by word at every count, exiting 1 on a wrong word), held
# by node A's monitor after its 5th line until the migration freezes it.
#   1. A -> B: B goes on from A's last count with the checksums of an
#      uninterrupted run ("8 MiB intact"), both nodes logged every phase
#      in order, pages were pushed (slowly here,
#      CAPSULE_TEST_POSTCOPY_PUSH_US), and B's target ran while they
#      arrived (it faulted on pages not there yet);
#   2. the source killed mid post-copy (held there): the destination
#      stops its copy with a report naming the pages that never arrived,
#      it never counts on with missing pages, and node B still answers;
#   3. the destination killed mid post-copy: the source resumes its
#      frozen copy, which counts on with the uninterrupted run's checksums;
#   4. the source killed after the destination built the target's PD,
#      threads and sessions from its pre-skeleton, before its freeze: the
#      destination ends that copy, answers, and logs one line of the
#      migration (its error).
#   5. a target that is not held, migrated while it counts: the pages it
#      writes between round 1 and the freeze reach the destination.
# Case 1 also checks that the restore took the copy built from the
# pre-skeleton (its dataspaces too), that the restore's own request
# started it (no "ready" and "commit" round trip), and asked the source
# for no page (those it reads came before the skeleton), that the
# pause's two ends went from the nodes' threads (the source's skeleton,
# the destination's "started"), that no image of the source carries a page, and that both
# nodes removed their spool directories (TMPDIR).
b=${1:-build}
. tests/harness.sh
harness_begin postcopy

. tests/cr/monitor_node.sh
target='<target binary="cr_lazy" ram="12M" caps="200"/>'
monitor_node cr_lazy "$target" >"$tmp/ref.xml"
monitor_node cr_lazy "$target <test checkpoint_after_log=\"5\" then=\"hold\"/>" >"$tmp/a.xml"
monitor_node cr_lazy "<restore/>" >"$tmp/b.xml"
sums() { sed -n 's/^\[cr_lazy\] \(count [0-9]* sum [0-9a-f]*\)$/\1/p' "$1"; }
last_count() { sums "$1" | tail -n 1 | cut -d' ' -f2; }

base=$((30000 + $$ % 20000))
# start_node NAME CONFIG ENV ARGS...: in the background with the
# environment words ENV, $tmp/NAME.sock and .log
start_node() {
	name=$1 cfg=$2 e=$3
	shift 3
	# shellcheck disable=SC2086 # ENV: words
	env $e "$capt" node --rom "$b/components" "$cfg" --control "$tmp/$name.sock" "$@" \
		>"$tmp/$name.log" 2>&1 &
	eval "pid_$name=$!"
	pids="$pids $!"
}
wait_node() {
	i=0
	until "$cap" ps --node "$tmp/$1.sock" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 200 ] || die "node $1 did not come up"
		sleep 0.1
	done
}
# wait_log NODE PATTERN [TENTHS]: until NODE's log has a line with PATTERN
wait_log() {
	i=0
	until grep -q -- "$2" "$tmp/$1.log"; do
		i=$((i + 1))
		[ $i -lt "${3:-300}" ] || return 1
		sleep 0.1
	done
}
# phases NODE: its phase names in order, on one line
phases() {
	sed -n 's/^capsule node: migrate: phase \([a-z0-9-]*\).*/\1/p' "$tmp/$1.log" |
		tr '\n' ' '
}
# a pair: source A$1 (env: $2) held after count 5, destination B$1 on
# port base+$1 (env: $3)
pair() {
	start_node "B$1" "$tmp/b.xml" "$3" --listen "127.0.0.1:$((base + $1))" \
		--key "$tmp/key"
	start_node "A$1" "$tmp/a.xml" "$2" --key "$tmp/key"
	wait_node "B$1"
	wait_node "A$1"
	wait_log "A$1" "^\[cr_lazy\] count 5 " || die "A$1 did not count to 5"
}
migrate() {
	"$cap" migrate --node "$tmp/A$1.sock" cr_lazy --to "127.0.0.1:$((base + $1))" \
		--postcopy
}

mkdir "$tmp/spool" && export TMPDIR="$tmp/spool"
"$cap" keygen "$tmp/key" >/dev/null || die "keygen failed"
timeout -k 10 60 "$cap" run --rom "$b/components" "$tmp/ref.xml" >"$tmp/ref.log" 2>&1 ||
	die "the uninterrupted run exited with $?"
sums "$tmp/ref.log" >"$tmp/ref.sums"

# 1. A -> B, pages on demand and pushed
pair 1 CAPSULE_TEST_POSTCOPY_PUSH_US=3000 CAPSULE_TEST_NONE=1
migrate 1 >"$tmp/m1.out" 2>&1 || die "migrate --postcopy: $(cat "$tmp/m1.out")"
wait_log B1 "^\[init\] cr_lazy exited" || die "the target did not end on B"
last=$(last_count "$tmp/A1.log")
first=$(sums "$tmp/B1.log" | head -n 1 | cut -d' ' -f2)
[ "$first" = $((last + 1)) ] || die "B starts at count '$first', A stopped at $last"
{ sums "$tmp/A1.log"; sums "$tmp/B1.log"; } >"$tmp/ab.sums"
cmp -s "$tmp/ab.sums" "$tmp/ref.sums" ||
	die "A then B differ from the uninterrupted run: $(diff "$tmp/ref.sums" "$tmp/ab.sums" | head -5)"
grep -q "^\[cr_lazy\] cr_lazy: done, 8 MiB intact" "$tmp/B1.log" || die "B: not intact"
grep -q "^\[init\] cr_lazy exited with 0" "$tmp/B1.log" || die "B: the target failed"
[ "$(phases A1)" = "handshake final commit postcopy done " ] ||
	die "A's phases: $(phases A1)"
[ "$(phases B1)" = "handshake final commit postcopy done " ] ||
	die "B's phases: $(phases B1)"
line=$(cat "$tmp/m1.out")
demand=$(echo "$line" | sed -n 's/.*pages on demand \([0-9]*\),.*/\1/p')
pushed=$(echo "$line" | sed -n 's/.*pages pushed \([0-9]*\) .*/\1/p')
# pages pushed (on demand: the restore's own reads were all the demand
# here, before the skeleton carried them in session 9; this target's
# threads have not faulted on a missing page in any run)
[ "${pushed:-0}" -gt 0 ] || die "no pages pushed: $line"
grep -qE "post-copy: every page arrived: 2147 pages, [0-9]+ with the skeleton, [0-9]+ on demand" \
	"$tmp/B1.log" || die "B: no figures of the pages"
# the target runs while its pages arrive: cr_lazy reads every page at
# each count, so on B it faults on pages not there yet and waits for
# those alone (once, the background fill kept the node's thread until
# every page was there: 0 faults, the whole push was the target's stall)
faults=$(sed -n 's/.*lazy restore complete: .*(\([0-9]*\) faults).*/\1/p' "$tmp/B1.log")
[ "${faults:-0}" -gt 0 ] ||
	die "B: the target did not run while its pages arrived: $(grep -o 'lazy restore complete.*' "$tmp/B1.log")"
grep -q "target released: it runs on at the migration's destination" "$tmp/A1.log" ||
	die "A did not end its copy"
grep -qE "monitor: prebuild: the restore took [1-9][0-9]* threads, [0-9]+ sessions" \
	"$tmp/B1.log" || die "B: the restore did not take the copy built from the pre-skeleton"
# and its dataspaces, made lazy before the freeze (the restore made each
# in the pause before)
grep -qE "monitor: prebuild: the restore took .* and [1-9][0-9]* dataspaces of the copy" \
	"$tmp/B1.log" || die "B: the restore made the dataspaces in the pause: $(grep -o 'prebuild: the restore took.*' "$tmp/B1.log")"
# the restore's own request started it, with the fill (until session 13
# it was held, "ready" sent, and started by a thaw on A's "commit": a
# round trip and a hand-off more in the pause)
grep -q "monitor: lazy restore: the target runs" "$tmp/B1.log" ||
	die "B: the restore did not start it: $(grep -o 'monitor: lazy restore: .*' "$tmp/B1.log" | head -n 1)"
grep -q "target started: the migration committed" "$tmp/B1.log" &&
	die "B: started by a thaw after the restore"
# the pages the restore reads (the whole cap map, the report, the
# entrypoints and their pools) come before the skeleton: no round trip
# in the pause
grep -qE "the restore's [1-9][0-9]* pages sent" "$tmp/A1.log" ||
	die "A: the restore's pages were not sent: $(grep -o 'paused .*' "$tmp/A1.log")"
# the pause's two ends go from the nodes' threads as their monitors
# answer (no hand-off to a woken thread first): A's pages and skeleton
# as its monitor answers the freeze, B's "started" as its monitor
# answers the restore
grep -qE "the skeleton sent [0-9.]+ \(from the node's thread\)" "$tmp/A1.log" ||
	die "A: the skeleton was not sent from the node's thread: $(grep -o 'paused .*' "$tmp/A1.log")"
# A reads final.img (the dataspaces to serve) only once B runs it (or at
# a want before that): the restore's pages are found with the frozen
# memory's regions (until session 16 it was read first, in the pause)
grep -qE "the skeleton sent [0-9.]+ \(from the node's thread\), .*; final.img read [0-9.]+ \((after the pause|for a want, in the pause)\)" \
	"$tmp/A1.log" ||
	die "A: final.img was read in the pause before the skeleton was sent: $(grep -o 'paused .*' "$tmp/A1.log")"
grep -qE "answered in [0-9.]+ \(from the node's thread\)" "$tmp/B1.log" ||
	die "B: started was not answered from the node's thread: $(grep -o 'restored and started .*' "$tmp/B1.log")"
grep -q "monitor: post-copy restore: 0 pages asked of the source" "$tmp/B1.log" ||
	die "B: the restore asked the source for pages: $(grep -o 'post-copy restore: .*asked.*' "$tmp/B1.log")"
# no image of A carries a page: the pre-skeleton and the freeze are the
# target's state, and A serves the pages from where the frozen target
# has them (until session 11 A wrote round-1.img, all 8 MiB, read it
# back as its copy, and its freeze wrote every page written since)
# final.img, the skeleton, is written in memory (a memfd, through
# /proc/self/fd: until session 13 a file in the spool, whose creation
# on ext4 was 150-350 us of the freeze)
for f in '.*/preskel.img' '/proc/self/fd/[0-9]+'; do
	grep -qE "monitor: image: [0-9]+ bytes written to $f, .* 0 bytes, 0 pages" \
		"$tmp/A1.log" || die "A: no image $f of its state alone: $(grep -o 'image: .*written to.*pages' "$tmp/A1.log")"
done
grep -q "round-1.img" "$tmp/A1.log" && die "A wrote a round-1.img"
# each side's spool goes with the migration (until session 13 the
# source left its directory with preskel.img in it, one per migration)
[ -z "$(ls -A "$tmp/spool")" ] ||
	die "a spool was left behind: $(cd "$tmp/spool" && ls -R | tr '\n' ' ')"
ok "A -> B: B went on from count $last; $line"

# 2. the source killed mid post-copy: B stops its copy and says why.
#    A's test checkpoint after count 5 makes its buffers slowly, as on a
#    loaded host, while the target runs: it is held at once all the same
#    (it was once held after that, in count 6's LOG call, which B then
#    made: B printed count 6, counted at A, in 1 run of 11 at load 15)
pair 2 "CAPSULE_TEST_MIGRATE_HOLD=postcopy:20000 CAPSULE_TEST_CKPT_PREPARE_MS=200" \
	CAPSULE_TEST_NONE=1
migrate 2 >"$tmp/m2.out" 2>&1 &
pids="$pids $!"
wait_log A2 "phase postcopy (held" || die "A2 did not reach post-copy"
kill -KILL "$pid_A2"
wait_log B2 "^\[init\] cr_lazy exited" || die "B2's copy was not stopped"
grep -qE "monitor: post-copy failed: the source was lost \(.*\): [1-9][0-9]* of 2147 pages never arrived; the target is stopped" \
	"$tmp/B2.log" || die "B2: no report of the pages that never arrived"
grep -qE "migration from .*: post-copy failed: the source was lost .*: [1-9][0-9]* of 2147 pages never arrived; cr_lazy is stopped here" \
	"$tmp/B2.log" || die "B2: no report of the migration"
grep -q "memory damaged" "$tmp/B2.log" && die "B2 ran on with missing pages"
# the held target's state (A's preskel.img, left by the kill: its
# threads' registers and UTCBs) is at count 5, not in count 6's LOG call
for f in "$tmp"/spool/*/preskel.img; do
	[ -f "$f" ] || die "A2 left no preskel.img in its spool"
	# its thread records as plain bytes (the thread's name is beside its
	# UTCB): else the check below could not fail
	grep -aq "counter" "$f" || die "A2's preskel.img: no thread record readable as bytes"
	grep -aq "count 6 sum" "$f" && die "A2 held its target in count 6's LOG call"
done
[ -z "$(sums "$tmp/B2.log")" ] || die "B2 counted without its memory: $(sums "$tmp/B2.log")"
"$cap" ps --raw --node "$tmp/B2.sock" >"$tmp/ps2" 2>&1 || die "B2 does not answer"
ok "source killed mid post-copy: $(grep -o 'monitor: post-copy failed.*' "$tmp/B2.log")"

# 3. the destination killed mid post-copy: A resumes its frozen copy
pair 3 CAPSULE_TEST_POSTCOPY_PUSH_US=3000 CAPSULE_TEST_MIGRATE_HOLD=postcopy:20000
migrate 3 >"$tmp/m3.out" 2>&1 &
mpid=$!
pids="$pids $mpid"
wait_log B3 "phase postcopy (held" || die "B3 did not reach post-copy"
kill -KILL "$pid_B3"
wait "$mpid" && die "the migration did not fail: $(cat "$tmp/m3.out")"
grep -q "the destination was lost during post-copy .*resumed here from the freeze" \
	"$tmp/m3.out" || die "A3: $(cat "$tmp/m3.out")"
wait_log A3 "^\[init\] cr_lazy exited with 0" || die "A3 did not go on to its end"
sums "$tmp/A3.log" >"$tmp/a3.sums"
cmp -s "$tmp/a3.sums" "$tmp/ref.sums" ||
	die "A3 differs from the uninterrupted run: $(diff "$tmp/ref.sums" "$tmp/a3.sums" | head -5)"
ok "destination killed mid post-copy: $(cat "$tmp/m3.out")"

# 4. the source killed after B built from its pre-skeleton, before the
#    freeze: B ends that copy (no half-made target stays), A's is gone
pair 4 CAPSULE_TEST_MIGRATE_HOLD=final:20000 CAPSULE_TEST_NONE=1
migrate 4 >"$tmp/m4.out" 2>&1 &
pids="$pids $!"
wait_log A4 "phase final (held" || die "A4 did not reach its freeze"
wait_log B4 "monitor: prebuild: round 1 applied" || die "B4 built nothing from the pre-skeleton"
kill -KILL "$pid_A4"
wait_log B4 "monitor: prebuilt copy ended after 1 rounds" ||
	die "B4 did not end its copy: $(tail -3 "$tmp/B4.log")"
[ "$(grep -c "capsule node: migration from" "$tmp/B4.log")" = 1 ] ||
	die "B4: not one line of the migration: $(grep "migration from" "$tmp/B4.log")"
"$cap" ps --node "$tmp/B4.sock" >"$tmp/ps4" 2>&1 || die "B4 does not answer"
grep -q "^cr_lazy .*building" "$tmp/ps4" && die "B4 still builds: $(cat "$tmp/ps4")"
ok "source killed before its freeze: $(grep -o 'monitor: prebuilt copy ended.*' "$tmp/B4.log")"

# 5. a target that is not held runs on through round 1 and the
#    pre-skeleton: each count rewrites a page, so pages written after
#    the pre-skeleton must reach B (as the frozen target has them); A
#    then B count as the uninterrupted run
start_node B5 "$tmp/b.xml" CAPSULE_TEST_NONE=1 --listen "127.0.0.1:$((base + 5))" \
	--key "$tmp/key"
start_node A5 "$tmp/ref.xml" CAPSULE_TEST_NONE=1 --key "$tmp/key"
wait_node B5
wait_node A5
wait_log A5 "^\[cr_lazy\] count 3 " || die "A5 did not count to 3"
migrate 5 >"$tmp/m5.out" 2>&1 || die "migrate --postcopy of a running target: $(cat "$tmp/m5.out")"
wait_log B5 "^\[init\] cr_lazy exited" || die "the running target did not end on B5"
{ sums "$tmp/A5.log"; sums "$tmp/B5.log"; } >"$tmp/ab5.sums"
cmp -s "$tmp/ab5.sums" "$tmp/ref.sums" ||
	die "A5 then B5 differ from the uninterrupted run: $(diff "$tmp/ref.sums" "$tmp/ab5.sums" | head -5)"
grep -q "^\[cr_lazy\] cr_lazy: done, 8 MiB intact" "$tmp/B5.log" || die "B5: not intact"
ok "a running target: counts 1..$(last_count "$tmp/A5.log") on A, on to $(last_count "$tmp/B5.log") on B, as the uninterrupted run"

[ $fail = 0 ] || exit 1
echo "postcopy: PASS"
