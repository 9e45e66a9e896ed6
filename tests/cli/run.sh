#!/bin/sh
# The control plane end to end: `capsule node ... --control SOCK` in the
# background, `capsule ps|checkpoint` as clients, one-line errors, stale
# and live sockets, shutdown by SIGTERM removing the socket.
b=${1:-build}
cap=$b/capsule
tmp=$(mktemp -d)
sock=$tmp/a.sock
fail=0
node_pid=

bad() { echo "cli: FAIL $*"; fail=1; }
ok() { echo "cli: PASS $*"; }
cleanup() {
	[ -n "$node_pid" ] && kill -KILL "$node_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# start_node CONFIG: background node on $sock; waits until ps answers
start_node() {
	"$cap" node --rom "$b/components" "$1" --control "$sock" >"$tmp/node.log" 2>&1 &
	node_pid=$!
	i=0
	while [ $i -lt 100 ]; do
		"$cap" ps --node "$sock" >"$tmp/ps.out" 2>"$tmp/ps.err" && return 0
		kill -0 "$node_pid" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	cat "$tmp/node.log" "$tmp/ps.err"
	return 1
}

# expect_err NAME RC PATTERN CMD...: exit code RC, exactly one stderr line
# matching PATTERN, nothing on stdout
expect_err() {
	name=$1 rc=$2 pat=$3
	shift 3
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ $got -ne "$rc" ] || [ "$(wc -l <"$tmp/err")" -ne 1 ] ||
	   ! grep -q -- "$pat" "$tmp/err" || [ -s "$tmp/out" ]; then
		bad "$name (rc $got, stderr: $(cat "$tmp/err"))"
	else
		ok "$name"
	fi
}

if ! start_node examples/ps-node.xml; then
	bad "node with control socket did not answer ps"
	exit 1
fi
ok "node serves ps"
for want in 'pd "core"' 'pd "init"' 'pd "alpha" task=0x[0-9a-f]* cap_map=0x[0-9a-f]* entries=[0-9]* caps=[1-9]' \
	'pd "beta"' '  thread 0 alpha blocked'; do
	grep -q "^$want" "$tmp/ps.out" || bad "ps lists '$want': $(cat "$tmp/ps.out")"
done
i=0 # hello exits right away: once it has, ps no longer lists it
while grep -q '^pd "hello"' "$tmp/ps.out" && [ $i -lt 50 ]; do
	sleep 0.1
	"$cap" ps --node "$sock" >"$tmp/ps.out" 2>&1
	i=$((i + 1))
done
grep -q '^pd "hello"' "$tmp/ps.out" && bad "ps lists hello, which exited"
ok "ps names the components, threads and cap counts"

expect_err "no such socket" 2 "^capsule ps: $tmp/none.sock: no node listening" \
	"$cap" ps --node "$tmp/none.sock"
expect_err "unknown command" 2 "^capsule: unknown command 'frobnicate'" \
	"$cap" frobnicate --node "$sock"
expect_err "usage error" 2 "^usage: capsule checkpoint" \
	"$cap" checkpoint --node "$sock" counter
expect_err "no monitor" 1 "^error: counter: not under a monitor$" \
	"$cap" checkpoint --node "$sock" counter -o "$tmp/c.img"
expect_err "restore of a missing image" 2 "^capsule restore: $tmp/none.img: No such file" \
	"$cap" restore --node "$sock" "$tmp/none.img" counter
expect_err "restore of a non-image" 1 "^error: $tmp/node.log: not a capsule image$" \
	"$cap" restore --node "$sock" "$tmp/node.log"
if command -v python3 >/dev/null; then
	ans=$(python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"frobnicate now\n"); print(s.makefile().read().strip())' "$sock")
	[ "$ans" = "error: unknown command 'frobnicate'" ] && ok "protocol: unknown command" ||
		bad "protocol: unknown command answered '$ans'"
fi
expect_err "live socket refused" 2 "another node is live on it" \
	"$cap" node --rom "$b/components" examples/ps-node.xml --control "$sock"

kill -TERM "$node_pid"
wait "$node_pid"
rc=$?
node_pid=
[ $rc -eq 0 ] && [ ! -e "$sock" ] && ok "SIGTERM: clean stop, socket removed" ||
	bad "SIGTERM: rc $rc, socket $(ls "$sock" 2>&1)"

# a node killed hard leaves a stale socket; the next node takes it over
start_node examples/ps-node.xml || bad "second node"
kill -KILL "$node_pid"
wait "$node_pid" 2>/dev/null
node_pid=
[ -S "$sock" ] || bad "stale socket expected after SIGKILL"
if start_node examples/ps-node.xml; then ok "stale socket replaced"; else bad "stale socket"; fi
kill -INT "$node_pid"
wait "$node_pid"
rc=$?
node_pid=
[ $rc -eq 0 ] && [ ! -e "$sock" ] && ok "SIGINT: clean stop" || bad "SIGINT: rc $rc"
exit $fail
