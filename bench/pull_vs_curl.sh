#!/usr/bin/env bash
# Benchmark (not a test): `nixvm image pull` (redirect, .sha256, SHA-256 while
# streaming, fsync, rename) against `curl -o` fetching the same file from the
# same loopback server, side by side. Runs are interleaved; prints medians
# and the ratio of throughputs (target >= 0.9). Then cuts a pull part way and
# reports what the automatic resume re-sent (target <= remainder + 1 MiB).
#
# usage: bench/pull_vs_curl.sh [SIZE_MIB] [ROUNDS]   (defaults 500 and 3)
# NIXVM=path uses that binary instead of building ./cmd/nixvm.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
size_mib=${1:-500}
rounds=${2:-3}
work=$(mktemp -d /tmp/nvpull.XXXXXX)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

bin=${NIXVM:-$work/nixvm}
[ -n "${NIXVM:-}" ] || go build -o "$bin" ./cmd/nixvm
"$bin" image pull --help >/dev/null 2>&1 || { echo "$bin has no 'image pull' verb" >&2; exit 1; }
go build -o "$work/channelserver" ./bench/channelserver
head -c "$((size_mib << 20))" /dev/urandom >"$work/file.iso"

# start_server [ARGS...] starts the channel server and sets $base.
start_server() {
  [ -n "$server_pid" ] && kill "$server_pid" && wait "$server_pid" 2>/dev/null || true
  rm -f "$work/addr"
  "$work/channelserver" -file "$work/file.iso" -port-file "$work/addr" "$@" &
  server_pid=$!
  for _ in $(seq 600); do [ -s "$work/addr" ] && break; sleep 0.05; done  # wait for the port (deadline 30 s)
  [ -s "$work/addr" ] || { echo "channel server did not start" >&2; exit 1; }
  base=http://$(cat "$work/addr")
}

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

start_server
url=$(curl -sS -o /dev/null -w '%{redirect_url}' "$base/nixos-25.11/latest-nixos-minimal-x86_64-linux.iso")
bytes=$((size_mib << 20))
: >"$work/curl.ns"; : >"$work/nixvm.ns"; : >"$work/curlsum.ns"
for i in $(seq "$rounds"); do
  rm -f "$work/curl.out"; sync
  t0=$(now); curl -sS -o "$work/curl.out" "$url"; t1=$(now)
  echo $((t1 - t0)) >>"$work/curl.ns"
  rm -f "$work/curl.out"; sync
  t0=$(now); curl -sS -o "$work/curl.out" "$url" && sha256sum "$work/curl.out" >/dev/null; t1=$(now)
  echo $((t1 - t0)) >>"$work/curlsum.ns"
  rm -rf "$work/cache"; sync
  t0=$(now)
  XDG_CACHE_HOME=$work/cache "$bin" image pull 25.11 --channels-url "$base" >/dev/null 2>"$work/pull.log"
  t1=$(now)
  echo $((t1 - t0)) >>"$work/nixvm.ns"
done
curl_ns=$(median <"$work/curl.ns")
nixvm_ns=$(median <"$work/nixvm.ns")
curlsum_ns=$(median <"$work/curlsum.ns")
awk -v b="$bytes" -v c="$curl_ns" -v n="$nixvm_ns" -v s="$curlsum_ns" -v r="$rounds" -v cpus="$(nproc)" -v load="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
  cm = b / 1048576 / (c / 1e9); nm = b / 1048576 / (n / 1e9); sm = b / 1048576 / (s / 1e9)
  printf "throughput, %d MiB from loopback, median of %d interleaved rounds (%d CPUs, load %s):\n", b / 1048576, r, cpus, load
  printf "  curl -o           %8.1f MiB/s  (%.2f s)\n", cm, c / 1e9
  printf "  curl + sha256sum  %8.1f MiB/s  (%.2f s, for reference: download, then verify)\n", sm, s / 1e9
  printf "  nixvm image pull  %8.1f MiB/s  (%.2f s, incl. .sha256, hashing, fsync)\n", nm, n / 1e9
  printf "  ratio nixvm/curl  %8.2f        (target >= 0.90) %s\n", nm / cm, (nm / cm >= 0.9 ? "OK" : "BELOW TARGET")
}'

# Resume: the server drops the first ISO response at 40% of the file; the
# pull resumes on its own. What did the second response carry?
cut=$((bytes * 2 / 5))
start_server -cut-after "$cut" -cuts 1
rm -rf "$work/cache"
XDG_CACHE_HOME=$work/cache "$bin" image pull 25.11 --channels-url "$base" >/dev/null 2>"$work/pull.log"
curl -sS "$base/_stats" | python3 -c '
import json, sys
cut = int(sys.argv[1])
st = json.load(sys.stdin)
gets = [r for r in st["requests"] if r["method"] == "GET"]
size, remainder = st["size"], st["size"] - cut
resent = sum(r["sent"] for r in gets[1:])
print("resume after a cut at %d of %d bytes (%d GETs, ranges %s):" % (cut, size, len(gets), [r.get("range", "") for r in gets]))
print("  re-sent %d bytes; remainder %d; overhead %d bytes (target <= 1 MiB) %s" % (
    resent, remainder, resent - remainder, "OK" if resent <= remainder + (1 << 20) else "ABOVE TARGET"))
' "$cut"
