#!/bin/sh
# Errors travel to the CLI, and the control plane stays responsive:
#  - the node's one-line reason is printed by the client, naming the file,
#    component, kcap, binary or quota and what to do (-o into /proc, a
#    second restore, a missing binary at the destination, a cap of no
#    class, a too-small quota: the five of issue 11, item 4);
#  - an existing -o file is kept without --force, no temporary file is
#    left behind, Ctrl-C cancels a checkpoint (the target runs on, no file);
#  - ps is answered while a migration waits for its peer, and the
#    migration still ends with its own answer.
b=${1:-build}
cap=$b/capsule
tmp=$(mktemp -d /tmp/capsule-err.XXXXXX)
fail=0
pids=

bad() { echo "cli-errors: FAIL $*"; fail=1; }
ok() { echo "cli-errors: PASS $*"; }
cleanup() {
	for p in $pids; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# node NAME CONFIG [ROMDIR]: background node on $tmp/NAME.sock, log
# $tmp/NAME.log, once ps answers
node() {
	"$cap" node --rom "${3:-$b/components}" "$2" --control "$tmp/$1.sock" \
		--log "$tmp/$1.log" >"$tmp/$1.out" 2>&1 &
	pids="$pids $!"
	eval "pid_$1=$!"
	i=0
	until "$cap" ps --node "$tmp/$1.sock" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -gt 200 ] && { bad "node $1 did not come up: $(cat "$tmp/$1.out")"; return 1; }
		sleep 0.05
	done
}

# wait_log NAME PATTERN: until the node's log has a matching line (20 s)
wait_log() {
	i=0
	until grep -q -- "$2" "$tmp/$1.log" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 400 ] && return 1
		sleep 0.05
	done
}

# expect NAME RC PATTERN CMD...: exit code RC, one stderr line matching
expect() {
	name=$1 rc=$2 pat=$3
	shift 3
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ $got -ne "$rc" ] || [ "$(wc -l <"$tmp/err")" -ne 1 ] ||
	   ! grep -q -- "$pat" "$tmp/err"; then
		bad "$name (rc $got, stderr: $(cat "$tmp/err"))"
	else
		ok "$name: $(cat "$tmp/err")"
	fi
}

node a examples/counter-node.xml || exit 1
wait_log a "count 1" || bad "counter does not count: $(tail -n 3 "$tmp/a.log")"
img=$tmp/c.img
"$cap" checkpoint --node "$tmp/a.sock" counter -o "$img" >"$tmp/out" 2>"$tmp/err" ||
	bad "checkpoint: $(cat "$tmp/err")"
grep -Eq "^ok counter $img: paused [0-9.]+ ms, image [0-9]+ bytes, [0-9]+ pages, [0-9]+ caps, [0-9]+ threads, total [0-9]+ ms$" \
	"$tmp/out" && ok "checkpoint: one final line with the figures: $(cat "$tmp/out")" ||
	bad "checkpoint's final line: $(cat "$tmp/out")"
[ -s "$tmp/err" ] && bad "checkpoint wrote to stderr, not a terminal: $(cat "$tmp/err")"
"$cap" checkpoint -q --node "$tmp/a.sock" counter -o "$tmp/q.img" >"$tmp/out" 2>&1
[ $? -eq 0 ] && [ ! -s "$tmp/out" ] && [ -s "$tmp/q.img" ] && ok "-q prints nothing" ||
	bad "-q: $(cat "$tmp/out")"
"$cap" checkpoint -v --node "$tmp/a.sock" counter -o "$tmp/v.img" >"$tmp/out" 2>"$tmp/err"
grep -q "^checkpoint counter: pausing slow_counter (at [0-9.]* s)$" "$tmp/err" &&
	grep -q "^checkpoint counter: writing [0-9]* bytes of memory (at [0-9.]* s)$" "$tmp/err" &&
	ok "-v prints the phases: $(tr '\n' ';' <"$tmp/err")" || bad "-v: $(cat "$tmp/err")"
