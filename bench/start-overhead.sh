#!/usr/bin/env bash
# Benchmark (not a test): what `nixvm start` adds to starting QEMU. Both
# sides end at the same event, "QEMU runs and answers query-status on QMP":
#   nixvm:  nixvm start NAME (returns once QMP answers)
#   direct: the very same argv (nixvm's saved cmdline) run by the shell,
#           then bench/qmpwait polling the QMP socket every millisecond.
# The guest's boot is not measured: under TCG it is seconds of emulation
# noise that says nothing about nixvm (see the note at the end). Rounds are
# interleaved and alternate which side goes first; prints both medians, the
# median of the per-round differences and the ratio.
#
# usage: bench/start-overhead.sh [ROUNDS] (default 21); needs scripts/test's
# packages and the test ISO (built if missing).
#
# Note on "no console output within 60 s" (seen once by the old version of
# this script, which timed start -> first serial line): with the NixOS
# default loglevel=4 the kernel prints nothing, and the first serial line is
# the guest's init, after kernel decompression (~8 s of TCG at RIP 0x4f3...)
# and boot. Sampling QMP during the silence showed status running and RIP
# advancing every 2 s, with the first line at 18 s under a load of 5.3 on 2
# CPUs; a few times more load pushes it past 60 s. No defect of nixvm: its
# start had returned with QMP up; the metric was the guest's boot.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds=${1:-21}
work=$(mktemp -d /tmp/nvbench.XXXXXX)
export XDG_DATA_HOME=$work/d XDG_CACHE_HOME=$work/c XDG_RUNTIME_DIR=$work/r
bin=$work/nixvm
cleanup() { "$bin" rm --force bench >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$bin" ./cmd/nixvm
go build -o "$work/qmpwait" ./bench/qmpwait
iso=${NIXVM_TEST_ISO:-$work/test.iso}
[ -f "$iso" ] || scripts/build-test-iso "$iso" --cmdline-extra console=ttyS0,115200n8 >/dev/null
"$bin" create bench --manual --iso "$iso" --firmware bios --memory 512M --disk 2G >/dev/null
dir=$XDG_DATA_HOME/nixvm/vms/bench
# One start writes the cmdline the direct runs use (it keeps the SSH port).
"$bin" start bench >/dev/null 2>&1
"$bin" stop --force bench >/dev/null
cmd=$(cat "$dir/cmdline")

now() { date +%s%N; }
nixvm_round() {
  local t0 t1
  t0=$(now); "$bin" start bench >/dev/null 2>&1; t1=$(now)
  nixvm_ms+=($(( (t1 - t0) / 1000000 )))
  "$bin" stop --force bench >/dev/null
}
direct_round() {
  local t0 t1
  t0=$(now); eval "$cmd"; "$work/qmpwait" "$dir/qmp.sock"; t1=$(now)
  direct_ms+=($(( (t1 - t0) / 1000000 )))
  "$bin" stop --force bench >/dev/null
}
nixvm_ms=() direct_ms=()
for i in $(seq "$rounds"); do
  if (( i % 2 )); then nixvm_round; direct_round; else direct_round; nixvm_round; fi
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
diffs=()
for i in "${!nixvm_ms[@]}"; do diffs+=($(( nixvm_ms[i] - direct_ms[i] ))); done
m_n=$(median "${nixvm_ms[@]}") m_d=$(median "${direct_ms[@]}") m_x=$(median "${diffs[@]}")
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $rounds interleaved rounds"
echo "nixvm start  -> QMP up: ${nixvm_ms[*]} ms (median $m_n)"
echo "direct QEMU  -> QMP up: ${direct_ms[*]} ms (median $m_d)"
echo "nixvm adds (median of per-round differences): $m_x ms"
awk -v n="$m_n" -v d="$m_d" 'BEGIN { printf "ratio of medians: %.3f\n", n/d }'
