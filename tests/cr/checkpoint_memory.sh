#!/bin/sh
# The memory a checkpoint costs: a node checkpoints bench_cr_mem (MB MiB,
# default 256, every page touched: even pages with data, odd pages
# written with zeros) into an image and stops it there (then="exit": the
# target stays paused until its image is written).  The node's peak RSS
# (the kernel's max RSS of the process) must stay within SLACK_MB of the
# target's memory: the writer reads the paused target's dataspaces in
# place, with no copy of its memory.  Then a second node restores the
# image (peak RSS within the same slack) and the target checks every
# page.  MB=960 shows a target of nearly 1 GiB both ways.  Skipped in the
# sanitizer build (its shadow memory is not the node's).
b=${1:-build}
MB=${MB:-256}
SLACK_MB=64
tmp=$(mktemp -d /tmp/capsule-cmem.XXXXXX)
trap '[ -n "$KEEP" ] || rm -rf "$tmp"' EXIT
die() { echo "checkpoint_memory: FAIL: $*"; exit 1; }

if nm "$b/libcapsule.a" 2>/dev/null | grep -q __asan_init; then
	echo "checkpoint_memory: SKIP (sanitizer build)"
	exit 0
fi
mkdir "$tmp/rom"
echo "$MB" >"$tmp/rom/bench_cr_mem.mb"
. tests/cr/monitor_node.sh
cfg() { monitor_node mem "$1" $((MB + 128))M 600; }
# run NAME: node NAME.xml under /usr/bin/time; its peak RSS in KiB
run() {
	/usr/bin/time -f "%M %e" -o "$tmp/$1.time" \
		timeout -k 10 300 "$b/capsule" run --rom "$tmp/rom" --rom "$b/components" "$tmp/$1.xml" \
		>"$tmp/$1.log" 2>&1 || { tail -5 "$tmp/$1.log"; die "node $1 exited with $?"; }
	sed -n '$s/ .*//p' "$tmp/$1.time"
}
cfg "<target binary=\"bench_cr_mem\" ram=\"$((MB + 8))M\" caps=\"150\"/>
	<test checkpoint_after_log=\"1\" image=\"$tmp/mem.img\" then=\"exit\"/>" >"$tmp/a.xml"
a_kb=$(run a)
grep -qF "bench_cr_mem: touched $MB MiB" "$tmp/a.log" || die "the target did not set up $MB MiB"
grep -q "monitor: image: .* bytes written" "$tmp/a.log" || die "node A wrote no image"
cfg "<restore image=\"$tmp/mem.img\"/>" >"$tmp/b.xml"
b_kb=$(run b)
grep -qF "bench_cr_mem: memory intact" "$tmp/b.log" ||
	{ tail -5 "$tmp/b.log"; die "the restored target's memory is not intact"; }
kb=$((MB * 1024))
echo "checkpoint_memory: $MB MiB target, image $(stat -c %s "$tmp/mem.img") bytes: checkpoint peak RSS $a_kb KiB ($((a_kb - kb)) KiB above the target), restore $b_kb KiB ($((b_kb - kb)) KiB above)"
[ "$a_kb" -le $((kb + SLACK_MB * 1024)) ] ||
	die "the checkpointing node's peak RSS $a_kb KiB is more than the target + $SLACK_MB MiB"
[ "$b_kb" -le $((kb + SLACK_MB * 1024)) ] ||
	die "the restoring node's peak RSS $b_kb KiB is more than the target + $SLACK_MB MiB"
echo "checkpoint_memory: PASS"
