package sshx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/nixvm/nixvm/internal/store"
)

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestUserKeyCreatedOnce(t *testing.T) {
	cfg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfg)
	priv, pub, err := UserKey()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cfg, "nixvm", "ssh", "id_ed25519"); priv != want {
		t.Errorf("private key at %s, want %s", priv, want)
	}
	if !strings.HasPrefix(pub, "ssh-ed25519 AAAA") || !strings.HasSuffix(pub, " nixvm") || strings.Contains(pub, "\n") {
		t.Errorf("public key line = %q, want \"ssh-ed25519 AAAA... nixvm\"", pub)
	}
	if m := mode(t, priv); m != 0o600 {
		t.Errorf("private key mode %o, want 600", m)
	}
	if m := mode(t, filepath.Dir(priv)); m != 0o700 {
		t.Errorf("key directory mode %o, want 700", m)
	}
	if m := mode(t, priv+".pub"); m != 0o644 {
		t.Errorf("public key mode %o, want 644", m)
	}
	if b, _ := os.ReadFile(priv + ".pub"); string(b) != pub+"\n" {
		t.Errorf("%s.pub holds %q, want %q", priv, b, pub+"\n")
	}
	b, err := os.ReadFile(priv)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("-----BEGIN OPENSSH PRIVATE KEY-----\n")) {
		t.Errorf("private key is not OpenSSH PEM:\n%s", b)
	}
	signer, err := ssh.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := authorizedLine(signer.PublicKey(), "nixvm"); got != pub {
		t.Errorf("public key %q does not belong to the private key (%q)", pub, got)
	}

	// Second call: the same key, the file untouched.
	fi1, _ := os.Stat(priv)
	priv2, pub2, err := UserKey()
	if err != nil {
		t.Fatal(err)
	}
	fi2, _ := os.Stat(priv)
	if priv2 != priv || pub2 != pub || !os.SameFile(fi1, fi2) || !fi1.ModTime().Equal(fi2.ModTime()) {
		t.Errorf("second UserKey made a new key: %s %q, then %s %q", priv, pub, priv2, pub2)
	}
}

func TestUserKeyRepairs(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	priv, pub, err := UserKey()
	if err != nil {
		t.Fatal(err)
	}
	// A lost .pub is rewritten from the private key; a private key others
	// can read is made private again, since ssh refuses such a key.
	os.Remove(priv + ".pub")
	os.Chmod(priv, 0o644)
	_, pub2, err := UserKey()
	if err != nil {
		t.Fatal(err)
	}
	if pub2 != pub {
		t.Errorf("public key changed: %q, then %q", pub, pub2)
	}
	if b, _ := os.ReadFile(priv + ".pub"); string(b) != pub+"\n" {
		t.Errorf(".pub not rewritten: %q", b)
	}
	if m := mode(t, priv); m != 0o600 {
		t.Errorf("private key mode %o, want 600", m)
	}

	// A damaged private key is reported, never replaced: VMs trust it.
	writeFile(t, priv, "garbage", 0o600)
	if _, _, err := UserKey(); err == nil || !strings.Contains(err.Error(), "parse SSH key "+priv) {
		t.Errorf("UserKey with a damaged key = %v, want a parse error naming the file", err)
	}
	if b, _ := os.ReadFile(priv); string(b) != "garbage" {
		t.Error("damaged key was overwritten")
	}
}

// The loser of a creation race must keep the winner's key.
func TestCreateUserKeyNeverReplaces(t *testing.T) {
	path := filepath.Join(t.TempDir(), "id_ed25519")
	writeFile(t, path, "winner", 0o600)
	if err := createUserKey(path); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "winner" {
		t.Errorf("createUserKey replaced an existing key with %q", b)
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("temporary files left behind: %v", ents)
	}
}

func TestUserKeyConcurrentGoroutines(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	const n = 16
	pubs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, pubs[i], errs[i] = UserKey()
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("UserKey %d: %v", i, errs[i])
		}
		if pubs[i] != pubs[0] {
			t.Fatalf("two keys made: %q and %q", pubs[0], pubs[i])
		}
	}
}

// helperEnv makes the test binary act as a nixvm process calling UserKey.
const helperEnv = "NIXVM_SSHX_USERKEY_HELPER"

func TestUserKeyHelperProcess(t *testing.T) {
	gate := os.Getenv(helperEnv)
	if gate == "" {
		t.Skip("helper process for TestUserKeyConcurrentProcesses")
	}
	// All helpers start together once the gate file appears.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(gate); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("gate never opened")
		}
		time.Sleep(time.Millisecond)
	}
	_, pub, err := UserKey()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("PUB=%s\n", pub)
}