ls -A "$tmp" | grep -q '\.tmp-' && bad "a temporary image is left: $(ls -A "$tmp")"

cksum <"$img" >"$tmp/sum1"
expect "an existing -o file is kept" 1 "^capsule checkpoint: $img exists (--force replaces it)$" \
	"$cap" checkpoint --node "$tmp/a.sock" counter -o "$img"
cksum <"$img" | cmp -s - "$tmp/sum1" || bad "the existing image was changed"
"$cap" checkpoint --node "$tmp/a.sock" counter --force -o "$img" >/dev/null 2>&1 &&
	! cksum <"$img" | cmp -s - "$tmp/sum1" && ok "--force replaces it" || bad "--force"
expect "-o into /proc" 1 "^capsule checkpoint: /proc/x.img: cannot create a file there: .* (give -o a path in a directory you can write to)$" \
	"$cap" checkpoint --node "$tmp/a.sock" counter -o /proc/x.img
# the capability graph: every cap a node, every edge between declared nodes
"$cap" inspect --dot "$img" >"$tmp/caps.dot" 2>"$tmp/err" || bad "inspect --dot: $(cat "$tmp/err")"
if command -v python3 >/dev/null; then
	python3 - "$tmp/caps.dot" "$("$cap" inspect --json "$img" | python3 -c '
import json, sys; print(len(json.load(sys.stdin)["caps"]))')" <<'EOF' &&
import re, sys
text = open(sys.argv[1]).read()
assert text.startswith("digraph capsule {") and text.rstrip().endswith("}")
nodes = set(re.findall(r'^  ("[^"]*"|\w+) \[', text, re.M))
edges = re.findall(r'^  ("[^"]*"|\w+) -> ("[^"]*"|\w+)', text, re.M)
kcaps = [n for n in nodes if n.startswith("kcap")]
assert len(kcaps) == int(sys.argv[2]), (len(kcaps), sys.argv[2])
assert edges and all(a in nodes and b in nodes for a, b in edges), edges
assert any(a.startswith("kcap") and b.startswith("session") for a, b in edges)
assert any(b.startswith('"server monitor') for a, b in edges)
EOF
		ok "inspect --dot: every cap, object and server in a well-formed graph" ||
		bad "inspect --dot: $(head -c 400 "$tmp/caps.dot")"
fi
if command -v dot >/dev/null; then
	"$cap" inspect --svg "$tmp/caps.svg" "$img" && grep -q "<svg" "$tmp/caps.svg" &&
		ok "inspect --svg" || bad "inspect --svg"
else
	expect "inspect --svg without Graphviz" 1 "^capsule inspect: --svg $tmp/caps.svg: Graphviz's dot is not installed" \
		"$cap" inspect --svg "$tmp/caps.svg" "$img"
fi

# inspect --json follows its JSON Schema (docs/inspect.schema.json), which
# rejects what it must (a kcap as a number)
"$cap" inspect --json "$img" >"$tmp/img.json" || bad "inspect --json"
if ! python3 -c 'import jsonschema' 2>/dev/null; then
	echo "cli-errors: SKIP the schema check: python3's jsonschema is not installed"
else python3 - docs/inspect.schema.json "$tmp/img.json" "$img" <<'EOF' >"$tmp/schema.out" 2>&1 &&
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
doc = json.load(open(sys.argv[2]))
jsonschema.validate(doc, schema)
# what schema 3 promises of a real image
import os
assert doc["schema"] == 3
assert doc["stats"]["image_bytes"] == os.path.getsize(sys.argv[3]), "image_bytes"
assert int(doc["image"]["created_ns"]) > 2**53 and doc["image"]["node"]
c = doc["component"]
assert 0 < c["ram_used"] <= c["ram_quota"] and 0 < c["cap_used"] <= c["cap_quota"], c
assert all(t["regs"]["rip"] == t["rip"] and t["regs"]["rsp"] == t["rsp"] for t in doc["threads"])
assert all(k["obj_is"] for k in doc["caps"])
assert all(t["name"] for t in doc["threads"]), "a thread without its name"
doc["caps"][0]["kcap"] = int(doc["caps"][0]["kcap"], 16)
try:
    jsonschema.validate(doc, schema)
    sys.exit("a kcap as a number was accepted")
