#!/bin/sh
# Restore refuses bad images and leaves the node as it was: node A writes
# a good image of cr_all; each bad variant (corrupt, truncated, forged by
# tests/cr/forge.c) is given to a fresh node B, whose monitor must say
# why it refuses and end with exit 2 without running any of the target.
# The good image is restored last, to show the variants were the problem.
b=${1:-build}
tmp=$(mktemp -d /tmp/capsule-bad.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
die() { echo "bad_images: FAIL: $*"; exit 1; }

san=
nm "$b/libcapsule.a" 2>/dev/null | grep -q __asan_init && san="-fsanitize=address,undefined"
cc -std=gnu11 -O2 $san -Iinclude -Ibase/include -I. -o "$tmp/forge" tests/cr/forge.c \
	"$b/libcapsule.a" -lzstd -lxxhash -lsodium $(pkg-config --libs libxml-2.0) -lpthread -lm \
	2>"$tmp/cc.log" || { tail -5 "$tmp/cc.log"; die "cannot build the forge tool"; }

. tests/cr/monitor_node.sh
node_cfg() { monitor_node cr_all "$1"; }
node_cfg "<target binary=\"cr_all\" ram=\"2M\" caps=\"200\"/>
	<test checkpoint_after_ms=\"40\" image=\"$tmp/good.img\" then=\"exit\"/>" >"$tmp/a.xml"
timeout -k 10 60 "$b/capsule" run --rom "$b/components" "$tmp/a.xml" >"$tmp/a.log" 2>&1 ||
	die "node A exited with $?"

# run_b IMAGE [QUANTUM]: node B restores IMAGE; its peak RSS (KiB, the
# kernel's max RSS of the process) in $rss, host seconds in $secs
run_b() {
	node_cfg "<restore image=\"$1\"/>" | sed "s/quantum=\"16M\"/quantum=\"${2:-16M}\"/" >"$tmp/b.xml"
	/usr/bin/time -f "%M %e" -o "$tmp/time" \
		timeout -k 10 60 "$b/capsule" run --rom "$b/components" "$tmp/b.xml" >"$tmp/b.log" 2>&1
	rc=$?
	# (a first line "Command exited with ..." when it did not exit 0)
	rss=$(sed -n '$s/ .*//p' "$tmp/time")
	secs=$(sed -n '$s/.* //p' "$tmp/time")
}

# The good image first: its restore's peak RSS is the reference a refusal
# may not exceed by more than SLACK_KB (a forged image of a few hundred KB
# describing GiBs must cost the node what the good one does).
SLACK_KB=65536
run_b "$tmp/good.img"
grep -qF "cr_all: done: 30 signals" "$tmp/b.log" ||
	{ sed 's/^/  | /' "$tmp/b.log"; die "the good image does not restore"; }
base_kb=$rss
regions=$(sed -n 's/.*monitor: restored: [0-9]* threads, \([0-9]*\) regions.*/\1/p' "$tmp/b.log")
echo "bad_images: good.img restores: peak RSS $rss KiB, ${secs} s"

# restore IMAGE WANT: node B must refuse IMAGE with a line containing WANT,
# with its peak RSS within SLACK_KB of the good restore's
restore() {
	run_b "$1"
	why=$(grep -m1 "monitor: restore" "$tmp/b.log")
	if [ $rc = 0 ] || ! grep -qF -- "[init] cr_all exited with 2" "$tmp/b.log" ||
		! grep -qF -- "$2" "$tmp/b.log" ||
		grep -q "^\[cr_all\] count" "$tmp/b.log"; then
		echo "bad_images: FAIL $(basename "$1"): exit $rc, want the monitor's exit 2 and '$2'"
		sed 's/^/  | /' "$tmp/b.log"
		fails=1
	elif [ "$rss" -gt $((base_kb + SLACK_KB)) ]; then
		echo "bad_images: FAIL $(basename "$1"): peak RSS $rss KiB, more than $base_kb + $SLACK_KB"
		fails=1
	else
		echo "bad_images: PASS $(basename "$1") (peak RSS $rss KiB, ${secs} s): $why"
	fi
}

size=$(stat -c %s "$tmp/good.img")
cp "$tmp/good.img" "$tmp/flipped.img"
printf '\377' | dd of="$tmp/flipped.img" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
restore "$tmp/flipped.img" "monitor: restore refused:"
head -c $((size - 100)) "$tmp/good.img" >"$tmp/truncated.img"
restore "$tmp/truncated.img" "monitor: restore refused:"
cp "$tmp/good.img" "$tmp/trailing.img"
echo garbage >>"$tmp/trailing.img"
restore "$tmp/trailing.img" "monitor: restore refused:"
printf 'XXXXXXXX' | dd of="$tmp/magic.img" bs=1 conv=notrunc 2>/dev/null
cat "$tmp/good.img" | { head -c 0; cat; } | dd of="$tmp/magic.img" bs=1 seek=8 skip=8 conv=notrunc 2>/dev/null
restore "$tmp/magic.img" "monitor: restore refused:"
restore "$tmp/missing.img" "monitor: restore refused:"

for d in gate-badge:"names another object" low-kcap:"fixed" ds-badge:"is not the dataspace's" context-owner:"no PD session" \
	rm-session:"needs one PD, one CPU and one LOG session" incremental:"its parent $tmp/absent-parent.img is missing" \
	parent-hash:"not the image it was taken against" binary:"binary 'no_such_rom': cannot open it at this node's ROM" \
	utcb:"restore failed: cannot recreate a thread" cap-map:"restore failed: its checkpoint report does not match its memory"; do
	name=${d%%:*}
	"$tmp/forge" "$tmp/good.img" "$tmp/$name.img" "$name" 2>"$tmp/forge.log"
	case $? in
	0) ;;
	3) echo "bad_images: PASS $name: refused by the format: $(cat "$tmp/forge.log")"; continue ;;
	*) die "cannot forge $name: $(cat "$tmp/forge.log")" ;;
	esac
	restore "$tmp/$name.img" "${d#*:}"
