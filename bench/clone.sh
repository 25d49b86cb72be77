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
# clone committed), without the process start. A linked clone runs three
# qemu-img processes (map, two creates); on a loaded host their start
# dominates, so the table also gives the linked time in units of one
# `qemu-img --version` run, measured in the same rounds (linked/spawn).
# Rounds go over all sizes in turn, so a change of load hits all alike.
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

sizes=(1 10 100)
declare -A data linked full
spawn=
for gib in "${sizes[@]}"; do
	name=b$gib
	"$bin" create "$name" --manual --iso "$iso" --firmware bios --memory 512M --disk "${gib}G" >/dev/null
	dir=$XDG_DATA_HOME/nixvm/vms/$name
	ssh-keygen -q -t ed25519 -N '' -f "$dir/ssh_host_ed25519_key" </dev/null
	data[$gib]=$((gib * 1024 / 4)); ((data[$gib] > 2048)) && data[$gib]=2048
	for ((off = 0; off < data[$gib]; off += 256)); do
		qemu-io -f qcow2 -c "write -P 0x5a ${off}M 256M" "$dir/disk0.qcow2" >/dev/null
	done
done
# Round by round, every size in turn: a change in the host's load during
# the run falls on all sizes alike.
for r in $(seq "$rounds"); do
	for gib in "${sizes[@]}"; do
		name=b$gib dir=$XDG_DATA_HOME/nixvm/vms/b$gib
		qemu-io -f qcow2 -c "write -P $r $((r * 64))k 64k" "$dir/disk0.qcow2" >/dev/null
		t=$(date +%s.%N); qemu-img --version >/dev/null; spawn+=" $(echo "$(date +%s.%N) - $t" | bc -l)"
		# Flushed first: the fsyncs of a clone would otherwise wait for the
		# gigabytes the last full copy left dirty in the page cache.
		sync
		linked[$gib]+=" $(secs "$name" "$name-l$r")"
		sync
		full[$gib]+=" $(secs --full "$name" "$name-f$r")"
		"$bin" rm "$name-f$r" >/dev/null
	done
done
sp=$(printf '%s\n' $spawn | median)
printf '%-8s %-10s %12s %12s %10s %13s\n' size data linked_s full_s full/linked linked/spawn
for gib in "${sizes[@]}"; do
	dir=$XDG_DATA_HOME/nixvm/vms/b$gib
	made=$(find "$dir" -name 'disk0.base-*.qcow2' | wc -l)
	((made == rounds)) || { echo "bench: $rounds linked rounds made $made bases, want one each" >&2; exit 1; }
	l=$(printf '%s\n' ${linked[$gib]} | median)
	f=$(printf '%s\n' ${full[$gib]} | median)
	printf '%-8s %-10s %12.3f %12.3f %10.1f %13.1f\n' "${gib}G" "${data[$gib]}M" "$l" "$f" "$(echo "$f / $l" | bc -l)" "$(echo "$l / $sp" | bc -l)"
done
printf 'spawn: median %.3f s to run qemu-img --version once (a process start on this host, at this load)\n' "$sp"
