#!/bin/sh
# The consistent cut and image of a group (issue 12, docs/cr.md "Groups"): a
# monitor whose <config> holds soak_server and three soak_clients (each
# client sends numbered calls to the server and signals to the server's
# signal context, which it got in a reply; the server sends signals to the
# clients' contexts, which it got in calls) is cut CUTS times with
# `capsule checkpoint` while they run.  Each cut pauses all four, settles
# the calls between them, classifies every member's caps and writes the
# group image: the answer names the members and the caps between them
# (sessions, both ways' signal contexts), the log lists each, and the
# members run on.  `capsule inspect` of the last image shows a record per
# cap between members; restores of a corrupt and a truncated copy are
# refused in one line, and the restore of the image itself fails in one
# line (this group's cap quota cannot hold its members twice, as a restore
# builds the new ones beside the old: tests/cr/group_restore.sh restores
# one), while the members run on.  The server counts a
# call only if it carries its client's next number, so a call lost or
# done twice by a cut is a sequence error: at the end every client and
# the server must report exact counts and every signal arrived.
#
# Then a group whose members are soak_clients of a soak_server outside
# the group: the signal context each got in a reply through that session
# is no object of the group, so the checkpoint is refused with one line
# naming the member, the kcap, the badge and the session, and the group
# runs on to its end.
b=${1:-build}
cap=$b/capsule
CUTS=${CUTS:-10}
case "$b" in *san*) secs=14 ;; *) secs=8 ;; esac
tmp=$(mktemp -d /tmp/capsule-group-cut.XXXXXX) || exit 1
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
fail() {
	echo "group_cut: FAIL: $*"
	for f in "$tmp"/*.log "$tmp"/*.out; do
		[ -f "$f" ] && { echo "--- $f"; tail -30 "$f" | sed 's/^/  | /'; }
	done
	exit 1
}

route() { echo "<route> <service name=\"Soak\"> $1 </service> <any-service> <parent/> </any-service> </route>"; }
member() { echo "<start name=\"$1\" caps=\"100\"> <binary name=\"soak_client\"/> <resource name=\"RAM\" quantum=\"2M\"/> $2 </start>"; }

# start CONFIG [N]: a node running it, up when N (3) clients send (with
# $rom1 set, that ROM directory comes first)
start() {
	"$cap" node ${rom1:+--rom "$rom1"} --rom "$b/components" --rom "$tmp/rom" "$1" \
		--control "$tmp/n.sock" \
		>"$tmp/node.log" 2>&1 &
	pid=$!
	i=0
	until [ "$(grep -c 'soak_client: sending for' "$tmp/node.log" 2>/dev/null)" = "${2:-3}" ]; do
		i=$((i + 1))
		[ $i -lt 600 ] && kill -0 $pid 2>/dev/null || fail "the clients did not start"
		sleep 0.05
	done
}

# stop: the node ends (SIGTERM); the sanitizer build reports nothing
stop() {
	kill $pid; wait $pid 2>/dev/null; pid=
	! grep -q "Sanitizer\|runtime error" "$tmp/node.log" || fail "the sanitizers report"
}

# finish: init's children end with 0 (the node serves its control
# socket on), every client and the server exact
finish() {
	i=0
	until grep -q "all of init's children have ended" "$tmp/node.log"; do
		i=$((i + 1))
		[ $i -lt 1200 ] && kill -0 $pid 2>/dev/null || fail "the group did not end"
		sleep 0.1
	done
	grep -q "all of init's children have ended (result 0)" "$tmp/node.log" ||
		fail "a component failed"
	stop
	[ "$(grep -c 'soak_client: .*: ok$' "$tmp/node.log")" = 3 ] ||
		fail "a client's counts are not exact"
	grep -q "soak_server: total: 3 clients, .*: ok$" "$tmp/node.log" ||
		fail "the server's counts are not exact"
}

mkdir "$tmp/rom"
echo "$secs 3 none" >"$tmp/rom/soak.cfg"
cat >"$tmp/group.xml" <<CFG
<config>
	<default-route> <any-service> <parent/> </any-service> </default-route>
	<start name="grp" caps="1000">
		<binary name="monitor"/>
		<resource name="RAM" quantum="32M"/>
		<config>
			<start name="server" caps="400"> <binary name="soak_server"/>
				<resource name="RAM" quantum="4M"/>
				<provides> <service name="Soak"/> </provides> </start>
			$(member c1 "$(route '<child name="server"/>')")
			$(member c2 "$(route '<child name="server"/>')")
			$(member c3 "$(route '<child name="server"/>')")
		</config>
	</start>
</config>
CFG
start "$tmp/group.xml"
n=0
while [ $n -lt "$CUTS" ]; do
	rm -f "$tmp/g.img"
	"$cap" checkpoint --node "$tmp/n.sock" -o "$tmp/g.img" grp >"$tmp/ck.out" 2>&1 ||
		fail "cut $n: $(cat "$tmp/ck.out")"
	grep -q "^ok grp $tmp/g.img: members server,c1,c2,c3, paused [0-9.]* ms, " "$tmp/ck.out" ||
		fail "cut $n: $(cat "$tmp/ck.out")"
	[ "$(grep -c . "$tmp/ck.out")" = 1 ] || fail "cut $n: the answer is not one line"
	[ -s "$tmp/g.img" ] || fail "cut $n: no group image written"
	caps=$(sed -n 's/.*, \([0-9]*\) caps between members.*/\1/p' "$tmp/ck.out")
	# each client: its session and the server's context; the server:
	# each client's context
	[ "${caps:-0}" -ge 9 ] || fail "cut $n: $caps caps between members, not at least 9"
	n=$((n + 1))
	sleep 0.2
done
# an incremental checkpoint of a group: refused in one line
"$cap" checkpoint --node "$tmp/n.sock" --parent "$tmp/g.img" -o "$tmp/i.img" grp >"$tmp/ck.out" 2>&1 &&
	fail "checkpoint --parent of a group was not refused"
[ "$(grep -c . "$tmp/ck.out")" = 1 ] && [ ! -e "$tmp/i.img" ] &&
	grep -q "error: grp: a group image is always full: --parent is not supported for a group" \
		"$tmp/ck.out" || fail "checkpoint --parent: $(cat "$tmp/ck.out")"

# restores refused in one line while the members run on: a byte of the
# table changed, the file cut short, and the image itself (the group's
# quota does not hold its members twice: the first new one fails, all
# is undone)
size=$(wc -c <"$tmp/g.img")
cp "$tmp/g.img" "$tmp/bad.img"
printf 'X' | dd of="$tmp/bad.img" bs=1 seek=170 conv=notrunc 2>/dev/null
head -c $((size - 1)) "$tmp/g.img" >"$tmp/short.img"
for img in bad short g; do
	"$cap" restore --node "$tmp/n.sock" "$tmp/$img.img" grp >"$tmp/rs.out" 2>&1 &&
		fail "the restore of $img.img was not refused"
	[ "$(grep -c . "$tmp/rs.out")" = 1 ] || fail "$img.img: the refusal is not one line"
	case $img in
	bad) want="restore refused: group image $tmp/bad.img: table checksum mismatch" ;;
	short) want="restore refused: group image $tmp/short.img: member 'c3': image at" ;;
	g) want="restore failed: member 'server': restore failed: cannot open its sessions: cap quota exceeded: 400 caps asked, " ;;
	esac
	grep -qF "$want" "$tmp/rs.out" || fail "$img.img: $(cat "$tmp/rs.out")"
