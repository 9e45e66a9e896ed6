# Sourced by the shell harnesses that boot nodes.  After
#
#	b=${1:-build}
#	. tests/harness.sh
#	harness_begin NAME
#
# $cap is the CLI of build $b, $capt its test build (capsule-test: the
# same node, with the CAPSULE_TEST_* switches acting), $tmp a fresh
# directory (removed at the end unless $KEEP is set), $pids the processes
# the end kills, $fail 0; bad and ok print "NAME: FAIL/PASS ...", die also prints the tail of every
# log in $tmp and ends the harness.
harness_begin() {
	h_name=$1
	cap=$b/capsule
	capt=$b/capsule-test
	tmp=$(mktemp -d "/tmp/capsule-$1.XXXXXX") || exit 1
	pids=
	fail=0
	trap harness_end EXIT
}

harness_end() {
	for p in $pids; do kill -KILL "$p" 2>/dev/null; done
	[ -n "$KEEP" ] || rm -rf "$tmp"
}

bad() {
	echo "$h_name: FAIL $*"
	fail=1
}

ok() { echo "$h_name: PASS $*"; }

die() {
	bad "$*"
	for f in "$tmp"/*.log; do
		echo "--- $f"
		tail -n 25 "$f" | sed 's/^/  | /'
	done
	exit 1
}

# wait_line FILE TEXT [TENTHS]: until FILE has a line with TEXT (fixed
# string), at most TENTHS tenths of a second (default 300); 1 if not.
wait_line() {
	w_i=0
	until grep -qF -- "$2" "$1" 2>/dev/null; do
		w_i=$((w_i + 1))
		[ $w_i -lt "${3:-300}" ] || return 1
		sleep 0.1
	done
}
