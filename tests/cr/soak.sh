#!/bin/sh
# Soak: 20 components under IPC and signal load while one of them is
# checkpointed every 20 ms and restored at every 10th checkpoint.
#
# A node runs soak_server, 18 soak_client and a monitor whose target is
# a 19th soak_client (<test checkpoint_every_ms="20" restore="same-node"
# restore_every="10"/>).  Each client sends numbered calls (1, 2, 3, ...)
# and signals to the server and gets signals back, for SOAK_SECONDS
# (default 45; 20 in the ASan build; at least 15).  The server counts a call only if it
# carries the client's next number, so a lost call (a gap) or a duplicated
# one (a repeat) is a sequence error.  A restore puts the target back to
# what its checkpoint holds, its counters included; the target is paused
# from the checkpoint to the restore and a call the server had not taken
# is issued again by the restored thread, so with a correct restore the
# client's count, the server's and the signals match exactly.  Checked:
#   - every client: sent == counted, 0 sequence errors, every signal the
#     server submitted to it arrived; the server: the sum of the clients'
#     calls == its count, every signal the clients submitted arrived;
#   - the monitor restored at least one in ten of its checkpoints, no
#     restore failed, and at most one in 20 checkpoints was refused (the
#     target runs on; on a loaded host its call to the server can still
#     be served after the checkpoint's 200 ms bound);
#   - core's kernel counts (tasks, threads, gates, irqs, mappings, live
#     badges; each the least of 5 samples of `capsule ps --raw`) at the
#     end are not above those after the warm-up, and the node's RSS grew
#     by at most RSS_SLACK_KB (4096).
b=${1:-build}
cap=$b/capsule
case "$b" in *san*) secs=${SOAK_SECONDS:-20} ;; *) secs=${SOAK_SECONDS:-45} ;; esac
[ "$secs" -ge 15 ] || secs=15
clients=19
# under ASan freed memory waits in the allocator's quarantine (up to
# 256 MiB), so the node's RSS says nothing about leaks there: the
# sanitizer build checks the kernel counts and leaves leaks to LSan
case "$b" in *san*) RSS_SLACK_KB=${RSS_SLACK_KB:-} ;; *) RSS_SLACK_KB=${RSS_SLACK_KB:-4096} ;; esac
tmp=$(mktemp -d /tmp/capsule-soak.XXXXXX) || exit 1
sock=$tmp/n.sock
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
[ -n "$SOAK_KEEP" ] && trap - EXIT
fail() {
	echo "soak: FAIL: $*"
	sed 's/^/  | /' "$tmp/node.log" | grep -v "\] monitor: \(checkpoint\|verify\|seed\|restored\|restore:\)" | tail -25
	exit 1
}

route='<route> <service name="Soak"> <child name="server"/> </service> <any-service> <parent/> </any-service> </route>'
{
	echo '<config>'
	echo '<default-route> <any-service> <parent/> </any-service> </default-route>'
	echo '<start name="server" caps="400"> <binary name="soak_server"/>'
	echo '  <resource name="RAM" quantum="4M"/> <provides> <service name="Soak"/> </provides> </start>'
	i=1
	while [ $i -lt $clients ]; do
		printf '<start name="c%02d" caps="100"> <binary name="soak_client"/>\n' $i
		echo "  <resource name=\"RAM\" quantum=\"2M\"/> $route </start>"
		i=$((i + 1))
	done
	echo '<start name="soak" caps="500"> <binary name="monitor"/>'
	echo "  <resource name=\"RAM\" quantum=\"16M\"/> $route"
	echo '  <config> <target binary="soak_client" ram="2M" caps="100"/>'
	echo '    <test checkpoint_every_ms="20" restore="same-node" restore_every="10"/> </config> </start>'
	echo '</config>'
} >"$tmp/soak.xml"
mkdir "$tmp/rom"
echo "$secs $clients soak" >"$tmp/rom/soak.cfg"

# the clients' time counts from their start, which is after this: the
# last sample's deadline from here errs early
t0=$(date +%s)
"$cap" node --rom "$b/components" --rom "$tmp/rom" "$tmp/soak.xml" --control "$sock" \
	>"$tmp/node.log" 2>&1 &
pid=$!
i=0
until grep -q "soak_client: sending for" "$tmp/node.log"; do
	i=$((i + 1))
	[ $i -lt 300 ] && kill -0 $pid 2>/dev/null || fail "the clients did not start"
	sleep 0.1
done

# the least of 5 samples of each kernel count, and the node's RSS
counts() {
	for k in 1 2 3 4 5; do
		"$cap" ps --raw --node "$sock" 2>/dev/null |
			sed -n 's/^kernel: tasks \([0-9]*\) threads \([0-9]*\) gates \([0-9]*\) irqs \([0-9]*\) mappings \([0-9]*\); badges allocated [0-9]*, live \([0-9]*\)$/\1 \2 \3 \4 \5 \6/p'
		sleep 0.2
	done | awk 'NR == 1 { for (i = 1; i <= 6; i++) m[i] = $i }
		{ for (i = 1; i <= 6; i++) if ($i < m[i]) m[i] = $i }
		END { if (NR) print m[1], m[2], m[3], m[4], m[5], m[6] }'
}
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status"; }
names="tasks threads gates irqs mappings live-badges"

