#!/bin/sh
# capsule migrate of a group (docs/migration.md "Groups"), stop-and-copy
# over 127.0.0.1, all members or none.  Node A runs soak_server and three
# soak_clients as group "grp" (each client sends numbered calls to the
# server and signals to the server's context; the server signals the
# clients'); B runs the same group (its members are replaced by the
# first migration), N, W and K wait for a restore (<restore/>):
#   - refused migrations leave the members running on A, their calls and
#     signals going on: a destination without such a group, one whose
#     group has other members, one with another key, one killed while
#     the image is in flight, and --postcopy;
#   - A -> B mid-run (B's own members replaced), then B -> A (into A's
#     group, which waits for a restore since its members left), then
#     A -> B again (into B's, which waits likewise): no client
#     starts again anywhere (each goes on from the image), A is left
#     with no member, and at the end B's clients and server report exact
#     counts (a call lost or done twice is a sequence error, every signal
#     both ways must have arrived);
#   - zdtm over a group migrated over TCP: group_signals, group_pager,
#     group_rpc, group_multi and group_revoke
#     paused after their Nth line at A (<test checkpoint_after_log
#     then="hold">), migrated to B: A's member lines then B's equal the
#     uninterrupted run's, and B ends as the plain run did.
b=${1:-build}
. tests/harness.sh
harness_begin group_migrate
case "$b" in *san*) secs=9 ;; *) secs=4 ;; esac

base=$((30000 + ($$ + 7919) % 20000))
pA=$base pB=$((base + 1)) pN=$((base + 2)) pW=$((base + 3)) pK=$((base + 4))
pZ=$((base + 5)) pM=$((base + 6))

# start_node NAME CONFIG ARGS...: node NAME in the background (the test
# build: its CAPSULE_TEST_* switches act), $tmp/NAME.sock, $tmp/NAME.log
start_node() {
	name=$1 cfg=$2
	shift 2
	"$capt" node --rom "$b/components" --rom "$tmp/rom" "$cfg" \
		--control "$tmp/$name.sock" "$@" >"$tmp/$name.log" 2>&1 &
	eval "pid_$name=$!"
	pids="$pids $!"
}
# wait_log NAME PATTERN: until the node's log has it (30 s at most)
wait_log() {
	i=0
	until grep -q "$2" "$tmp/$1.log" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 600 ] || die "$1: no '$2' in its log"
		sleep 0.05
	done
}
sending() { grep -c 'soak_client: sending for' "$tmp/$1.log"; }
# members NODE: the group's members at the node and their states, as
# "server:blocked c1:running ..." (capsule ps), or "" for none
members() {
	"$cap" ps --node "$tmp/$1.sock" 2>/dev/null |
		awk '$1 == "grp" && $2 == "->" { printf "%s%s:%s", n++ ? " " : "", $3, $5 }'
}
# running NODE: all 4 members there, none paused
running() { members "$1" | grep -v paused | grep -q '^server:[a-z]* c1:[a-z]* c2:[a-z]* c3:[a-z]*$'; }

# migrate FROM TO PORT: capsule migrate of ${group:-grp}, its output in
# $tmp/mig.out; the exit code
migrate() {
	"$cap" migrate --node "$tmp/$1.sock" "${group:-grp}" --to "127.0.0.1:$3" \
		--timeout 20 >"$tmp/mig.out" 2>&1
}

. tests/cr/soak_group.sh
# the soak group; with WAIT set, it waits for a restore
config() { soak_group "" "${1:+<restore/>}"; }

mkdir "$tmp/rom" "$tmp/keep"
echo "$secs 3 none" >"$tmp/rom/soak.cfg"
"$cap" keygen "$tmp/key" && "$cap" keygen "$tmp/other.key" || die "keygen failed"
config >"$tmp/run.xml"
config wait >"$tmp/wait.xml"
sed 's/name="grp"/name="other"/' "$tmp/wait.xml" >"$tmp/nogrp.xml"
sed 's|<start name="c3".*</start>||' "$tmp/wait.xml" >"$tmp/three.xml" # server, c1, c2

start_node A "$tmp/run.xml" --listen "127.0.0.1:$pA" --key "$tmp/key"
# B runs the group too: the first migration replaces its members
CAPSULE_TEST_MIGRATE_KEEP=$tmp/keep start_node B "$tmp/run.xml" --listen "127.0.0.1:$pB" \
	--key "$tmp/key"
start_node N "$tmp/nogrp.xml" --listen "127.0.0.1:$pN" --key "$tmp/key"
start_node M "$tmp/three.xml" --listen "127.0.0.1:$pM" --key "$tmp/key"
start_node W "$tmp/wait.xml" --listen "127.0.0.1:$pW" --key "$tmp/other.key"
CAPSULE_TEST_MIGRATE_STALL_MS=20000 start_node K "$tmp/wait.xml" --listen "127.0.0.1:$pK" \
	--key "$tmp/key"
