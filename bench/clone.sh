#!/usr/bin/env bash
# Benchmark (not a test): `nixvm clone` (linked) against `nixvm clone --full`
# for VMs of 1, 10 and 100 GiB logical disk size, each with real data in
# its disk (a quarter of the size, at most 2 GiB, written with qemu-io), so
# the full copy has something to copy. Prints the median of ROUNDS clones of
# each kind, side by side, and their ratio. The target for linked clones is
# flat across sizes and under 0.2 s.
#
# The VMs are made with `create --manual` (no install: a clone only needs
# stopped disks), plus an SSH host key put where an install would have put
# it, since clone refuses a VM nixvm cannot verify.
#
# Before each linked clone 64 KiB are written into the source's disk (its
# overlay after the first round), as a source that ran between two clones
# would have: so every round freezes the disk anew (hard link, new overlay,
# rename, chmod) instead of reusing the base of the round before, and the
# script checks that each round made its own base. The time is the clone's
# own ("seconds" of clone --json: from the source's lock being held to the
# clone committed), without the process start.
#
# usage: bench/clone.sh [ROUNDS] (default 5); needs qemu-img and qemu-io.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds=${1:-5}
work=$(mktemp -d /tmp/nvclone.XXXXXX)
bin=$work/nixvm
trap 'rm -rf "$work"' EXIT
# Built before XDG_CACHE_HOME moves (Go keeps its build cache there).
go build -o "$bin" ./cmd/nixvm
export XDG_DATA_HOME=$work/d XDG_CACHE_HOME=$work/c XDG_RUNTIME_DIR=$work/r
iso=${NIXVM_TEST_ISO:-$work/test.iso}
[ -f "$iso" ] || scripts/build-test-iso "$iso" >/dev/null

secs() { "$bin" clone "$@" --json | sed -n 's/.*"seconds": \([0-9.e-]*\).*/\1/p'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

printf '%-8s %-10s %12s %12s %10s\n' size data linked_s full_s full/linked
for gib in 1 10 100; do
	name=b$gib
	"$bin" create "$name" --manual --iso "$iso" --firmware bios --memory 512M --disk "${gib}G" >/dev/null
	dir=$XDG_DATA_HOME/nixvm/vms/$name
	ssh-keygen -q -t ed25519 -N '' -f "$dir/ssh_host_ed25519_key" </dev/null
	data=$((gib * 1024 / 4)); ((data > 2048)) && data=2048
	for ((off = 0; off < data; off += 256)); do
		qemu-io -f qcow2 -c "write -P 0x5a ${off}M 256M" "$dir/disk0.qcow2" >/dev/null
	done
	linked=() full=()
	for r in $(seq "$rounds"); do
		qemu-io -f qcow2 -c "write -P $r $((r * 64))k 64k" "$dir/disk0.qcow2" >/dev/null
		linked+=("$(secs "$name" "$name-l$r")")
		full+=("$(secs --full "$name" "$name-f$r")")
		"$bin" rm "$name-f$r" >/dev/null
	done
	made=$(find "$dir" -name 'disk0.base-*.qcow2' | wc -l)
	((made == rounds)) || { echo "bench: $rounds linked rounds made $made bases, want one each" >&2; exit 1; }
	l=$(printf '%s\n' "${linked[@]}" | median)
	f=$(printf '%s\n' "${full[@]}" | median)
	printf '%-8s %-10s %12.3f %12.3f %10.1f\n' "${gib}G" "${data}M" "$l" "$f" "$(echo "$f / $l" | bc -l)"
	for r in $(seq "$rounds"); do "$bin" rm "$name-l$r" >/dev/null; done
	"$bin" rm "$name" >/dev/null
done
