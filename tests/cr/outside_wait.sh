#!/bin/sh
# A restore waits a bounded time for an outside service: node A
# checkpoints rpc_client (its Calc session routed to a server outside the
# monitor) into an image; node B has a "server" that declares Calc but
# never announces it (sleeper).  B's monitor must give up within about 1 s
# with one line naming the service (and no second, general one) and run none of the target.  (It
# retried for 10 s before.)  The sleeper stays, so init never reports the
# node's end: the time is taken when the monitor's refusal appears.
b=${1:-build}
tmp=$(mktemp -d /tmp/capsule-owait.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; [ -n "$KEEP" ] || rm -rf "$tmp"' EXIT
die() { echo "outside_wait: FAIL: $*"; exit 1; }
BOUND_MS=3000 # from B's start: the 1 s wait plus booting on a loaded machine

sed "s|@TARGET@|<target binary=\"rpc_client\" ram=\"2M\" caps=\"200\"/><test checkpoint_after_log=\"1\" image=\"$tmp/c.img\" then=\"exit\"/>|" \
	tests/zdtm/rpc.xml >"$tmp/a.xml"
timeout -k 10 60 "$b/capsule" run --rom "$b/components" "$tmp/a.xml" >"$tmp/a.log" 2>&1
[ -s "$tmp/c.img" ] || { tail -5 "$tmp/a.log"; die "node A wrote no image"; }

sed -e "s|@TARGET@|<restore image=\"$tmp/c.img\"/>|" \
	-e 's|<binary name="rpc_server"/>|<binary name="sleeper"/>|' tests/zdtm/rpc.xml >"$tmp/b.xml"
grep -q '"sleeper"' "$tmp/b.xml" || die "cannot make node B's config"
want="service 'Calc' is declared but was not announced within 1000 ms"
t0=$(date +%s%N)
timeout -k 10 30 "$b/capsule" run --rom "$b/components" "$tmp/b.xml" >"$tmp/b.log" 2>&1 &
pid=$!
while ! grep -qF "$want" "$tmp/b.log" &&
	kill -0 "$pid" 2>/dev/null; do
	sleep 0.05
done
ms=$((($(date +%s%N) - t0) / 1000000))
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
pid=
if ! grep -qF "$want" "$tmp/b.log" || grep -q "^\[client\] rpc_client" "$tmp/b.log"; then
	sed 's/^/  | /' "$tmp/b.log" | head -20
	die "want the monitor's refusal '$want'"
fi
# one line: the generic "cannot open the target's sessions" is not added
n=$(grep -c "monitor: restore:" "$tmp/b.log")
[ "$n" = 1 ] || { grep "monitor: restore:" "$tmp/b.log"; die "want one line of the refusal, got $n"; }
[ "$ms" -le $BOUND_MS ] || die "the restore gave up after $ms ms (bound $BOUND_MS)"
echo "outside_wait: PASS: gave up after $ms ms from node start: $(grep -m1 -F "$want" "$tmp/b.log")"