except jsonschema.ValidationError:
    pass
EOF
	ok "inspect --json follows docs/inspect.schema.json" || bad "schema: $(tail -n 3 "$tmp/schema.out")"
fi

# ps: a header, the monitor (its entrypoint and the signal thread its
# pause retries come through) and its target told apart, the checkpoints
"$cap" ps --node "$tmp/a.sock" >"$tmp/ps" 2>&1 || bad "ps: $(cat "$tmp/ps")"
if head -n 1 "$tmp/ps" | grep -q '^NAME  *ROLE  *STATE  *RAM  *THREADS  *CAPS  *CHECKPOINTS/RESTORES$' &&
   grep -Eq '^counter +monitor +[a-z]+ +[0-9.]+M/[0-9.]+M +2 +[0-9]+ +-$' "$tmp/ps" &&
   grep -Eq '^counter +target +(blocked|running) +[0-9.]+M/2.0M +2 +[0-9]+ +4/0$' "$tmp/ps" &&
   grep -q '^kernel: tasks' "$tmp/ps"; then
	ok "ps: header, monitor and target apart, 4 checkpoints"
else
	bad "ps table: $(cat "$tmp/ps")"
fi
if command -v python3 >/dev/null; then
	"$cap" ps --json --node "$tmp/a.sock" | python3 -c '
import json, sys
d = json.load(sys.stdin)
t = [c for c in d["components"] if c["role"] == "target"]
assert len(t) == 1 and t[0]["name"] == "counter" and t[0]["checkpoints"] == 4, t
assert t[0]["ram_quota"] == 2 << 20 and t[0]["threads"] == 2, t
assert d["kernel"].startswith("tasks ")' && ok "ps --json" || bad "ps --json"
fi
expect "a second restore" 1 \
	"^error: counter: restore: this monitor runs 'slow_counter' already (a restore needs a monitor without a running target" \
	"$cap" restore --node "$tmp/a.sock" "$img"
expect "a component not under a monitor" 1 "^error: nobody: not under a monitor$" \
	"$cap" checkpoint --node "$tmp/a.sock" nobody -o "$tmp/n.img"
[ -e "$tmp/n.img" ] && bad "a refused checkpoint left $tmp/n.img"

# views of one section and of one page (crit show / crit x)
"$cap" inspect --caps "$img" >"$tmp/caps.txt" 2>"$tmp/err"
if head -n 2 "$tmp/caps.txt" | tail -n 1 | grep -q '^caps ([0-9]*):$' &&
   ! grep -q '^threads\|^image:' "$tmp/caps.txt" && [ ! -s "$tmp/err" ]; then
	ok "inspect --caps: the caps section only ($(grep -c 'kcap=' "$tmp/caps.txt") caps)"
else
	bad "inspect --caps: $(head -n 3 "$tmp/caps.txt") $(cat "$tmp/err")"
fi
"$cap" inspect --section threads --json "$img" | python3 -c '
import json, sys; d = json.load(sys.stdin); assert set(d) == {"schema", "threads"}, d.keys()' &&
	ok "inspect --section threads --json: that section as JSON" || bad "--section threads --json"
expect "inspect of a section the image has not" 1 \
	"^capsule inspect: $img: no section .nope. (it has: image, component, .*caps.*)$" \
	"$cap" inspect --section nope "$img"
# the page at the binary's first load address holds the binary's bytes there
python3 - "$b/components/slow_counter" >"$tmp/seg" <<'EOF'
import struct, sys
f = open(sys.argv[1], "rb").read()
phoff, = struct.unpack_from("<Q", f, 0x20); n, = struct.unpack_from("<H", f, 0x38)
for i in range(n):
    t, fl, off, va = struct.unpack_from("<IIQQ", f, phoff + 56 * i)
    if t == 1:
        print("%#x %s" % (va, f[off:off + 16].hex())); break
