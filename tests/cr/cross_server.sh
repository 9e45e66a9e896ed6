#!/bin/sh
# A server restored on another node: node A runs cr_server under a monitor
# that checkpoints it to an image file right after its line "Echo
# announced" and stops it; node B (a fresh
# `capsule run`) restores that file in an empty monitor that provides
# "Echo", and a client there (cr_client, started with B) opens a session
# and is answered.  The image carries what the target announced (a note
# on its root's gate); B's monitor announces the restored root through its
# own proxy.
b=${1:-build}
tmp=$(mktemp -d /tmp/capsule-xserver.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "cross_server: FAIL: $*"; for f in "$tmp"/*.log; do echo "--- $f"; sed 's/^/  | /' "$f"; done; exit 1; }

# node CONFIG-OF-THE-MONITOR [MORE-START-NODES]: a node with the monitor
# "server" providing Echo
node() {
	cat <<CFG
<config>
	<default-route> <any-service> <parent/> </any-service> </default-route>
	<start name="server" caps="500">
		<binary name="monitor"/>
		<resource name="RAM" quantum="16M"/>
		<provides> <service name="Echo"/> </provides>
		<config>$1</config>
	</start>$2
</config>
CFG
}
node "<target binary=\"cr_server\" ram=\"2M\" caps=\"100\"/>
	<test checkpoint_after_log=\"1\" image=\"$tmp/a.img\" then=\"exit\"/>" >"$tmp/a.xml"
node "<restore image=\"$tmp/a.img\"/>" "
	<start name=\"client\" caps=\"100\">
		<binary name=\"cr_client\"/>
		<resource name=\"RAM\" quantum=\"2M\"/>
		<route>
			<service name=\"Echo\"> <child name=\"server\"/> </service>
			<any-service> <parent/> </any-service>
		</route>
	</start>" >"$tmp/b.xml"

timeout -k 10 60 "$b/capsule" run --rom "$b/components" "$tmp/a.xml" >"$tmp/a.log" 2>&1 ||
	fail "node A exited with $?"
[ -s "$tmp/a.img" ] || fail "node A wrote no image"
"$b/capsule" inspect "$tmp/a.img" | grep -q "announce=Echo" ||
	fail "the image does not say the target announced Echo"
timeout -k 10 60 "$b/capsule" run --rom "$b/components" "$tmp/b.xml" >"$tmp/b.log" 2>&1 ||
	fail "node B exited with $?"
# (A's checkpoint came 20 ms after its start until session 13: under load
# it could fall between the announce and its line, which B then printed)
grep -q "server: Echo announced" "$tmp/b.log" && fail "B started the target anew"
for line in "monitor: restored: " "monitor: verify: " "[server] server: new session" \
	"[client] client: echo 1 -> 1001 (call 1)" "[client] client: echo 3 -> 1003 (call 3)" \
	"[init] server exited with 0" "[init] client exited with 0"; do
	grep -qF -- "$line" "$tmp/b.log" || fail "B: missing: $line"
done
echo "cross_server: PASS (a server restored on node B answers a client there)"
