#!/bin/sh
# Run every cmocka unit test binary in $1/tests: one line per cmocka test
# ("unit: PASS test_x: name"); fail if any fails.  A binary that fails
# without a failed cmocka test (it crashed) is one failed test itself.
b=${1:-build}
fail=0
for t in "$b"/tests/test_*; do
	[ -x "$t" ] || continue
	case "$t" in *.d | *.log) continue ;; esac
	n=$(basename "$t")
	"$t" >"$t.log" 2>&1
	rc=$?
	sed -n -e "s/^\[       OK \] \(.*\)/unit: PASS $n: \1/p" \
		-e "s/^\[  FAILED  \] \([^ ]*\)$/unit: FAIL $n: \1/p" "$t.log" | awk '!seen[$0]++'
	if [ $rc != 0 ]; then
		cat "$t.log"
		grep -q '^\[  FAILED  \] [^ ]*$' "$t.log" || echo "unit: FAIL $n (exit $rc)"
		fail=1
	elif ! grep -q '^\[       OK \]' "$t.log"; then
		echo "unit: PASS $n"
	fi
done
exit $fail
