#!/bin/sh
# Incremental checkpoints through the CLI: node A's counter is
# checkpointed to base.img, then --parent base.img -> d1.img, then
# --parent d1.img --stop -> d2.img; node B restores d2.img (following
# the chain) and counts on from A's last count, none lost or repeated.
# Refused: a parent that is not the last checkpoint, a restore whose
# chain lacks d1.img (one line naming the file, B unchanged).
b=${1:-build}
. tests/harness.sh
harness_begin incremental
start_node() {
	"$cap" node --rom "$b/components" "$2" --control "$tmp/$1.sock" >"$tmp/$1.log" 2>&1 &
	pids="$pids $!"
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
wait_count() {
	i=0
	while [ $i -lt 100 ]; do
		[ "$(last_count "$1")" ] && [ "$(last_count "$1")" -ge "$2" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

start_node A examples/counter-node.xml
wait_count "$tmp/A.log" 2 || die "A does not count"
"$cap" checkpoint --node "$tmp/A.sock" counter -o "$tmp/base.img" >/dev/null ||
	die "full checkpoint failed"
wait_count "$tmp/A.log" $(($(last_count "$tmp/A.log") + 2)) || die "A stopped after base"
"$cap" checkpoint --node "$tmp/A.sock" counter --parent "$tmp/base.img" -o "$tmp/d1.img" \
	>/dev/null || die "incremental checkpoint d1 failed"
wait_count "$tmp/A.log" $(($(last_count "$tmp/A.log") + 2)) || die "A stopped after d1"
# base.img is no longer the last checkpoint: its dirty set is gone
"$cap" checkpoint --node "$tmp/A.sock" counter --parent "$tmp/base.img" -o "$tmp/x.img" \
	>"$tmp/out" 2>"$tmp/err"
[ $? = 1 ] && [ ! -e "$tmp/x.img" ] &&
	grep -q "checkpoint refused: parent $tmp/base.img is image .*last checkpoint" "$tmp/A.log" &&
	ok "a parent other than the last checkpoint refused: $(cat "$tmp/err")" ||
	bad "stale parent: $(cat "$tmp/err" "$tmp/out")"
"$cap" checkpoint --node "$tmp/A.sock" counter --parent "$tmp/d1.img" -o "$tmp/d2.img" \
	--stop >/dev/null || die "incremental checkpoint d2 --stop failed"
sleep 0.6
last=$(last_count "$tmp/A.log")
grep -q "monitor: target stopped after its image was written" "$tmp/A.log" &&
	[ "$(counts "$tmp/A.log" | wc -l)" = "$last" ] || bad "--stop: A did not stop"
s0=$(stat -c %s "$tmp/base.img") s1=$(stat -c %s "$tmp/d1.img") s2=$(stat -c %s "$tmp/d2.img")
[ "$s1" -lt "$s0" ] && [ "$s2" -lt "$s0" ] &&
	"$cap" inspect "$tmp/d2.img" | grep -q 'kind: "incremental"' &&
	"$cap" inspect "$tmp/d2.img" | grep -q "path: \"$tmp/d1.img\"" &&
	ok "images: base $s0 bytes, d1 $s1, d2 $s2 (incremental, parent d1.img)" ||
	bad "image sizes or kinds: $s0 $s1 $s2"

start_node B examples/empty-node.xml
mv "$tmp/d1.img" "$tmp/d1.moved"
"$cap" restore --node "$tmp/B.sock" "$tmp/d2.img" >"$tmp/out" 2>"$tmp/err"
[ $? = 1 ] && grep -q "restore refused: image $tmp/d2.img: its parent $tmp/d1.img is missing" \
	"$tmp/B.log" && [ -z "$(counts "$tmp/B.log")" ] &&
	ok "a chain without d1.img refused: $(grep -m1 'restore refused' "$tmp/B.log")" ||
	bad "missing parent: $(cat "$tmp/err")"
mv "$tmp/d1.moved" "$tmp/d1.img"
"$cap" restore --node "$tmp/B.sock" "$tmp/d2.img" >/dev/null 2>"$tmp/err" ||
	die "restore of the chain: $(cat "$tmp/err")"
wait_count "$tmp/B.log" $((last + 3)) || die "B does not count on from $last"
[ "$(counts "$tmp/B.log" | head -n 1)" = $((last + 1)) ] &&
	ok "the chain base <- d1 <- d2 restores on B: counts on from $((last + 1))" ||
	bad "B starts at $(counts "$tmp/B.log" | head -n 1), A stopped at $last"
exit $fail
