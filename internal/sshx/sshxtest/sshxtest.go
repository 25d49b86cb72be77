// Package sshxtest runs a real OpenSSH server on loopback for tests, standing
// in for a VM's guest sshd. It takes keys as plain data, so package sshx's own
// tests can use it without an import cycle.
package sshxtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Need returns the path of a tool a test needs, or skips the test; with
// NIXVM_REQUIRE_INTEGRATION=1 (CI) it fails it instead. where lists paths to
// try when the tool is not in PATH (sshd lives in /usr/sbin).
func Need(t testing.TB, tool string, where ...string) string {
	t.Helper()
	if p, err := exec.LookPath(tool); err == nil {
		return p
	}
	for _, p := range where {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	msg := fmt.Sprintf("%s not found (Debian packages: openssh-server for sshd, openssh-client for ssh)", tool)
	if os.Getenv("NIXVM_REQUIRE_INTEGRATION") == "1" {
		t.Fatal(msg + " and NIXVM_REQUIRE_INTEGRATION=1")
	}
	t.Skip(msg)
	return ""
}

// FreePort returns a loopback TCP port that is free right now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Server is a running sshd.
type Server struct {
	Port int
	// AuthorizedKeys is the file sshd reads keys from for every user;
	// tests may rewrite it while the server runs.
	AuthorizedKeys string
	Log            string // sshd's log file
}

// StartSSHD runs `sshd -D` on 127.0.0.1:port as the current user, with the
// host key hostKeyPEM and authorizedKeys as the keys of every user, and waits
// until it accepts connections. It is stopped when the test ends. Password
// and keyboard-interactive logins are enabled on purpose: clients under test
// must refuse to use them.
func StartSSHD(t testing.TB, port int, hostKeyPEM []byte, authorizedKeys string) *Server {
	t.Helper()
	sshd := Need(t, "sshd", "/usr/sbin/sshd")
	if os.Geteuid() == 0 {
		// sshd running as root wants its privilege separation directory,
		// which the Debian package makes only when its service starts.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	s := &Server{Port: port, AuthorizedKeys: filepath.Join(dir, "authorized_keys"), Log: filepath.Join(dir, "sshd.log")}
	hostKey := filepath.Join(dir, "host_key")
	write(t, hostKey, string(hostKeyPEM))
	write(t, s.AuthorizedKeys, authorizedKeys)
	cfg := filepath.Join(dir, "sshd_config")
	write(t, cfg, strings.Join([]string{
		"ListenAddress 127.0.0.1",
		"HostKey " + hostKey,
		"AuthorizedKeysFile " + s.AuthorizedKeys,
		"StrictModes no",
		"PidFile none",
		"UsePAM no",
		"PasswordAuthentication yes",
		"KbdInteractiveAuthentication yes",
		"PermitRootLogin prohibit-password",
		"LogLevel VERBOSE",
	}, "\n")+"\n")
	// sshd re-executes itself and so needs its absolute path.
	cmd := exec.Command(sshd, "-D", "-f", cfg, "-p", fmt.Sprint(port), "-h", hostKey, "-E", s.Log)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			b, _ := os.ReadFile(s.Log)
			t.Logf("sshd log:\n%s", b)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return s
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(s.Log)
			t.Fatalf("sshd exited at start (%v):\n%s", err, b)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd does not listen on port %d after 20s: %v", port, err)
		}
	}
}

func write(t testing.TB, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
