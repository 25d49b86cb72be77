package integration

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nixvm/nixvm/internal/qga"
)

// agentStatus is the guestAgent object of `nixvm status --json`.
type agentStatus struct {
	Socket  string `json:"socket"`
	Answers bool   `json:"answers"`
	Version string `json:"version"`
	Error   string `json:"error"`
}

// agentStatusOf runs `nixvm status NAME --json` and returns its guestAgent
// object (nil when status reports none, i.e. the VM is not running) and how
// long status took.
func agentStatusOf(t *testing.T, e *env, name string) (*agentStatus, time.Duration) {
	t.Helper()
	start := time.Now()
	out := e.ok("status", name, "--json")
	took := time.Since(start)
	var st struct {
		GuestAgent *agentStatus `json:"guestAgent"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	return st.GuestAgent, took
}

// checkGuestAgent proves from the host that the guest agent of the running
// VM name answers: it connects to the VM's qga.sock (found through
// `nixvm status --json`) with internal/qga, checks guest-ping and
// guest-info (a version, and guest-ping among the enabled commands), and
// then that `nixvm status` and `nixvm agent` say the same.
//
// The agent may start a little after the guest is otherwise up (e.g. after
// sshd), so the first answer is awaited for up to two minutes; every
// attempt is itself bounded by the agent's sync deadline.
func checkGuestAgent(t *testing.T, e *env, name string) {
	t.Helper()
	st, _ := agentStatusOf(t, e, name)
	if st == nil || st.Socket == "" {
		t.Fatalf("status --json of %s has no guestAgent socket: is the VM running?", name)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var c *qga.Client
	for {
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		var err error
		c, err = qga.Dial(actx, st.Socket)
		acancel()
		if err == nil {
			break
		}
		if !errors.Is(err, qga.ErrNoAnswer) || ctx.Err() != nil {
			t.Fatalf("guest agent of %s: %v", name, err)
		}
	}
	if err := c.Ping(ctx); err != nil {
		c.Close()
		t.Fatalf("guest-ping to %s: %v", name, err)
	}
	info, err := c.Info(ctx)
	c.Close() // QEMU serves one client at a time: free it for status
	if err != nil {
		t.Fatalf("guest-info from %s: %v", name, err)
	}
	if info.Version == "" {
		t.Errorf("guest-info of %s has no version: %+v", name, info)
	}
	if !info.Supports("guest-ping") || !info.Supports("guest-info") {
		t.Errorf("guest-info of %s does not list guest-ping and guest-info as enabled: %+v", name, info.SupportedCommands)
	}
	t.Logf("guest agent of %s: qemu-ga %s, %d commands", name, info.Version, len(info.SupportedCommands))

	st, _ = agentStatusOf(t, e, name)
	if st == nil || !st.Answers || st.Version != info.Version {
		t.Errorf("status --json of %s: guestAgent = %+v, want it to answer with version %s", name, st, info.Version)
	}
	if out := e.ok("agent", name, "ping"); !strings.Contains(out, "answers") {
		t.Errorf("nixvm agent %s ping: %q", name, out)
	}
	var cli qga.Info
	if err := json.Unmarshal([]byte(e.ok("agent", name, "info", "--json")), &cli); err != nil || cli.Version != info.Version {
		t.Errorf("nixvm agent %s info --json: version %q, err %v; want %s", name, cli.Version, err, info.Version)
	}
}

// TestGuestAgent boots the test ISO's kernel with Debian's qemu-ga in its
// initramfs (build-test-iso --guest-agent) and proves the whole path: the
// virtio-serial port QEMU now offers, the agent opening it in the guest,
// and internal/qga, status and `nixvm agent` on the host. Before the guest
// has booted, status must report no answer quickly instead of hanging.
func TestGuestAgent(t *testing.T) {
	e := newEnv(t)
	isoPath := filepath.Join(t.TempDir(), "agent.iso")
	build := exec.Command(filepath.Join(repoRoot(), "scripts", "build-test-iso"), isoPath, "--guest-agent")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build-test-iso --guest-agent: %v\n%s", err, tail(string(out), 20))
	}
	name := "qga"
	e.ok("create", name, "--manual", "--iso", testISO, "--firmware", "bios", "--memory", "512M", "--disk", "2G")
	if st, _ := agentStatusOf(t, e, name); st != nil {
		t.Errorf("status of a stopped VM probes the guest agent: %+v", st)
	}
	dry := e.ok("start", name, "--installer", "--iso", isoPath, "--dry-run")
	if !strings.Contains(dry, "name=org.qemu.guest_agent.0") {
		t.Fatalf("dry run has no guest agent port:\n%s", dry)
	}
	e.ok("start", name, "--installer", "--iso", isoPath)

	// The kernel is still booting under TCG: no agent yet. Status must
	// say so within its probe timeout (2 s) plus process start-up.
	st, took := agentStatusOf(t, e, name)
	if st == nil {
		t.Fatalf("status of a running VM has no guestAgent")
	}
	if took > 10*time.Second {
		t.Errorf("status took %s with no agent in the guest; it must not block", took)
	}
	if !st.Answers && !strings.Contains(st.Error, "services.qemuGuest.enable") {
		t.Errorf("status error for a silent agent does not say what to check: %q", st.Error)
	}

	e.waitLog(name, regexp.MustCompile(`nixvm-test-guest: (qemu-ga started|no org\.qemu\.guest_agent\.0 port)`), 3*time.Minute)
	if log := e.ok("logs", name); !strings.Contains(log, "qemu-ga started") {
		t.Fatalf("the guest found no org.qemu.guest_agent.0 port:\n%s", tail(log, 15))
	}
	checkGuestAgent(t, e, name)

	// The agent's own view: the commands later work relies on exist.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, _ = agentStatusOf(t, e, name)
	c, err := qga.Dial(ctx, st.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, cmd := range info.SupportedCommands {
		names = append(names, cmd.Name)
	}
	for _, want := range []string{"guest-sync-delimited", "guest-fsfreeze-freeze", "guest-get-host-name", "guest-exec"} {
		if !slices.Contains(names, want) {
			t.Errorf("qemu-ga %s does not know %s", info.Version, want)
		}
	}
	var host struct {
		HostName string `json:"host-name"`
	}
	if err := c.Do(ctx, "guest-get-host-name", nil, &host); err != nil || host.HostName != "nixos" {
		t.Errorf("guest-get-host-name = %q, %v; want nixos (the test guest's hostname)", host.HostName, err)
	}
}
