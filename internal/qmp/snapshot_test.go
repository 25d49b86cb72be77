package qmp

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

// jobServer answers a job command like QEMU: the command returns at once,
// JOB_STATUS_CHANGE events follow (with another job's events interleaved),
// query-jobs reports the concluded job with jobErr, job-dismiss removes it.
func jobServer(jobErr string, got chan<- request) func(p *peer) {
	return func(p *peer) {
		if !p.handshake() {
			return
		}
		id := ""
		for {
			req, ok := p.recv()
			if !ok {
				return
			}
			got <- req
			switch req.Execute {
			case "snapshot-save", "snapshot-load", "snapshot-delete":
				var a struct {
					JobID string `json:"job-id"`
				}
				json.Unmarshal(req.Arguments, &a)
				id = a.JobID
				ev := func(job, status string) {
					p.send(fmt.Sprintf(`{"event": "JOB_STATUS_CHANGE", "data": {"status": %q, "id": %q}, "timestamp": {"seconds": 1, "microseconds": 0}}`, status, job))
				}
				ev(id, "created")
				p.reply(req, "{}")
				ev(id, "running")
				ev("other", "concluded")
				if jobErr != "" {
					ev(id, "aborting")
				} else {
					ev(id, "waiting")
					ev(id, "pending")
				}
				ev(id, "concluded")
			case "query-jobs":
				e := ""
				if jobErr != "" {
					e = fmt.Sprintf(`, "error": %q`, jobErr)
				}
				p.reply(req, fmt.Sprintf(`[{"id": "other", "type": "backup", "status": "concluded"}, {"id": %q, "type": "snapshot-save", "status": "concluded"%s}]`, id, e))
			case "job-dismiss":
				p.reply(req, "{}")
			default:
				p.send(fmt.Sprintf(`{"error": {"class": "CommandNotFound", "desc": "no %s"}, "id": %s}`, req.Execute, req.ID))
			}
		}
	}
}

func TestRunJob(t *testing.T) {
	for _, tc := range []struct {
		name, jobErr string
	}{
		{"concluded", ""},
		{"failed", "Snapshot 't1' already exists in one or more devices"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan request, 16)
			c := dial(t, fakeQMP(t, jobServer(tc.jobErr, got)))
			err := c.SnapshotSave(testCtx(t), "j1", "t1", "#block1", []string{"#block1", "#block2"})
			var je *JobError
			switch {
			case tc.jobErr == "" && err != nil:
				t.Fatalf("SnapshotSave: %v", err)
			case tc.jobErr != "" && (!errors.As(err, &je) || je.Desc != tc.jobErr || je.ID != "j1"):
				t.Fatalf("SnapshotSave = %v, want a *JobError %q", err, tc.jobErr)
			}
			var cmds []string
			for len(got) > 0 {
				req := <-got
				cmds = append(cmds, req.Execute)
				if req.Execute == "snapshot-save" {
					var a map[string]any
					json.Unmarshal(req.Arguments, &a)
					want := map[string]any{"job-id": "j1", "tag": "t1", "vmstate": "#block1", "devices": []any{"#block1", "#block2"}}
					if !reflect.DeepEqual(a, want) {
						t.Errorf("snapshot-save arguments %v, want %v", a, want)
					}
				}
			}
			if want := []string{"snapshot-save", "query-jobs", "job-dismiss"}; !reflect.DeepEqual(cmds, want) {
				t.Errorf("commands %v, want %v (dismissed once concluded)", cmds, want)
			}
		})
	}
}

