#!/bin/sh
# tests/summary.sh MAKE TARGET...: run `MAKE TARGET` for each target in
# turn (all of them, whatever fails), pass their output on, and end with
# one line "N passed, N failed" counting every test they ran, after the
# failed tests' lines again (a long run's output is often seen only by
# its end).  A test is
# a line "HARNESS: PASS ..." or "HARNESS: FAIL ..." (every harness of the
# tree prints one per test); a target that fails without such a line
# (a build error, a harness that died) counts as one failed test.  The
# exit status is 0 only if nothing failed.
make_cmd=$1
shift
tmp=$(mktemp -d /tmp/capsule-summary.XXXXXX) || exit 2
trap 'rm -rf "$tmp"' EXIT
pass=0 failed=0
for t in "$@"; do
	{
		$make_cmd "$t" 2>&1
		echo $? >"$tmp/rc"
	} | awk -v counts="$tmp/counts" -v fails="$tmp/fails" -v target="$t" '
		{ print; fflush() }
		/^[A-Za-z0-9_.-]+: PASS/ { p++ }
		/^[A-Za-z0-9_.-]+: FAIL/ { f++; print "[" target "] " $0 >> fails }
		END { printf "%d %d\n", p, f > counts }'
	read -r p f <"$tmp/counts"
	rc=$(cat "$tmp/rc")
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "$t: FAIL (exit $rc without a failed test: see above)" |
			tee -a "$tmp/fails"
		f=1
	fi
	pass=$((pass + p))
	failed=$((failed + f))
done
if [ -s "$tmp/fails" ]; then
	echo "failed:"
	cut -c1-300 "$tmp/fails"
fi
echo "$pass passed, $failed failed"
[ $failed = 0 ]
