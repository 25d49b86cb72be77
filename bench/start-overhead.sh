#!/usr/bin/env bash
# Benchmark (not a test): time from `nixvm start` to the guest's first
# console line, against the very same QEMU command (nixvm's saved cmdline)
# run directly. Runs are interleaved; prints medians and the ratio.
# Target: ratio <= 1.05.
#
# usage: bench/start-overhead.sh [ROUNDS] (default 5); needs scripts/test's
# packages and the test ISO (built if missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds=${1:-5}
work=$(mktemp -d /tmp/nvbench.XXXXXX)
export XDG_DATA_HOME=$work/d XDG_CACHE_HOME=$work/c XDG_RUNTIME_DIR=$work/r
bin=$work/nixvm
cleanup() { "$bin" rm --force bench >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$bin" ./cmd/nixvm
iso=${NIXVM_TEST_ISO:-$work/test.iso}
[ -f "$iso" ] || scripts/build-test-iso "$iso" --cmdline-extra console=ttyS0,115200n8 >/dev/null
"$bin" create bench --manual --iso "$iso" --firmware bios --memory 512M --disk 2G >/dev/null
dir=$XDG_DATA_HOME/nixvm/vms/bench
log=$dir/serial.log

now() { date +%s%N; }
# first_line waits (deadline 60 s) until the serial log has a complete line.
first_line() {
  local deadline=$(( $(now) + 60000000000 ))
  while [ "$(now)" -lt "$deadline" ]; do
    if [ -s "$log" ] && grep -q . "$log"; then return 0; fi
    sleep 0.005
  done
  echo "no console output within 60 s" >&2; return 1
}

nixvm_ms=() direct_ms=()
for i in $(seq "$rounds"); do
  rm -f "$log"
  t0=$(now); "$bin" start bench >/dev/null; first_line; t1=$(now)
  nixvm_ms+=($(( (t1 - t0) / 1000000 )))
  "$bin" stop --force bench >/dev/null

  rm -f "$log"
  cmd=$(cat "$dir/cmdline")
  t0=$(now); eval "$cmd"; first_line; t1=$(now)
  direct_ms+=($(( (t1 - t0) / 1000000 )))
  kill "$(cat "$dir/qemu.pid")"; while [ -e "$dir/qemu.pid" ]; do sleep 0.01; done
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m_n=$(median "${nixvm_ms[@]}") m_d=$(median "${direct_ms[@]}")
echo "nixvm start -> first console line: ${nixvm_ms[*]} ms (median $m_n)"
echo "direct QEMU  -> first console line: ${direct_ms[*]} ms (median $m_d)"
awk -v n="$m_n" -v d="$m_d" 'BEGIN { printf "overhead ratio: %.3f (target <= 1.05)\n", n/d }'
