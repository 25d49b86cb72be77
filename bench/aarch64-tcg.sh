#!/usr/bin/env bash
# Benchmark (not a test): TCG settings for an aarch64 guest on an x86_64
# host. Each run boots the aarch64 installer (the arm64 stand-in, or a real
# NixOS aarch64 minimal ISO) the way nixvm does: virt machine, AAVMF, direct
# kernel boot with the ISO's default entry and console=ttyAMA0, the ISO on
# virtio-scsi, 2 GiB, SMP 2; and measures the time from QEMU's start to the
# installer's `[nixos@nixos:~]$` prompt on the serial console.
#
# Settings (one per column, rounds interleaved, the order rotating):
#   default  -accel tcg                       -cpu max   (QEMU's defaults; virt's
#            own default CPU, a 32-bit cortex-a15, cannot run an aarch64 kernel)
#   multi    -accel tcg,thread=multi          -cpu max   (nixvm before the measurement)
#   tb2g     -accel tcg,thread=multi,tb-size=2048 -cpu max
#   impdef   -accel tcg,thread=multi          -cpu max,pauth-impdef=on
#   a72      -accel tcg,thread=multi          -cpu cortex-a72
# nixvm's own settings under TCG are a72's. Prints each setting's median
# and its ratio to the first setting's median.
#
# usage: bench/aarch64-tcg.sh ISO [ROUNDS] [SETTINGS...]
#   (default 3 rounds, all settings); a run that reaches no prompt within
#   NIXVM_BENCH_TIMEOUT seconds (default 900) is stopped there and shown as
#   ">=CAP": a median that rests on such a run is a lower bound (">="), and
#   a ratio is then a bound too (">=" or "<="), or n/a when both are.
set -euo pipefail
iso=${1:?usage: bench/aarch64-tcg.sh ISO [ROUNDS] [SETTINGS...]}
rounds=${2:-3}
shift $(($# >= 2 ? 2 : 1))
settings=("$@")
((${#settings[@]})) || settings=(default multi tb2g impdef a72)
limit=${NIXVM_BENCH_TIMEOUT:-900}
code=/usr/share/AAVMF/AAVMF_CODE.fd vars=/usr/share/AAVMF/AAVMF_VARS.fd
[[ -f $code && -f $vars ]] || { echo "needs AAVMF: apt-get install qemu-efi-aarch64" >&2; exit 1; }
command -v qemu-system-aarch64 >/dev/null || { echo "needs qemu-system-aarch64 (qemu-system-arm)" >&2; exit 1; }

work=$(mktemp -d /tmp/nvbench-a64.XXXXXX)
# run executes in a subshell, so QEMU's pid is kept in a file for the
# trap: a signal to the script alone (timeout(1), kill PID) must not leave
# a QEMU running. run is waited for in the background, as the shell runs a
# trap only once the foreground command is done.
pidfile=$work/qemu.pid runner=
cleanup() {
	local p
	[[ -z $runner ]] || kill "$runner" 2>/dev/null || true
	p=$(cat "$pidfile" 2>/dev/null) || p=
	if [[ -n $p ]] && kill "$p" 2>/dev/null; then
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
		kill -9 "$p" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# The default entry of the ISO's grub.cfg, as internal/iso reads it.
xorriso -osirrox on -indev "$iso" -extract /EFI/BOOT/grub.cfg "$work/grub.cfg" >/dev/null 2>&1
kpath=$(awk '$1 == "linux" { print $2; exit }' "$work/grub.cfg")
ipath=$(awk '$1 == "initrd" { print $2; exit }' "$work/grub.cfg")
params=$(awk '$1 == "linux" { $1 = ""; $2 = ""; sub(/^ +/, ""); print; exit }' "$work/grub.cfg")
xorriso -osirrox on -indev "$iso" -extract "${kpath//\/\//\/}" "$work/Image" -extract "${ipath//\/\//\/}" "$work/initrd" >/dev/null 2>&1
[[ -s $work/Image && -s $work/initrd ]] || { echo "no kernel/initrd in $iso's grub.cfg" >&2; exit 1; }

accel_of() {
	case $1 in
	default) echo "tcg|max" ;;
	multi) echo "tcg,thread=multi|max" ;;
	tb2g) echo "tcg,thread=multi,tb-size=2048|max" ;;
	impdef) echo "tcg,thread=multi|max,pauth-impdef=on" ;;
	a72) echo "tcg,thread=multi|cortex-a72" ;;
	*) echo "unknown setting $1" >&2; exit 2 ;;
	esac
}

