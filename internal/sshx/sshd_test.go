package sshx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixvm/nixvm/internal/sshx/sshxtest"
)

// testSSHD is a real OpenSSH server on loopback, standing in for a VM's
// guest sshd: it presents a host key made by NewHostKey and accepts the
// user's nixvm key for the current user.
type testSSHD struct {
	Port    int
	HostPub []byte // "ssh-ed25519 AAAA..."
	HostKey []byte // private, OpenSSH PEM
	Key     string // path of the user's private key (UserKey)
	Pub     string // its authorized_keys line
	User    string // the current user, who sshd lets in
	// AuthorizedKeys is sshd's authorized_keys file, once started.
	AuthorizedKeys string
}

// newTestSSHD prepares the keys of a server; start runs it. The user key
// lives in a fresh XDG_CONFIG_HOME, so the real one is never touched.
func newTestSSHD(t *testing.T) *testSSHD {
	t.Helper()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	key, pub, err := UserKey()
	if err != nil {
		t.Fatal(err)
	}
	priv, hostPub, err := NewHostKey()
	if err != nil {
		t.Fatal(err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return &testSSHD{Port: sshxtest.FreePort(t), HostPub: hostPub, HostKey: priv, Key: key, Pub: pub, User: u.Username}
}

func (s *testSSHD) start(t *testing.T) {
	t.Helper()
	s.AuthorizedKeys = sshxtest.StartSSHD(t, s.Port, s.HostKey, s.Pub+"\n").AuthorizedKeys
}

func need(t *testing.T, tool string) string { return sshxtest.Need(t, tool) }

func writeFile(t *testing.T, path, data string, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), perm); err != nil {
		t.Fatal(err)
	}
}

func TestWaitAndRun(t *testing.T) {
	s := newTestSSHD(t)
	s.start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := Wait(ctx, s.Port, s.User, s.Key, s.HostPub); err != nil {
		t.Fatalf("Wait: %v", err)
	}

	tests := []struct {
		cmd            string
		code           int
		stdout, stderr string
	}{
		{"true", 0, "", ""},
		{"exit 3", 3, "", ""},
		{"echo hi; echo oops >&2; exit 7", 7, "hi\n", "oops\n"},
		{"printf '%s' \"$USER\"", 0, s.User, ""},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code, err := Run(ctx, s.Port, s.User, s.Key, s.HostPub, tt.cmd, &out, &errOut)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if code != tt.code || out.String() != tt.stdout || errOut.String() != tt.stderr {
				t.Errorf("Run(%q) = %d, stdout %q, stderr %q; want %d, %q, %q", tt.cmd, code, out.String(), errOut.String(), tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}

func TestWaitHostKeyMismatch(t *testing.T) {
	s := newTestSSHD(t)
	s.start(t)
	_, other, err := NewHostKey()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	err = Wait(ctx, s.Port, s.User, s.Key, other)
	var mismatch *HostKeyMismatchError
	if !errors.As(err, &mismatch) {
		t.Fatalf("Wait with another host key = %v, want a HostKeyMismatchError", err)
	}
	if mismatch.Got != string(s.HostPub) || mismatch.Expected != string(other) {
		t.Errorf("mismatch reports got %q expected %q; want %q and %q", mismatch.Got, mismatch.Expected, s.HostPub, other)
	}
	// A mismatch is final: it must not be retried until the deadline.
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Wait took %s to report a host key mismatch", d)
	}
	if _, err := Run(ctx, s.Port, s.User, s.Key, other, "true", nil, nil); !errors.As(err, &mismatch) {
		t.Errorf("Run with another host key = %v, want a HostKeyMismatchError", err)
	}
}

func TestRunWrongKeyRefused(t *testing.T) {
	s := newTestSSHD(t)
	s.start(t)
	// A key that is not in authorized_keys: the server offers passwords,
	// the client has none to give.
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	stranger, _, err := UserKey()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = Run(ctx, s.Port, s.User, stranger, s.HostPub, "true", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("Run with an unknown key = %v, want an authentication error", err)
	}
}

// Wait started before the server exists succeeds once it comes up: the
// guest is still booting when nixvm starts waiting.
func TestWaitRetriesUntilUp(t *testing.T) {
	s := newTestSSHD(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Wait(ctx, s.Port, s.User, s.Key, s.HostPub) }()
	select {
	case err := <-done:
		t.Fatalf("Wait returned before the server was started: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	s.start(t)
	if err := <-done; err != nil {
		t.Fatalf("Wait: %v", err)
	}
}

func TestWaitTimeout(t *testing.T) {
	// A port where connections are refused after a few attempts were
	// seen: Wait retries until its context ends, then gives up with the
	// cause. The context ends on an event (attempts were made), not after
	// a wall-clock budget that a loaded machine might not meet.
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	key, _, err := UserKey()
	if err != nil {
		t.Fatal(err)
	}
	_, hostPub, err := NewHostKey()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Two attempts reach a listener that hangs up; then nothing
		// listens (connection refused) and the context ends.
		for range 2 {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
		ln.Close()
		cancel()
	}()
	done := make(chan error, 1)
	go func() { done <- Wait(ctx, port, User, key, hostPub) }()
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		t.Fatal("Wait did not return after its context ended")
	}
	if err == nil {
		t.Fatal("Wait succeeded with no SSH server")
	}
	want := fmt.Sprintf("ssh to VM on 127.0.0.1:%d: gave up after", port)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("Wait error = %q, want it to contain %q", err, want)
	}
	cause := false
	for _, c := range []string{"EOF", "refused", "reset", "handshake"} {
		cause = cause || strings.Contains(err.Error(), c)
	}
	if !cause {
		t.Errorf("Wait error = %q, want the cause of the last real attempt, not only the cancel", err)
	}
}

func TestRunCancel(t *testing.T) {
	s := newTestSSHD(t)
	s.start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, err := Run(ctx, s.Port, s.User, s.Key, s.HostPub, "sleep 30", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Errorf("Run past its deadline = %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Run ignored its deadline: returned after %s", d)
	}
}

func TestBadArguments(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	key, _, err := UserKey()
	if err != nil {
		t.Fatal(err)
	}
	_, hostPub, err := NewHostKey()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := []struct {
		name    string
		port    int
		key     string
		hostPub []byte
		want    string
	}{
		{"port 0", 0, key, hostPub, "ssh port: 0 is not a TCP port"},
		{"port too big", 70000, key, hostPub, "ssh port: 70000"},
		{"missing key", 22, filepath.Join(t.TempDir(), "nope"), hostPub, "read SSH key"},
		{"bad host key", 22, key, []byte("ssh-ed25519 nonsense"), "expected host key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(ctx, tt.port, User, tt.key, tt.hostPub, "true", nil, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %v, want an error containing %q", err, tt.want)
			}
			if err := Wait(ctx, tt.port, User, tt.key, tt.hostPub); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Wait = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
