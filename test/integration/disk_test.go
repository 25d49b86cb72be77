package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nixvm/nixvm/internal/diskview"
)

// The partition view against reality: images are made by the real tools
// (sgdisk, sfdisk, mkfs.*, mkswap, LVM), converted to qcow2 by qemu-img,
// and what nixvm disk says about the qcow2 (and the diskview package about
// the raw file) must match what sfdisk --dump --json and blkid -p say about
// the raw image.

// needDiskTool finds a tool the disk tests use: missing fails under
// NIXVM_REQUIRE_INTEGRATION=1 (CI installs them), else skips.
func needDiskTool(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			if os.Getenv("NIXVM_REQUIRE_INTEGRATION") == "1" {
				t.Fatalf("%s not found and NIXVM_REQUIRE_INTEGRATION=1 (apt-get install fdisk gdisk e2fsprogs dosfstools lvm2 mdadm util-linux)", name)
			}
			t.Skipf("%s not found (apt-get install fdisk gdisk e2fsprogs dosfstools lvm2 mdadm util-linux)", name)
		}
	}
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("making file systems inside partitions needs loop devices, so root (CI runs as root)")
	}
}

func sh(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	// LVM: no udev here to wait for.
	cmd.Env = append(os.Environ(), "DM_DISABLE_UDEV=1", "LVM_SUPPRESS_FD_WARNINGS=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// loop attaches the byte range [off, off+size) of img to a loop device for
// the test's duration.
func loop(t *testing.T, img string, off, size int64) string {
	t.Helper()
	dev := strings.TrimSpace(sh(t, "", "losetup", "--find", "--show", "--offset", strconv.FormatInt(off, 10), "--sizelimit", strconv.FormatInt(size, 10), img))
	t.Cleanup(func() { exec.Command("losetup", "--detach", dev).Run() })
	return dev
}

// lvmConfig runs LVM in metadata-only mode: CI's kernel may have no
// device-mapper, and nothing here needs an LV activated (file systems are
// made on loop devices over the LVs' extents).
const lvmConfig = "global { activation = 0 } devices { obtain_device_list_from_udev = 0 }"

type sfdiskPart struct {
	Node     string `json:"node"`
	Start    int64  `json:"start"`
	Size     int64  `json:"size"`
	Type     string `json:"type"`
	UUID     string `json:"uuid"`
	Name     string `json:"name"`
	Attrs    string `json:"attrs"`
	Bootable bool   `json:"bootable"`
}

type sfdiskDump struct {
	PT struct {
		Label      string       `json:"label"`
		ID         string       `json:"id"`
		Partitions []sfdiskPart `json:"partitions"`
	} `json:"partitiontable"`
}

// blkid probes the range like a device: TYPE, LABEL, UUID, or nil.
func blkid(t *testing.T, img string, off, size int64) map[string]string {
	t.Helper()
	out, err := exec.Command("blkid", "-p", "-o", "export", "-O", strconv.FormatInt(off, 10), "-S", strconv.FormatInt(size, 10), img).Output()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 2 {
		return nil // nothing found
	} else if err != nil {
		t.Fatalf("blkid -p -O %d %s: %v", off, img, err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = strings.ReplaceAll(v, `\ `, " ")
		}
	}
	return m
}

// checkContent compares a probed content with blkid's answer.
func checkContent(t *testing.T, what string, c *diskview.Content, b map[string]string) {
	t.Helper()
	if b["TYPE"] == "" {
		if c != nil {
			t.Errorf("%s: nixvm sees %s, blkid nothing", what, c.Type)
		}
		return
	}
	if c == nil {
		t.Errorf("%s: blkid sees %s (%v), nixvm nothing", what, b["TYPE"], b)
		return
	}
	if c.Type != b["TYPE"] || c.Label != b["LABEL"] || c.UUID != b["UUID"] {
		t.Errorf("%s: nixvm type %q label %q uuid %q; blkid type %q label %q uuid %q", what, c.Type, c.Label, c.UUID, b["TYPE"], b["LABEL"], b["UUID"])
	}
}

// compareWithTools checks one image (raw) and its qcow2 conversion.
func compareWithTools(t *testing.T, e *env, raw string) *diskview.Disk {
	t.Helper()
	qcow := strings.TrimSuffix(raw, ".raw") + ".qcow2"
	sh(t, "", "qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-c", raw, qcow) // -c: compressed clusters too

	var disks []diskview.Disk
	if err := json.Unmarshal([]byte(e.ok("disk", qcow, "--json")), &disks); err != nil || len(disks) != 1 {
		t.Fatalf("nixvm disk --json: %v (%d disks)", err, len(disks))
	}
	d := disks[0]
	if d.Format != "qcow2" {
		t.Errorf("format %q, want qcow2", d.Format)
	}
	// The package on the raw file says the same as the binary on the qcow2.
	pd, err := diskview.InspectFile(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	pd.Path, pd.Format = d.Path, d.Format
	if a, b := mustJSON(t, pd), mustJSON(t, &d); a != b {
		t.Errorf("diskview on the raw image differs from nixvm disk on the qcow2:\nraw:   %s\nqcow2: %s", a, b)
	}
	fi, _ := os.Stat(raw)
	if d.Size != fi.Size() {
		t.Errorf("size %d, raw image is %d", d.Size, fi.Size())
	}

	var dump sfdiskDump
	if err := json.Unmarshal([]byte(sh(t, "", "sfdisk", "--dump", "--json", raw)), &dump); err != nil {
		t.Fatal(err)
	}
	wantTable := map[string]string{"gpt": diskview.TableGPT, "dos": diskview.TableMBR}[dump.PT.Label]
	if d.Table != wantTable || !strings.EqualFold(d.ID, dump.PT.ID) {
		t.Errorf("table %s id %s; sfdisk says %s id %s", d.Table, d.ID, dump.PT.Label, dump.PT.ID)
	}
	if len(d.Partitions) != len(dump.PT.Partitions) {
		t.Fatalf("%d partitions, sfdisk lists %d:\n%+v\n%+v", len(d.Partitions), len(dump.PT.Partitions), d.Partitions, dump.PT.Partitions)
	}
	for i, s := range dump.PT.Partitions {
		p := d.Partitions[i]
		n, _ := strconv.Atoi(strings.TrimPrefix(s.Node, raw))
		typeOK := strings.EqualFold(p.Type, s.Type)
		if d.Table == diskview.TableMBR {
			a, _ := strconv.ParseUint(p.Type, 16, 8)
			b, _ := strconv.ParseUint(s.Type, 16, 8)
			typeOK = a == b
		}
		var sfFlags []string
		if s.Bootable {
			sfFlags = append(sfFlags, "boot")
		}
		if s.Attrs != "" {
			sfFlags = append(sfFlags, strings.Fields(s.Attrs)...)
		}
		if p.Number != n || p.Start != s.Start || p.Sectors != s.Size || p.Size != s.Size*512 || !typeOK ||
			!strings.EqualFold(p.GUID, s.UUID) || p.Name != s.Name || !reflect.DeepEqual(p.Flags, sfFlags) {
			t.Errorf("partition %d: nixvm %+v\nsfdisk %+v", i+1, p, s)
		}
		if p.Kind == "extended" {
			continue
		}
		checkContent(t, fmt.Sprintf("partition %d", p.Number), p.Content, blkid(t, raw, p.Start*512, p.Size))
	}
	return &d
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mkimage(t *testing.T, dir, name string, size int64) string {
	p := filepath.Join(dir, name+".raw")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, size); err != nil {
		t.Fatal(err)
	}
	return p
}

// partRange reads a partition's byte range from sfdisk.
func partRange(t *testing.T, raw string, n int) (int64, int64) {
	var dump sfdiskDump
	if err := json.Unmarshal([]byte(sh(t, "", "sfdisk", "--dump", "--json", raw)), &dump); err != nil {
		t.Fatal(err)
	}
	for _, p := range dump.PT.Partitions {
		if p.Node == raw+strconv.Itoa(n) {
			return p.Start * 512, p.Size * 512
		}
	}
	t.Fatalf("%s has no partition %d", raw, n)
	return 0, 0
}

const MiB = 1 << 20

func TestDiskGPT(t *testing.T) {
	needRoot(t)
	needDiskTool(t, "sgdisk", "sfdisk", "blkid", "losetup", "mkfs.ext4", "mkfs.fat", "mkswap", "qemu-img")
	t.Parallel()
	e := newEnv(t)
	dir := t.TempDir()
	raw := mkimage(t, dir, "gpt", 96*MiB)
	sh(t, "", "sgdisk", "-o",
		"-n", "1:1M:+1M", "-t", "1:EF02", "-c", "1:bios",
		"-n", "2:0:+33M", "-t", "2:EF00", "-c", "2:ESP",
		"-n", "3:0:+8M", "-t", "3:8200",
		"-n", "4:0:0", "-t", "4:8300", "-c", "4:nixos root", "-A", "4:set:2", raw)
	o, s := partRange(t, raw, 2)
	sh(t, "", "mkfs.fat", "-F", "32", "-n", "ESP", loop(t, raw, o, s))
	o, s = partRange(t, raw, 3)
	sh(t, "", "mkswap", "-L", "swap", loop(t, raw, o, s))
	o, s = partRange(t, raw, 4)
	sh(t, "", "mkfs.ext4", "-q", "-F", "-L", "nixos", loop(t, raw, o, s))
	d := compareWithTools(t, e, raw)
	for i, want := range []string{"", "vfat", "swap", "ext4"} {
		if got := typeOf(d.Partitions[i].Content); got != want {
			t.Errorf("partition %d holds %q, want %q", i+1, got, want)
		}
	}

	// nixvm disk NAME shows every disk of the VM: here two copies of the
	// image put in place of a new VM's disks.
	e.ok("create", "dv", "--manual", "--iso", testISO, "--firmware", "bios", "--memory", "256M", "--disk", "1G")
	img, err := os.ReadFile(strings.TrimSuffix(raw, ".raw") + ".qcow2")
	if err != nil {
		t.Fatal(err)
	}
	vmDir := filepath.Join(e.data, "nixvm", "vms", "dv")
	for _, n := range []string{"disk0.qcow2", "disk1.qcow2"} {
		if err := os.WriteFile(filepath.Join(vmDir, n), img, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var vmDisks []diskview.Disk
	if err := json.Unmarshal([]byte(e.ok("disk", "dv", "--json")), &vmDisks); err != nil || len(vmDisks) != 2 {
		t.Fatalf("nixvm disk dv --json: %v, %d disks, want 2", err, len(vmDisks))
	}
	for i, vd := range vmDisks {
		if filepath.Base(vd.Path) != fmt.Sprintf("disk%d.qcow2", i) || !reflect.DeepEqual(vd.Partitions, d.Partitions) {
			t.Errorf("VM disk %d: %s, partitions differ from the image's", i, vd.Path)
		}
	}
	human := e.ok("disk", "dv")
	for _, want := range []string{"disk0.qcow2: qcow2, 96 MiB, GPT", "disk1.qcow2", "EFI System", `vfat FAT32 "ESP"`, `swap "swap"`, `ext4 "nixos"`, "nixos root", "LegacyBIOSBootable"} {
		if !strings.Contains(human, want) {
			t.Errorf("nixvm disk dv does not show %q:\n%s", want, human)
		}
	}

	// A corrupt primary header: the backup is used, with a warning.
	f, err := os.OpenFile(raw, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("XX"), 512+24)
	f.Close()
	pd, err := diskview.InspectFile(context.Background(), raw)
	if err != nil || pd.Table != diskview.TableGPT || len(pd.Partitions) != 4 || len(pd.Warnings) == 0 {
		t.Errorf("corrupt primary GPT: %v table %s, %d partitions, warnings %q", err, pd.Table, len(pd.Partitions), pd.Warnings)
	}
}

func typeOf(c *diskview.Content) string {
	if c == nil {
		return ""
	}
	return c.Type
}

func TestDiskMBR(t *testing.T) {
	needRoot(t)
	needDiskTool(t, "sfdisk", "blkid", "losetup", "mkfs.ext4", "mkfs.fat", "mkswap", "qemu-img")
	t.Parallel()
	e := newEnv(t)
	raw := mkimage(t, t.TempDir(), "mbr", 96*MiB)
	sh(t, "label: dos\n"+
		"start=2048, size=40960, type=ef, bootable\n"+
		"start=43008, size=20480, type=83\n"+
		"start=63488, type=5\n"+
		"start=65536, size=16384, type=82\n"+
		"start=83968, type=83\n", "sfdisk", "-q", raw)
	for n, mk := range map[int][]string{
		1: {"mkfs.fat", "-F", "16", "-n", "BOOT"},
		2: {"mkfs.ext4", "-q", "-F", "-L", "data", "-O", "^has_journal"},
		5: {"mkswap", "-L", "swap"},
		6: {"mkfs.ext4", "-q", "-F", "-L", "nixos"},
	} {
		o, s := partRange(t, raw, n)
		sh(t, "", mk[0], append(mk[1:], loop(t, raw, o, s))...)
	}
	d := compareWithTools(t, e, raw)
	for i, want := range []string{"vfat", "ext4", "", "swap", "ext4"} {
		if got := typeOf(d.Partitions[i].Content); got != want {
			t.Errorf("partition %d holds %q, want %q", d.Partitions[i].Number, got, want)
		}
	}
	if got := d.Partitions[2].Kind; got != "extended" {
		t.Errorf("partition 3 is %q, want extended", got)
	}
}

func TestDiskLVM(t *testing.T) {
	needRoot(t)
	needDiskTool(t, "sgdisk", "sfdisk", "blkid", "losetup", "mkfs.ext4", "mkswap", "qemu-img", "pvcreate", "vgcreate", "lvcreate", "lvs", "pvs", "vgremove")

	t.Parallel()
	e := newEnv(t)
	raw := mkimage(t, t.TempDir(), "lvm", 96*MiB)
	sh(t, "", "sgdisk", "-o", "-n", "1:1M:+1M", "-t", "1:EF02", "-n", "2:0:0", "-t", "2:8E00", raw)
	o, s := partRange(t, raw, 2)
	pvdev := loop(t, raw, o, s)
	// A VG name no other test or host VG uses; removed (from the metadata
	// cache, the image keeps its copy) when done.
	vg := fmt.Sprintf("nvt%d", os.Getpid())
	sh(t, "", "pvcreate", "--config", lvmConfig, "-ff", "-y", pvdev)
	t.Cleanup(func() { exec.Command("vgremove", "--config", lvmConfig, "-f", vg).Run() })
	sh(t, "", "vgcreate", "--config", lvmConfig, vg, pvdev)
	sh(t, "", "lvcreate", "--config", lvmConfig, "-an", "-Zn", "-y", "-L", "16m", "-n", "swap", vg)
	sh(t, "", "lvcreate", "--config", lvmConfig, "-an", "-Zn", "-y", "-l", "100%FREE", "-n", "root", vg)

	// Where LVM put each LV, from LVM itself.
	var lvs struct {
		Report []struct {
			LV []struct {
				Name   string `json:"lv_name"`
				Size   string `json:"lv_size"`
				Ranges string `json:"seg_pe_ranges"`
			} `json:"lv"`
		} `json:"report"`
	}
	if err := json.Unmarshal([]byte(sh(t, "", "lvs", "--config", lvmConfig, "--reportformat", "json", "--units", "b", "--nosuffix", "-o", "lv_name,lv_size,seg_pe_ranges", vg)), &lvs); err != nil {
		t.Fatal(err)
	}
	pvOut := sh(t, "", "pvs", "--config", lvmConfig, "--noheadings", "--units", "b", "--nosuffix", "-o", "pe_start,vg_extent_size,pv_uuid", pvdev)
	f := strings.Fields(pvOut)
	peStart, _ := strconv.ParseInt(f[0], 10, 64)
	extent, _ := strconv.ParseInt(f[1], 10, 64)
	pvUUID := f[2]
	type lvWant struct {
		size, off int64
	}
	want := map[string]lvWant{}
	for _, lv := range lvs.Report[0].LV {
		size, _ := strconv.ParseInt(lv.Size, 10, 64)
		_, r, _ := strings.Cut(lv.Ranges, ":")
		first, _, _ := strings.Cut(r, "-")
		pe, _ := strconv.ParseInt(first, 10, 64)
		want[lv.Name] = lvWant{size, o + peStart + pe*extent}
	}
	sh(t, "", "mkswap", "-L", "lvswap", loop(t, raw, want["swap"].off, want["swap"].size))
	sh(t, "", "mkfs.ext4", "-q", "-F", "-L", "lvroot", loop(t, raw, want["root"].off, want["root"].size))
	d := compareWithTools(t, e, raw)
	c := d.Partitions[1].Content
	if c == nil || c.LVM == nil {
		t.Fatalf("partition 2 content = %+v, want an LVM PV", c)
	}
	if c.LVM.VG != vg || c.LVM.PVUUID != pvUUID || c.LVM.ExtentSize != extent || len(c.LVM.LVs) != len(want) {
		t.Fatalf("PV %+v; LVM says VG %s PV %s extent %d, %d LVs", c.LVM, vg, pvUUID, extent, len(want))
	}
	for _, lv := range c.LVM.LVs {
		w, ok := want[lv.Name]
		if !ok || lv.Size != w.size {
			t.Errorf("LV %s of %d bytes; lvs says %+v", lv.Name, lv.Size, want)
			continue
		}
		checkContent(t, "LV "+lv.Name, lv.Content, blkid(t, raw, w.off, w.size))
		if wt := map[string]string{"swap": "swap", "root": "ext4"}[lv.Name]; typeOf(lv.Content) != wt {
			t.Errorf("LV %s holds %q, want %q", lv.Name, typeOf(lv.Content), wt)
		}
	}
}

// TestDiskRAID1: two members of a real mdadm RAID1 (metadata 1.2) with
// ext4 on the array. mdadm needs the kernel's md driver to create an
// array; a kernel without it (some CI sandboxes) cannot make this image.
func TestDiskRAID1(t *testing.T) {
	needRoot(t)
	needDiskTool(t, "sgdisk", "sfdisk", "blkid", "losetup", "mkfs.ext4", "qemu-img", "mdadm")
	if _, err := os.Stat("/proc/mdstat"); err != nil {
		exec.Command("modprobe", "md_mod").Run()
		if _, err := os.Stat("/proc/mdstat"); err != nil {
			t.Skip("this kernel has no md driver (no /proc/mdstat, modprobe md_mod failed): mdadm cannot create an array; the md superblock parser is covered by internal/diskview's tests")
		}
	}
	t.Parallel()
	e := newEnv(t)
	dir := t.TempDir()
	var members []string
	var raws []string
	for _, n := range []string{"m0", "m1"} {
		raw := mkimage(t, dir, n, 64*MiB)
		sh(t, "", "sgdisk", "-o", "-n", "1:1M:0", "-t", "1:FD00", raw)
		o, s := partRange(t, raw, 1)
		members = append(members, loop(t, raw, o, s))
		raws = append(raws, raw)
	}
	md := fmt.Sprintf("/dev/md/nvt%d", os.Getpid())
	sh(t, "", "mdadm", append([]string{"--create", md, "--level=1", "--raid-devices=2", "--metadata=1.2", "--homehost=nvtest", "--assume-clean", "--run"}, members...)...)
	stopped := false
	stop := func() {
		if !stopped {
			exec.Command("mdadm", "--stop", md).Run()
			stopped = true
		}
	}
	t.Cleanup(stop)
	sh(t, "", "mkfs.ext4", "-q", "-F", "-L", "mirror", md)
	stop()
	for _, raw := range raws {
		d := compareWithTools(t, e, raw)
		c := d.Partitions[0].Content
		if c == nil || c.MD == nil || c.MD.Level != "raid1" || c.MD.RaidDisks != 2 || typeOf(c.MD.Content) != "ext4" || c.MD.Content.Label != "mirror" {
			t.Errorf("%s: member content %+v md %+v", raw, c, c.MD)
		}
	}
}