warm=$((secs / 4))
[ $warm -lt 5 ] && warm=5
sleep $warm
s0=$(date +%s)
before=$(counts)
rss0=$(rss)
[ -n "$before" ] && [ -n "$rss0" ] || fail "no counts after the warm-up"
# the last sample must end before the first client does: it starts as
# long before that as the first one took, twice, and 2 s more (5 calls
# of `capsule ps` can take seconds on a loaded host, sanitizer build)
took=$(($(date +%s) - s0))
while [ $(($(date +%s) - t0)) -lt $((secs - 2 - 2 * took)) ]; do sleep 0.5; done
after=$(counts)
rss1=$(rss)
[ -n "$after" ] && [ -n "$rss1" ] || fail "no counts at the end"
# both samples while all of them send: every client started before the
# first, and none was done after the second
[ "$(grep -c "soak_client: sending for" "$tmp/node.log")" -ge $clients ] ||
	fail "not all clients had started after the warm-up ($warm s; SOAK_SECONDS larger)"
grep -q "soak_server: .*: sent" "$tmp/node.log" &&
	fail "a client was done before the last sample (SOAK_SECONDS larger)"

i=0
until grep -q "soak_server: total:" "$tmp/node.log"; do
	i=$((i + 1))
	[ $i -lt 600 ] && kill -0 $pid 2>/dev/null || fail "no total from the server"
	sleep 0.1
done
sleep 0.5 # the last clients' lines

why=
ok_clients=$(grep -c "soak_client: .*: ok$" "$tmp/node.log")
[ "$ok_clients" = $clients ] || why="$ok_clients of $clients clients ok"
grep -q "soak_server: total: $clients clients, .*: ok$" "$tmp/node.log" || why="${why:+$why; }the server's total"
ckpts=$(grep -c "^\[soak\] monitor: checkpoint [0-9]*:" "$tmp/node.log")
restores=$(grep -c "^\[soak\] monitor: restored:" "$tmp/node.log")
[ "$restores" -ge 1 ] && [ $((restores * 10 + 10)) -ge "$ckpts" ] ||
	why="${why:+$why; }$restores restores for $ckpts checkpoints"
# a restore must not fail; a checkpoint may be refused (the target runs
# on), e.g. when the target's call is still being served after 200 ms on
# this loaded node, but not more than one in 20
bad=$(grep -c "^\[soak\] monitor: restore \(failed\|refused\)" "$tmp/node.log")
[ "$bad" = 0 ] || why="${why:+$why; }$bad failed restores: $(grep -m1 "^\[soak\] monitor: restore \(failed\|refused\)" "$tmp/node.log")"
refused=$(grep -c "^\[soak\] monitor: checkpoint failed" "$tmp/node.log")
[ $((refused * 20)) -le "$ckpts" ] || why="${why:+$why; }$refused checkpoints refused, $ckpts made"
reasons=$(grep "^\[soak\] monitor: checkpoint failed: " "$tmp/node.log" | sed 's/.*failed: //' | sort | uniq -c |
	awk '{ n = $1; $1 = ""; printf "%s%d x%s", sep, n, $0; sep = ", " }')
grew=$(echo "$before $after" | awk -v names="$names" '{
	split(names, n, " ")
	for (i = 1; i <= 6; i++) if ($(i + 6) > $i) printf "%s %d -> %d; ", n[i], $i, $(i + 6) }')
[ -z "$grew" ] || why="${why:+$why; }kernel counts grew: $grew"
[ -z "$RSS_SLACK_KB" ] || [ "$rss1" -le $((rss0 + RSS_SLACK_KB)) ] || why="${why:+$why; }RSS $rss0 KiB after the warm-up, $rss1 KiB at the end"

total=$(sed -n 's/.*soak_server: total: \(.*\): [a-zA-Z]*$/\1/p' "$tmp/node.log")
target=$(sed -n 's/^\[soak\] soak_client: [^:]*: \(.*\): [a-zA-Z]*$/\1/p' "$tmp/node.log")
# signals the server could not submit to the target's context (it names
# the context the restore replaced): reported, not hidden
lost=$(sed -n 's/^\[server\] soak_server: soak: .*submits refused \([0-9]*\)$/\1/p' "$tmp/node.log")
plain_lost=$(grep "^\[server\] soak_server: c[0-9]*: " "$tmp/node.log" | grep -vc "submits refused 0$")
[ "$plain_lost" = 0 ] || why="${why:+$why; }$plain_lost clients not under the monitor had signal submits refused"
[ -n "$why" ] && fail "$why"
echo "soak: PASS ${secs}s, $ckpts checkpoints of one target, $restores restores, $refused refused${reasons:+ ($reasons)}; $total; the target: $target, the server's submits to it refused after a restore: $lost; kernel counts after the warm-up ($names) $before, at the end $after; RSS $rss0 -> $rss1 KiB"
