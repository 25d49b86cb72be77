package install

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/nixvm/nixvm/internal/spec"
)

func TestLayoutSizes(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(s *spec.Spec)
		want   []string // Partition.String() of each partition
		root   spec.Size
	}{
		{
			name:   "uefi gpt swap",
			mutate: func(s *spec.Spec) { s.Swap = 2 * spec.GiB },
			want: []string{
				`/dev/vda1             start 1M     size 512M    type EF00: vfat "ESP" mounted at /boot`,
				`/dev/vda2             start 513M   size 2G      type 8200: swap "swap"`,
				`/dev/vda3             start 2561M  size 17918M  type 8300: ext4 "nixos" mounted at /`,
			},
			root: 17918 * spec.MiB, // 20480 - 1 - 512 - 2048 - 1
		},
		{
			name:   "swap rounded up to whole MiB",
			mutate: func(s *spec.Spec) { s.Firmware, s.PartitionTable, s.Swap = "bios", "mbr", 1000*spec.KiB },
			want: []string{
				`/dev/vda1             start 1M     size 1M      type 82: swap "swap"`,
				`/dev/vda2             start 2M     size 20477M  type 83 (active): ext4 "nixos" mounted at /`,
			},
			root: 20477 * spec.MiB,
		},
		{
			name: "raid1 sized for the smaller disk",
			mutate: func(s *spec.Spec) {
				s.Firmware, s.RAID, s.Disks = "bios", "raid1", []spec.Disk{{Size: 30 * spec.GiB}, {Size: 10 * spec.GiB}}
			},
			want: []string{
				`/dev/vda1,/dev/vdb1   start 1M     size 1M      type EF02: GRUB's core image (BIOS boot partition)`,
				`/dev/vda2,/dev/vdb2   start 2M     size 10237M  type FD00: RAID1 member of /dev/md/root: ext4 "nixos" mounted at /`,
			},
			root: 10237*spec.MiB - 8*spec.MiB - spec.MiB, // md headroom 8M on a 10G member, plus superblock
		},
		{
			name:   "lvm extents",
			mutate: func(s *spec.Spec) { s.LVM, s.Swap, s.Disks = true, 1001*spec.MiB, []spec.Disk{{Size: 6 * spec.GiB}} },
			want: []string{
				`/dev/vda1             start 1M     size 512M    type EF00: vfat "ESP" mounted at /boot`,
				`/dev/vda2             start 513M   size 5630M   type 8E00: LVM PV of VG nixvm: LV swap 1001M, LV root (ext4 "nixos" mounted at /)`,
			},
			// (5630 - 1) rounded down to 4M extents = 5628; swap LV 1004.
			root: (5628 - 1004) * spec.MiB,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Make(inputs(testSpec(t, tt.mutate)))
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Partitions) != len(tt.want) {
				t.Fatalf("%d partitions, want %d: %v", len(p.Partitions), len(tt.want), p.Partitions)
			}
			for i, part := range p.Partitions {
				if got := strings.TrimSpace(part.String()); got != tt.want[i] {
					t.Errorf("partition %d:\n got %s\nwant %s", i+1, got, tt.want[i])
				}
			}
			if p.RootSize != tt.root {
				t.Errorf("RootSize = %s (%d), want %s", p.RootSize, p.RootSize, tt.root)
			}
			// Partitions are contiguous, MiB-aligned and end before the GPT
			// backup header.
			end := firstOffset
			for _, part := range p.Partitions {
				if part.Start != end || part.Start%spec.MiB != 0 || part.Size%spec.MiB != 0 {
					t.Errorf("partition %d at %d size %d: not contiguous or not MiB-aligned", part.Number, part.Start, part.Size)
				}
				end = part.Start + part.Size
			}
			s := testSpec(t, tt.mutate)
			for _, d := range p.Partitions[0].Disks {
				size := s.Disks[strings.Index("ab", d[len(d)-1:])].Size
				if end > size-endSlack {
					t.Errorf("partitions end at %s, past %s on %s", end, size-endSlack, d)
				}
			}
		})
	}
}