# run SETTING -> seconds to the prompt, or ">=LIMIT" when there was none
run() {
	local a c log=$work/serial.log start now capped=
	IFS='|' read -r a c <<<"$(accel_of "$1")"
	cp "$vars" "$work/vars.fd"
	: >"$log"
	qemu-system-aarch64 -nodefaults -no-user-config -machine virt,gic-version=max,pflash0=efi-code,pflash1=efi-vars \
		-accel "$a" -cpu "$c" -smp 2 -m 2048M \
		-blockdev driver=file,node-name=efi-code-file,filename="$code",read-only=on \
		-blockdev driver=raw,node-name=efi-code,file=efi-code-file,read-only=on \
		-blockdev driver=file,node-name=efi-vars-file,filename="$work/vars.fd" \
		-blockdev driver=raw,node-name=efi-vars,file=efi-vars-file \
		-blockdev driver=file,node-name=cd0-file,filename="$iso",read-only=on \
		-blockdev driver=raw,node-name=cd0,file=cd0-file,read-only=on \
		-device virtio-scsi-pci,id=scsi0 -device scsi-cd,bus=scsi0.0,drive=cd0,bootindex=0 \
		-netdev user,id=net0 -device virtio-net-pci,netdev=net0 -device virtio-rng-pci \
		-serial file:"$log" -display none \
		-kernel "$work/Image" -initrd "$work/initrd" -append "$params console=ttyAMA0,115200n8" &
	pid=$!
	echo "$pid" >"$pidfile"
	start=$(date +%s.%N)
	# Wait for the event (the prompt, escapes stripped) with a deadline.
	while :; do
		if sed 's/\x1b\][^\x07]*\x07//g; s/\x1b\[[0-9;?]*[A-Za-z]//g' "$log" | grep -q 'nixos@nixos:~\]\$'; then
			break
		fi
		now=$(date +%s.%N)
		if awk -v n="$now" -v s="$start" -v l="$limit" 'BEGIN { exit !(n - s > l) }'; then
			echo "  $1: no prompt within ${limit}s" >&2
			capped=1
			break
		fi
		kill -0 "$pid" 2>/dev/null || { echo "  $1: QEMU exited before the prompt:" >&2; tail -5 "$log" >&2; echo failed; return; }
		sleep 0.2
	done
	now=$(date +%s.%N)
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
	: >"$pidfile"
	if [[ -n $capped ]]; then
		echo ">=$limit"
	else
		awk -v n="$now" -v s="$start" 'BEGIN { printf "%.1f\n", n - s }'
	fi
}

declare -A times
n=${#settings[@]}
for ((r = 0; r < rounds; r++)); do
	for ((i = 0; i < n; i++)); do
		s=${settings[(i + r) % n]}
		run "$s" >"$work/t" &
		runner=$!
		wait "$runner" || true
		runner=
		t=$(<"$work/t")
		[[ $t != failed ]] || exit 1
		times[$s]+="$t "
		echo "round $((r + 1)) $s ${t}s" >&2
	done
done

# median: of the runs, a capped run (">=LIMIT") sorting last, as LIMIT;
# ">=" in front when a run the median rests on was capped (a lower bound).
median() {
	tr ' ' '\n' | grep . | sed 's/^>=\(.*\)/\1 >=/' | sort -n | awk '
		{ v[NR] = $1; b[NR] = $2 }
		END {
			i = int((NR + 1) / 2); j = int(NR / 2) + 1
			printf "%s%.1f\n", (b[i] b[j] != "" ? ">=" : ""), (v[i] + v[j]) / 2
		}'
}
# ratio M B: M / B, each a median, either possibly a lower bound.
ratio() {
	awk -v m="$1" -v b="$2" 'BEGIN {
		mb = sub(/^>=/, "", m); bb = sub(/^>=/, "", b)
		if (mb && bb) { print "n/a"; exit }
		printf "%s%.2f\n", (mb ? ">=" : bb ? "<=" : ""), m / b
	}'
}
base=$(median <<<"${times[${settings[0]}]}")
printf '%-8s %10s %8s   %s\n' setting median ratio "runs (s)"
for s in "${settings[@]}"; do
	m=$(median <<<"${times[$s]}")
	printf '%-8s %10s %8s   %s\n' "$s" "${m}s" "$(ratio "$m" "$base")" "${times[$s]}"
done
echo "(ratio: median / median of ${settings[0]}; $rounds interleaved rounds, cap ${limit}s, $(nproc) host CPUs, load $(cut -d' ' -f1-3 /proc/loadavg) at the end)"
