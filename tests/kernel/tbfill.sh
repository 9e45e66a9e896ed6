#!/bin/sh
# tbfill at full size (not part of `make test`: about 3 million
# translations, 20 s of CPU): a chain of TBFILL_KIB KiB of blocks
# (default 4096) rewritten and run TBFILL_PASSES times (default 12), the
# guest that crashed a node with a 64 MiB translation buffer and saw
# stale blocks after its first rewrite.  The node must exit 0 with every
# pass's sum right; a counter beside it must finish.
#   TBFILL_KIB=4096 TBFILL_PASSES=12 sh tests/kernel/tbfill.sh build
b=${1:-build}
kib=${TBFILL_KIB:-4096}
passes=${TBFILL_PASSES:-12}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "$kib" >"$tmp/tbfill.kib"
echo "$passes" >"$tmp/tbfill.passes"
cat >"$tmp/tbfill.xml" <<XML
<config>
	<parent-provides>
		<service name="PD"/> <service name="CPU"/>
		<service name="LOG"/> <service name="ROM"/> <service name="Timer"/>
	</parent-provides>
	<default-route> <any-service> <parent/> </any-service> </default-route>
	<start name="tbfill" caps="50">
		<resource name="RAM" quantum="$((kib / 1024 + 4))M"/>
	</start>
	<start name="counter" caps="50"> <resource name="RAM" quantum="1M"/> </start>
</config>
XML
start=$(date +%s)
timeout -k 10 600 "$b/capsule" run --rom "$b/components" --rom "$tmp" "$tmp/tbfill.xml" \
	>"$tmp/log" 2>&1
rc=$?
secs=$(($(date +%s) - start))
blocks=$((kib * 1024 / 16))
if [ "$rc" = 0 ] && grep -q "^\[tbfill\] tbfill: $passes passes over $blocks blocks$" "$tmp/log" &&
	grep -q '^\[init\] tbfill exited with 0$' "$tmp/log" &&
	grep -q '^\[init\] counter exited with 0$' "$tmp/log"; then
	echo "kernel: PASS tbfill: $passes passes over $blocks blocks, node up (${secs}s)"
	exit 0
fi
echo "kernel: FAIL tbfill: node exit $rc"
sed 's/^/  | /' "$tmp/log" | tail -20
exit 1
