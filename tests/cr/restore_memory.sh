#!/bin/sh
# The memory a restore costs: node A checkpoints bench_cr_mem (256 MiB,
# every even page with data, odd pages zero) into an image; node B
# restores it, the target checks every page and exits 0.  B's peak RSS
# (the kernel's max RSS of the process) must stay within SLACK_MB of the
# bytes with data: the image streams into the new dataspaces, with no
# intermediate copy of the memory.  Skipped in the sanitizer build (its
# shadow memory is not the node's).
b=${1:-build}
tmp=$(mktemp -d /tmp/capsule-rmem.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
die() { echo "restore_memory: FAIL: $*"; exit 1; }
SLACK_MB=64

if nm "$b/libcapsule.a" 2>/dev/null | grep -q __asan_init; then
	echo "restore_memory: SKIP (sanitizer build)"
	exit 0
fi
. tests/cr/monitor_node.sh
cfg() { monitor_node mem "$1" 300M 600; }
cfg "<target binary=\"bench_cr_mem\" ram=\"264M\" caps=\"150\"/>
	<test checkpoint_after_log=\"1\" image=\"$tmp/mem.img\" then=\"exit\"/>" >"$tmp/a.xml"
timeout -k 10 120 "$b/capsule" run --rom "$b/components" "$tmp/a.xml" >"$tmp/a.log" 2>&1 ||
	{ tail -5 "$tmp/a.log"; die "node A exited with $?"; }
data=$("$b/capsule" inspect --json "$tmp/mem.img" | sed -n 's/.*"bytes_raw": *\([0-9]*\).*/\1/p')
[ -n "$data" ] || die "no bytes_raw in the image's stats"
cfg "<restore image=\"$tmp/mem.img\"/>" >"$tmp/b.xml"
/usr/bin/time -f "%M %e" -o "$tmp/time" \
	timeout -k 10 120 "$b/capsule" run --rom "$b/components" "$tmp/b.xml" >"$tmp/b.log" 2>&1 ||
	{ tail -5 "$tmp/b.log"; die "node B exited with $?"; }
grep -qF "bench_cr_mem: memory intact" "$tmp/b.log" ||
	{ tail -5 "$tmp/b.log"; die "the restored target's memory is not intact"; }
kb=$(sed -n '$s/ .*//p' "$tmp/time")
s=$(sed -n '$s/.* //p' "$tmp/time")
data_kb=$((data / 1024))
echo "restore_memory: 256 MiB target, $data_kb KiB with data, image $(stat -c %s "$tmp/mem.img") bytes: node B peak RSS $kb KiB ($((kb - data_kb)) KiB above the data), $s s"
[ "$kb" -le $((data_kb + SLACK_MB * 1024)) ] ||
	die "node B's peak RSS $kb KiB is more than the data + $SLACK_MB MiB"
echo "restore_memory: PASS"