done
for m in c1 c2 c3; do
	grep -q "monitor: group: '$m' kcap 0x[0-9a-f]* badge 0x[0-9a-f]* -> 'server' served object" \
		"$tmp/node.log" || fail "no session of $m at the server listed"
	grep -q "monitor: group: '$m' kcap .* -> 'server' signal context" "$tmp/node.log" ||
		fail "the server's signal context held by $m is not listed"
	grep -q "monitor: group: 'server' kcap .* -> '$m' signal context" "$tmp/node.log" ||
		fail "the context of $m held by the server is not listed"
done
[ "$(grep -c 'monitor: group image: 4 members paused together' "$tmp/node.log")" = "$CUTS" ] ||
	fail "not $CUTS group images logged"

# the last cut's image: its members and a record per cap between them
"$cap" inspect "$tmp/g.img" >"$tmp/inspect.out" 2>&1 || fail "inspect: $(head -1 "$tmp/inspect.out")"
grep -q "^group: name=grp .* members=4 refs=$caps$" "$tmp/inspect.out" ||
	fail "inspect: no group header of 4 members and $caps refs"
for m in c1 c2 c3; do
	grep -q "^ref [0-9]*: holder=$m kcap=0x[0-9a-f]* badge=0x[0-9a-f]* -> owner=server kind=\"rpc object\" object=0x" \
		"$tmp/inspect.out" || fail "inspect: no record of $m's session at the server"
	grep -q "^ref [0-9]*: holder=$m .* -> owner=server kind=\"signal context\"" "$tmp/inspect.out" ||
		fail "inspect: no record of the server's context held by $m"
	grep -q "^ref [0-9]*: holder=server .* -> owner=$m kind=\"signal context\"" "$tmp/inspect.out" ||
		fail "inspect: no record of $m's context held by the server"
	grep -q "^=== member $m$" "$tmp/inspect.out" || fail "inspect: no image of $m"
