#!/bin/sh
# Lazy restore (capsule restore --lazy): node A runs cr_lazy (8 MiB of
# patterned memory, checked word by word at every count) under a monitor
# that checkpoints it after its 5th line to an image and stops it.  Node B
# (capsule node, an empty monitor) restores the image with --lazy through
# the control socket: the target must run before its pages are there,
# take some of them on demand, get the rest in the background, and go on
# from A's last count with the checksums of an uninterrupted run (the
# target checks every word itself and exits 1 on a wrong one).  A
# checkpoint asked for while pages are still missing is refused; one asked
# for once they are all there is written, and node C, restoring that
# image, goes on with the uninterrupted run's checksums too (if the pages
# were all there at the first request already, its image is that one).
b=${1:-build}
name=cr_lazy # the target restore_b restores
cap=$b/capsule
capt=$b/capsule-test # the node: its CAPSULE_TEST_* switches act
tmp=$(mktemp -d /tmp/capsule-lazy.XXXXXX)
pid=
written= # which checkpoint of node B node C restores: b or b2
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	[ -n "$CR_KEEP" ] || rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "lazy_restore: FAIL: $*"; for f in "$tmp"/*.log; do echo "--- $f"; sed 's/^/  | /' "$f" | tail -n 40; done; exit 1; }

. tests/cr/monitor_node.sh
target='<target binary="cr_lazy" ram="12M" caps="200"/>'
monitor_node cr_lazy "$target" >"$tmp/ref.xml"
monitor_node cr_lazy "$target
	<test checkpoint_after_log=\"5\" image=\"$tmp/a.img\" then=\"exit\"/>" >"$tmp/a.xml"
monitor_node cr_lazy "<restore/>" >"$tmp/b.xml"
sums() { sed -n 's/^\[cr_lazy\] \(count [0-9]* sum [0-9a-f]*\)$/\1/p' "$1"; }

timeout -k 10 60 "$cap" run --rom "$b/components" "$tmp/ref.xml" >"$tmp/ref.log" 2>&1 ||
	fail "the uninterrupted run exited with $?"
timeout -k 10 60 "$cap" run --rom "$b/components" "$tmp/a.xml" >"$tmp/a.log" 2>&1 ||
	fail "node A exited with $?"
[ -s "$tmp/a.img" ] || fail "node A wrote no image"
last=$(sums "$tmp/a.log" | tail -n 1 | cut -d' ' -f2)
[ -n "$last" ] || fail "node A counted nothing"

# restore_b LOG: node B restores a.img ($name: cr_lazy unless set)
# lazily through its control socket
# and runs until the target ends.
restore_b() {
"$capt" node --rom "$b/components" "$tmp/b.xml" --control "$tmp/b.sock" \
	>"$tmp/$1" 2>&1 &
pid=$!
i=0
until "$cap" ps --node "$tmp/b.sock" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 200 ] || fail "node B did not come up"
	sleep 0.1
done
"$cap" restore --node "$tmp/b.sock" --lazy "$tmp/a.img" >"$tmp/restore.log" 2>&1 ||
	fail "capsule restore --lazy: $(cat "$tmp/restore.log")"
# at once, while its pages may still be arriving: refused, or (filled
# already) written; never a checkpoint of missing pages
if "$cap" checkpoint --force --node "$tmp/b.sock" $name -o "$tmp/b.img" \
	>"$tmp/ckpt.log" 2>&1; then
	grep -q "lazy restore complete" "$tmp/$1" ||
		fail "a checkpoint was taken before the lazy restore completed"
	written=b
else
	grep -q "its memory is still being restored" "$tmp/ckpt.log" ||
		fail "checkpoint refused for another reason: $(cat "$tmp/ckpt.log")"
fi
if [ "$2" = again ] && [ "$written" = b ]; then
	# the pages were all there already: that checkpoint is the one C
	# restores (the target may end while it is written)
	cp "$tmp/b.img" "$tmp/b2.img"
elif [ "$2" = again ]; then # once every page is there: a checkpoint
	written=b2
	i=0
	until grep -q "lazy restore complete" "$tmp/$1"; do
		i=$((i + 1))
		[ $i -lt 300 ] || fail "the lazy restore did not complete"
		sleep 0.05
	done
	grep -q "^\[init\] $name exited" "$tmp/$1" &&
		fail "the target ended before it could be checkpointed again"
	"$cap" checkpoint --force --node "$tmp/b.sock" $name -o "$tmp/b2.img" \
		>"$tmp/ckpt2.log" 2>&1 ||
		fail "checkpoint after the lazy restore: $(cat "$tmp/ckpt2.log")"
fi
i=0
until grep -q "^\[init\] $name exited" "$tmp/$1"; do
	i=$((i + 1))
	[ $i -lt 300 ] || fail "the target did not end on node B"
	sleep 0.1
done
kill -TERM "$pid"
wait "$pid"
pid=

}
restore_b b.log again
{ sums "$tmp/a.log"; sums "$tmp/b.log"; } >"$tmp/ab.sums"
sums "$tmp/ref.log" >"$tmp/ref.sums"
cmp -s "$tmp/ab.sums" "$tmp/ref.sums" ||
	fail "A then B differ from the uninterrupted run: $(diff "$tmp/ref.sums" "$tmp/ab.sums" | head -5)"
first=$(sums "$tmp/b.log" | head -n 1 | cut -d' ' -f2)
[ "$first" = $((last + 1)) ] || fail "B starts at count '$first', A stopped at $last"
for line in "monitor: lazy restore: the target runs, " "monitor: lazy restore complete: " \
	"[cr_lazy] cr_lazy: done, 8 MiB intact" "[init] cr_lazy exited with 0"; do
	grep -qF -- "$line" "$tmp/b.log" || fail "B: missing: $line"
done
# node C restores what B checkpointed once its pages were all there
monitor_node cr_lazy "<restore image=\"$tmp/b2.img\"/>" >"$tmp/c.xml"
timeout -k 10 60 "$cap" run --rom "$b/components" "$tmp/c.xml" >"$tmp/c.log" 2>&1 ||
	fail "node C exited with $?"
# the last count before the snapshot of b2.img (the target runs on while
# the image is written, so counts may follow the snapshot line)
at=$(awk '/^\[cr_lazy\] count [0-9]+ sum /{last = $3}
	/monitor: checkpoint [0-9]+: /{snap = last}
	/written to .*'"$written"'\.img/{print snap; exit}' "$tmp/b.log")
at=${at:-$last} # B counted nothing before the snapshot: A's last count
sums "$tmp/c.log" >"$tmp/c.sums"
sed -n "$((at + 1)),\$p" "$tmp/ref.sums" >"$tmp/ref_c.sums"
[ -s "$tmp/c.sums" ] && cmp -s "$tmp/c.sums" "$tmp/ref_c.sums" ||
	fail "C (from count $((at + 1))) differs from the uninterrupted run"

# every page on demand (no background fill): the same sums
export CAPSULE_TEST_LAZY_DEMAND_ONLY=1
restore_b d.log
unset CAPSULE_TEST_LAZY_DEMAND_ONLY
sums "$tmp/d.log" >"$tmp/d.sums"
sums "$tmp/b.log" >"$tmp/b.sums"
cmp -s "$tmp/d.sums" "$tmp/b.sums" || fail "demand only: the sums differ"
grep -q "lazy restore complete" "$tmp/d.log" &&
	fail "demand only: completed (the target does not touch every page)"
grep -qE "lazy restore ended with the target: [0-9]+ of [0-9]+ pages filled, [1-9][0-9]* on demand" \
	"$tmp/d.log" || fail "demand only: no pages came on demand"
# a server restored lazily: cr_all's worker calls its entrypoint's own
# RPC object at every count; the entrypoint faults on pages not there
# yet (every page on demand), and each call must wait for it and be
# answered (the kernel once ended a faulted thread's calls: "echo
# failed", -EPIPE, and exit 1)
monitor_node cr_all "<target binary=\"cr_all\" ram=\"12M\" caps=\"200\"/>
	<test checkpoint_after_log=\"5\" image=\"$tmp/s.img\" then=\"exit\"/>" >"$tmp/s.xml"
timeout -k 10 60 "$cap" run --rom "$b/components" "$tmp/s.xml" >"$tmp/s.log" 2>&1 ||
	fail "node A (cr_all) exited with $?"
monitor_node cr_all "<restore/>" >"$tmp/b.xml"
cp "$tmp/s.img" "$tmp/a.img"
name=cr_all
export CAPSULE_TEST_LAZY_DEMAND_ONLY=1
restore_b e.log
unset CAPSULE_TEST_LAZY_DEMAND_ONLY
grep -q "^\[init\] cr_all exited with 0" "$tmp/e.log" ||
	fail "cr_all restored lazily failed: $(grep -m1 'cr_all: ' "$tmp/e.log")"
grep -qE "lazy restore ended with the target: [0-9]+ of [0-9]+ pages filled, [1-9][0-9]* on demand" \
	"$tmp/e.log" || fail "cr_all: no pages came on demand"
echo "lazy_restore: PASS (A stopped at count $last, B went on lazily)"
grep -E "monitor: (lazy restore|restore took)" "$tmp/b.log"
