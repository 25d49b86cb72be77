package store

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
)

// Identity is what makes a VM its own machine beside its clones, besides
// its name (the guest's host name) and its SSH host key (sshx): the
// machine-id the guest uses and the MAC address of its NIC. nixvm makes
// one for every new VM and a new one for every clone; the guest applies it
// at boot (docs/architecture.md, "Identity").
type Identity struct {
	MachineID string `json:"machineId"` // 32 lowercase hex digits, as in /etc/machine-id
	MAC       string `json:"mac"`       // 52:54:00:xx:xx:xx (QEMU's locally administered prefix)
}

// IdentityFile holds the VM's Identity. VMs made before identities were
// introduced have none: they keep QEMU's default MAC and the machine-id
// their guest generated, and cannot be cloned (vm.Clone says so).
func (in Instance) IdentityFile() string { return in.path("identity.json") }

var (
	machineIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)
	macRE       = regexp.MustCompile(`^52:54:00(:[0-9a-f]{2}){3}$`)
)

// NewIdentity makes a random identity.
func NewIdentity() (Identity, error) {
	var b [19]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Identity{}, fmt.Errorf("make a VM identity: %w", err)
	}
	// systemd's machine-id is a v4 UUID without dashes (sd_id128_randomize).
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	id := Identity{
		MachineID: hex.EncodeToString(b[:16]),
		MAC:       fmt.Sprintf("52:54:00:%02x:%02x:%02x", b[16], b[17], b[18]),
	}
	return id, nil
}

// Check says which field of id is malformed.
func (id Identity) Check() error {
	if !machineIDRE.MatchString(id.MachineID) {
		return fmt.Errorf("machineId: %q is not 32 lowercase hex digits", id.MachineID)
	}
	if !macRE.MatchString(id.MAC) {
		return fmt.Errorf("mac: %q is not a MAC address 52:54:00:xx:xx:xx", id.MAC)
	}
	return nil
}

// ReadIdentity reads the VM's identity; ok is false for a VM that has none.
func (in Instance) ReadIdentity() (id Identity, ok bool, err error) {
	b, err := os.ReadFile(in.IdentityFile())
	if errors.Is(err, os.ErrNotExist) {
		return id, false, nil
	}
	if err != nil {
		return id, false, err
	}
	if err := json.Unmarshal(b, &id); err != nil {
		return id, false, fmt.Errorf("read %s: %w", in.IdentityFile(), err)
	}
	if err := id.Check(); err != nil {
		return id, false, fmt.Errorf("read %s: %w", in.IdentityFile(), err)
	}
	return id, true, nil
}

// WriteIdentity records id (0600: a VM's identity is its own business).
func (l *Lock) WriteIdentity(id Identity) error {
	if err := id.Check(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(l.in.IdentityFile(), append(b, '\n'), 0o600)
}
