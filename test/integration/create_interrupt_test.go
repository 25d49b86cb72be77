package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestCreateInterruptedPhases: a signal in each phase of an unattended
// install (the stand-in installer's markers) stops the installer, exits
// 128+signal with one line naming the phase, leaves the VM failed with no
// QEMU, and the next create starts over and gets further. The phases are
// reached one after another by the same VM name (each create starts over),
// so the run costs seven partial installs.
func TestCreateInterruptedPhases(t *testing.T) {
	t.Parallel()
	iso := standinISO(t, "")
	e := newEnv(t)
	cache := startBinaryCache(t)
	name := "phases"
	pidFile := filepath.Join(e.vmDir(name), "qemu.pid")
	args := append([]string{"create", name, "--iso", iso, "--firmware", "bios", "--disk", "6G", "--json"}, installArgs(cache)...)
	for i, c := range createPhases {
		t.Run(c.phase, func(t *testing.T) {
			// The signal goes out the moment the phase's line is read; a
			// short phase (configuring is two file copies) can still end
			// before it lands, and nixvm then rightly names the next
			// phase. That attempt proves nothing about this phase, so it
			// is made again; naming any other phase fails.
			for attempt := 1; ; attempt++ {
				b := e.background(args...)
				if i > 0 || attempt > 1 {
					b.waitLine(t, regexp.MustCompile(`failed before; removing it to start over`), time.Minute)
				}
				if c.phase != "network" {
					// status during an install, checked while the phase
					// before the target runs, so the check costs the
					// target phase none of its window.
					b.waitLine(t, regexp.MustCompile(`"kind":"phase","phase":"network"`), 10*time.Minute)
					if st := assertTruthful(t, e, name); st.State != "installing" {
						t.Fatalf("during the install: status %s, want installing", st.State)
					}
				}
				b.waitLine(t, regexp.MustCompile(`"kind":"phase","phase":"`+regexp.QuoteMeta(c.phase)+`"`), 20*time.Minute)
				t0 := time.Now()
				b.signal(t, c.sig)
				code := b.wait(t, 2*time.Minute)
				t.Logf("phase %s, attempt %d: nixvm exited %d %s after the signal", c.phase, attempt, code, time.Since(t0).Round(time.Millisecond))
				got := interruptedPhase(b.stderr())
				if got != c.phase && phaseIndex(got) == phaseIndex(c.phase)+1 && attempt < 3 {
					t.Logf("the signal landed after phase %s ended (nixvm names %s); again", c.phase, got)
					continue
				}
				assertInterrupted(t, b, code, 128+int(c.sig), regexp.MustCompile(`interrupted in phase `+regexp.QuoteMeta(c.phase)+`\b`))
				break
			}
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

// createPhases are an unattended install's phases in order, each with the
// signal that interrupts it in TestCreateInterruptedPhases.
var createPhases = []struct {
	phase string
	sig   syscall.Signal
}{
	{"network", syscall.SIGTERM},
	{"partitioning", syscall.SIGINT},
	{"formatting", syscall.SIGTERM},
	{"configuring", syscall.SIGINT},
	{"installing", syscall.SIGTERM},
	{"powering-off", syscall.SIGINT},
	{"first-boot", syscall.SIGTERM},
}

func phaseIndex(phase string) int {
	for i, c := range createPhases {
		if c.phase == phase {
			return i
		}
	}
	return -10
}

// interruptedPhase is the phase nixvm's last stderr line names.
func interruptedPhase(stderr string) string {
	m := regexp.MustCompile(`interrupted in phase (\S+?)(:|\s|$)`).FindStringSubmatch(stderr)
	if m == nil {
		return ""
	}
	return m[1]
}

// TestCreateInterruptedFetching: a signal while create downloads the
// installer ISO leaves no VM (the partial download stays in the cache, to
// be resumed), exits 128+signal with one line, and the next create works.
func TestCreateInterruptedFetching(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	data, err := os.ReadFile(testISO)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	var sent atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		n, _ := w.Write(data[:1<<20])
		w.(http.Flusher).Flush()
		sent.Add(int64(n))
		select { // hold the rest until the test ends
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer func() { close(release); srv.Close() }()
	b := e.background("create", "fetch", "--iso", srv.URL+"/nixos.iso", "--sha256", hex.EncodeToString(sum[:]),
		"--firmware", "bios", "--memory", "2G", "--disk", "8G")
	deadline := time.Now().Add(time.Minute)
	for sent.Load() < 1<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("create did not start the download\nstderr: %s", b.stderr())
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.signal(t, syscall.SIGINT)
	code := b.wait(t, time.Minute)
	assertInterrupted(t, b, code, 130, regexp.MustCompile(`^nixvm: interrupted before any VM was changed$`))
	assertNoVMs(t, e)
	if r := e.run("status", "fetch"); r.code == 0 || !strings.Contains(r.err, "no VM named") {
		t.Fatalf("status after an interrupted download: exit %d: %s%s", r.code, r.out, r.err)
	}
	e.ok("create", "fetch", "--manual", "--iso", testISO, "--firmware", "bios", "--memory", "256M", "--disk", "1G")
	e.ok("rm", "fetch")
}
