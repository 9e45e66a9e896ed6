#!/bin/sh
# A restore after the server of a routed session has gone.  soak_server
# with one client, the monitor's target (soak_client, its Soak session
# routed outside the monitor), exits once the client is done, while the
# target still waits for its last tick; the monitor checkpoints every 5
# ms and restores every checkpoint, so restores come after the server's
# exit.  The target's copy of the session cap was revoked with the
# monitor's, and a restore must give it that empty slot back: it failed
# with "restore failed: session: Invalid argument" (soak.sh in CI, 1 of
# 218 restores, when the target was the last client).  Checked: no
# restore failed, one came after the server's exit (else tried again, 3
# times), the client's counts are ok.
b=${1:-build}
tmp=$(mktemp -d /tmp/capsule-sgone.XXXXXX) || exit 1
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
die() {
	echo "server_gone: FAIL: $*"
	sed 's/^/  | /' "$tmp/node.log" | grep -v "\] monitor: \(checkpoint\|seed\|caps:\|verify\|restore \|restore:\)" | tail -15
	exit 1
}

route='<route> <service name="Soak"> <child name="server"/> </service> <any-service> <parent/> </any-service> </route>'
cat >"$tmp/e.xml" <<EOF
<config>
<default-route> <any-service> <parent/> </any-service> </default-route>
<start name="server" caps="400"> <binary name="soak_server"/>
  <resource name="RAM" quantum="4M"/> <provides> <service name="Soak"/> </provides> </start>
<start name="soak" caps="500"> <binary name="monitor"/>
  <resource name="RAM" quantum="16M"/> $route
  <config> <target binary="soak_client" ram="2M" caps="100"/>
    <test checkpoint_every_ms="5" restore="same-node" restore_every="1"/> </config> </start>
</config>
EOF
mkdir "$tmp/rom"
echo "1 1 soak" >"$tmp/rom/soak.cfg"

for try in 1 2 3; do
	timeout 60 "$b/capsule" run --rom "$b/components" --rom "$tmp/rom" "$tmp/e.xml" \
		>"$tmp/node.log" 2>&1 &
	pid=$!
	wait "$pid"
	pid=
	! grep -q "monitor: restore failed" "$tmp/node.log" ||
		die "$(grep -m1 "monitor: restore failed" "$tmp/node.log" | sed 's/^.*monitor: //')"
	grep -q "^\[soak\] soak_client: .*: ok$" "$tmp/node.log" || die "the target's counts"
	gone=$(grep -n "soak_server: total:" "$tmp/node.log" | head -1 | cut -d: -f1)
	last=$(grep -n "monitor: restored:" "$tmp/node.log" | tail -1 | cut -d: -f1)
	if [ -n "$gone" ] && [ -n "$last" ] && [ "$last" -gt "$gone" ]; then
		echo "server_gone: PASS (try $try): $(grep -c "monitor: restored:" "$tmp/node.log") restores, the last after the server's exit"
		exit 0
	fi
done
die "no restore came after the server's exit in 3 tries"