func TestQueryBlock(t *testing.T) {
	// What QEMU 7.2 answers for a UEFI VM with its ISO attached (shortened),
	// started with -drive (an older nixvm) and with -blockdev.
	const legacy = `[
	 {"device": "pflash0", "locked": false, "removable": false, "inserted": {"ro": true, "node-name": "#block196", "file": "/usr/share/OVMF/OVMF_CODE_4M.fd", "image": {"format": "raw", "actual-size": 3653632}}},
	 {"device": "pflash1", "locked": false, "removable": false, "inserted": {"ro": false, "node-name": "#block303", "file": "/vm/efivars.qcow2", "image": {"format": "qcow2", "actual-size": 1527808, "snapshots": [{"name": "t1", "id": "1", "vm-state-size": 0, "date-sec": 1796188361, "date-nsec": 91832000, "vm-clock-sec": 13, "vm-clock-nsec": 172628812}]}}},
	 {"device": "cd1", "locked": false, "removable": true, "tray_open": false},
	 {"device": "disk0", "locked": false, "removable": false, "inserted": {"ro": false, "node-name": "#block768", "file": "/vm/disk0.qcow2", "image": {"format": "qcow2", "actual-size": 45568000, "snapshots": [{"name": "t1", "id": "1", "vm-state-size": 45265598, "date-sec": 1796188361, "date-nsec": 0, "vm-clock-sec": 13, "vm-clock-nsec": 0}]}}}
	]`
	const blockdev = `[
	 {"device": "", "qdev": "/machine/system.flash0", "locked": false, "removable": false, "type": "unknown", "inserted": {"ro": true, "drv": "raw", "node-name": "efi-code", "file": "/usr/share/OVMF/OVMF_CODE_4M.fd", "image": {"format": "raw", "actual-size": 3653632}}},
	 {"device": "", "qdev": "/machine/system.flash1", "locked": false, "removable": false, "type": "unknown", "inserted": {"ro": false, "drv": "qcow2", "node-name": "efi-vars", "file": "/vm/efivars.qcow2", "image": {"format": "qcow2", "actual-size": 1527808, "snapshots": [{"name": "t1", "id": "1", "vm-state-size": 0, "date-sec": 1796188361, "date-nsec": 91832000, "vm-clock-sec": 13, "vm-clock-nsec": 172628812}]}}},
	 {"device": "", "qdev": "/machine/peripheral-anon/device[0]", "locked": false, "removable": true, "tray_open": false, "type": "unknown", "inserted": {"ro": true, "drv": "raw", "node-name": "cd0", "file": "/c/nixos.iso", "image": {"format": "raw", "actual-size": 1048576}}},
	 {"device": "", "qdev": "/machine/peripheral-anon/device[1]/virtio-backend", "locked": false, "removable": false, "type": "unknown", "inserted": {"ro": false, "drv": "qcow2", "node-name": "disk0", "file": "/vm/disk0.qcow2", "image": {"format": "qcow2", "actual-size": 45568000, "snapshots": [{"name": "t1", "id": "1", "vm-state-size": 45265598, "date-sec": 1796188361, "date-nsec": 0, "vm-clock-sec": 13, "vm-clock-nsec": 0}]}}}
	]`
	efiSnaps := []SnapshotInfo{{ID: "1", Name: "t1", DateSec: 1796188361, DateNsec: 91832000, VMClockSec: 13, VMClockNsec: 172628812}}
	diskSnaps := []SnapshotInfo{{ID: "1", Name: "t1", VMStateSize: 45265598, DateSec: 1796188361, VMClockSec: 13}}
	tests := []struct {
		name, answer string
		want         []BlockDevice
	}{
		{"-drive", legacy, []BlockDevice{
			{Device: "pflash0", Inserted: true, NodeName: "#block196", ReadOnly: true, Format: "raw", File: "/usr/share/OVMF/OVMF_CODE_4M.fd", ActualSize: 3653632},
			{Device: "pflash1", Inserted: true, NodeName: "#block303", Format: "qcow2", File: "/vm/efivars.qcow2", ActualSize: 1527808, Snapshots: efiSnaps},
			{Device: "cd1"},
			{Device: "disk0", Inserted: true, NodeName: "#block768", Format: "qcow2", File: "/vm/disk0.qcow2", ActualSize: 45568000, Snapshots: diskSnaps},
		}},
		{"-blockdev", blockdev, []BlockDevice{
			{Qdev: "/machine/system.flash0", Inserted: true, NodeName: "efi-code", ReadOnly: true, Format: "raw", File: "/usr/share/OVMF/OVMF_CODE_4M.fd", ActualSize: 3653632},
			{Qdev: "/machine/system.flash1", Inserted: true, NodeName: "efi-vars", Format: "qcow2", File: "/vm/efivars.qcow2", ActualSize: 1527808, Snapshots: efiSnaps},
			{Qdev: "/machine/peripheral-anon/device[0]", Inserted: true, NodeName: "cd0", ReadOnly: true, Format: "raw", File: "/c/nixos.iso", ActualSize: 1048576},
			{Qdev: "/machine/peripheral-anon/device[1]/virtio-backend", Inserted: true, NodeName: "disk0", Format: "qcow2", File: "/vm/disk0.qcow2", ActualSize: 45568000, Snapshots: diskSnaps},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, fakeQMP(t, func(p *peer) {
				if !p.handshake() {
					return
				}
				if req, ok := p.recv(); ok {
					p.reply(req, tt.answer)
				}
				p.recv() // until the client closes
			}))
			devs, err := c.QueryBlock(testCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(devs, tt.want) {
				t.Fatalf("QueryBlock:\n got %+v\nwant %+v", devs, tt.want)
			}
		})
	}
}
