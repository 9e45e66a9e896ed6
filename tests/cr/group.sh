#!/bin/sh
# A group under one monitor at a node with a control socket (issue 12):
# rpc_server and two sleepers as the monitor's <start> nodes.  `capsule
# ps --raw` lists each member's PD labelled "grp -> MEMBER", the
# monitor's status names its members, and `capsule checkpoint` of the
# group takes the group's cut and writes the group image, answered in one
# line that names the members, while every member runs on
# (tests/cr/group_cut.sh: the cut and the image's contents).
b=${1:-build}
cap=$b/capsule
tmp=$(mktemp -d /tmp/capsule-group.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
fail() { echo "group: FAIL: $*"; for f in "$tmp"/*.log "$tmp"/*.out; do [ -f "$f" ] && { echo "--- $f"; sed 's/^/  | /' "$f"; }; done; exit 1; }

cat >"$tmp/node.xml" <<'CFG'
<config>
	<default-route> <any-service> <parent/> </any-service> </default-route>
	<start name="grp" caps="1000">
		<binary name="monitor"/>
		<resource name="RAM" quantum="32M"/>
		<config>
			<start name="server"> <binary name="rpc_server"/>
				<provides> <service name="Calc"/> </provides> </start>
			<start name="one"> <binary name="sleeper"/> </start>
			<start name="two"> <binary name="sleeper"/>
				<route> <service name="Calc"> <child name="server"/> </service>
					<any-service> <parent/> </any-service> </route> </start>
		</config>
	</start>
</config>
CFG
"$cap" node --rom "$b/components" "$tmp/node.xml" --control "$tmp/n.sock" >"$tmp/node.log" 2>&1 &
pid=$!
i=0
until "$cap" ps --raw --node "$tmp/n.sock" >"$tmp/ps.out" 2>/dev/null &&
	[ "$(grep -c 'sleeper: up' "$tmp/node.log")" = 2 ] && grep -q "Calc announced" "$tmp/node.log"; do
	i=$((i + 1)); [ $i -gt 500 ] && fail "the group did not come up"; sleep 0.02
done
"$cap" ps --raw --node "$tmp/n.sock" >"$tmp/ps.out" 2>&1 || fail "ps failed"
for m in server one two; do
	grep -q "^pd \"grp -> $m\"" "$tmp/ps.out" || fail "ps --raw lists no PD of member $m"
done
"$cap" checkpoint --node "$tmp/n.sock" -o "$tmp/g.img" grp >"$tmp/ck.out" 2>&1 ||
	fail "the checkpoint of the group failed"
grep -q "^ok grp $tmp/g.img: members server,one,two, paused" "$tmp/ck.out" ||
	fail "the answer does not name the members"
[ "$(grep -c . "$tmp/ck.out")" = 1 ] || fail "the answer is not one line"
[ -s "$tmp/g.img" ] || fail "no group image was written"
"$cap" ps --raw --node "$tmp/n.sock" >"$tmp/ps2.out" 2>&1 || fail "ps after the checkpoint failed"
for m in server one two; do
	grep -q "^pd \"grp -> $m\"" "$tmp/ps2.out" || fail "member $m is gone after the checkpoint"
done
echo "group: PASS: members listed by ps, checkpoint answered: $(cut -c1-120 "$tmp/ck.out")"
