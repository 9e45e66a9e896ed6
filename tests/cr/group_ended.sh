#!/bin/sh
# A group one of whose members has ended (docs/cr.md "Groups"): hello
# (logs a line and exits 0) beside soak_server and three soak_clients.
# Once hello has ended and the clients send, `capsule checkpoint` of the
# group cuts the four that run and records hello as ended with its exit
# code (`capsule inspect` shows it, with no image); the image restores
# over the running members on the same node and on a fresh node whose
# group waits for a restore: hello stays ended (it never logs again), the
# others go on, and at the end each group reports every member's exit,
# hello's 0 included, the clients and the server exact counts.  An image
# of a member that ended does not restore into a group where that member
# has another binary (the ended member's name and binary are checked as
# a running one's are).  `capsule checkpoint --stop` of the group ends
# the members at the image; on a fresh node they go on from it.
b=${1:-build}
cap=$b/capsule
case "$b" in *san*) secs=10 ;; *) secs=6 ;; esac
tmp=$(mktemp -d /tmp/capsule-group-ended.XXXXXX) || exit 1
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
fail() {
	echo "group_ended: FAIL: $*"
	for f in "$tmp"/*.log "$tmp"/*.out; do
		[ -f "$f" ] && { echo "--- $f"; tail -30 "$f" | sed 's/^/  | /'; }
	done
	exit 1
}

. tests/cr/soak_group.sh
# config [WAIT] [BINARY]: the group; with WAIT it waits for a restore;
# hello's binary is BINARY (hello)
config() {
	soak_group "<start name=\"hello\" caps=\"100\"> <binary name=\"${2:-hello}\"/>
		<resource name=\"RAM\" quantum=\"1M\"/> </start>" "${1:+<restore/>}"
}

# node NAME CONFIG UP: a node running CONFIG, its log NAME.log, up when
# the shell test UP holds
node() {
	"$cap" node --rom "$b/components" --rom "$tmp/rom" "$2" --control "$tmp/$1.sock" \
		>"$tmp/$1.log" 2>&1 &
	pid=$!
	i=0
	until eval "$3"; do
		i=$((i + 1))
		[ $i -lt 600 ] && kill -0 $pid 2>/dev/null || fail "node $1 did not come up"
		sleep 0.05
	done
}
sending() { [ "$(grep -c 'soak_client: sending for' "$tmp/$1.log" 2>/dev/null)" = 3 ]; }
ended() { "$cap" ps --json --node "$tmp/$1.sock" 2>/dev/null | grep -q '"members": "hello(ended),server,c1,c2,c3"'; }

# finish NAME: the group ends with every member's exit, hello's 0 too,
# exact counts; the sanitizer build reported nothing
finish() {
	all_ended "$tmp/$1.log" 1200 $pid || fail "node $1: the group did not end"
	grep -q "all of init's children have ended (result 0)" "$tmp/$1.log" ||
		fail "node $1: a component failed"
	grep -q "monitor: member 'hello' exited with 0" "$tmp/$1.log" ||
		fail "node $1: hello's exit not reported"
	[ "$(grep -c 'soak_client: .*: ok$' "$tmp/$1.log")" = 3 ] ||
		fail "node $1: a client's counts are not exact"
	grep -q "soak_server: total: 3 clients, .*: ok$" "$tmp/$1.log" ||
		fail "node $1: the server's counts are not exact"
	kill $pid; wait $pid 2>/dev/null; pid=
	! grep -q "Sanitizer\|runtime error" "$tmp/$1.log" || fail "node $1: the sanitizers report"
}

mkdir "$tmp/rom"
echo "$secs 3 none" >"$tmp/rom/soak.cfg"
config >"$tmp/a.xml"
config wait >"$tmp/b.xml"
config wait counter >"$tmp/c.xml"

# node A: cut once hello has ended
node a "$tmp/a.xml" 'sending a && ended a'
"$cap" checkpoint --node "$tmp/a.sock" -o "$tmp/g.img" grp >"$tmp/ck.out" 2>&1 ||
	fail "checkpoint: $(cat "$tmp/ck.out")"
grep -q "^ok grp $tmp/g.img: members hello(ended),server,c1,c2,c3, paused [0-9.]* ms, " \
	"$tmp/ck.out" || fail "checkpoint: $(cat "$tmp/ck.out")"
grep -q "monitor: group image: 4 members paused together [0-9]* us (1 ended before)" \
	"$tmp/a.log" || fail "no group image of 4 members and 1 ended logged"
"$cap" inspect "$tmp/g.img" >"$tmp/inspect.out" 2>&1 || fail "inspect: $(head -1 "$tmp/inspect.out")"
grep -q "^member 0: name=hello ended exit_code=0$" "$tmp/inspect.out" &&
	grep -q "^=== member hello: ended, no image$" "$tmp/inspect.out" &&
	grep -q "^=== member c3$" "$tmp/inspect.out" || fail "inspect: hello not shown ended"

# over the running members of A: hello stays ended
"$cap" restore --node "$tmp/a.sock" "$tmp/g.img" grp >"$tmp/rs.out" 2>&1 ||
	fail "restore at A: $(cat "$tmp/rs.out")"
grep -q "^ok grp $tmp/g.img: members 4 restored (hello ended before the cut: they stay ended), 9 caps between members" \
	"$tmp/rs.out" || fail "restore at A: $(cat "$tmp/rs.out")"
ended a || fail "A: hello is not shown ended after the restore"
finish a
[ "$(grep -c 'Hello from a guest component' "$tmp/a.log")" = 1 ] || fail "A: hello ran again"

# a fresh node whose hello is another binary: refused in one line
node c "$tmp/c.xml" 'grep -qs "waiting for a restore" "$tmp/c.log"'
"$cap" restore --node "$tmp/c.sock" "$tmp/g.img" grp >"$tmp/rs.out" 2>&1 &&
	fail "the restore into a group whose hello is counter was not refused"
[ "$(grep -c . "$tmp/rs.out")" = 1 ] &&
	grep -q "restore refused: $tmp/g.img: member 0 is 'hello' (binary hello), this group's is 'hello' (binary counter)" \
		"$tmp/rs.out" || fail "node C: $(cat "$tmp/rs.out")"
kill $pid; wait $pid 2>/dev/null; pid=

# a fresh node whose group waits: the four go on, hello never starts;
# then `capsule checkpoint --stop`: the members stay paused from the cut
# and end once the image is written (no client reports its counts there)
node b "$tmp/b.xml" 'grep -qs "waiting for a restore" "$tmp/b.log"'
"$cap" restore --node "$tmp/b.sock" "$tmp/g.img" grp >"$tmp/rs.out" 2>&1 ||
	fail "restore at B: $(cat "$tmp/rs.out")"
ended b || fail "B: hello is not shown ended"
sleep 0.3
"$cap" checkpoint --stop --node "$tmp/b.sock" -o "$tmp/s.img" grp >"$tmp/ck.out" 2>&1 &&
	grep -q "^ok grp $tmp/s.img: members hello(ended),server,c1,c2,c3, " "$tmp/ck.out" ||
	fail "checkpoint --stop at B: $(cat "$tmp/ck.out")"
all_ended "$tmp/b.log" 100 || fail "B: the group did not end after checkpoint --stop"
grep -q "monitor: group stopped after its image was written" "$tmp/b.log" &&
	! grep -q "soak_client: .*: ok$\|soak_server: total" "$tmp/b.log" ||
	fail "B: the members did not stop at the image"
! grep -q 'Hello from a guest component\|soak_client: sending for' "$tmp/b.log" ||
	fail "B: a member started anew"
kill $pid; wait $pid 2>/dev/null; pid=

# the stopped image on a fresh node: the four go on from where B stopped
# them, and nothing was lost (the counts are exact)
node d "$tmp/b.xml" 'grep -qs "waiting for a restore" "$tmp/d.log"'
"$cap" restore --node "$tmp/d.sock" "$tmp/s.img" grp >"$tmp/rs.out" 2>&1 ||
	fail "restore at D: $(cat "$tmp/rs.out")"
finish d
echo "group_ended: PASS (a group cut with a member ended, restored in place and on a fresh node; checkpoint --stop, restored on another)"