func TestUserKeyConcurrentProcesses(t *testing.T) {
	cfg := t.TempDir()
	gate := filepath.Join(t.TempDir(), "go")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const n = 4
	cmds := make([]*exec.Cmd, n)
	outs := make([]bytes.Buffer, n)
	for i := range n {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestUserKeyHelperProcess$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), helperEnv+"="+gate, "XDG_CONFIG_HOME="+cfg)
		cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	writeFile(t, gate, "", 0o600)
	var pubs []string
	for i, cmd := range cmds {
		err := cmd.Wait()
		out := outs[i].String()
		if err != nil {
			t.Fatalf("helper %d: %v\n%s", i, err, out)
		}
		_, after, ok := strings.Cut(out, "PUB=")
		if !ok {
			t.Fatalf("helper %d printed no key:\n%s", i, out)
		}
		pub, _, _ := strings.Cut(after, "\n")
		pubs = append(pubs, pub)
	}
	for _, p := range pubs {
		if p != pubs[0] {
			t.Fatalf("two processes made different keys: %q", pubs)
		}
	}
	t.Setenv("XDG_CONFIG_HOME", cfg)
	if _, pub, err := UserKey(); err != nil || pub != pubs[0] {
		t.Errorf("UserKey after the race = %q, %v; want %q", pub, err, pubs[0])
	}
	if ents, _ := os.ReadDir(filepath.Join(cfg, "nixvm", "ssh")); len(ents) != 2 {
		t.Errorf("key directory holds %d files, want 2 (no temporary files left)", len(ents))
	}
}

func TestNewHostKey(t *testing.T) {
	priv, pub, err := NewHostKey()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pub, []byte("ssh-ed25519 AAAA")) || bytes.ContainsRune(pub, '\n') || bytes.Count(pub, []byte(" ")) != 1 {
		t.Errorf("public key line = %q, want \"ssh-ed25519 AAAA...\"", pub)
	}
	signer, err := ssh.ParsePrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if got := authorizedLine(signer.PublicKey(), ""); got != string(pub) {
		t.Errorf("public %q does not match private %q", pub, got)
	}
	_, pub2, _ := NewHostKey()
	if bytes.Equal(pub, pub2) {
		t.Error("two NewHostKey calls made the same key")
	}
}

func TestWriteHostKey(t *testing.T) {
	in := store.Instance{Name: "lab", Dir: t.TempDir()}
	priv, pub, err := NewHostKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteHostKey(in, priv, pub); err != nil {
		t.Fatal(err)
	}
	files := []struct {
		path string
		data string
		mode os.FileMode
	}{
		{filepath.Join(in.Dir, "ssh_host_ed25519_key"), string(priv), 0o600},
		{filepath.Join(in.Dir, "ssh_host_ed25519_key.pub"), string(pub) + "\n", 0o644},
		{filepath.Join(in.Dir, "known_hosts"), "nixvm-lab " + string(pub) + "\n", 0o644},
	}
	for _, f := range files {
		b, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != f.data {
			t.Errorf("%s = %q, want %q", f.path, b, f.data)
		}
		if m := mode(t, f.path); m != f.mode {
			t.Errorf("%s mode %o, want %o", f.path, m, f.mode)
		}
	}
	got, err := ReadHostPub(in)
	if err != nil || !bytes.Equal(got, pub) {
		t.Errorf("ReadHostPub = %q, %v; want %q", got, err, pub)
	}

	_, otherPub, _ := NewHostKey()
	bad := []struct {
		name      string
		priv, pub []byte
		want      string
	}{
		{"halves of two keys", priv, otherPub, "does not belong"},
		{"garbage public key", priv, []byte("ssh-ed25519 !!!"), "parse public key"},
		{"garbage private key", []byte("nope"), pub, "parse private key"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			in := store.Instance{Name: "lab", Dir: t.TempDir()}
			err := WriteHostKey(in, tt.priv, tt.pub)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "VM lab") {
				t.Errorf("WriteHostKey = %v, want an error naming VM lab and containing %q", err, tt.want)
			}
			if ents, _ := os.ReadDir(in.Dir); len(ents) != 0 {
				t.Errorf("files written for a bad key: %v", ents)
			}
		})
	}
}

func TestReadHostPubMissing(t *testing.T) {
	in := store.Instance{Name: "hand", Dir: t.TempDir()}
	var nk *NoHostKeyError
	if _, err := ReadHostPub(in); !errors.As(err, &nk) || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "VM hand has no host key known to nixvm") {
		t.Errorf("ReadHostPub without a key = %v", err)
	}
}
