#!/bin/sh
# The restore of a group image (issue 12 part 4, docs/cr.md "Groups"): a
# monitor whose <config> holds soak_server and three soak_clients (each
# client sends numbered calls to the server and signals to the server's
# context, which it got in a reply; the server signals the clients'
# contexts, which it got in calls) is checkpointed into a group image
# while it runs, and the running members are then replaced by the
# image's, all of them or none:
#
# - the first restore fails at point NTH (100) of the group's (the test
#   build's <test fail_restore_nth>, counted across the members): in the
#   build of a client, with the server and a client built; the second at
#   the server's verify (<test fail_restore_at>, once for a group), with
#   every member built and every cap between members mapped.  Each is one
#   line naming the member; the node's object counts (`capsule ps --raw`)
#   are as before, and the members run on (none starts again);
# - the same image then restores: the members go on from the image (no
#   client starts again, the counts continue from the checkpointed ones);
# - a checkpoint of the restored members and the restore of that image
#   work the same way, and that image restores on a fresh node running
#   the same group too (its members replaced by the image's, which go on
#   there);
# - a group of cb_client and cb_server (the client's numbered calls, each
#   followed by the server's call to the client's callback object, which
#   the server holds as a proxy in the client's monitor) is checkpointed
#   and restored twice mid-run on a node of its own;
# - at the end every client and the server report exact counts: a call
#   lost or done twice is a sequence error, and every signal both ways
#   must have arrived.
b=${1:-build}
cap=$b/capsule-test # the fault injection is compiled into the test build only
case "$b" in *san*) secs=9 ;; *) secs=5 ;; esac
NTH=${NTH:-100}
tmp=$(mktemp -d /tmp/capsule-group-restore.XXXXXX) || exit 1
pid= fpid= cpid=
trap 'kill $pid $fpid $cpid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
fail() {
	echo "group_restore: FAIL: $*"
	for f in "$tmp"/*.log "$tmp"/*.out; do
		[ -f "$f" ] && { echo "--- $f"; tail -30 "$f" | sed 's/^/  | /'; }
	done
	exit 1
}

. tests/cr/soak_group.sh
# The group, its first restore failing at point $NTH and its next at
# the first member's verify.  Its quotas hold the members twice: the new
# ones are built beside the old.
config() { soak_group "" '<test fail_restore_nth="'"$NTH"'" fail_restore_at="verify"/>'; }

# counts: core's kernel line without the badges ever allocated
counts() { "$cap" ps --raw --node "$tmp/n.sock" 2>/dev/null | sed -n 's/^kernel: \(.*\); badges allocated [0-9]*, \(live [0-9]*\)$/\1; \2/p'; }
sending() { grep -c 'soak_client: sending for' "$tmp/${1:-node}.log" 2>/dev/null; }

# node CONFIG: a node running it, up when the 3 clients send
node() {
	"$cap" node --rom "$b/components" --rom "$tmp/rom" "$1" --control "$tmp/n.sock" \
		>"$tmp/node.log" 2>&1 &
	pid=$!
	i=0
	until [ "$(sending)" = 3 ]; do
		i=$((i + 1))
		[ $i -lt 600 ] && kill -0 $pid 2>/dev/null || fail "the clients did not start"
		sleep 0.05
	done
}

# checkpoint IMG: a group image of the running members
checkpoint() {
	"$cap" checkpoint --node "$tmp/n.sock" -o "$tmp/$1" grp >"$tmp/ck.out" 2>&1 &&
		grep -q "^ok grp $tmp/$1: members server,c1,c2,c3, paused .* 9 caps between members" \
			"$tmp/ck.out" || fail "checkpoint $1: $(cat "$tmp/ck.out")"
}

# restore IMG: all four members restored from it, in one line
restore() {
	"$cap" restore --node "$tmp/n.sock" "$tmp/$1" grp >"$tmp/rs.out" 2>&1 ||
		fail "restore $1: $(cat "$tmp/rs.out")"
	[ "$(grep -c . "$tmp/rs.out")" = 1 ] &&
		grep -q "^ok grp $tmp/$1: members 4 restored, 9 caps between members, [0-9.]* ms" \
			"$tmp/rs.out" || fail "restore $1: $(cat "$tmp/rs.out")"
}

mkdir "$tmp/rom"
echo "$secs 3 none" >"$tmp/rom/soak.cfg"

# a group with a callback, on a node of its own: restored twice mid-run
cat >"$tmp/cb.xml" <<CFG
<config>
	<default-route> <any-service> <parent/> </any-service> </default-route>
	<start name="cb" caps="1000">
		<binary name="monitor"/>
		<resource name="RAM" quantum="32M"/>
		<config>
			<start name="server" caps="200"> <binary name="cb_server"/>
				<resource name="RAM" quantum="2M"/>
				<provides> <service name="Calc"/> </provides> </start>
			<start name="client" caps="200"> <binary name="cb_client"/>
				<resource name="RAM" quantum="2M"/>
				<route> <service name="Calc"> <child name="server"/> </service>
					<any-service> <parent/> </any-service> </route> </start>
		</config>
	</start>
</config>
CFG
"$cap" node --rom "$b/components" "$tmp/cb.xml" --control "$tmp/c.sock" >"$tmp/cb.log" 2>&1 &
cpid=$!
i=0
until grep -q "cb_client: calling" "$tmp/cb.log" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 600 ] && kill -0 $cpid 2>/dev/null || fail "cb: the client did not start"
	sleep 0.05
done
for n in 1 2; do
	sleep 0.2
	"$cap" checkpoint --force --node "$tmp/c.sock" -o "$tmp/cb.img" cb >"$tmp/ck.out" 2>&1 &&
		grep -q "^ok cb $tmp/cb.img: members server,client, .* 2 caps between members" \
			"$tmp/ck.out" || fail "cb: checkpoint $n: $(cat "$tmp/ck.out")"
	"$cap" restore --node "$tmp/c.sock" "$tmp/cb.img" cb >"$tmp/rs.out" 2>&1 &&
		grep -q "^ok cb $tmp/cb.img: members 2 restored, 2 caps between members" \
			"$tmp/rs.out" || fail "cb: restore $n: $(cat "$tmp/rs.out")"
done
"$cap" restore --lazy --node "$tmp/c.sock" "$tmp/cb.img" cb >"$tmp/rs.out" 2>&1 &&
	fail "cb: a lazy restore of a group was not refused"
[ "$(grep -c . "$tmp/rs.out")" = 1 ] &&
	grep -q "^error: cb: a group's restore .*: --lazy is not supported for a group$" \
		"$tmp/rs.out" || fail "cb: restore --lazy: $(cat "$tmp/rs.out")"
grep -q "cb_client: calls" "$tmp/cb.log" && fail "cb: the client ended before its restores"
grep -q "monitor: group: 'server' kcap 0x[0-9a-f]* badge 0x[0-9a-f]* -> 'client' served object" \
	"$tmp/cb.log" || fail "cb: no callback held by the server listed"

config >"$tmp/group.xml"
node "$tmp/group.xml"
# a fresh node running the same group (no test hooks), for g2.img below
config | grep -v fail_restore >"$tmp/fresh.xml"
"$cap" node --rom "$b/components" --rom "$tmp/rom" "$tmp/fresh.xml" --control "$tmp/f.sock" \
	>"$tmp/fresh.log" 2>&1 &
fpid=$!
sleep 0.2
checkpoint g1.img
sleep 0.2
before=$(counts)
[ -n "$before" ] || fail "no counts from capsule ps --raw"

# failed KIND WANT: a restore of g1.img fails with the line WANT; the
# node's counts are as before, no client started again
failed() {
	[ "$(grep -c 'soak_client: sent' "$tmp/node.log")" = 0 ] ||
		fail "$1: a client ended before (soak.cfg's $secs s too short for this load)"
	"$cap" restore --node "$tmp/n.sock" "$tmp/g1.img" grp >"$tmp/rs.out" 2>&1 &&
		fail "$1: the restore did not fail"
	[ "$(grep -c . "$tmp/rs.out")" = 1 ] || fail "$1: not one line: $(cat "$tmp/rs.out")"
	grep -q "^error: grp: restore failed: $2: nothing of it is left, the members run on unchanged$" \
		"$tmp/rs.out" || fail "$1: $(cat "$tmp/rs.out")"
	after=$(counts)
	[ "$after" = "$before" ] || fail "$1: counts before '$before', after '$after'"
	[ "$(sending)" = 3 ] || fail "$1: a client started again"
}
failed "point $NTH" "member 'c[123]': restore failed: .*"
grep -q "monitor: restore: failing at point $NTH (" "$tmp/node.log" || fail "point $NTH not reached"
at=$(sed -n "s/.*failing at point $NTH (\(.*\)) (test hook).*/\1/p" "$tmp/node.log")
who=$(sed 's/^error: grp: restore failed: member .\([a-z0-9]*\).*/\1/' "$tmp/rs.out")
failed "verify" "member 'server': restore failed: verify: Operation canceled"
grep -q "monitor: group: .* caps between members mapped" "$tmp/node.log" ||
	fail "the verify failure came before the caps between members were mapped"
sent0=$(grep -c 'soak_client: sent' "$tmp/node.log")

# the members ran on; the same image restores now, and a checkpoint of
# the restored members restores too
restore g1.img
grep -q "monitor: group restore: 4 members, 9 caps between members" "$tmp/node.log" ||
	fail "no group restore logged"
sleep 0.3
checkpoint g2.img
sleep 0.2
restore g2.img
figures=$(grep "monitor: group restore: 4 members" "$tmp/node.log" | tail -1 | sed 's/.*passed: //')

# the fresh node (started with the first) restores g2.img
i=0
until [ "$(sending fresh)" = 3 ]; do
	i=$((i + 1))
	[ $i -lt 600 ] && kill -0 $fpid 2>/dev/null || fail "the fresh node's clients did not start"
	sleep 0.05
done
"$cap" restore --node "$tmp/f.sock" "$tmp/g2.img" grp >"$tmp/frs.out" 2>&1 &&
	grep -q "^ok grp $tmp/g2.img: members 4 restored, 9 caps between members" "$tmp/frs.out" ||
	fail "restore on a fresh node: $(cat "$tmp/frs.out")"

# ended LOG PID: that node's group ended, every member exact, no client
# started again (each went on from its image)
ended() {
	i=0
	until grep -q "all of init's children have ended" "$tmp/$1.log"; do
		i=$((i + 1))
		[ $i -lt 600 ] && kill -0 $2 2>/dev/null || fail "$1: the group did not end"
		sleep 0.1
	done
	grep -q "all of init's children have ended (result 0)" "$tmp/$1.log" ||
		fail "$1: a member failed"
	kill $2; wait $2 2>/dev/null
	! grep -q "Sanitizer\|runtime error" "$tmp/$1.log" || fail "$1: the sanitizers report"
	[ "$(sending $1)" = 3 ] || fail "$1: a client started again instead of going on from its image"
	[ "$(grep -c 'soak_client: .*: ok$' "$tmp/$1.log")" = 3 ] ||
		fail "$1: a client's counts are not exact"
	grep -q "soak_server: total: 3 clients, .*sequence errors 0, .*: ok$" "$tmp/$1.log" ||
		fail "$1: the server's counts are not exact"
}
ended node $pid
pid=
ended fresh $fpid
fpid=
i=0
until grep -q "all of init's children have ended" "$tmp/cb.log"; do
	i=$((i + 1))
	[ $i -lt 600 ] && kill -0 $cpid 2>/dev/null || fail "cb: the group did not end"
	sleep 0.1
done
kill $cpid; wait $cpid 2>/dev/null; cpid=
grep -q "all of init's children have ended (result 0)" "$tmp/cb.log" &&
	grep -q "cb_server: calls 1500, callbacks 1500, errors 0: ok" "$tmp/cb.log" &&
	grep -q "cb_client: calls 1500, callbacks 1500, errors 0: ok" "$tmp/cb.log" ||
	fail "cb: the calls and callbacks are not exact"
! grep -q "Sanitizer\|runtime error" "$tmp/cb.log" || fail "cb: the sanitizers report"
[ "$sent0" = 0 ] || fail "a client had ended before the restores (soak.cfg too short)"
echo "group_restore: PASS: failures at point $NTH ($at of $who) and at the server's verify" \
	"undid all 4 members (counts as before, they ran on); 2 group restores mid-run" \
	"and one on a fresh node, counts exact at the end; a callback group restored twice" \
	"(last: $figures)"