EOF
read -r va want <"$tmp/seg"
"$cap" inspect --page "$va" "$img" >"$tmp/page" 2>"$tmp/err"
got=$(sed -n 2p "$tmp/page" | cut -d'|' -f1 | cut -d: -f2 | tr -d ' ')
if [ "$(wc -l <"$tmp/page")" -eq 257 ] && [ "$got" = "$want" ]; then
	ok "inspect --page $va: $(head -n 1 "$tmp/page"), the binary's bytes"
else
	bad "inspect --page $va: want $want, got '$got': $(head -n 2 "$tmp/page") $(cat "$tmp/err")"
fi
expect "inspect --page of an address nothing is at" 1 \
	"^capsule inspect: $img: page 0x10: no region of the address space holds it" \
	"$cap" inspect --page 0x10 "$img"

# the graph with the badges before and after a restore: restored on r,
# checkpointed there again; every kcap is back, objects have new badges
node r examples/empty-node.xml || exit 1
if "$cap" restore -q --node "$tmp/r.sock" "$img" &&
   "$cap" checkpoint -q --node "$tmp/r.sock" counter -o "$tmp/after.img"; then
	"$cap" inspect --dot "$img" "$tmp/after.img" >"$tmp/ab.dot" 2>"$tmp/err"
	n=$(python3 - "$tmp/ab.dot" <<'EOF'
import re, sys
pairs = re.findall(r'label="kcap (0x[0-9a-f]+)\\nbadge (0x[0-9a-f]+) -> new (0x[0-9a-f]+)', open(sys.argv[1]).read())
assert pairs and "gone" not in open(sys.argv[1]).read(), pairs
assert any(old != new for k, old, new in pairs), pairs
print("%d kcaps, %d with a new badge" % (len(pairs), sum(old != new for k, old, new in pairs)))
EOF
	) && ok "inspect --dot BEFORE AFTER: old and new badge of every kcap ($n)" ||
		bad "inspect --dot BEFORE AFTER: $(head -c 600 "$tmp/ab.dot") $(cat "$tmp/err")"
else
	bad "restore and checkpoint at r for the badge graph"
fi
expect "a second image without --dot" 2 "^capsule inspect: a second image" \
	"$cap" inspect "$img" "$tmp/after.img"

# a destination without the binary: named, and where to put it
mkdir "$tmp/rom"
node b examples/empty-node.xml "$tmp/rom" || exit 1
expect "a missing binary at the destination" 1 \
	"^error: counter: restore refused: binary 'slow_counter': cannot open it at this node's ROM: .*capsule node --rom DIR)$" \
	"$cap" restore --node "$tmp/b.sock" "$img"
# a monitor whose quota is smaller than the target's
sed 's/quantum="16M"/quantum="1M"/' examples/empty-node.xml >"$tmp/small.xml"
node s "$tmp/small.xml" || exit 1
expect "a too-small quota" 1 \
	"^error: counter: restore refused: image .*: component section, field ram_quota: the target needs 2048 KiB of RAM, more than this monitor has free (.* KiB): raise the RAM quantum of its <start>$" \
	"$cap" restore --node "$tmp/s.sock" "$img"

# a target holding a cap the monitor has no class for (cr_giver gave
# cr_server a cap of its own; the ROM cr_giver.delay_ms keeps it there)
mkdir "$tmp/giver"
echo 600000 >"$tmp/giver/cr_giver.delay_ms"
cat >"$tmp/giver.xml" <<'EOF'
<config>
	<default-route> <any-service> <parent/> </any-service> </default-route>
	<start name="server" caps="500"> <binary name="monitor"/>
		<resource name="RAM" quantum="16M"/>
		<provides> <service name="Echo"/> </provides>
		<config> <target binary="cr_server" ram="2M" caps="100"/> </config>
	</start>
	<start name="giver" caps="100"> <binary name="cr_giver"/>
		<resource name="RAM" quantum="2M"/>
		<route> <service name="Echo"> <child name="server"/> </service>
			<any-service> <parent/> </any-service> </route>
	</start>