done

# The hostile classes: what a tiny image may describe (aliasing regions,
# huge sparse dataspaces, a decompression bomb), sizes that overflow,
# parent chains that cannot be, loops in the target's own trees.
for d in alias:"component section, field ram_quota" \
	huge-sparse:"dataspace section, field size" \
	bomb:"dataspace section, field size" \
	zstd-frame:"(memory) at offset" \
	ds-overflow:"(dataspace) at offset" \
	region-overflow:"(region) at offset" \
	incremental-orphan:"parent id 0 does not match flags" \
	parent-loop:"names itself as its parent" \
	ep-loop:"entrypoint list (field next of struct cr_entrypoint)" \
	pool-loop:"fields left, right, parent, depth of its struct cr_object"; do
	name=${d%%:*}
	"$tmp/forge" "$tmp/good.img" "$tmp/$name.img" "$name" 2>"$tmp/forge.log" ||
		die "cannot forge $name: $(cat "$tmp/forge.log")"
	restore "$tmp/$name.img" "${d#*:}"
done

# capsule inspect reads what restore reads, and its time and memory must
# follow the image's size: 240 dataspaces of 16 GiB with a page each (an
# incremental image of 64 KB), the 1 GiB bomb, the huge sparse dataspace.
# The time bound is generous for a loaded machine (it took 5 s when every
# page bit was looked at, 0.2 s since).
"$tmp/forge" "$tmp/good.img" "$tmp/many-sparse.img" many-sparse 2>"$tmp/forge.log" ||
	die "cannot forge many-sparse: $(cat "$tmp/forge.log")"
restore "$tmp/many-sparse.img" "its parent $tmp/absent-parent.img is missing"
for i in many-sparse bomb huge-sparse; do
	/usr/bin/time -f "%M %e" -o "$tmp/time" "$b/capsule" inspect "$tmp/$i.img" >"$tmp/i.out" 2>&1
	rc=$?
	kb=$(sed -n '$s/ .*//p' "$tmp/time")
	s=$(sed -n '$s/.* //p' "$tmp/time")
	if [ $rc != 0 ] || ! grep -q "zero_pages" "$tmp/i.out"; then
		sed 's/^/  | /' "$tmp/i.out" | tail -5
		echo "bad_images: FAIL inspect $i.img: exit $rc"
		fails=1
	elif [ "$kb" -gt 65536 ] || [ "$(echo "$s" | cut -d. -f1)" -ge 3 ]; then
		echo "bad_images: FAIL inspect $i.img: peak RSS $kb KiB, $s s (want < 64 MiB, < 3 s)"
		fails=1
	else
		echo "bad_images: PASS inspect $i.img ($(stat -c %s "$tmp/$i.img") bytes): $s s, peak RSS $kb KiB"
	fi
done

# 8 regions of 256 MiB aliasing one dataspace, with RAM quota for it once:
# restored, the dataspace made and written once (not 2 GiB of copies)
"$tmp/forge" "$tmp/good.img" "$tmp/alias-fits.img" alias-fits 2>"$tmp/forge.log" ||
	die "cannot forge alias-fits: $(cat "$tmp/forge.log")"
run_b "$tmp/alias-fits.img" 300M
if ! grep -qF "cr_all: done: 30 signals" "$tmp/b.log" ||
	! grep -q "restored: [0-9]* threads, $((regions + 8)) regions" "$tmp/b.log"; then
	sed 's/^/  | /' "$tmp/b.log"
	echo "bad_images: FAIL alias-fits.img does not restore"
	fails=1
elif [ "$rss" -gt $((base_kb + SLACK_KB)) ]; then
	echo "bad_images: FAIL alias-fits.img: peak RSS $rss KiB, more than $base_kb + $SLACK_KB"
	fails=1
else
	echo "bad_images: PASS alias-fits.img restores with 8 x 256 MiB regions of one dataspace (peak RSS $rss KiB, ${secs} s)"
fi

run_b "$tmp/good.img"
grep -qF "cr_all: done: 30 signals" "$tmp/b.log" ||
	{ sed 's/^/  | /' "$tmp/b.log"; die "the good image does not restore"; }
echo "bad_images: PASS good.img restores"
exit $fails