// Disks that leave the root file system below the install minimum (4 GiB,
// 8 GiB with a desktop: docs/spec.md) once alignment and metadata are
// counted: Make says so, names the minimum and how big the disk must be,
// and that size works.
func TestRootTooSmall(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(s *spec.Spec)
		want   string
		min    spec.Size
	}{
		// 4096 - 1 - 512 - 1 = 3582
		{"uefi", func(s *spec.Spec) { s.Disks = []spec.Disk{{Size: 4 * spec.GiB}} },
			"disks[0].size: 4G leaves 3582M for the root file system after the 512M ESP and partitioning overhead (a minimal NixOS needs at least 4G; use a disk of at least 4610M)", 4 * spec.GiB},
		{"bios gpt swap", func(s *spec.Spec) {
			s.Firmware, s.Swap, s.Disks = "bios", spec.GiB, []spec.Disk{{Size: 5 * spec.GiB}}
		}, "disks[0].size: 5G leaves 4093M for the root file system after the 1M bios-boot, 1G swap and partitioning overhead (a minimal NixOS needs at least 4G; use a disk of at least 5123M)", 4 * spec.GiB},
		{"raid1 lvm names the smaller disk", func(s *spec.Spec) {
			s.RAID, s.LVM, s.Swap, s.Disks = "raid1", true, 512*spec.MiB, []spec.Disk{{Size: 20 * spec.GiB}, {Size: 5 * spec.GiB}}
		}, "disks[1].size: 5G leaves 4088M for the root file system after the 512M ESP, 512M swap LV and RAID/LVM metadata and partitioning overhead (a minimal NixOS needs at least 4G; use a disk of at least 5128M)", 4 * spec.GiB},
		{"desktop needs 8G", func(s *spec.Spec) {
			s.Desktop, s.Disks = "i3", []spec.Disk{{Size: 8 * spec.GiB}}
		}, "disks[0].size: 8G leaves 7678M for the root file system after the 512M ESP and partitioning overhead (NixOS with the i3 desktop needs at least 8G; use a disk of at least 8706M)", 8 * spec.GiB},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Make(inputs(testSpec(t, tt.mutate)))
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Make:\n got %v\nwant %s", err, tt.want)
			}
			// CheckSpec, which create runs before any download, says the same.
			sp := testSpec(t, tt.mutate)
			if err := CheckSpec(&sp); err == nil || err.Error() != tt.want {
				t.Fatalf("CheckSpec:\n got %v\nwant %s", err, tt.want)
			}
			// The suggested size is enough.
			need := tt.want[strings.LastIndex(tt.want, " ")+1 : len(tt.want)-1]
			size, err := spec.ParseSize(need)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Make(inputs(testSpec(t, func(s *spec.Spec) {
				tt.mutate(s)
				for i := range s.Disks {
					s.Disks[i].Size = max(s.Disks[i].Size, size)
				}
			})))
			if err != nil {
				t.Fatalf("with the suggested %s: %v", need, err)
			}
			if p.RootSize < tt.min || p.RootSize > tt.min+8*spec.MiB {
				t.Errorf("with the suggested %s: root %s, want just over %s", need, p.RootSize, tt.min)
			}
		})
	}
}

func TestMakeInputErrors(t *testing.T) {
	good := inputs(testSpec(t, func(*spec.Spec) {}))
	tests := []struct {
		name   string
		mutate func(in *Inputs)
		want   string
	}{
		{"release", func(in *Inputs) { in.Release = "stable" }, `release: "stable" is not a NixOS release number like 25.11`},
		{"user", func(in *Inputs) { in.User = "Bob Smith" }, `user: "Bob Smith" is not a valid user name`},
		{"empty key", func(in *Inputs) { in.AuthorizedKey = " " }, "authorized key: empty"},
		{"two keys", func(in *Inputs) { in.AuthorizedKey = testKey + "\n" + testKey }, "authorized key: must be one line"},
		{"spec", func(in *Inputs) { in.Spec.CPUs = 0 }, "cpus: 0 is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := good
			tt.mutate(&in)
			if _, err := Make(in); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("Make = %v, want %s...", err, tt.want)
			}
		})
	}
}

// The script's helpers behave as the driver expects: phases are announced
// on lines of their own and a failing command, also inside a function,
// ends the script with one NIXVM-FAILED line and its exit code.
func TestScriptFailureMarker(t *testing.T) {
	requireTool(t, "bash", "bash")
	tests := []struct {
		name, body, want string
		rc               int
	}{
		{"command", `enter "formatting"` + "\nsh -c 'exit 7' x\necho not reached\n",
			"\nNIXVM-PHASE formatting\n\nNIXVM-FAILED phase=formatting rc=7 cmd=sh -c 'exit 7' x\n", 7},
		{"in a function", "f() {\n  false\n}\n" + `enter "partitioning"` + "\nf\necho not reached\n",
			"\nNIXVM-PHASE partitioning\n\nNIXVM-FAILED phase=partitioning rc=1 cmd=false\n", 1},
		{"unset variable", `enter "configuring"` + "\necho \"$nope\"\n",
			"\nNIXVM-PHASE configuring\n\nNIXVM-FAILED phase=configuring rc=1 cmd=echo \"$nope\"\n", 1},
		{"ok", `enter "done"` + "\n", "\nNIXVM-PHASE done\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command("bash", "-c", scriptHelpers+tt.body)
			out, err := cmd.Output()
			rc := 0
			if ee, ok := err.(*exec.ExitError); ok {
				rc = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.want || rc != tt.rc {
				t.Errorf("output %q rc %d, want %q rc %d", out, rc, tt.want, tt.rc)
			}
		})
	}
}