</config>
EOF
"$cap" node --rom "$tmp/giver" --rom "$b/components" "$tmp/giver.xml" \
	--control "$tmp/g.sock" --log "$tmp/g.log" >"$tmp/g.out" 2>&1 &
pids="$pids $!"
if wait_log g "server: keeping a cap from the client"; then
	expect "a cap of no class" 1 \
		"^error: server: checkpoint: kcap 0x[0-9a-f]* badge 0x[0-9a-f]* fits no class (the monitor did not see it handed out: route the session it came from through the monitor; the target runs on)$" \
		"$cap" checkpoint --node "$tmp/g.sock" server -o "$tmp/g.img"
	[ -e "$tmp/g.img" ] && bad "a refused checkpoint left $tmp/g.img"
	"$cap" ps --node "$tmp/g.sock" >"$tmp/ps-g" 2>&1
	grep -Eq "^server +target +(blocked|running) " "$tmp/ps-g" ||
		bad "after the refusal the target does not run on: $(cat "$tmp/ps-g")"
else
	bad "cr_server did not get the giver's cap: $(tail -n 3 "$tmp/g.log")"
fi

# Ctrl-C during a checkpoint of 256 MiB: exit 130, no file, the target
# runs on (bench_cr_mem checks its memory and exits 0)
sed -e 's/quantum="16M"/quantum="300M"/' \
	-e 's|<target binary="slow_counter" ram="2M" caps="100"/>|<target binary="bench_cr_mem" ram="264M" caps="150"/>|' \
	examples/counter-node.xml >"$tmp/mem.xml"
node m "$tmp/mem.xml" || exit 1
if wait_log m "bench_cr_mem: touched"; then
	"$cap" checkpoint --node "$tmp/m.sock" counter -o "$tmp/m.img" >"$tmp/out" 2>"$tmp/err" &
	cpid=$!
	i=0 # the client made its temporary file: the request is on its way
	until ls -A "$tmp" | grep -q '^\.m\.img\.tmp-' || [ $i -gt 200 ]; do
		sleep 0.01
		i=$((i + 1))
	done
	# the control socket answers ps while the checkpoint runs
	"$cap" ps --node "$tmp/m.sock" >"$tmp/ps-m" 2>&1 &&
		grep -q "^counter  *target " "$tmp/ps-m" &&
		ok "ps answered during the checkpoint: $(grep '^counter  *target' "$tmp/ps-m" | tr -s ' ')" ||
		bad "ps during a checkpoint: $(cat "$tmp/ps-m")"
	kill -INT $cpid
	wait $cpid
	rc=$?
	if [ $rc -eq 130 ] && [ ! -e "$tmp/m.img" ] && ! ls -A "$tmp" | grep -q '\.m\.img\.tmp' &&
	   grep -q "^capsule checkpoint: cancelled: counter runs on, no image written$" "$tmp/err"; then
		ok "Ctrl-C cancels: $(cat "$tmp/err") (node: $(grep -c 'bytes written' "$tmp/m.log") image written)"
	else
		bad "Ctrl-C: rc $rc, $(cat "$tmp/err" "$tmp/out"), files: $(ls -A "$tmp")"
	fi
	wait_log m "counter exited with 0" &&
		ok "the target ran on and exited 0" || bad "after the cancel: $(tail -n 4 "$tmp/m.log")"
else
	bad "bench_cr_mem did not start: $(tail -n 3 "$tmp/m.log")"
fi

# ps while a migration waits for a peer that accepts and never answers
if command -v python3 >/dev/null; then
	python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4)