done
"$cap" inspect --json "$tmp/g.img" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert [m["name"] for m in d["members"]] == ["server", "c1", "c2", "c3"]
assert len(d["images"]) == 4 and len(d["refs"]) == int(sys.argv[1])
assert sum(c["class"] == "member object" for i in d["images"] for c in i["caps"]) == len(d["refs"])
' "$caps" || fail "inspect --json: not the group's members, images and refs"

finish
cp "$tmp/node.log" "$tmp/cut.log"

# a fresh node running the same group, whose soak_server is another file
# (one byte more): the restore checks each member's image against what
# this node can recreate and refuses, naming the member and the binary
mkdir "$tmp/rom1"
cp "$b/components/soak_server" "$tmp/rom1/" && printf 'x' >>"$tmp/rom1/soak_server"
rm -f "$tmp/node.log"
rom1=$tmp/rom1 start "$tmp/group.xml"
"$cap" restore --node "$tmp/n.sock" "$tmp/g.img" grp >"$tmp/rs.out" 2>&1 &&
	fail "the restore with another soak_server was not refused"
[ "$(grep -c . "$tmp/rs.out")" = 1 ] || fail "the binary refusal is not one line"
grep -q "restore refused: member 'server': binary 'soak_server' differs: the image's is xxh3-128 " \
	"$tmp/rs.out" || fail "fresh node: $(cat "$tmp/rs.out")"
stop
figures=$(grep "group image: 4 members" "$tmp/cut.log" | tail -1 | sed 's/.*together //; s/ written to.*//')

# a member that is a client of a server outside the group (and a sleeper
# beside it): the server's context it got in a reply is no group object
echo "$secs 1 none" >"$tmp/rom/soak.cfg"
cat >"$tmp/outside.xml" <<CFG
<config>
	<default-route> <any-service> <parent/> </any-service> </default-route>
	<start name="server" caps="400"> <binary name="soak_server"/>
		<resource name="RAM" quantum="4M"/>
		<provides> <service name="Soak"/> </provides> </start>
	<start name="grp" caps="1000">
		<binary name="monitor"/>
		<resource name="RAM" quantum="32M"/>
		<route> <service name="Soak"> <child name="server"/> </service>
			<any-service> <parent/> </any-service> </route>
		<config>
			$(member c1 "")
			<start name="idle"> <binary name="sleeper"/> </start>
		</config>
	</start>
</config>
CFG
rm -f "$tmp/node.log"
start "$tmp/outside.xml" 1
"$cap" checkpoint --node "$tmp/n.sock" -o "$tmp/o.img" grp >"$tmp/refused.out" 2>&1 &&
	fail "the checkpoint of a group holding a cap from outside was not refused"
grep -q "checkpoint: member 'c1': kcap 0x[0-9a-f]* badge 0x[0-9a-f]* is no object of the group: it came through a session routed outside the group: Soak (badge 0x[0-9a-f]*)$" \
	"$tmp/refused.out" || fail "the refusal does not name member, kcap, badge and session"
[ "$(grep -c . "$tmp/refused.out")" = 1 ] || fail "the refusal is not one line"
[ ! -e "$tmp/o.img" ] || fail "an image was written"
i=0
until grep -q "soak_server: total:" "$tmp/node.log"; do
	i=$((i + 1))
	[ $i -lt 1200 ] && kill -0 $pid 2>/dev/null || fail "the outside server did not end"
	sleep 0.1
done
grep -q "soak_client: .*: ok$" "$tmp/node.log" || fail "the member's counts are not exact"
grep -q "soak_server: total: 1 clients, .*: ok$" "$tmp/node.log" ||
	fail "the outside server's counts are not exact"
stop
echo "group_cut: PASS: $CUTS group images of 4 members while they ran ($figures), counts exact;" \
	"refused: $(sed 's/^error: //' "$tmp/refused.out" | cut -c1-150)"
