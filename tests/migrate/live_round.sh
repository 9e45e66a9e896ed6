#!/bin/sh
# A pre-copy migration's first round is read in place while its target
# runs (docs/migration-performance.md, "What a round costs"): every page written
# meanwhile must reach the destination in a later round.  mig_pages
# rewrites all its 8 MiB page by page, each page saying what it should
# hold, and checks every page after each pass; migrated A -> B in two
# rounds while it writes, it must go on at B from a later pass with no
# page torn or old, and stop on A.  Three rounds: the final image
# carries the pages round 3 carried as their differences to them
# (IMAGE_MEM_XOR), which must give every page as written too.
b=${1:-build}
. tests/harness.sh
harness_begin live_round

port=$((30000 + $$ % 20000 + 11))
for n in A B; do
	what='<target binary="mig_pages" ram="12M" caps="100"/>'
	[ $n = B ] && what='<restore/>'
	cat >"$tmp/$n.xml" <<X
<config>
  <parent-provides> <service name="PD"/> <service name="CPU"/> <service name="LOG"/>
    <service name="ROM"/> <service name="RM"/> <service name="Timer"/> <service name="IRQ"/>
  </parent-provides>
  <default-route> <any-service> <parent/> </any-service> </default-route>
  <start name="pages" caps="500"> <binary name="monitor"/> <resource name="RAM" quantum="48M"/>
    <config>$what</config> </start>
</config>
X
done
"$cap" keygen "$tmp/key" >/dev/null || die "keygen"
"$capt" node --rom "$b/components" "$tmp/B.xml" --control "$tmp/B.sock" \
	--listen "127.0.0.1:$port" --key "$tmp/key" >"$tmp/B.log" 2>&1 &
pids="$pids $!"
CAPSULE_TEST_MIGRATE_ROUNDS=3 "$capt" node --rom "$b/components" "$tmp/A.xml" \
	--control "$tmp/A.sock" --key "$tmp/key" >"$tmp/A.log" 2>&1 &
pids="$pids $!"

passes() { sed -n 's/^\[pages\] mig_pages: pass \([0-9]*\)$/\1/p' "$1"; }
# wait_pass LOG N: until LOG has pass N or later (30 s at most)
wait_pass() {
	i=0
	while [ $i -lt 300 ]; do
		n=$(passes "$1" | tail -n 1)
		[ -n "$n" ] && [ "$n" -ge "$2" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
wait_pass "$tmp/A.log" 32 || die "mig_pages did not run on A"
grep -q "waiting for a restore" "$tmp/B.log" || sleep 1
out=$("$cap" migrate --node "$tmp/A.sock" pages --to "127.0.0.1:$port" --timeout 60 2>&1)
case $out in
*"ok pages migrated"*"rounds 3 "*) ok "A -> B in three rounds while it wrote: ${out##*ok }" ;;
*) die "migrate: $out" ;;
esac
grep -q "final.img.*those the round before carried as differences" "$tmp/A.log" ||
	bad "the final image did not carry the pages of round 3 as differences"
last_a=$(passes "$tmp/A.log" | tail -n 1)
wait_pass "$tmp/B.log" $((last_a + 32)) ||
	die "mig_pages did not go on at B past pass $((last_a + 32))"
if grep -q "mig_pages: page" "$tmp/A.log" "$tmp/B.log"; then
	die "a page was wrong: $(grep -h 'mig_pages: page' "$tmp/A.log" "$tmp/B.log")"
fi
ok "B goes on from pass $last_a to $(passes "$tmp/B.log" | tail -n 1), every page as written"
sleep 0.5
[ "$(passes "$tmp/A.log" | tail -n 1)" = "$last_a" ] || bad "mig_pages still runs on A"
exit $fail
