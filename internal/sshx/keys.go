// Package sshx holds nixvm's SSH side: the user's key pair, the per-VM host
// key (generated on the host and put into the guest by the install, so the
// very first connection is already verified), the OpenSSH client config for
// `nixvm ssh` and `ssh -F`, and a scripted client for waits and checks.
package sshx

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"

	"github.com/nixvm/nixvm/internal/store"
)

// User is the guest user nixvm logs in as; the install creates it with the
// user's key.
const User = "nixos"

// keyComment marks the user's key in authorized_keys files.
const keyComment = "nixvm"

// HostKeyAlias is the name the VM's host key is recorded under in its
// known_hosts: a fixed alias rather than 127.0.0.1:PORT, so a VM whose
// forwarded port changes between starts is still verified, and two VMs never
// share an entry.
func HostKeyAlias(name string) string { return "nixvm-" + name }

// HostKeyPath is the VM's private host key in its instance directory.
func HostKeyPath(in store.Instance) string { return in.HostKey() }

// HostPubPath is the VM's public host key in its instance directory.
func HostPubPath(in store.Instance) string { return HostKeyPath(in) + ".pub" }

// KnownHostsPath is the VM's known_hosts file (one line, under HostKeyAlias).
func KnownHostsPath(in store.Instance) string { return in.KnownHosts() }

// ConfigPath is where `nixvm ssh` writes the VM's OpenSSH client config.
func ConfigPath(in store.Instance) string { return in.SSHConfig() }

// UserKeyPath is the user's private key: $XDG_CONFIG_HOME/nixvm/ssh/id_ed25519.
func UserKeyPath() (string, error) {
	d, err := store.ConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "ssh", "id_ed25519"), nil
}

// UserKey returns the path of the user's nixvm private key and its public
// key as an authorized_keys line ("ssh-ed25519 AAAA... nixvm"), making the
// pair on first use. Two nixvm processes doing this at once end up with one
// key: the private key is written in full to a temporary file and then
// hard-linked to its final name, which fails if another process got there
// first; the loser then uses the winner's key.
func UserKey() (priv string, pub string, err error) {
	priv, err = UserKeyPath()
	if err != nil {
		return "", "", err
	}
	dir := filepath.Dir(priv)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("make SSH key directory: %w", err)
	}
	if _, err := os.Stat(priv); errors.Is(err, os.ErrNotExist) {
		if err := createUserKey(priv); err != nil {
			return "", "", err
		}
	}
	signer, err := loadSigner(priv)
	if err != nil {
		return "", "", err
	}
	// ssh refuses a private key others can read; the file is nixvm's own.
	if fi, err := os.Stat(priv); err == nil && fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(priv, 0o600); err != nil {
			return "", "", fmt.Errorf("make %s private (mode 0600): %w", priv, err)
		}
	}
	line := authorizedLine(signer.PublicKey(), keyComment)
	// The .pub file is derived from the private key every time, so a
	// missing or stale one is repaired; concurrent writers write the same
	// bytes through an atomic rename.
	pubPath := priv + ".pub"
	if old, err := os.ReadFile(pubPath); err != nil || string(old) != line+"\n" {
		if err := store.WriteFileAtomic(pubPath, []byte(line+"\n"), 0o644); err != nil {
			return "", "", fmt.Errorf("write %s: %w", pubPath, err)
		}
	}
	return priv, line, nil
}

// createUserKey writes a new key to path unless one appears there first.
func createUserKey(path string) error {
	pemBytes, _, err := newKey(keyComment)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".id_ed25519.tmp-*")
	if err != nil {
		return fmt.Errorf("create SSH key: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	// CreateTemp makes the file 0600 already; the chmod says so explicitly
	// in case of an unusual umask handling.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("create SSH key: %w", err)
	}
	if _, err := f.Write(pemBytes); err != nil {
		f.Close()
		return fmt.Errorf("write SSH key %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync SSH key %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write SSH key %s: %w", tmp, err)
	}
	// link(2) never replaces an existing file: exactly one process wins.
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create SSH key %s: %w", path, err)
	}
	return nil
}

