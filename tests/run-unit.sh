#!/bin/sh
# Run every cmocka unit test binary in $1/tests; fail if any fails.
b=${1:-build}
fail=0
for t in "$b"/tests/test_*; do
	[ -x "$t" ] || continue
	case "$t" in *.d) continue ;; esac
	if "$t" >"$t.log" 2>&1; then
		echo "unit: PASS $(basename "$t")"
	else
		echo "unit: FAIL $(basename "$t")"; cat "$t.log"; fail=1
	fi
done
exit $fail
