package qmp

import (
	"context"
	"encoding/json"
	"fmt"
)

// BlockDevice is one entry of query-block: a guest-visible drive and the
// top node of what is inserted in it.
type BlockDevice struct {
	// Device is the -drive id (disk0; pflash0, pflash1 for if=pflash);
	// "" for a device attached to a -blockdev node.
	Device string
	// Qdev is the guest device's id or QOM path
	// (/machine/peripheral-anon/device[2]/virtio-backend, /machine/system.flash1).
	Qdev     string
	Inserted bool // false for an empty CD-ROM drive
	// NodeName is the top block node (the format node), for snapshot-*
	// commands: the -blockdev node-name, or QEMU's #blockNNN for -drive.
	NodeName string
	ReadOnly bool
	Format   string // qcow2, raw, ...
	File     string
	// ActualSize is the bytes the image file takes on the host.
	ActualSize int64
	Snapshots  []SnapshotInfo
}

// SnapshotInfo is an internal snapshot as QEMU reports it.
type SnapshotInfo struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	VMStateSize int64  `json:"vm-state-size"`
	DateSec     int64  `json:"date-sec"`
	DateNsec    int64  `json:"date-nsec"`
	VMClockSec  int64  `json:"vm-clock-sec"`
	VMClockNsec int64  `json:"vm-clock-nsec"`
}

// QueryBlock lists the VM's drives (query-block).
func (c *Client) QueryBlock(ctx context.Context) ([]BlockDevice, error) {
	var r []struct {
		Device   string `json:"device"`
		Qdev     string `json:"qdev"`
		Inserted *struct {
			NodeName string `json:"node-name"`
			RO       bool   `json:"ro"`
			File     string `json:"file"`
			Image    struct {
				Format     string         `json:"format"`
				ActualSize int64          `json:"actual-size"`
				Snapshots  []SnapshotInfo `json:"snapshots"`
			} `json:"image"`
		} `json:"inserted"`
	}
	if err := c.Execute(ctx, "query-block", nil, &r); err != nil {
		return nil, err
	}
	out := make([]BlockDevice, 0, len(r))
	for _, d := range r {
		b := BlockDevice{Device: d.Device, Qdev: d.Qdev}
		if in := d.Inserted; in != nil {
			b.Inserted, b.NodeName, b.ReadOnly, b.File = true, in.NodeName, in.RO, in.File
			b.Format, b.ActualSize, b.Snapshots = in.Image.Format, in.Image.ActualSize, in.Image.Snapshots
		}
		out = append(out, b)
	}
	return out, nil
}

// JobError is a QEMU job (snapshot-save, -load, -delete) that concluded
// with an error.
type JobError struct {
	ID, Type, Desc string
}

func (e *JobError) Error() string {
	return fmt.Sprintf("QEMU job %s (%s) failed: %s", e.ID, e.Type, e.Desc)
}

// RunJob starts a job with cmd (args must carry "job-id": id), waits for
// it to conclude (its JOB_STATUS_CHANGE event), reads its result and
// dismisses it. A failed job is a wrapped *JobError. If ctx ends first,
// RunJob returns ctx's error and the job runs on in QEMU.
func (c *Client) RunJob(ctx context.Context, cmd, id string, args map[string]any) error {
	if err := c.Execute(ctx, cmd, args, nil); err != nil {
		return err
	}
	for {
		ev, err := c.WaitEvent(ctx, "JOB_STATUS_CHANGE")
		if err != nil {
			return fmt.Errorf("qmp %s: %w", cmd, err)
		}
		var d struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}
		if json.Unmarshal(ev.Data, &d) == nil && d.ID == id && d.Status == "concluded" {
			break
		}
	}
	var jobs []struct {
		ID    string `json:"id"`
		Type  string `json:"type"`
		Error string `json:"error"`
	}
	if err := c.Execute(ctx, "query-jobs", nil, &jobs); err != nil {
		return err
	}
	var jerr error
	for _, j := range jobs {
		if j.ID == id && j.Error != "" {
			jerr = fmt.Errorf("qmp %s: %w", cmd, &JobError{ID: id, Type: j.Type, Desc: j.Error})
		}
	}
	if err := c.Execute(ctx, "job-dismiss", map[string]any{"id": id}, nil); err != nil && jerr == nil {
		return err
	}
	return jerr
}

// SnapshotSave saves the VM's RAM and device state into node vmstate and
// an internal snapshot tag of every node in devices (snapshot-save, QEMU
// 6.0+). The guest is paused meanwhile and resumes if it ran. QEMU does not
// undo the snapshots of devices it already made when a later one fails.
func (c *Client) SnapshotSave(ctx context.Context, jobID, tag, vmstate string, devices []string) error {
	return c.RunJob(ctx, "snapshot-save", jobID, map[string]any{"job-id": jobID, "tag": tag, "vmstate": vmstate, "devices": devices})
}

// SnapshotLoad reverts devices to tag and loads the RAM and device state
// from vmstate (snapshot-load). The guest is paused meanwhile; QEMU resumes
// it only if it ran before and the load succeeded.
func (c *Client) SnapshotLoad(ctx context.Context, jobID, tag, vmstate string, devices []string) error {
	return c.RunJob(ctx, "snapshot-load", jobID, map[string]any{"job-id": jobID, "tag": tag, "vmstate": vmstate, "devices": devices})
}

// SnapshotDelete deletes tag from those of devices that have it
// (snapshot-delete).
func (c *Client) SnapshotDelete(ctx context.Context, jobID, tag string, devices []string) error {
	return c.RunJob(ctx, "snapshot-delete", jobID, map[string]any{"job-id": jobID, "tag": tag, "devices": devices})
}

// SnapshotInternalAll takes a disk-only internal snapshot name of every
// node in one transaction of blockdev-snapshot-internal-sync: all are made
// or none.
func (c *Client) SnapshotInternalAll(ctx context.Context, name string, nodes []string) error {
	actions := make([]map[string]any, 0, len(nodes))
	for _, n := range nodes {
		actions = append(actions, map[string]any{
			"type": "blockdev-snapshot-internal-sync",
			"data": map[string]any{"device": n, "name": name},
		})
	}
	return c.Execute(ctx, "transaction", map[string]any{"actions": actions}, nil)
}

// Cont resumes the guest's CPUs (cont).
func (c *Client) Cont(ctx context.Context) error {
	return c.Execute(ctx, "cont", nil, nil)
}