// NewHostKey makes an ed25519 host key for a VM: the private key in OpenSSH
// PEM format and the public key line "ssh-ed25519 AAAA...".
func NewHostKey() (privPEM, pubLine []byte, err error) {
	privPEM, pub, err := newKey("")
	if err != nil {
		return nil, nil, err
	}
	return privPEM, []byte(authorizedLine(pub, "")), nil
}

// WriteHostKey stores the VM's host key in its instance directory: the key
// pair (private 0600) and a known_hosts line under HostKeyAlias. It checks
// that the two halves belong together, so a mix-up fails here and not as a
// host key mismatch at the first connection.
func WriteHostKey(in store.Instance, privPEM, pubLine []byte) error {
	pub, err := parsePub(pubLine)
	if err != nil {
		return fmt.Errorf("host key of VM %s: %w", in.Name, err)
	}
	signer, err := ssh.ParsePrivateKey(privPEM)
	if err != nil {
		return fmt.Errorf("host key of VM %s: parse private key: %w", in.Name, err)
	}
	if !bytes.Equal(signer.PublicKey().Marshal(), pub.Marshal()) {
		return fmt.Errorf("host key of VM %s: the public key does not belong to the private key", in.Name)
	}
	line := authorizedLine(pub, "")
	files := []struct {
		path string
		data []byte
		perm os.FileMode
	}{
		{HostKeyPath(in), privPEM, 0o600},
		{HostPubPath(in), []byte(line + "\n"), 0o644},
		{KnownHostsPath(in), []byte(HostKeyAlias(in.Name) + " " + line + "\n"), 0o644},
	}
	for _, f := range files {
		if err := store.WriteFileAtomic(f.path, f.data, f.perm); err != nil {
			return fmt.Errorf("write host key of VM %s: %w", in.Name, err)
		}
	}
	return nil
}

// NoHostKeyError says that nixvm knows no host key of the VM: it did not
// install it (a VM made for a hand install).
type NoHostKeyError struct {
	Name string
	Path string // the missing file
	Err  error
}

func (e *NoHostKeyError) Error() string {
	return fmt.Sprintf("VM %s has no host key known to nixvm (%s is missing)", e.Name, e.Path)
}

func (e *NoHostKeyError) Unwrap() error { return e.Err }

// ReadHostPub reads the VM's public host key line as written by WriteHostKey.
func ReadHostPub(in store.Instance) ([]byte, error) {
	b, err := os.ReadFile(HostPubPath(in))
	if errors.Is(err, os.ErrNotExist) {
		return nil, &NoHostKeyError{Name: in.Name, Path: HostPubPath(in), Err: err}
	}
	if err != nil {
		return nil, err
	}
	return bytes.TrimSpace(b), nil
}

// newKey makes an ed25519 key pair; the private key is OpenSSH PEM.
func newKey(comment string) (privPEM []byte, pub ssh.PublicKey, err error) {
	pk, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate ed25519 key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(sk, comment)
	if err != nil {
		return nil, nil, fmt.Errorf("encode ed25519 key: %w", err)
	}
	pub, err = ssh.NewPublicKey(pk)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(block), pub, nil
}

// authorizedLine is "ssh-ed25519 AAAA..." with an optional comment, no newline.
func authorizedLine(pub ssh.PublicKey, comment string) string {
	line := string(bytes.TrimSpace(ssh.MarshalAuthorizedKey(pub)))
	if comment != "" {
		line += " " + comment
	}
	return line
}

// parsePub parses a public key line ("ssh-ed25519 AAAA... [comment]").
func parsePub(line []byte) (ssh.PublicKey, error) {
	pub, _, _, _, err := ssh.ParseAuthorizedKey(line)
	if err != nil {
		return nil, fmt.Errorf("parse public key %q: %w", truncate(line), err)
	}
	return pub, nil
}

// loadSigner reads a private key file for authentication.
func loadSigner(path string) (ssh.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read SSH key: %w", err)
	}
	s, err := ssh.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("parse SSH key %s: %w", path, err)
	}
	return s, nil
}

func truncate(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}
