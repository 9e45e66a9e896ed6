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
	"$b/libcapsule.a" -lzstd -lxxhash $(pkg-config --libs libxml-2.0) -lpthread -lm \
	2>"$tmp/cc.log" || { tail -5 "$tmp/cc.log"; die "cannot build the forge tool"; }

. tests/cr/monitor_node.sh
node_cfg() { monitor_node cr_all "$1"; }
node_cfg "<target binary=\"cr_all\" ram=\"2M\" caps=\"200\"/>
	<test checkpoint_after_ms=\"40\" image=\"$tmp/good.img\" then=\"exit\"/>" >"$tmp/a.xml"
timeout 60 "$b/capsule" run --rom "$b/components" "$tmp/a.xml" >"$tmp/a.log" 2>&1 ||
	die "node A exited with $?"

# restore IMAGE WANT: node B must refuse IMAGE with a line containing WANT
restore() {
	node_cfg "<restore image=\"$1\"/>" >"$tmp/b.xml"
	timeout 60 "$b/capsule" run --rom "$b/components" "$tmp/b.xml" >"$tmp/b.log" 2>&1
	rc=$?
	why=$(grep -m1 "monitor: restore" "$tmp/b.log")
	if [ $rc = 0 ] || ! grep -qF -- "[init] cr_all exited with 2" "$tmp/b.log" ||
		! grep -qF -- "$2" "$tmp/b.log" ||
		grep -q "^\[cr_all\] count" "$tmp/b.log"; then
		echo "bad_images: FAIL $(basename "$1"): exit $rc, want the monitor's exit 2 and '$2'"
		sed 's/^/  | /' "$tmp/b.log"
		fails=1
	else
		echo "bad_images: PASS $(basename "$1"): $why"
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

node_cfg "<restore image=\"$tmp/good.img\"/>" >"$tmp/b.xml"
timeout 60 "$b/capsule" run --rom "$b/components" "$tmp/b.xml" >"$tmp/b.log" 2>&1 &&
	grep -qF "cr_all: done: 30 signals" "$tmp/b.log" ||
	{ sed 's/^/  | /' "$tmp/b.log"; die "the good image does not restore"; }
echo "bad_images: PASS good.img restores"
exit $fails
