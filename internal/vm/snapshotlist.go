package vm

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nixvm/nixvm/internal/qemuimg"
)

// The pure part of snapshots: tag rules, and what the per-image snapshot
// tables of a VM's images say about each tag.

// Kinds of snapshot failure, for errors.Is.
var (
	ErrBadTag             = errors.New("bad snapshot tag")
	ErrSnapshotExists     = errors.New("snapshot exists")
	ErrNoSuchSnapshot     = errors.New("no such snapshot")
	ErrIncompleteSnapshot = errors.New("snapshot is incomplete")
	ErrNeedsStop          = errors.New("the VM must be stopped")
	ErrNotSnapshottable   = errors.New("VM cannot be snapshotted")
)

// undoTagPrefix starts the tags nixvm takes for itself while it restores
// (the state to go back to if the restore fails). A user's tag cannot
// start with it (ValidateTag); one is left behind only by a nixvm killed
// with SIGKILL mid-restore, and nixvm snapshot rm removes it.
const undoTagPrefix = "_nixvm-undo-"

var tagRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidateTag checks a user's snapshot tag: 1-64 characters of letters,
// digits, '.', '_' and '-', starting with a letter or digit, and not all
// digits (qcow2 looks tags up by their numeric snapshot ID too, so "2"
// could mean another snapshot).
func ValidateTag(tag string) error {
	switch {
	case tag == "":
		return kindErr(ErrBadTag, "TAG is empty")
	case !tagRE.MatchString(tag):
		return kindErr(ErrBadTag, "TAG %q: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", tag)
	case strings.Trim(tag, "0123456789") == "":
		return kindErr(ErrBadTag, "TAG %q is all digits, which qcow2 would confuse with a snapshot ID: add a letter", tag)
	}
	return nil
}

// DefaultTag is the tag of a snapshot created without one:
// snap-YYYYMMDD-HHMMSS in UTC.
func DefaultTag(now time.Time) string {
	return "snap-" + now.UTC().Format("20060102-150405")
}

// SnapshotEntry is one tag of a VM's snapshots, over all its images.
type SnapshotEntry struct {
	Tag  string    `json:"tag"`
	Date time.Time `json:"date"`
	// RAM says the snapshot holds the VM's RAM and device state (taken
	// while it ran): restoring it resumes the VM where it was.
	RAM bool `json:"ram"`
	// RAMBytes is the size of that state (it is kept in the first disk).
	RAMBytes int64 `json:"ramBytes"`
	// Images are the images that hold the tag; Missing those that do
	// not. A snapshot is complete when it is on every image.
	Images   []string `json:"images"`
	Missing  []string `json:"missing,omitempty"`
	Complete bool     `json:"complete"`
	// Internal marks a tag nixvm took for itself during a restore that
	// was killed (SIGKILL) before it could remove it.
	Internal bool `json:"internal,omitempty"`
}

// collectSnapshots merges the snapshot tables of a VM's images (labels in
// order, e.g. disk0, disk1, efivars) into one entry per tag, oldest first.
// A tag is dated by its earliest image.
func collectSnapshots(labels []string, per map[string][]qemuimg.Snapshot) []SnapshotEntry {
	byTag := map[string]*SnapshotEntry{}
	var order []string
	for _, l := range labels {
		for _, sn := range per[l] {
			e := byTag[sn.Name]
			if e == nil {
				e = &SnapshotEntry{Tag: sn.Name, Internal: strings.HasPrefix(sn.Name, undoTagPrefix)}
				byTag[sn.Name] = e
				order = append(order, sn.Name)
			}
			if slices.Contains(e.Images, l) {
				continue // a second snapshot of that name on one image
			}
			e.Images = append(e.Images, l)
			d := time.Unix(sn.DateSec, 0).UTC()
			if e.Date.IsZero() || d.Before(e.Date) {
				e.Date = d
			}
			if sn.VMStateSize > 0 {
				e.RAM = true
				e.RAMBytes += sn.VMStateSize
			}
		}
	}
	out := make([]SnapshotEntry, 0, len(order))
	for _, t := range order {
		e := byTag[t]
		for _, l := range labels {
			if !slices.Contains(e.Images, l) {
				e.Missing = append(e.Missing, l)
			}
		}
		e.Complete = len(e.Missing) == 0
		out = append(out, *e)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Date.Equal(out[j].Date) {
			return out[i].Date.Before(out[j].Date)
		}
		return out[i].Tag < out[j].Tag
	})
	return out
}

// findSnapshot returns the entry of tag, or an error that names the tags
// there are.
func findSnapshot(vmName, tag string, entries []SnapshotEntry) (SnapshotEntry, error) {
	for _, e := range entries {
		if e.Tag == tag {
			return e, nil
		}
	}
	return SnapshotEntry{}, kindErr(ErrNoSuchSnapshot, "VM %s has no snapshot %q (%s)", vmName, tag, tagsSummary(entries))
}

// tagsSummary says which tags exist, for an error.
func tagsSummary(entries []SnapshotEntry) string {
	if len(entries) == 0 {
		return "it has no snapshots"
	}
	tags := make([]string, len(entries))
	for i, e := range entries {
		tags[i] = e.Tag
	}
	return "its snapshots: " + strings.Join(tags, ", ")
}

// checkRestorable says why entry cannot be restored, or nil.
func checkRestorable(vmName string, e SnapshotEntry) error {
	if !e.Complete {
		return withStep(kindErr(ErrIncompleteSnapshot, "snapshot %q of VM %s is not on every image (missing on %s; a snapshot command was killed part way): it cannot be restored",
			e.Tag, vmName, strings.Join(e.Missing, ", ")), NextSnapshotRm, vmName, e.Tag)
	}
	return nil
}

// kindError is an error whose message is its own but which matches kind
// with errors.Is.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }

func kindErr(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}
