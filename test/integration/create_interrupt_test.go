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
	for i, c := range []struct {
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
	} {
		t.Run(c.phase, func(t *testing.T) {
			b := e.background(args...)
			if i > 0 {
				b.waitLine(t, regexp.MustCompile(`failed before; removing it to start over`), time.Minute)
			}
			b.waitLine(t, regexp.MustCompile(`"kind":"phase","phase":"`+regexp.QuoteMeta(c.phase)+`"`), 20*time.Minute)
			if st := assertTruthful(t, e, name); st.State != "installing" && c.phase != "first-boot" && c.phase != "powering-off" {
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
