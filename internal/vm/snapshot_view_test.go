package vm

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/nixvm/nixvm/internal/qmp"
	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/store"
)

// TestMatchDrives maps canned query-block answers to a UEFI VM's images:
// a QEMU started with -blockdev (node names), one an older nixvm started
// with -drive (drive ids, QEMU's own node names), and drives that are
// none of the VM's.
func TestMatchDrives(t *testing.T) {
	in := store.Instance{Name: "m", Dir: t.TempDir()}
	if err := os.WriteFile(in.FormatFile(), []byte("2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	imgs, err := snapshotImages(in, &spec.Spec{Firmware: "uefi", Disks: []spec.Disk{{Size: spec.GiB}, {Size: spec.GiB}}})
	if err != nil {
		t.Fatal(err)
	}
	snap := []qmp.SnapshotInfo{{ID: "1", Name: "t1", VMStateSize: 42, DateSec: 100}}
	qcow := func(d qmp.BlockDevice) qmp.BlockDevice {
		d.Inserted, d.Format, d.Snapshots = true, "qcow2", snap
		return d
	}
	code := qmp.BlockDevice{Qdev: "/machine/system.flash0", Inserted: true, NodeName: "efi-code", ReadOnly: true, Format: "raw", File: "/OVMF_CODE.fd"}
	cd := qmp.BlockDevice{Qdev: "/machine/peripheral-anon/device[0]", Inserted: true, NodeName: "cd0", ReadOnly: true, Format: "raw", File: "/c.iso"}
	blockdev := []qmp.BlockDevice{
		code,
		qcow(qmp.BlockDevice{Qdev: "/machine/system.flash1", NodeName: "efi-vars", File: in.EFIVars()}),
		cd,
		qcow(qmp.BlockDevice{Qdev: "/machine/peripheral-anon/device[1]/virtio-backend", NodeName: "disk0", File: in.Disk(0)}),
		qcow(qmp.BlockDevice{Qdev: "/machine/peripheral-anon/device[2]/virtio-backend", NodeName: "disk1", File: in.Disk(1)}),
	}
	legacy := []qmp.BlockDevice{
		{Device: "pflash0", Inserted: true, NodeName: "#block196", ReadOnly: true, Format: "raw", File: "/OVMF_CODE.fd"},
		qcow(qmp.BlockDevice{Device: "pflash1", NodeName: "#block303", File: in.EFIVars()}),
		{Device: "cd0", Inserted: true, NodeName: "#block400", ReadOnly: true, Format: "raw", File: "/c.iso"},
		qcow(qmp.BlockDevice{Device: "disk0", NodeName: "#block768", File: in.Disk(0)}),
		qcow(qmp.BlockDevice{Device: "disk1", NodeName: "#block900", File: in.Disk(1)}),
	}
	with := func(devs []qmp.BlockDevice, extra ...qmp.BlockDevice) []qmp.BlockDevice {
		return append(append([]qmp.BlockDevice{}, devs...), extra...)
	}
	without := func(devs []qmp.BlockDevice, i int) []qmp.BlockDevice {
		return append(append([]qmp.BlockDevice{}, devs[:i]...), devs[i+1:]...)
	}
	roVars := with(blockdev)
	roVars[1].ReadOnly = true

	for _, tc := range []struct {
		name      string
		devs      []qmp.BlockDevice
		wantNodes []string // nil: an error
		wantErr   string
	}{
		{"-blockdev", blockdev, []string{"disk0", "disk1", "efi-vars"}, ""},
		{"-drive of an older nixvm", legacy, []string{"#block768", "#block900", "#block303"}, ""},
		{"-blockdev, an unknown writable node", with(blockdev, qcow(qmp.BlockDevice{Qdev: "/machine/peripheral/x", NodeName: "extra", File: "/x.qcow2"})), nil,
			"has a writable drive extra (/x.qcow2) that is none of its images"},
		{"-blockdev, an unknown writable anonymous node", with(blockdev, qcow(qmp.BlockDevice{Qdev: "/machine/peripheral/x", NodeName: "#block1", File: "/x.qcow2"})), nil,
			"has a writable drive /machine/peripheral/x (/x.qcow2) that is none of its images"},
		{"-drive, an unknown writable drive", with(legacy, qcow(qmp.BlockDevice{Device: "hd9", NodeName: "#block1", File: "/x.qcow2"})), nil,
			"has a writable drive hd9 (/x.qcow2) that is none of its images"},
		{"no efivars", without(blockdev, 1), nil, "has no drive efi-vars (efivars)"},
		{"efivars read-only", roVars, nil, "efivars is attached read-only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := matchDrives("m", imgs, tc.devs)
			if tc.wantNodes == nil {
				if !errors.Is(err, ErrNotSnapshottable) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("matchDrives: %v, want ErrNotSnapshottable with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(v.nodes, tc.wantNodes) || v.vmstate != tc.wantNodes[0] {
				t.Errorf("nodes %q, vmstate %q; want %q, the first for RAM state", v.nodes, v.vmstate, tc.wantNodes)
			}
			for _, l := range []string{"disk0", "disk1", "efivars"} {
				if got := v.per[l]; len(got) != 1 || got[0].Name != "t1" || got[0].VMStateSize != 42 {
					t.Errorf("snapshots of %s: %+v", l, got)
				}
			}
		})
	}
}
