#!/bin/sh
# zdtm-style checkpoint/restore harness (after CRIU's zdtm): each test
# target runs (1) uninterrupted under a monitor, (2) under a monitor that
# checkpoints it after MS ms to an image file and stops it (node A), the
# image then restored in a fresh node (node B).  The target's own lines
# ("[NAME] ..." without the monitor's) of A followed by B must equal the
# uninterrupted run's, in order; lines matching the test's UNORDERED
# pattern (timer-driven, so their position among the others depends on
# time) are left out of the order and only required to appear in B too.
b=${1:-build}
tmp=$(mktemp -d /tmp/capsule-zdtm.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0

. tests/cr/monitor_node.sh
cfg() { monitor_node "$1" "$2"; } # NAME MONITOR-CONFIG
run() { timeout 60 "$b/capsule" run --rom "$b/components" "$1" >"$2" 2>&1; }
own() { grep "^\[$1\] " "$2" | grep -v "^\[$1\] monitor: " | grep -Ev "${3:-^$}"; }

# name  binary  checkpoint-ms  unordered-pattern
while read -r name bin ms unordered; do
	[ -n "$name" ] || continue
	target="<target binary=\"$bin\" ram=\"2M\" caps=\"200\"/>"
	cfg "$name" "$target" >"$tmp/plain.xml"
	cfg "$name" "$target <test checkpoint_after_ms=\"$ms\" image=\"$tmp/$name.img\" then=\"exit\"/>" >"$tmp/a.xml"
	cfg "$name" "<restore image=\"$tmp/$name.img\"/>" >"$tmp/b.xml"
	ok=1
	run "$tmp/plain.xml" "$tmp/plain.log" || { echo "zdtm $name: plain run failed"; ok=0; }
	run "$tmp/a.xml" "$tmp/a.log" && [ -s "$tmp/$name.img" ] ||
		{ echo "zdtm $name: no checkpoint"; ok=0; }
	[ $ok = 1 ] && { run "$tmp/b.xml" "$tmp/b.log" || { echo "zdtm $name: restore run failed"; ok=0; }; }
	if [ $ok = 1 ]; then
		own "$name" "$tmp/plain.log" "$unordered" >"$tmp/want"
		{ own "$name" "$tmp/a.log" "$unordered"; own "$name" "$tmp/b.log" "$unordered"; } >"$tmp/got"
		diff "$tmp/want" "$tmp/got" >"$tmp/diff" || { echo "zdtm $name: output differs"; cat "$tmp/diff"; ok=0; }
		if [ "$unordered" != "^$" ] && ! grep -Eq "$unordered" "$tmp/b.log"; then
			echo "zdtm $name: no '$unordered' line after the restore"; ok=0
		fi
	fi
	if [ $ok = 1 ]; then
		echo "zdtm: PASS $name (checkpoint at $ms ms, $(wc -l <"$tmp/want") lines)"
	else
		echo "zdtm: FAIL $name"; fail=1
		for f in plain a b; do echo "--- $f"; sed 's/^/  | /' "$tmp/$f.log" 2>/dev/null | tail -25; done
	fi
done <<'TESTS'
cr_counter cr_counter 40 ^$
ticker ticker 50 ^$
cr_all cr_all 60 (tick|oneshot)
cr_rm cr_rm 90 ^$
TESTS
exit $fail
