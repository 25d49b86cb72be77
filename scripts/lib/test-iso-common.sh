# shellcheck shell=bash
# shellcheck disable=SC2034 # sets variables for the sourcing scripts
# Shared helpers for scripts/build-test-iso and scripts/build-standin-iso.
#
# TEST FIXTURES ONLY. They build NixOS-shaped installer ISOs out of Debian
# packages so that nixvm's integration and e2e tests can run on machines that
# cannot download the real NixOS ISO. The product must never know about them.
#
# Sourced, not executed. Callers run with `set -euo pipefail`.


die() { echo "${0##*/}: $*" >&2; exit 1; }
log() { echo "${0##*/}: $*" >&2; }

testiso_cache_dir() {
	local d="${NIXVM_TEST_CACHE:-$HOME/.cache/nixvm-test}"
	mkdir -p "$d"
	echo "$d"
}

# cache_lock / cache_unlock: tests may build ISOs in parallel; filling the
# shared cache (kernel, GRUB image, debootstrap tree) is serialised.
cache_lock() {
	exec 9>"$(testiso_cache_dir)/.lock"
	flock 9
}
cache_unlock() {
	flock -u 9
	exec 9>&-
}

# nixhash SEED -> a stable 32-character string in Nix's base-32 alphabet, so
# store paths look real and do not change between builds.
nixhash() {
	local hex
	hex=$(printf '%s' "$1" | sha256sum | cut -c1-32)
	# hex digits are all in the nix32 alphabet except 'e'.
	printf '%s' "$hex" | tr 'e' 'z'
}

# testiso_check_release REL: the NixOS release forms the label; keep it short
# and NixOS-like (YY.MM) so the label stays within ISO9660's 32 characters.
testiso_check_release() {
	[[ $1 =~ ^[0-9]{2}\.(05|11)$ ]] || die "--release: want YY.05 or YY.11 (e.g. 25.11), got '$1'"
}

# testiso_set_arch ARCH (x86_64 | aarch64, NixOS's names): the
# per-architecture names. Sets ARCH DEB_ARCH KERNEL_NAME EFI_BOOT
# GRUB_EFI_TARGET GNU_TRIPLET LDSO. Scripts that never call it build x86_64.
testiso_set_arch() {
	case $1 in
	x86_64)
		ARCH=x86_64 DEB_ARCH=amd64 KERNEL_NAME=bzImage EFI_BOOT=BOOTX64.EFI
		GRUB_EFI_TARGET=x86_64-efi GNU_TRIPLET=x86_64-linux-gnu LDSO=/lib64/ld-linux-x86-64.so.2
		;;
	aarch64)
		ARCH=aarch64 DEB_ARCH=arm64 KERNEL_NAME=Image EFI_BOOT=BOOTAA64.EFI
		GRUB_EFI_TARGET=arm64-efi GNU_TRIPLET=aarch64-linux-gnu LDSO=/lib/ld-linux-aarch64.so.1
		;;
	*) die "--arch: want x86_64 or aarch64, got '$1'" ;;
	esac
}

# testiso_check_foreign: a foreign-architecture tree (debootstrap's second
# stage, chroot) runs through qemu-user-static registered with binfmt_misc.
testiso_check_foreign() {
	local host
	host=$(dpkg --print-architecture)
	[[ $DEB_ARCH == "$host" ]] && return 0
	[[ -x /usr/bin/qemu-$ARCH-static ]] ||
		die "building for $DEB_ARCH on $host needs qemu-user-static: apt-get install qemu-user-static binfmt-support"
	if [[ ! -e /proc/sys/fs/binfmt_misc/status ]]; then
		mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null ||
			die "binfmt_misc is not mounted and cannot be: mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc"
	fi
	if ! grep -qx enabled "/proc/sys/fs/binfmt_misc/qemu-$ARCH" 2>/dev/null; then
		update-binfmts --enable "qemu-$ARCH" >/dev/null 2>&1 || true
	fi
	grep -qx enabled "/proc/sys/fs/binfmt_misc/qemu-$ARCH" 2>/dev/null ||
		die "binfmt_misc has no enabled qemu-$ARCH entry: update-binfmts --enable qemu-$ARCH (package binfmt-support)"
	dpkg --print-foreign-architectures | grep -qx "$DEB_ARCH" ||
		die "apt does not know $DEB_ARCH packages (the kernel is downloaded with apt): dpkg --add-architecture $DEB_ARCH && apt-get update"
}

