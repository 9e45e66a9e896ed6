#!/bin/sh
# A checkpoint taken while a target creates threads restores.  The worker
# component (4 threads per round, created and joined) runs WORKER_ROUNDS
# rounds (default 5, the ROM worker.rounds) under a monitor that
# checkpoints it every 20 ms and restores every Nth checkpoint
# (<test checkpoint_every_ms="20" restore="same-node" restore_every="N"/>),
# RUNS times (default 1; N = 2, 2, 3, 3, 1, 1, 2, ...).  Without the fix
# one run failed in each of 3 tries (at rounds 3, 3 and 5: WORKER_ROUNDS
# and RUNS larger make it surer).
# Every round must add up, the worker exit 0 and no thread_create fail.
# (The bug this catches: a checkpoint that paused a thread between the
# kernel's delivery of CPU_CREATE_THREAD's reply and the thread's taking
# of the reply's cap out of its receive window; the restored thread found
# its window empty and thread_create failed with -71, in 1 or 2 of 8 runs
# with 2 rounds.)
b=${1:-build}
# the sanitizer build is several times slower: fewer rounds there
# (a checkpoint and restore take about 10 ms of wall time here, so at
# intervals of 10 ms or less the worker never runs; many rounds at 20 ms
# give the checkpoints many thread creations to land in)
case "$b" in *san*) rounds=${WORKER_ROUNDS:-30} ;; *) rounds=${WORKER_ROUNDS:-150} ;; esac
runs=${RUNS:-1}
tmp=$(mktemp -d /tmp/capsule-wrestore.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
. tests/cr/monitor_node.sh
mkdir "$tmp/rom"
echo "$rounds" >"$tmp/rom/worker.rounds"
fail=0
i=1
while [ $i -le "$runs" ]; do
	every=$((((i - 1) / 2 + 1) % 3 + 1))
	monitor_node worker "<target binary=\"worker\" ram=\"2M\" caps=\"100\"/>
		<test checkpoint_every_ms=\"20\" restore=\"same-node\" restore_every=\"$every\"/>" >"$tmp/w.xml"
	timeout -k 10 180 "$b/capsule" run --rom "$b/components" --rom "$tmp/rom" "$tmp/w.xml" >"$tmp/w.log" 2>&1
	rc=$?
	ok=$(grep -c "^\[worker\] worker: round [0-9]* total [0-9]* ok$" "$tmp/w.log")
	ckpts=$(grep -c "^\[worker\] monitor: checkpoint [0-9]*:" "$tmp/w.log")
	restores=$(grep -c "^\[worker\] monitor: restored:" "$tmp/w.log")
	why=
	[ "$rc" = 0 ] || why="exit $rc"
	[ "$ok" = "$rounds" ] || why="${why:+$why; }$ok of $rounds rounds ok"
	[ "$restores" -ge 1 ] || why="${why:+$why; }no restore"
	grep -q "thread_create .* failed" "$tmp/w.log" &&
		why="${why:+$why; }$(grep -m1 "thread_create .* failed" "$tmp/w.log")"
	if [ -n "$why" ]; then
		echo "worker_restore: FAIL run $i (restore every $every): $why"
		grep -v "\] monitor: \(checkpoint\|verify\|seed\|restored\|restore\|caps\)" "$tmp/w.log" |
			sed 's/^/  | /' | tail -10
		fail=1
	else
		echo "worker_restore: PASS run $i: $rounds rounds of 4 threads, $ckpts checkpoints, $restores restores (every $every)"
	fi
	i=$((i + 1))
done
exit $fail
