#!/usr/bin/env bash
# Benchmark (not a test): the install's dead time, meaning wall time not
# spent waiting on the guest, from the driver's own event timestamps (the
# final "ready" event of `nixvm create --json` carries waited and deadTime).
# Target: under 2 s per install.
#
# usage: bench/install-deadtime.sh [INSTALLS] (default 1); builds the
# stand-in installer ISO if NIXVM_TEST_STANDIN_ISO is not set (needs root).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
n=${1:-1}
work=$(mktemp -d /tmp/nvdead.XXXXXX)
export XDG_DATA_HOME=$work/d XDG_CACHE_HOME=$work/c XDG_CONFIG_HOME=$work/cfg XDG_RUNTIME_DIR=$work/r
bin=$work/nixvm
cleanup() { for i in $(seq "$n"); do "$bin" rm --force "dead$i" >/dev/null 2>&1 || true; done; rm -rf "$work"; }
trap cleanup EXIT
go build -o "$bin" ./cmd/nixvm
iso=${NIXVM_TEST_STANDIN_ISO:-$work/standin.iso}
[ -f "$iso" ] || scripts/build-standin-iso "$iso" >/dev/null

for i in $(seq "$n"); do
  "$bin" create "dead$i" --iso "$iso" --firmware bios --memory 1G --disk 3G --json >"$work/events$i.jsonl"
  tail -n 1 "$work/events$i.jsonl" | python3 -c '
import json, sys
ev = json.load(sys.stdin)
print(f"install {sys.argv[1]}: total {ev[\"elapsed\"]:.1f} s, waiting on the guest {ev[\"waited\"]:.1f} s, dead time {ev[\"deadTime\"]:.2f} s (target < 2 s)")
' "$i"
  "$bin" rm --force "dead$i" >/dev/null
done
