#!/bin/sh
# Scenario tests: each tests/scenario/NAME.xml is booted as a node with
# `capsule run`; tests/scenario/NAME.expect lists lines (fixed strings) that
# must appear in its output, in that order.  A line "exit N" in the expect
# file is the node's expected exit status (default 0); a line "!TEXT" says
# TEXT must appear nowhere in the output, and "~TEXT" that TEXT appears
# somewhere, in any order (lines of components that run independently).
# With NAME... after the build directory, only those scenarios run.
b=${1:-build}
[ $# -gt 0 ] && shift
fail=0
for name in "$@"; do
	[ -f "tests/scenario/$name.xml" ] ||
		{ echo "scenario: FAIL $name: no tests/scenario/$name.xml"; fail=1; }
done
for cfg in tests/scenario/*.xml; do
	[ -f "$cfg" ] || continue
	name=$(basename "$cfg" .xml)
	if [ $# -gt 0 ]; then
		case " $* " in *" $name "*) ;; *) continue ;; esac
	fi
	exp=tests/scenario/$name.expect
	out=$b/scenario-$name.log
	want=$(sed -n 's/^exit \([0-9]*\)$/\1/p' "$exp")
	timeout -k 10 60 "$b/capsule" run --rom "$b/components" "$cfg" >"$out" 2>&1
	rc=$?
	ok=1
	[ "$rc" = "${want:-0}" ] || { echo "scenario $name: exit $rc, want ${want:-0}"; ok=0; }
	pos=1
	while IFS= read -r line; do
		case "$line" in "exit "*|"") continue ;; esac
		case "$line" in "!"*)
			if grep -q -F -- "${line#!}" "$out"; then
				echo "scenario $name: must not appear: ${line#!}"; ok=0; break
			fi
			continue ;;
		esac
		case "$line" in "~"*)
			if ! grep -q -F -- "${line#\~}" "$out"; then
				echo "scenario $name: missing: ${line#\~}"; ok=0; break
			fi
			continue ;;
		esac
		n=$(tail -n +"$pos" "$out" | grep -n -F -m1 -- "$line" | cut -d: -f1)
		if [ -z "$n" ]; then
			echo "scenario $name: missing (in order): $line"; ok=0; break
		fi
		pos=$((pos + n))
	done <"$exp"
	if [ $ok = 1 ]; then echo "scenario: PASS $name"; else
		echo "scenario: FAIL $name"; sed 's/^/  | /' "$out" | tail -40; fail=1; fi
done
# group_test.xml leaves its group image (node B of a zdtm run would read it)
rm -f /tmp/capsule-group_test-*.img
exit $fail