i=0
until [ "$(sending A)" = 3 ] && [ "$(sending B)" = 3 ]; do
	i=$((i + 1))
	[ $i -lt 600 ] && kill -0 $pid_A 2>/dev/null && kill -0 $pid_B 2>/dev/null ||
		die "A or B: the clients did not start"
	sleep 0.05
done
for n in N W K; do wait_log $n "monitor: group of 4 members waiting for a restore"; done
wait_log M "monitor: group of 3 members waiting for a restore"

# refused NAME PORT PATTERN: migrate fails in one line matching PATTERN
# that says the members resumed (or never stopped); they go on on A
refused() {
	r0=$(grep -c "soak_server: .*calls" "$tmp/A.log")
	migrate A - "$2" && die "$1: the migration did not fail: $(cat "$tmp/mig.out")"
	[ "$(grep -vc '^progress' "$tmp/mig.out")" = 1 ] && grep -q -- "$3" "$tmp/mig.out" ||
		die "$1: $(cat "$tmp/mig.out")"
	running A || die "$1: A's members: '$(members A)'"
	[ "$(sending A)" = 3 ] || die "$1: a client started again on A"
	ok "$1: $(grep -v '^progress' "$tmp/mig.out")"
}
refused "no such group" $pN \
	"^error: grp: 127.0.0.1:$pN refused it: grp: no group of that name here (.*); its members resumed here, unchanged$"
refused "another group" $pM \
	"^error: grp: 127.0.0.1:$pM refused it: grp: restore refused: .*/group.img: 4 members, this group has 3; its members resumed here, unchanged$"
refused "wrong key" $pW "^error: grp: 127.0.0.1:$pW: .*(the members run on here)$"
# the destination killed while the image is in flight (it stalls)
(sleep 0.5; kill -KILL $pid_K) &
refused "destination killed" $pK "^error: grp: 127.0.0.1:$pK: .*; its members resumed here, unchanged$"
grep -q "migrate: phase handshake" "$tmp/K.log" || die "K: never reached"

# --postcopy: refused in one line before anything is touched
"$cap" migrate --postcopy --node "$tmp/A.sock" grp --to "127.0.0.1:$pB" >"$tmp/mig.out" 2>&1 &&
	die "--postcopy of a group was not refused"
[ "$(grep -c . "$tmp/mig.out")" = 1 ] &&
	grep -q "^error: grp: a group migrates by stop-and-copy: --postcopy is not supported for a group$" \
		"$tmp/mig.out" || die "--postcopy: $(cat "$tmp/mig.out")"
running A || die "--postcopy: A's members: '$(members A)'"
ok "--postcopy: $(cat "$tmp/mig.out")"

# A -> B -> A -> B mid-run
moved() {
	[ "$(grep -c 'soak_client: sent' "$tmp/$1.log")" = 0 ] ||
		die "$1 -> $2: a client had ended before (soak.cfg's $secs s too short for this load)"
	migrate "$1" "$2" "$3" || die "$1 -> $2: $(cat "$tmp/mig.out")"
	line=$(grep "^ok grp migrated to 127.0.0.1:$3: total [0-9]* ms, paused [0-9.]* ms (freeze" \
		"$tmp/mig.out") || die "$1 -> $2: $(cat "$tmp/mig.out")"
	[ -z "$(members "$1")" ] || die "$1 -> $2: $1 has members '$(members "$1")'"
	# (all four there, unless the soak ended meanwhile: counted at the end)
	running "$2" || grep -q "soak_client: .*: ok$" "$tmp/$2.log" ||
		die "$1 -> $2: $2's members: '$(members "$2")'"
	ok "$1 -> $2: $line"
}
sleep 0.1
moved A B $pB
sleep 0.1
moved B A $pA
sleep 0.1
moved A B $pB
a_end=$(wc -l <"$tmp/A.log")

