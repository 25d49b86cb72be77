#!/usr/bin/env bash
# Benchmark (not a test): the second NixOS VM of a kind. A full unattended
# install (`nixvm create`) against `nixvm create --from` a stopped base of
# the same spec, both until the VM answers SSH. Uses the stand-in installer
# ($NIXVM_TEST_STANDIN_ISO, see docs/test-images.md) and a loopback binary
# cache; under TCG both sides are slow, the ratio is what matters. Prints
# each round and the medians side by side.
#
# usage: bench/create-from.sh [ROUNDS] (default 3)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds=${1:-3}
iso=${NIXVM_TEST_STANDIN_ISO:?set NIXVM_TEST_STANDIN_ISO (scripts/build-standin-iso)}
work=$(mktemp -d /tmp/nvfrom.XXXXXX)
bin=$work/nixvm
go build -o "$bin" ./cmd/nixvm
export XDG_DATA_HOME=$work/d XDG_CACHE_HOME=$work/c XDG_CONFIG_HOME=$work/cfg XDG_RUNTIME_DIR=$work/r
mkdir -p "$work/cache"
echo "StoreDir: /nix/store" >"$work/cache/nix-cache-info"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$work/cache" >/dev/null 2>&1 &
server=$!
cleanup() {
	for v in $("$bin" list --json 2>/dev/null | sed -n 's/.*"name": "\(.*\)".*/\1/p'); do "$bin" rm --force "$v" >/dev/null 2>&1 || true; done
	kill "$server" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
spec=(--iso "$iso" --firmware bios --disk 6G --memory 2G --substituter "http://10.0.2.2:$port")
now() { date +%s.%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

"$bin" create base "${spec[@]}" >/dev/null
"$bin" stop base >/dev/null
full=() from=()
printf '%-6s %12s %12s\n' round install_s from_s
for r in $(seq "$rounds"); do
	t=$(now); "$bin" create "full$r" "${spec[@]}" >/dev/null; f=$(echo "$(now) - $t" | bc -l)
	"$bin" rm --force "full$r" >/dev/null
	t=$(now); "$bin" create "from$r" --from base >/dev/null; c=$(echo "$(now) - $t" | bc -l)
	"$bin" rm --force "from$r" >/dev/null
	full+=("$f") from+=("$c")
	printf '%-6s %12.1f %12.1f\n' "$r" "$f" "$c"
done
fm=$(printf '%s\n' "${full[@]}" | median)
cm=$(printf '%s\n' "${from[@]}" | median)
printf '%-6s %12.1f %12.1f   install/from = %.1f\n' median "$fm" "$cm" "$(echo "$fm / $cm" | bc -l)"
