#!/bin/sh
# Run the fuzz targets built in $1 (build/fuzz).
#   fuzz/run.sh DIR time SECONDS   each target for SECONDS, new inputs kept
#                                  in DIR/corpus-TARGET; prints exec/s and
#                                  cov per target
#   fuzz/run.sh DIR runs N         each target for N executions with a fixed
#                                  seed over its seed corpus (make test)
# The seeds are fuzz/corpus/TARGET/ (never written to); a crash leaves its
# input as DIR/crash-TARGET-*, and the run fails.
d=$1 mode=$2 n=$3
fail=0
for bin in "$d"/fuzz_*; do
	[ -x "$bin" ] || continue
	t=${bin##*/fuzz_}
	log=$d/$t.log
	if [ "$mode" = time ]; then
		mkdir -p "$d/corpus-$t"
		set -- -max_total_time="$n" "$d/corpus-$t"
	else
		rm -rf "$d/check-$t" && mkdir -p "$d/check-$t"
		set -- -runs="$n" -seed=1 "$d/check-$t"
	fi
	"$bin" -print_final_stats=1 -artifact_prefix="$d/crash-$t-" "$@" "fuzz/corpus/$t" \
		>"$log" 2>&1
	rc=$?
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	if [ $rc = 0 ]; then
		echo "fuzz: PASS $t ($execs runs, $speed exec/s, $cov)"
	else
		echo "fuzz: FAIL $t (exit $rc), see $log"
		grep -A30 -m1 "ERROR\|==ERROR\|abort\|deadly" "$log" | head -40
		fail=1
	fi
done
exit $fail