# zdtm over a group migrated over TCP: the lines of A, then of B, are the
# uninterrupted run's (after tests/zdtm/groups.sh)
put() { awk -v w="$1" '!d && /<\/config>/ { sub(/<\/config>/, w "</config>"); d = 1 } { print }' "$2"; }
. tests/zdtm/group_lines.sh
# zdtm NAME LINE PORT TAG [member]: group scenario NAME held after line
# LINE at node TAG"A", migrated to TAG"B" listening at PORT (with
# "member", each member's lines compared in order: member_lines); with
# $hold set, the group is held that many seconds before the migration
zdtm() {
	zn=$1 line=$2 port=$3 A=$4A B=$4B cfg=tests/scenario/$1.xml order=$5
	put "<test checkpoint_after_log=\"$line\" then=\"hold\"/>" "$cfg" >"$tmp/za.xml"
	put "<restore/>" "$cfg" >"$tmp/zb.xml"
	timeout -k 10 60 "$cap" run --rom "$b/components" "$cfg" >"$tmp/plain.log" 2>&1
	rc=$?
	[ $rc -lt 124 ] || die "zdtm $zn: the plain run failed ($rc)"
	start_node $A "$tmp/za.xml" --key "$tmp/key"
	start_node $B "$tmp/zb.xml" --listen "127.0.0.1:$port" --key "$tmp/key"
	wait_log $A "monitor: group paused after line $line (then=\"hold\")"
	wait_log $B "monitor: group of [0-9]* members waiting for a restore"
	sleep "${hold:-0}"
	group=$(sed -n 's/^\[\([^] ]*\)\] monitor: group paused after.*/\1/p' "$tmp/$A.log")
	group=$group migrate $A $B $port || die "zdtm $zn: $(cat "$tmp/mig.out")"
	wait_log $B "all of init's children have ended"
	grep -q "all of init's children have ended (result $rc)" "$tmp/$B.log" ||
		die "zdtm $zn: B's members did not end as the plain run's"
	member_lines "$tmp/plain.log" >"$tmp/want"
	member_lines "$tmp/$A.log" "$tmp/$B.log" >"$tmp/got"
	na=$(member_lines "$tmp/$A.log" | wc -l) nb=$(member_lines "$tmp/$B.log" | wc -l)
	[ "$nb" -gt 0 ] || die "zdtm $zn: B printed nothing"
	diff "$tmp/want" "$tmp/got" >"$tmp/diff.log" ||
		die "zdtm $zn: A then B differ from the plain run"
	! grep -q "Sanitizer\|runtime error" "$tmp/$A.log" "$tmp/$B.log" "$tmp/plain.log" ||
		die "zdtm $zn: the sanitizers report"
	ok "zdtm $zn: migrated over TCP after line $line ($na lines at A, $nb at B, as the plain run)"
}
# each member's lines in order: the producer logs after its last submit
# (tests/zdtm/groups.sh)
zdtm group_signals 2 $pZ Z member
# lazy on the pager's managed dataspace, held once it attached it: at B the
# restored pager resolves lazy's faults (lazy ends with 1 on its poison
# page, as in the plain run)
zdtm group_pager 6 $((base + 7)) P
# the client's session at the server, held after the server's add
zdtm group_rpc 3 $((base + 8)) R
# the server and three clients opening, using and closing their sessions
zdtm group_multi 4 $((base + 9)) M member
# held in the middle of the server's first ROOT_SESSION (line 2 is its
# first 'new session' line) for longer than a call at a member's root
# waits to be taken (100 ms): the client's call, taken, must not give up
# (it did: the client asked again at B, a second session, and the server,
# one session never closed, never quit)
hold=0.3
zdtm group_multi 2 $((base + 11)) S member
hold=
# right after the server revoked the counter caps it gave the client
zdtm group_revoke 2 $((base + 10)) V

all_ended "$tmp/B.log" 600 $pid_B || die "B: the group did not end"
! grep -q "Sanitizer\|runtime error" "$tmp"/*.log || die "the sanitizers report"
[ "$(sending B)" = 3 ] && [ "$(sending A)" = 3 ] || die "a client started again"
grep -q "monitor: group: the restore held for a migration committed" "$tmp/B.log" ||
	die "B: no held restore committed"
[ "$(grep -c 'soak_client: .*: ok$' "$tmp/B.log")" = 3 ] || die "B: a client's counts are not exact"
grep -q "soak_server: total: 3 clients, .*sequence errors 0, .*: ok$" "$tmp/B.log" ||
	die "B: the server's counts are not exact"
sed -n "$((a_end + 1)),\$p" "$tmp/A.log" | grep -q "soak_" && die "A: a member printed after it left"
# "" from members() also when ps fails: ask A itself, alive and answering
kill -0 $pid_A 2>/dev/null || die "A ended with the group's migration"
"$cap" ps --node "$tmp/A.sock" >"$tmp/A.ps" 2>&1 || die "A: capsule ps: $(head -1 "$tmp/A.ps")"
[ -z "$(members A)" ] || die "A has members at the end: '$(members A)'"
ok "B's members ended with exact counts; A has no member"
"$cap" inspect --json "$tmp/keep/group.img" >"$tmp/inspect.out" 2>&1 &&
	grep -q '"server"' "$tmp/inspect.out" && grep -q '"c3"' "$tmp/inspect.out" ||
	die "capsule inspect of the group image B received: $(head -5 "$tmp/inspect.out")"
ok "capsule inspect decodes the group image as B received it"

exit $fail