testiso_check_layout() {
	[[ $1 == old || $1 == new ]] || die "--layout: want old (<= 24.11 paths) or new (>= 25.05 paths), got '$1'"
}

# fetch_debian_kernel: download (never install) the kernel that
# linux-image-amd64 (linux-image-arm64 after testiso_set_arch aarch64)
# currently depends on and unpack it into the cache.
# Sets KVER (e.g. 6.1.0-56-amd64), KROOT (unpacked package root),
# KIMAGE (vmlinuz path; on arm64 an uncompressed Image, as the real
# aarch64 ISO ships) and KMODDIR (lib/modules/KVER).
fetch_debian_kernel() {
	local cache pkg tmp deb=${DEB_ARCH:-amd64}
	cache=$(testiso_cache_dir)
	cache_lock
	pkg=$(apt-cache depends "linux-image-$deb:$deb" 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
	[[ -n $pkg ]] || die "cannot resolve linux-image-$deb to a kernel package: run 'apt-get update' first"
	pkg=${pkg%:"$deb"}
	KVER=${pkg#linux-image-}
	KVER=${KVER%-unsigned}
	KROOT="$cache/kernel/$KVER"
	if [[ ! -e $KROOT/.complete ]]; then
		log "downloading $pkg (not installing it)"
		mkdir -p "$cache/kernel"
		tmp=$(mktemp -d "$cache/kernel/.dl.XXXXXX")
		# apt-get download writes into the current directory; as root it
		# warns about the _apt sandbox, which is harmless here.
		(cd "$tmp" && apt-get download -q "$pkg:$deb" >/dev/null 2>&1) ||
			{ rm -rf "$tmp"; die "apt-get download $pkg failed: check apt sources and network"; }
		dpkg-deb -x "$tmp"/*.deb "$tmp/root" || { rm -rf "$tmp"; die "dpkg-deb -x of $pkg failed"; }
		rm -rf "$KROOT"
		mv "$tmp/root" "$KROOT"
		rm -rf "$tmp"
		touch "$KROOT/.complete"
	fi
	KIMAGE="$KROOT/boot/vmlinuz-$KVER"
	KMODDIR="$KROOT/lib/modules/$KVER"
	[[ -f $KIMAGE ]] || die "kernel image missing in $KROOT: remove that directory and retry"
	# Debian's arm64 vmlinuz is a gzipped Image; NixOS ships (and GRUB's
	# arm64 linux loader wants) the plain EFI-stub Image.
	if [[ $deb == arm64 ]]; then
		if [[ ! -s $KROOT/boot/Image-$KVER ]]; then
			if gzip -t "$KIMAGE" 2>/dev/null; then
				gzip -dc "$KIMAGE" >"$KROOT/boot/Image-$KVER.tmp"
			else
				cp "$KIMAGE" "$KROOT/boot/Image-$KVER.tmp"
			fi
			mv "$KROOT/boot/Image-$KVER.tmp" "$KROOT/boot/Image-$KVER"
		fi
		KIMAGE="$KROOT/boot/Image-$KVER"
	fi
	# The package ships no modules.dep; depmod builds it (once) from the tree.
	if [[ ! -s $KMODDIR/modules.dep ]]; then
		depmod -b "$KROOT" "$KVER" || die "depmod for $KVER failed"
	fi
	cache_unlock
}

# resolve_modules NAME... -> relative module paths (from modules.dep), each
# after its dependencies, so insmod in that order works. Built-in modules
# (modules.builtin) are skipped; unknown names are an error.
resolve_modules() {
	awk -v want="$*" -v builtin="$KMODDIR/modules.builtin" '
		function key(s) { sub(/.*\//, "", s); sub(/\.ko(\.(xz|zst|gz))?$/, "", s); gsub("-", "_", s); return s }
		function visit(p,   deps, i, k) {
			if (p in seen) return
			seen[p] = 1
			k = split(D[p], deps, " ")
			for (i = k; i >= 1; i--) visit(deps[i])
			print p
		}
		BEGIN { while ((getline l < builtin) > 0) B[key(l)] = 1 }
		{ i = index($0, ":"); p = substr($0, 1, i - 1); P[key(p)] = p; D[p] = substr($0, i + 1) }
		END {
			k = split(want, w, " ")
			for (i = 1; i <= k; i++) {
				m = key(w[i])
				if (m in P) visit(P[m])
				else if (!(m in B)) { print "unknown kernel module " w[i] > "/dev/stderr"; exit 1 }
			}
		}
	' "$KMODDIR/modules.dep"
}

# install_modules DESTROOT NAME...: copy the modules and their dependencies
# into DESTROOT/lib/modules/KVER and write DESTROOT/etc/modules.order, the
# insmod order for the init script.
install_modules() {
	local dest=$1 m list
	shift
	list=$(resolve_modules "$@") || die "resolving kernel modules failed"
	mkdir -p "$dest/etc" "$dest/lib/modules/$KVER"
	: >"$dest/etc/modules.order"
	for m in $list; do
		mkdir -p "$dest/lib/modules/$KVER/$(dirname "$m")"
		case $m in
		*.xz) xz -dc "$KMODDIR/$m" >"$dest/lib/modules/$KVER/${m%.xz}"; m=${m%.xz} ;;
		*.zst) zstd -qdc "$KMODDIR/$m" >"$dest/lib/modules/$KVER/${m%.zst}"; m=${m%.zst} ;;
		*) cp "$KMODDIR/$m" "$dest/lib/modules/$KVER/$m" ;;
		esac
		echo "$KVER/$m" >>"$dest/etc/modules.order"
	done
}

# install_qemu_ga DESTROOT: Debian's qemu-ga (downloaded once into the
# cache, never installed) as DESTROOT/usr/sbin/qemu-ga, plus the shared
# libraries it links, copied from the host at the same paths. The host is
# the Debian release the package comes from, so ldd's answer fits.
install_qemu_ga() {
	local dest=$1 cache pkgroot tmp ver lib
	cache=$(testiso_cache_dir)
	cache_lock
	ver=$(apt-cache policy qemu-guest-agent 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')
	[[ -n $ver && $ver != "(none)" ]] || die "no qemu-guest-agent package known to apt: run 'apt-get update' first"
	pkgroot="$cache/qemu-ga/${ver//:/_}"
	if [[ ! -e $pkgroot/.complete ]]; then
		log "downloading qemu-guest-agent $ver (not installing it)"
		mkdir -p "$cache/qemu-ga"
		tmp=$(mktemp -d "$cache/qemu-ga/.dl.XXXXXX")
		(cd "$tmp" && apt-get download -q "qemu-guest-agent=$ver" >/dev/null 2>&1) ||
			{ rm -rf "$tmp"; die "apt-get download qemu-guest-agent failed: check apt sources and network"; }
		dpkg-deb -x "$tmp"/*.deb "$tmp/root" || { rm -rf "$tmp"; die "dpkg-deb -x of qemu-guest-agent failed"; }
		rm -rf "$pkgroot"
		mv "$tmp/root" "$pkgroot"
		rm -rf "$tmp"
		touch "$pkgroot/.complete"
	fi
	cache_unlock
	mkdir -p "$dest/usr/sbin"
	cp "$pkgroot/usr/sbin/qemu-ga" "$dest/usr/sbin/qemu-ga"
	# ldd prints "name => /path (addr)" and, for the loader, "/path (addr)".
	for lib in $(ldd "$pkgroot/usr/sbin/qemu-ga" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
		mkdir -p "$dest$(dirname "$lib")"
		cp -L "$lib" "$dest$lib"
	done
	[[ -e $dest/lib64/ld-linux-x86-64.so.2 ]] || die "qemu-ga: the dynamic loader was not found by ldd"
}

# fetch_foreign_busybox: Debian's busybox-static for DEB_ARCH (downloaded
# once into the cache, never installed). Sets FOREIGN_BUSYBOX.
fetch_foreign_busybox() {
	local cache ver root tmp
	cache=$(testiso_cache_dir)
	cache_lock
	ver=$(apt-cache policy "busybox-static:$DEB_ARCH" 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')
	[[ -n $ver && $ver != "(none)" ]] || die "no busybox-static:$DEB_ARCH known to apt: dpkg --add-architecture $DEB_ARCH && apt-get update"
	root="$cache/busybox/$DEB_ARCH-${ver//:/_}"
	if [[ ! -e $root/.complete ]]; then
		log "downloading busybox-static:$DEB_ARCH $ver (not installing it)"
		mkdir -p "$cache/busybox"
		tmp=$(mktemp -d "$cache/busybox/.dl.XXXXXX")
		(cd "$tmp" && apt-get download -q "busybox-static:$DEB_ARCH=$ver" >/dev/null 2>&1) ||
			{ rm -rf "$tmp"; die "apt-get download busybox-static:$DEB_ARCH failed: check apt sources and network"; }
		dpkg-deb -x "$tmp"/*.deb "$tmp/root" || { rm -rf "$tmp"; die "dpkg-deb -x of busybox-static failed"; }
		rm -rf "$root"
		mv "$tmp/root" "$root"
		rm -rf "$tmp"
		touch "$root/.complete"
	fi
	cache_unlock
	FOREIGN_BUSYBOX=$root/bin/busybox
	[[ -x $FOREIGN_BUSYBOX ]] || die "no bin/busybox in $root: remove it and retry"
}

# busybox_root DESTROOT: a static busybox with every applet linked in /bin
# (the host's, or for a foreign DEB_ARCH Debian's busybox-static of that
# architecture, run through binfmt to list its applets).
busybox_root() {
	local dest=$1 bb=/bin/busybox a
	if [[ -n ${DEB_ARCH:-} && $DEB_ARCH != "$(dpkg --print-architecture)" ]]; then
		[[ -n ${FOREIGN_BUSYBOX:-} ]] || fetch_foreign_busybox
		bb=$FOREIGN_BUSYBOX
	fi
	[[ -x $bb ]] && file_is_static "$bb" || bb=/usr/bin/busybox
	file_is_static "$bb" || die "a static busybox is needed: apt-get install busybox-static"
	mkdir -p "$dest"/{bin,sbin,dev,proc,sys,run,tmp,mnt,root,etc}
	cp "$bb" "$dest/bin/busybox"
	for a in $("$bb" --list); do
		[[ -e $dest/bin/$a ]] || ln -s busybox "$dest/bin/$a"
	done
}

file_is_static() {
	[[ -x $1 ]] && ! ldd "$1" >/dev/null 2>&1
}

# pack_initramfs SRCDIR OUT: newc cpio, gzip (decompresses fastest under TCG
# among the formats the Debian kernel always has).
pack_initramfs() {
	(cd "$1" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0) | gzip -6 >"$2"
}

# testiso_layout_vars REL LAYOUT: the names every NixOS-shaped ISO shares.
# Sets LABEL VERSION SYSTEM_PATH KERNEL_PATH INITRD_PATH GRUB_KERNEL_PATH
# GRUB_INITRD_PATH DEFAULT_PARAMS.
testiso_layout_vars() {
	local rel=$1 layout=$2 kv=6.1.0 kname=${KERNEL_NAME:-bzImage}
	LABEL="nixos-minimal-$rel-${ARCH:-x86_64}"
	VERSION="$rel.1234.abcdef"
	SYSTEM_PATH="/nix/store/$(nixhash "system-$VERSION")-nixos-system-nixos-$VERSION"
	if [[ $layout == old ]]; then
		KERNEL_PATH=/boot/$kname
		INITRD_PATH=/boot/initrd
		GRUB_KERNEL_PATH=$KERNEL_PATH
		GRUB_INITRD_PATH=$INITRD_PATH
	else
		KERNEL_PATH="/boot/nix/store/$(nixhash "kernel-$VERSION")-linux-$kv/$kname"
		INITRD_PATH="/boot/nix/store/$(nixhash "initrd-$VERSION")-initrd-linux-$kv/initrd"
		# The real >= 25.05 grub.cfg joins "/boot/" and the store path.
		GRUB_KERNEL_PATH="/boot/${KERNEL_PATH#/boot}"
		GRUB_INITRD_PATH="/boot/${INITRD_PATH#/boot}"
	fi
	DEFAULT_PARAMS="init=$SYSTEM_PATH/init boot.shell_on_fail root=LABEL=$LABEL nohibernate loglevel=4 lsm=landlock,yama,bpf"
	# From 26.05 the ISO boots a systemd initrd that finds the ISO by the
	# label it was built with: no root= and no boot.shell_on_fail.
	if [[ ${rel%.*}${rel#*.} -ge 2605 ]]; then
		DEFAULT_PARAMS="init=$SYSTEM_PATH/init nohibernate loglevel=4 lsm=landlock,yama,bpf"
	fi
}

# write_isolinux_cfg OUT LAYOUT PARAMS
write_isolinux_cfg() {
	local out=$1 layout=$2 params=$3 entries
	entries=$(
		for v in "copytoram|copytoram" "nomodeset|nomodeset" "debug|debug" "serial|console=ttyS0,115200n8"; do
			cat <<EOF

LABEL boot-${v%%|*}
MENU LABEL NixOS $VERSION Installer (${v%%|*})
LINUX $KERNEL_PATH
APPEND $params ${v#*|}
INITRD $INITRD_PATH
EOF
		done
	)
	{
		cat <<EOF
SERIAL 0 115200
TIMEOUT 100
UI menu.c32
MENU TITLE NixOS $VERSION Installer

DEFAULT boot

LABEL boot
MENU LABEL NixOS $VERSION Installer
LINUX $KERNEL_PATH
APPEND $params
INITRD $INITRD_PATH
EOF
		if [[ $layout == new ]]; then
			printf '\nMENU BEGIN Options\nMENU TITLE Options\n%s\n\nMENU END\n' "$entries"
		else
			printf '%s\n' "$entries"
		fi
	} >"$out"
}

# write_grub_cfg OUT PARAMS
write_grub_cfg() {
	local out=$1 params=$2
	cat >"$out" <<EOF
set timeout=10
set default=0

menuentry 'NixOS $VERSION Installer ' --class installer {
  linux $GRUB_KERNEL_PATH $params
  initrd $GRUB_INITRD_PATH
}

submenu 'Options' --class submenu {
  menuentry 'NixOS $VERSION Installer (serial console=ttyS0,115200n8)' --class installer {
    linux $GRUB_KERNEL_PATH $params console=ttyS0,115200n8
    initrd $GRUB_INITRD_PATH
  }
  menuentry 'NixOS $VERSION Installer (nomodeset)' --class installer {
    linux $GRUB_KERNEL_PATH $params nomodeset
    initrd $GRUB_INITRD_PATH
  }
  menuentry 'NixOS $VERSION Installer (copytoram)' --class installer {
    linux $GRUB_KERNEL_PATH $params copytoram
    initrd $GRUB_INITRD_PATH
  }
}
EOF
}

# grub_bootx64 OUT: a standalone GRUB EFI binary (BOOTX64.EFI, or
# BOOTAA64.EFI after testiso_set_arch aarch64) whose embedded config finds
# the ISO by its label and reads /EFI/BOOT/grub.cfg from it, as the real
# NixOS image does. Cached per label: grub-mkstandalone takes a few seconds.
# GRUB_EFI_MODDIR may name the target's module directory (for arm64 the
# host has none: the stand-in passes its arm64 tree's).
grub_bootx64() {
	local out=$1 cache cfg efi=${EFI_BOOT:-BOOTX64.EFI} target=${GRUB_EFI_TARGET:-x86_64-efi} moddir video
	moddir=${GRUB_EFI_MODDIR:-/usr/lib/grub/$target}
	video="all_video efi_gop efi_uga"
	[[ $target == x86_64-efi ]] || video="all_video efi_gop"
	cache="$(testiso_cache_dir)/grub/$LABEL"
	cache_lock
	if [[ ! -s $cache/$efi ]]; then
		[[ -d $moddir ]] || die "GRUB EFI modules missing ($moddir): apt-get install grub-efi-${DEB_ARCH:-amd64}-bin"
		mkdir -p "$cache"
		cfg=$(mktemp)
		cat >"$cfg" <<EOF
search --no-floppy --set=root --label $LABEL
set prefix=(\$root)/EFI/BOOT
configfile (\$root)/EFI/BOOT/grub.cfg
EOF
		grub-mkstandalone -O "$target" -d "$moddir" -o "$cache/$efi.tmp" \
			--install-modules="linux normal iso9660 fat part_msdos part_gpt search search_label search_fs_file configfile echo test $video gfxterm font ls cat serial terminal sleep chain" \
			--modules="iso9660 search search_label configfile normal linux" \
			--locales= --fonts= --themes= \
			"boot/grub/grub.cfg=$cfg" || { rm -f "$cfg"; die "grub-mkstandalone failed"; }
		rm -f "$cfg"
		mv "$cache/$efi.tmp" "$cache/$efi"
	fi
	cp "$cache/$efi" "$out"
	cache_unlock
}

# make_efi_img STAGING: /boot/efi.img, a FAT image labelled EFIBOOT holding
# EFI/BOOT/BOOTX64.EFI or BOOTAA64.EFI (the El Torito EFI boot image).
make_efi_img() {
	local st=$1 img=$1/boot/efi.img kb efi=${EFI_BOOT:-BOOTX64.EFI}
	kb=$(($(stat -c %s "$st/EFI/BOOT/$efi") / 1024 + 512))
	rm -f "$img"
	mkfs.vfat -C -n EFIBOOT "$img" "$kb" >/dev/null || die "mkfs.vfat failed: apt-get install dosfstools"
	mmd -i "$img" ::/EFI ::/EFI/BOOT
	mcopy -i "$img" "$st/EFI/BOOT/$efi" ::/EFI/BOOT/$efi
	mcopy -i "$img" "$st/EFI/BOOT/grub.cfg" ::/EFI/BOOT/grub.cfg
}

# stage_boot_files STAGING LAYOUT KERNEL INITRD PARAMS: everything but the
# live system: kernel, initrd, version.txt, isolinux (x86_64 only, as on
# the real ISOs), GRUB EFI, efi.img.
stage_boot_files() {
	local st=$1 layout=$2 kernel=$3 initrd=$4 params=$5 f
	mkdir -p "$st/EFI/BOOT" "$st/boot" "$(dirname "$st$KERNEL_PATH")" "$(dirname "$st$INITRD_PATH")"
	cp "$kernel" "$st$KERNEL_PATH"
	cp "$initrd" "$st$INITRD_PATH"
	printf '%s' "$VERSION" >"$st/version.txt"
	write_grub_cfg "$st/EFI/BOOT/grub.cfg" "$params"
	grub_bootx64 "$st/EFI/BOOT/${EFI_BOOT:-BOOTX64.EFI}"
	make_efi_img "$st"
	[[ ${ARCH:-x86_64} == x86_64 ]] || return 0
	mkdir -p "$st/isolinux"
	[[ -f /usr/lib/ISOLINUX/isolinux.bin ]] || die "isolinux.bin missing: apt-get install isolinux syslinux-common"
	cp /usr/lib/ISOLINUX/isolinux.bin "$st/isolinux/"
	for f in ldlinux.c32 menu.c32 libutil.c32 libcom32.c32; do
		cp "/usr/lib/syslinux/modules/bios/$f" "$st/isolinux/" || die "$f missing: apt-get install syslinux-common"
	done
	write_isolinux_cfg "$st/isolinux/isolinux.cfg" "$layout" "$params"
}

# make_iso STAGING OUT: hybrid ISO (BIOS via isolinux, also from a disk;
# UEFI via the El Torito EFI image) with Rock Ridge and Joliet, like the
# real NixOS image.
make_iso() {
	local st=$1 out=$2
	if [[ ${ARCH:-x86_64} != x86_64 ]]; then
		# aarch64: UEFI only (El Torito EFI image and a GPT for disks).
		xorriso -as mkisofs -quiet -o "$out.tmp" -V "$LABEL" -r -J -joliet-long \
			-e boot/efi.img -no-emul-boot -isohybrid-gpt-basdat \
			"$st" || die "xorriso failed"
		mv "$out.tmp" "$out"
		return
	fi
	xorriso -as mkisofs -quiet -o "$out.tmp" -V "$LABEL" -r -J -joliet-long \
		-b isolinux/isolinux.bin -c isolinux/boot.cat \
		-no-emul-boot -boot-load-size 4 -boot-info-table \
		-isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin \
		-eltorito-alt-boot -e boot/efi.img -no-emul-boot -isohybrid-gpt-basdat \
		"$st" || die "xorriso failed"
	mv "$out.tmp" "$out"
}
