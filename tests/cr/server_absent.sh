#!/bin/sh
# A restore whose routed server is not on the node.  Node A runs cr_server
# and, under a monitor, cr_client with its Echo session routed to that
# server; the monitor checkpoints the client after its first line to an
# image file and stops it.  Node B has no Echo server, only the monitor
# restoring that image and a counter beside it.  The restore must be
# refused in one line naming the session it cannot open again, the
# monitor must exit with 2 without starting the client, and the rest of
# B must run as if nothing had happened (the counter counts to its end
# and exits 0).
b=${1:-build}
tmp=$(mktemp -d /tmp/capsule-sabsent.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
[ -n "$CR_KEEP" ] && trap - EXIT
fail() { echo "server_absent: FAIL: $*"; for f in "$tmp"/*.log; do echo "--- $f"; sed 's/^/  | /' "$f"; done; exit 1; }

cat >"$tmp/a.xml" <<EOF2
<config>
	<default-route> <any-service> <parent/> </any-service> </default-route>
	<start name="server" caps="200"> <binary name="cr_server"/>
		<resource name="RAM" quantum="2M"/> <provides> <service name="Echo"/> </provides> </start>
	<start name="mon" caps="500"> <binary name="monitor"/>
		<resource name="RAM" quantum="16M"/>
		<route> <service name="Echo"> <child name="server"/> </service>
			<any-service> <parent/> </any-service> </route>
		<config> <target binary="cr_client" ram="2M" caps="100"/>
			<test checkpoint_after_log="1" image="$tmp/a.img" then="exit"/> </config> </start>
</config>
EOF2
cat >"$tmp/b.xml" <<EOF2
<config>
	<default-route> <any-service> <parent/> </any-service> </default-route>
	<start name="mon" caps="500"> <binary name="monitor"/>
		<resource name="RAM" quantum="16M"/>
		<config> <restore image="$tmp/a.img"/> </config> </start>
	<start name="counter" caps="100"> <binary name="counter"/>
		<resource name="RAM" quantum="2M"/> </start>
</config>
EOF2

# node A ends when its server is stopped by its timeout; the image is
# what counts
timeout -k 10 20 "$b/capsule" run --rom "$b/components" "$tmp/a.xml" >"$tmp/a.log" 2>&1
[ -s "$tmp/a.img" ] || fail "node A wrote no image"
grep -q "monitor: target stopped after its image was written" "$tmp/a.log" ||
	fail "node A did not stop the client at the checkpoint"

timeout -k 10 60 "$b/capsule" run --rom "$b/components" "$tmp/b.xml" >"$tmp/b.log" 2>&1
rc=$?
[ $rc -ne 124 ] && [ $rc -ne 137 ] || fail "node B did not end (rc $rc)"
n=$(grep -c "restore: cannot open its 'Echo' session again" "$tmp/b.log")
[ "$n" = 1 ] || fail "B: want one line refusing the restore for its Echo session, got $n"
n=$(grep -c "monitor: restore:" "$tmp/b.log")
[ "$n" = 1 ] || fail "B: want the refusal in one line, got $n lines of the monitor's restore"
grep -q "\[init\] mon exited with 2" "$tmp/b.log" || fail "B: the monitor did not exit with 2"
grep -q "^\[mon\] client:" "$tmp/b.log" && fail "B: the client ran without its server"
grep -q "^\[counter\] count 5$" "$tmp/b.log" || fail "B: the counter did not count to 5"
grep -q "\[init\] counter exited with 0" "$tmp/b.log" || fail "B: the counter did not exit with 0"
echo "server_absent: PASS ($(grep -o "restore: cannot open its 'Echo' session again[^\"]*" "$tmp/b.log" | head -1))"
