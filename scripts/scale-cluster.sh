#!/usr/bin/env bash
# scale-cluster.sh: a loopback cluster of N grayd processes (one head, N-1
# joined, each with its own data dir under a temp dir and a small
# --resources CPU=…) runs TASKS small tasks from one driver
# (examples/scaletasks); prints the wall time, tasks/s and the peak
# resident memory (VmHWM) of the grayd processes, their worker processes
# and the driver, then stops everything. docs/performance.md, "Scale".
#
#   scripts/scale-cluster.sh                 # 20 processes, 100,000 tasks
#   NODES=5 TASKS=10000 scripts/scale-cluster.sh
#
# Environment: NODES (20), TASKS (100000), BATCH (2000), CPUS per node (1),
# KEEP=1 keeps the temp dir (logs) after the run.
set -euo pipefail

NODES=${NODES:-20}
TASKS=${TASKS:-100000}
BATCH=${BATCH:-2000}
CPUS=${CPUS:-1}
cd "$(dirname "$0")/.."
dir=$(mktemp -d /tmp/gray-scale.XXXXXX)
pids=()

# hwm PID prints the process's VmHWM in KiB (0 if it is gone).
hwm() { awk '/^VmHWM:/ {print $2; found=1} END {if (!found) print 0}' "/proc/$1/status" 2>/dev/null || echo 0; }

# descendants PID prints every descendant process of PID.
descendants() {
	local c
	for c in $(pgrep -P "$1" || true); do
		echo "$c"
		descendants "$c"
	done
}

cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ "${KEEP:-0}" = 1 ]; then echo "logs kept in $dir" >&2; else rm -rf "$dir"; fi
}
trap cleanup EXIT

go build -o "$dir/grayd" ./cmd/grayd
go build -o "$dir/scaletasks" ./examples/scaletasks
go build -o "$dir/gray" ./cmd/gray

echo "load before: $(uptime)"
"$dir/grayd" --head --data-dir "$dir/head" --resources "CPU=$CPUS" --dashboard-listen "" >"$dir/head.out" 2>"$dir/head.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$dir/head/address" ] && break; sleep 0.1; done
[ -s "$dir/head/address" ] || { echo "the head wrote no address; see $dir/head.log" >&2; KEEP=1; exit 1; }
addr=$(cat "$dir/head/address")
secret="$dir/head/cluster-secret"
for i in $(seq 1 $((NODES - 1))); do
	"$dir/grayd" --join "$addr" --secret-file "$secret" --data-dir "$dir/node$i" --resources "CPU=$CPUS" >"$dir/node$i.out" 2>"$dir/node$i.log" &
	pids+=($!)
done
# Wait until every node registered.
for _ in $(seq 300); do
	alive=$(GRAY_ADDRESS=$addr GRAY_SECRET_FILE=$secret "$dir/gray" list nodes --json 2>/dev/null | grep -o '"ALIVE"' | wc -l || true)
	[ "$alive" -ge "$NODES" ] && break
	sleep 1
done
echo "nodes alive: $alive of $NODES"

GRAY_ADDRESS=$addr GRAY_SECRET_FILE=$secret "$dir/scaletasks" -tasks "$TASKS" -batch "$BATCH" | tee "$dir/driver.out"

# Peak memory of each grayd and of the worker processes they launched.
head_kib=$(hwm "${pids[0]}")
max_kib=0 sum_kib=0 workers=0 wmax_kib=0 wsum_kib=0
for p in "${pids[@]}"; do
	k=$(hwm "$p")
	sum_kib=$((sum_kib + k))
	[ "$k" -gt "$max_kib" ] && max_kib=$k
	for c in $(descendants "$p"); do
		k=$(hwm "$c")
		workers=$((workers + 1))
		wsum_kib=$((wsum_kib + k))
		[ "$k" -gt "$wmax_kib" ] && wmax_kib=$k
	done
done
echo "grayd: $NODES processes, head VmHWM $((head_kib / 1024)) MiB, largest $((max_kib / 1024)) MiB, sum $((sum_kib / 1024)) MiB"
echo "workers: $workers processes, largest VmHWM $((wmax_kib / 1024)) MiB, sum $((wsum_kib / 1024)) MiB"
echo "load after: $(uptime)"
