#!/bin/sh
# A restore runs only the binary the image was taken of.  Node A
# checkpoints cr_all to an image, which records the XXH3-128 of its ELF
# and its GNU build-id (capsule inspect shows both; the build-id is
# checked against readelf).  Node B serves an empty monitor from a ROM
# directory whose "cr_all" is another component's binary (ticker): the
# restore is refused with one line naming the binary and both identities,
# none of the image runs, and `capsule ps` shows the node as it was (every
# live object; only core's never-reused badge counter moved on).  The
# right binary is then put under that name and the same node restores the
# same image, which runs to its end.
b=${1:-build}
cap=$b/capsule
tmp=$(mktemp -d /tmp/capsule-bin.XXXXXX)
pb=
trap '[ -n "$pb" ] && kill $pb 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
fail() { echo "binary_check: FAIL: $*"; for f in "$tmp"/*.log; do case $f in *json.log) continue ;; esac; echo "--- $f"; sed 's/^/  | /' "$f"; done; exit 1; }
wait_for() { # file text seconds
	i=0
	while ! grep -qF -- "$2" "$1" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt $(($3 * 100)) ] && return 1; sleep 0.01
	done
}
build_id() { readelf -n "$1" | sed -n 's/^ *Build ID: *\([0-9a-f]*\)$/\1/p'; }

. tests/cr/monitor_node.sh
monitor_node cr_all "<target binary=\"cr_all\" ram=\"2M\" caps=\"200\"/>
	<test checkpoint_after_ms=\"40\" image=\"$tmp/a.img\" then=\"exit\"/>" >"$tmp/a.xml"
timeout -k 10 60 "$cap" run --rom "$b/components" "$tmp/a.xml" >"$tmp/a.log" 2>&1 ||
	fail "node A exited with $?"

# the image names the binary it was taken of
"$cap" inspect "$tmp/a.img" >"$tmp/inspect.log" 2>&1 || fail "inspect failed"
"$cap" inspect --json "$tmp/a.img" >"$tmp/json.log" 2>&1 || fail "inspect --json failed"
hash=$(sed -n 's/^  binary_xxh3_128: "\([0-9a-f]*\)"$/\1/p' "$tmp/inspect.log")
bid=$(sed -n 's/^  build_id: "\([0-9a-f]*\)"$/\1/p' "$tmp/inspect.log")
want_bid=$(build_id "$b/components/cr_all")
other_bid=$(build_id "$b/components/ticker")
[ ${#hash} = 32 ] || fail "inspect shows no 128-bit hash: '$hash'"
[ -n "$want_bid" ] && [ "$bid" = "$want_bid" ] ||
	fail "inspect's build-id '$bid' is not cr_all's '$want_bid'"
grep -qF "\"binary_xxh3_128\": \"$hash\"" "$tmp/json.log" || fail "--json lacks the hash"
grep -qF "\"build_id\": \"$bid\"" "$tmp/json.log" || fail "--json lacks the build-id"
[ "$other_bid" != "$want_bid" ] || fail "ticker and cr_all have one build-id"

# node B: a ROM directory whose cr_all is ticker
mkdir "$tmp/rom"
cp "$b"/components/* "$tmp/rom/"
cp "$b/components/ticker" "$tmp/rom/cr_all"
"$cap" node --rom "$tmp/rom" examples/demo-b.xml --control "$tmp/b.sock" >"$tmp/b.log" 2>&1 &
pb=$!
i=0
# until B is up and settled: two answers 0.2 s apart are the same
until "$cap" ps --raw --node "$tmp/b.sock" >"$tmp/ps-before.out" 2>/dev/null &&
	grep -q "cr_all" "$tmp/ps-before.out" && sleep 0.2 &&
	"$cap" ps --raw --node "$tmp/b.sock" >"$tmp/ps-again.out" 2>/dev/null &&
	cmp -s "$tmp/ps-before.out" "$tmp/ps-again.out"; do
	i=$((i + 1)); [ $i -gt 100 ] && fail "node B does not answer ps"; sleep 0.02
done
"$cap" restore --node "$tmp/b.sock" "$tmp/a.img" >"$tmp/restore1.log" 2>&1 &&
	fail "the restore with another binary under the name succeeded"
wait_for "$tmp/b.log" "monitor: restore refused" 10 || fail "B logs no refusal"
why=$(grep "monitor: restore refused" "$tmp/b.log")
[ "$(echo "$why" | wc -l)" = 1 ] || fail "more than one refusal line"
echo "$why" | grep -qF "binary 'cr_all' differs: the image's is xxh3-128 $hash build-id $want_bid, this node's is xxh3-128 " ||
	fail "the refusal does not name the binary and the image's identity: $why"
echo "$why" | grep -qF "build-id $other_bid" || fail "the refusal does not name this node's build-id"
grep -q "^\[cr_all\] count\|monitor: restoring" "$tmp/b.log" && fail "B ran some of the image"
"$cap" ps --raw --node "$tmp/b.sock" >"$tmp/ps-after.out" 2>&1 || fail "B stopped answering"
# the check opened and closed one ROM session: core's badge counter
# (never reused) moved on, every live object is as before
for f in before after; do
	sed 's/badges allocated [0-9]*, //' "$tmp/ps-$f.out" >"$tmp/ps-$f.cmp"
done
cmp -s "$tmp/ps-before.cmp" "$tmp/ps-after.cmp" ||
	fail "ps differs after the refusal: $(diff "$tmp/ps-before.out" "$tmp/ps-after.out")"
echo "binary_check: PASS refused: ${why#*refused: }"

# the right binary under the name: the same node restores the same image
cp "$b/components/cr_all" "$tmp/rom/cr_all"
"$cap" restore --node "$tmp/b.sock" "$tmp/a.img" >"$tmp/restore2.log" 2>&1 ||
	fail "the restore with the right binary failed: $(cat "$tmp/restore2.log")"
wait_for "$tmp/b.log" "[init] cr_all exited" 30 || fail "B's restored target did not finish"
for line in "monitor: restored: " "cr_all: done: 30 signals, heap intact" \
	"[cr_all] oneshot fired" "[init] cr_all exited with 0"; do
	grep -qF -- "$line" "$tmp/b.log" || fail "B: missing: $line"
done
echo "binary_check: PASS the matching binary restores on the same node"
