package spec

import (
	"reflect"
	"testing"
	"time"
)

func TestApplyDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Spec
		want Spec
	}{
		{
			name: "empty",
			in:   Spec{Name: "demo"},
			want: Spec{
				Version: SpecVersion,
				Name:    "demo", Arch: "x86_64", CPUs: 2, Memory: 2 * GiB,
				Disks:    []Disk{{20 * GiB}},
				Firmware: "uefi", PartitionTable: "gpt", RAID: "none",
				Filesystem: "ext4", Desktop: "none", Display: "auto", Keymap: "us", Release: "stable",
				Substituters: []string{DefaultSubstituter}, TrustedPublicKeys: []string{DefaultTrustedPublicKey},
				NetworkTimeout: DefaultNetworkTimeout,
			},
		},
		{
			name: "raid1 without disks gets two",
			in:   Spec{Name: "demo", RAID: "raid1"},
			want: Spec{
				Version: SpecVersion,
				Name:    "demo", Arch: "x86_64", CPUs: 2, Memory: 2 * GiB,
				Disks:    []Disk{{20 * GiB}, {20 * GiB}},
				Firmware: "uefi", PartitionTable: "gpt", RAID: "raid1",
				Filesystem: "ext4", Desktop: "none", Display: "auto", Keymap: "us", Release: "stable",
				Substituters: []string{DefaultSubstituter}, TrustedPublicKeys: []string{DefaultTrustedPublicKey},
				NetworkTimeout: DefaultNetworkTimeout,
			},
		},
		{
			name: "set values are kept, sha lowercased, forward proto filled",
			in: Spec{
				Name: "x", Arch: "aarch64", CPUs: 8, Memory: 16 * GiB,
				Disks:    []Disk{{100 * GiB}},
				Firmware: "bios", PartitionTable: "mbr", Swap: GiB, LVM: true, RAID: "raid1",
				Filesystem: "ext4", Desktop: "i3", Display: "gtk", Release: "25.11",
				PortForwards: []PortForward{{Host: 1, Guest: 2}},
				ISOSHA256:    " ABCDEF ",
				Substituters: []string{"http://c"}, TrustedPublicKeys: []string{"k"}, NetworkTimeout: time.Minute,
			},
			want: Spec{
				Version: SpecVersion,
				Name:    "x", Arch: "aarch64", CPUs: 8, Memory: 16 * GiB,
				Disks:    []Disk{{100 * GiB}},
				Firmware: "bios", PartitionTable: "mbr", Swap: GiB, LVM: true, RAID: "raid1",
				Filesystem: "ext4", Desktop: "i3", Display: "gtk", Keymap: "us", Release: "25.11",
				PortForwards: []PortForward{{Host: 1, Guest: 2, Proto: "tcp"}},
				ISOSHA256:    "abcdef",
				Substituters: []string{"http://c"}, TrustedPublicKeys: []string{"k"}, NetworkTimeout: time.Minute,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in
			got.ApplyDefaults()
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ApplyDefaults:\n got %+v\nwant %+v", got, tt.want)
			}
			again := got
			again.ApplyDefaults()
			if !reflect.DeepEqual(again, got) {
				t.Fatalf("ApplyDefaults is not idempotent:\n got %+v\nwant %+v", again, got)
			}
		})
	}
}
