package integration

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCreateInterruptedPhases: a signal in each phase of an unattended
// install (the stand-in installer's markers) stops the installer, exits
// 128+signal with one line naming the phase, leaves the VM failed with no
// QEMU, and the next create starts over and gets further. The phases are
// reached one after another by the same VM name, so the run costs one
// install up to first-boot.
func TestCreateInterruptedPhases(t *testing.T) {
	t.Parallel()
	iso := standinISO(t, "")
	e := newEnv(t)
	cache := startBinaryCache(t)
	name := "phases"
	pidFile := filepath.Join(e.vmDir(name), "qemu.pid")
	args := append([]string{"create", name, "--iso", iso, "--firmware", "bios", "--disk", "6G", "--json"}, installArgs(cache)...)
	for i, c := range []struct {
		phase string
		sig   syscall.Signal
	}{
		{"partitioning", syscall.SIGINT},
		{"installing", syscall.SIGTERM},
		{"first-boot", syscall.SIGINT},
	} {
		t.Run(c.phase, func(t *testing.T) {
			b := e.background(args...)
			if i > 0 {
				b.waitLine(t, regexp.MustCompile(`failed before; removing it to start over`), time.Minute)
			}
			b.waitLine(t, regexp.MustCompile(`"kind":"phase","phase":"`+regexp.QuoteMeta(c.phase)+`"`), 20*time.Minute)
			if st := assertTruthful(t, e, name); st.State != "installing" && c.phase != "first-boot" {
				t.Fatalf("during phase %s: status %s, want installing", c.phase, st.State)
			}
			t0 := time.Now()
			b.signal(t, c.sig)
			code := b.wait(t, 2*time.Minute)
			t.Logf("phase %s: nixvm exited %d %s after the signal", c.phase, code, time.Since(t0).Round(time.Millisecond))
			assertInterrupted(t, b, code, 128+int(c.sig), regexp.MustCompile(`interrupted in phase `+regexp.QuoteMeta(c.phase)+`\b`))
			if n := countQEMU(t, pidFile); n != 0 {
				t.Fatalf("an interrupted create left %d QEMU running", n)
			}
			st := assertTruthful(t, e, name)
			if st.State != "failed" {
				t.Fatalf("after an interrupt in phase %s: status %s, want failed", c.phase, st.State)
			}
			var full struct{ Reason string }
			if err := json.Unmarshal([]byte(e.ok("status", name, "--json")), &full); err != nil || !strings.Contains(full.Reason, c.phase+": interrupted") {
				t.Fatalf("status reason %q (%v), want %q", full.Reason, err, c.phase+": interrupted")
			}
		})
		if t.Failed() {
			return
		}
	}
	e.ok("rm", name)
	assertNoVMs(t, e)
}
