package store

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// FormatVersion is the version of the instance directory's layout (file
// names, state.json and spec.yaml fields) that this nixvm writes. A VM
// records it in its "format" file; a directory without one was made before
// versions were recorded and reads as version 1. This nixvm reads every
// version up to FormatVersion:
//
//	1  UEFI variables in efivars.fd, raw (as OVMF ships them)
//	2  UEFI variables in efivars.qcow2: a raw writable pflash blocks
//	   QEMU's internal snapshots (savevm), a qcow2 one does not
const FormatVersion = 2

// FormatFile holds the instance's format version.
func (in Instance) FormatFile() string { return in.path("format") }

// Format reads the instance's format version: 1 for a directory that
// records none (made before format files existed), FormatVersion for a VM
// that does not exist yet (what create would write; plan and dry runs show
// the files a new VM gets).
func (in Instance) Format() (int, error) {
	b, err := os.ReadFile(in.FormatFile())
	if errors.Is(err, os.ErrNotExist) {
		if _, derr := os.Stat(in.Dir); errors.Is(derr, os.ErrNotExist) {
			return FormatVersion, nil
		}
		return 1, nil
	}
	if err != nil {
		return 0, err
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || v < 1 {
		return 0, fmt.Errorf("%s: %q is not a format version", in.FormatFile(), strings.TrimSpace(string(b)))
	}
	return v, nil
}

// CheckFormat fails for a VM written by a newer nixvm, whose files this one
// might misread or damage.
func (in Instance) CheckFormat() error {
	v, err := in.Format()
	if err != nil {
		return err
	}
	if v > FormatVersion {
		return fmt.Errorf("VM %s was made by a newer nixvm (on-disk format %d; this nixvm reads up to %d): use that nixvm", in.Name, v, FormatVersion)
	}
	return nil
}

// WriteFormat records FormatVersion in the instance directory.
func (l *Lock) WriteFormat() error {
	return WriteFileAtomic(l.in.FormatFile(), []byte(strconv.Itoa(FormatVersion)+"\n"), 0o600)
}