print(s.getsockname()[1], flush=True)
c, _ = s.accept(); time.sleep(30)' >"$tmp/port" &
	pids="$pids $!"
	i=0
	until [ -s "$tmp/port" ] || [ $i -gt 100 ]; do sleep 0.05; i=$((i + 1)); done
	"$cap" keygen "$tmp/key"
	node k examples/counter-node.xml || exit 1
	kill "$pid_k"
	wait "$pid_k" 2>/dev/null
	"$cap" node --rom "$b/components" examples/counter-node.xml --control "$tmp/k.sock" \
		--key "$tmp/key" --log "$tmp/k.log" >"$tmp/k.out" 2>&1 &
	pids="$pids $!"
	until "$cap" ps --node "$tmp/k.sock" >/dev/null 2>&1; do sleep 0.05; done
	t0=$(date +%s%N)
	"$cap" migrate --node "$tmp/k.sock" counter --to "127.0.0.1:$(cat "$tmp/port")" \
		--timeout 3 >"$tmp/mig.out" 2>"$tmp/mig.err" &
	mpid=$!
	sleep 0.5
	"$cap" ps --node "$tmp/k.sock" >"$tmp/ps.out" 2>&1
	t1=$(date +%s%N)
	kill -0 $mpid 2>/dev/null && grep -q "^counter  *target" "$tmp/ps.out" &&
		ok "ps answered in $(((t1 - t0) / 1000000)) ms while a migration runs" ||
		bad "ps during a migration: $(cat "$tmp/ps.out")"
	wait $mpid
	[ $? -eq 1 ] && grep -q "^error: counter: 127.0.0.1:.*(the target runs on here)" "$tmp/mig.err" &&
		ok "the migration ends with its own answer: $(cat "$tmp/mig.err")" ||
		bad "migration: $(cat "$tmp/mig.out" "$tmp/mig.err")"
fi

# a node whose children all ended says so (and keeps serving); a missing
# binary is reported with the ROM directories looked at
cat >"$tmp/ends.xml" <<'EOF'
<config>
	<parent-provides> <service name="PD"/> <service name="CPU"/> <service name="LOG"/>
		<service name="ROM"/> <service name="RM"/> <service name="Timer"/> </parent-provides>
	<default-route> <any-service> <parent/> </any-service> </default-route>
	<start name="counter" caps="50"> <resource name="RAM" quantum="1M"/> </start>
	<start name="nothing" caps="50"> <binary name="no_such_binary"/>
		<resource name="RAM" quantum="1M"/> </start>
</config>
EOF
node e "$tmp/ends.xml" || exit 1
wait_log e "^node: all of init's children have ended (result 2); the control socket is served until SIGINT or SIGTERM$" &&
	"$cap" ps --node "$tmp/e.sock" >/dev/null 2>&1 &&
	ok "capsule node says when all children ended, and still serves" ||
	bad "no word of the children's end: $(tail -n 3 "$tmp/e.log")"
grep -qF "core: ROM \"no_such_binary\": no such file in the ROM directories ($b/components, $tmp; capsule run|node --rom DIR adds one)" \
	"$tmp/e.log" && ok "a missing binary names the ROM directories looked at" ||
	bad "the ROM error: $(grep 'no_such' "$tmp/e.log")"

# --exit-when-done: the node ends with init (its result as the exit code)
timeout -k 10 60 "$cap" node --rom "$b/components" --exit-when-done "$tmp/ends.xml" \
	--control "$tmp/x.sock" >"$tmp/x.out" 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q "^\[init\] counter exited with 0" "$tmp/x.out" &&
   ! grep -q "served until SIGINT" "$tmp/x.out" && [ ! -e "$tmp/x.sock" ]; then
	ok "capsule node --exit-when-done exits with init's result ($rc)"
else
	bad "--exit-when-done: rc $rc, $(tail -n 3 "$tmp/x.out")"
fi
# capsule node --log FILE: the node's output went to the file
grep -q "^\[counter\] count" "$tmp/a.log" && [ ! -s "$tmp/a.out" ] &&
	ok "capsule node --log FILE takes the node's output" || bad "--log: $(head -n 3 "$tmp/a.out")"
exit $fail
