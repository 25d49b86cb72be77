package images

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/nixvm/nixvm/internal/images/imagestest"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// pull runs Ensure for 25.11 x86_64 against s with a fresh or given cache.
func pull(ctx context.Context, s *imagestest.Server, cache string, mod ...func(*PullOptions)) (*Image, error) {
	o := PullOptions{Release: "25.11", Arch: "x86_64", ChannelsURL: s.URL, CacheDir: cache, Retries: -1}
	for _, m := range mod {
		m(&o)
	}
	return Ensure(ctx, o)
}

// checkImage asserts im is the server's ISO, complete in the cache and listed.
func checkImage(t *testing.T, s *imagestest.Server, cache string, im *Image) {
	t.Helper()
	data, err := os.ReadFile(im.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, s.ISO) {
		t.Fatalf("cached ISO differs from the served one (%d vs %d bytes)", len(data), len(s.ISO))
	}
	wantName := "nixos-minimal-" + imagestest.DefaultVersion + "-x86_64-linux.iso"
	if im.Name != wantName || filepath.Base(im.Path) != wantName {
		t.Errorf("name = %q, path %q; want the versioned name %q", im.Name, im.Path, wantName)
	}
	if want := filepath.Join(cache, "images", s.SHA256, wantName); im.Path != want {
		t.Errorf("path = %q, want %q", im.Path, want)
	}
	if im.SHA256 != s.SHA256 || im.Size != int64(len(s.ISO)) || im.Release != "25.11" || im.Arch != "x86_64" {
		t.Errorf("image = %+v", im)
	}
	list, err := List(cache)
	if err != nil || len(list) != 1 || list[0].Path != im.Path {
		t.Errorf("List = %+v, %v; want just %s", list, err, im.Path)
	}
	if _, err := os.Stat(partPath(cache, s.SHA256)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("part file left behind: %v", err)
	}
}

// files lists the regular files under dir, relative, ignoring lock files.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.HasSuffix(p, ".lock") {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

func TestEnsureDownloadsFollowingRedirect(t *testing.T) {
	s := imagestest.NewServer(t, imagestest.Config{Redirect: true})
	cache := t.TempDir()
	var log bytes.Buffer
	im, err := pull(t.Context(), s, cache, func(o *PullOptions) { o.Progress = &LineProgress{W: &log} })
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, s, cache, im)
	if gets := s.Requests("GET", ".iso"); len(gets) != 1 || gets[0].Range != "" || gets[0].Sent != imagestest.DefaultSize ||
		!strings.HasPrefix(gets[0].Path, "/releases/") {
		t.Errorf("ISO GETs = %+v; want one full GET of the versioned URL", gets)
	}
	if sums := s.Requests("GET", ".sha256"); len(sums) != 1 || !strings.HasPrefix(sums[0].Path, "/releases/") {
		t.Errorf("checksum GETs = %+v; want one of the versioned URL", sums)
	}
	checkProgress(t, log.String(), "downloading nixos-minimal-"+imagestest.DefaultVersion+"-x86_64-linux.iso (4.0 MiB)")

	// The second pull finds the verified entry and downloads nothing.
	again, err := pull(t.Context(), s, cache)
	if err != nil || again.Path != im.Path {
		t.Fatalf("second pull = %+v, %v", again, err)
	}
	if gets := s.Requests("GET", ".iso"); len(gets) != 1 {
		t.Errorf("second pull downloaded again: %d ISO GETs", len(gets))
	}

	var meta map[string]any
	data, _ := os.ReadFile(filepath.Join(cache, "images", s.SHA256, "image.json"))
	if err := json.Unmarshal(data, &meta); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"release", "arch", "url", "name", "size", "sha256", "pulledAt"} {
		if _, ok := meta[k]; !ok {
			t.Errorf("image.json lacks %q: %s", k, data)
		}
	}
}

func TestEnsureWithoutRedirectTakesNameFromChecksum(t *testing.T) {
	s := imagestest.NewServer(t, imagestest.Config{Redirect: false})
	cache := t.TempDir()
	im, err := pull(t.Context(), s, cache)
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, s, cache, im)
}

func TestEnsureResumesAfterCut(t *testing.T) {
	const cut = 1<<20 + 12345
	s := imagestest.NewServer(t, imagestest.Config{Redirect: true, CutAfter: cut, Cuts: 1})
	cache := t.TempDir()
	var log bytes.Buffer
	_, err := pull(t.Context(), s, cache)
	var de *DownloadError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v; want a DownloadError", err)
	}
	want := fmt.Sprintf("download failed after %d of %d bytes", cut, imagestest.DefaultSize)
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "run the command again to resume") {
		t.Errorf("err = %q; want it to contain %q and how to resume", err, want)
	}
	if l, _ := List(cache); len(l) != 0 {
		t.Errorf("a failed download is listed: %+v", l)
	}
	if st, err := os.Stat(partPath(cache, s.SHA256)); err != nil || st.Size() != cut {
		t.Fatalf("part after the cut: %v, %v; want %d bytes", st, err, cut)
	}

	im, err := pull(t.Context(), s, cache, func(o *PullOptions) { o.Progress = &LineProgress{W: &log} })
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, s, cache, im)
	gets := s.Requests("GET", ".iso")
	if len(gets) != 2 {
		t.Fatalf("ISO GETs = %+v; want 2", gets)
	}
	r := gets[1]
	if r.Range != fmt.Sprintf("bytes=%d-", cut) || r.IfRange == "" || r.Status != 206 || r.Sent != imagestest.DefaultSize-cut {
		t.Errorf("resume request = %+v; want Range from %d, If-Range, 206 and only the remainder %d", r, cut, imagestest.DefaultSize-cut)
	}
	checkProgress(t, log.String(), "resuming nixos-minimal-"+imagestest.DefaultVersion+"-x86_64-linux.iso at 1.0 MiB of 4.0 MiB (25%)")
}

func TestEnsureRetriesWithinOnePull(t *testing.T) {
	s := imagestest.NewServer(t, imagestest.Config{Redirect: true, CutAfter: 300000, Cuts: 2})
	cache := t.TempDir()
	var notes []string
	im, err := pull(t.Context(), s, cache, func(o *PullOptions) {
		o.Retries = 0 // the default: a few automatic resumes
		o.Logf = func(f string, a ...any) { notes = append(notes, fmt.Sprintf(f, a...)) }
	})
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, s, cache, im)
	gets := s.Requests("GET", ".iso")
	if len(gets) != 3 || gets[1].Range != "bytes=300000-" || gets[2].Range != "bytes=600000-" {
		t.Errorf("ISO GETs = %+v; want 3, resuming at 300000 and 600000", gets)
	}
	var sent int64
	for _, g := range gets {
		sent += g.Sent
	}
	if sent != imagestest.DefaultSize {
		t.Errorf("server sent %d bytes in all; want exactly the file, %d", sent, imagestest.DefaultSize)
	}
	if len(notes) != 2 || notes[0] != "download interrupted after 300000 bytes (unexpected EOF); resuming (1 of 3)" {
		t.Errorf("notes = %q", notes)
	}
}

func TestEnsureRetriesAreBounded(t *testing.T) {
	s := imagestest.NewServer(t, imagestest.Config{Redirect: true, CutAfter: 1000, Cuts: 100})
	_, err := pull(t.Context(), s, t.TempDir(), func(o *PullOptions) { o.Retries = 2 })
	var de *DownloadError
	if !errors.As(err, &de) || de.Got != 3000 {
		t.Fatalf("err = %v; want a DownloadError after 3000 bytes", err)
	}
	if n := len(s.Requests("GET", ".iso")); n != 3 {
		t.Errorf("%d ISO GETs; want 1 + 2 retries", n)
	}
}

func TestEnsureServerIgnoringRangeStartsOver(t *testing.T) {
	s := imagestest.NewServer(t, imagestest.Config{Redirect: true, CutAfter: 2 << 20, Cuts: 1})
	cache := t.TempDir()
	if _, err := pull(t.Context(), s, cache); err == nil {
		t.Fatal("cut download succeeded")
	}
	s.Set(func(c *imagestest.Config) { c.IgnoreRange = true })
	im, err := pull(t.Context(), s, cache)
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, s, cache, im)
	gets := s.Requests("GET", ".iso")
	if len(gets) != 2 || gets[1].Range == "" || gets[1].Status != 200 || gets[1].Sent != imagestest.DefaultSize {
		t.Errorf("ISO GETs = %+v; want the retry to send Range and get the whole file", gets)
	}
}

func TestEnsureChangedFileRestartsThroughIfRange(t *testing.T) {
	s := imagestest.NewServer(t, imagestest.Config{Redirect: true, CutAfter: 1 << 20, Cuts: 1, ETag: `"v1"`})
	cache := t.TempDir()
	if _, err := pull(t.Context(), s, cache); err == nil {
		t.Fatal("cut download succeeded")
	}
	s.Set(func(c *imagestest.Config) { c.ETag = `"v2"` })
	im, err := pull(t.Context(), s, cache)
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, s, cache, im)
	gets := s.Requests("GET", ".iso")
	if len(gets) != 2 || gets[1].IfRange != `"v1"` || gets[1].Status != 200 || gets[1].Sent != imagestest.DefaultSize {
		t.Errorf("ISO GETs = %+v; want If-Range \"v1\" answered with the whole file", gets)
	}
}

func TestEnsureCompletePartIsNotDownloadedAgain(t *testing.T) {
	// The process died after the last byte but before the rename.
	s := imagestest.NewServer(t, imagestest.Config{Redirect: true})
	cache := t.TempDir()
	os.MkdirAll(tmpDir(cache), 0o755)
	os.WriteFile(partPath(cache, s.SHA256), s.ISO, 0o644)
	im, err := pull(t.Context(), s, cache)
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, s, cache, im)
	if gets := s.Requests("GET", ".iso"); len(gets) != 1 || gets[0].Status != 416 || gets[0].Sent != 0 {
		t.Errorf("ISO GETs = %+v; want one range request answered 416", gets)
	}
}

func TestEnsureChecksumMismatch(t *testing.T) {
	s := imagestest.NewServer(t, imagestest.Config{Redirect: true, WrongChecksum: true})
	cache := t.TempDir()
	_, err := pull(t.Context(), s, cache)
	var ce *ChecksumError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v; want a ChecksumError", err)
	}
	if ce.Got != s.SHA256 || !strings.HasPrefix(err.Error(), "checksum mismatch: expected ") ||
		!strings.Contains(err.Error(), "the partial file was removed") {
		t.Errorf("err = %q", err)
	}
	if f := files(t, cache); len(f) != 0 {
		t.Errorf("files left in the cache: %q", f)
	}
	if l, _ := List(cache); len(l) != 0 {
		t.Errorf("unverified image listed: %+v", l)
	}
}

func TestEnsureRefusesBadAnswers(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  imagestest.Config
		want string
	}{
		{"404", imagestest.Config{NotFound: true}, "HTTP 404 Not Found"},
		{"html everywhere", imagestest.Config{HTML: true}, "got an HTML page, not an ISO"},
		{"html body", imagestest.Config{Redirect: true, HTMLISO: true}, "got an HTML page, not an ISO"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := imagestest.NewServer(t, tc.cfg)
			cache := t.TempDir()
			_, err := pull(t.Context(), s, cache)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want %q", err, tc.want)
			}
			if f := files(t, cache); len(f) != 0 {
				t.Errorf("files left in the cache: %q", f)
			}
		})
	}
}

func TestEnsureStalledTransferFailsAndResumes(t *testing.T) {
	gate := make(chan struct{})
	s := imagestest.NewServer(t, imagestest.Config{Redirect: true, Gate: gate, GateAfter: 1 << 20})
	cache := t.TempDir()
	_, err := pull(t.Context(), s, cache, func(o *PullOptions) { o.StallTimeout = 300 * time.Millisecond })
	if err == nil || !strings.Contains(err.Error(), "no data received for 300ms") {
		t.Fatalf("err = %v; want a stall", err)
	}
	close(gate)
	// A slow but steady server is not a stall.
	s.Set(func(c *imagestest.Config) { c.Gate = nil; c.Trickle = 5 * time.Millisecond })
	im, err := pull(t.Context(), s, cache, func(o *PullOptions) { o.StallTimeout = 2 * time.Second })
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, s, cache, im)
	if gets := s.Requests("GET", ".iso"); len(gets) != 2 || gets[1].Range != "bytes=1048576-" {
		t.Errorf("ISO GETs = %+v", gets)
	}
}

func TestEnsureCancelLeavesOnlyThePart(t *testing.T) {
	gate := make(chan struct{})
	defer close(gate)
	s := imagestest.NewServer(t, imagestest.Config{Redirect: true, Gate: gate, GateAfter: 1 << 20})
	cache := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := pull(ctx, s, cache); done <- err }()
	// The event is the client's: bytes in its part file. The server having
	// sent them says nothing about whether the client read them yet (under
	// load it may not have even created the part).
	waitFor(t, "the server to send 1 MiB and the client to write some of it", func() bool {
		g := s.Requests("GET", ".iso")
		st, err := os.Stat(partPath(cache, s.SHA256))
		return len(g) == 1 && g[0].Sent == 1<<20 && err == nil && st.Size() > 0
	})
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v; want context.Canceled", err)
	}
	if f := files(t, cache); len(f) != 2 || !strings.HasSuffix(f[0], ".part") || !strings.HasSuffix(f[1], ".part.json") {
		t.Errorf("cache after cancel = %q; want only the part and its state", f)
	}
	if l, _ := List(cache); len(l) != 0 {
		t.Errorf("cancelled download listed: %+v", l)
	}
	st, err := os.Stat(partPath(cache, s.SHA256))
	if err != nil {
		t.Fatal(err)
	}
	s.Set(func(c *imagestest.Config) { c.Gate = nil })
	im, err := pull(t.Context(), s, cache)
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, s, cache, im)
	gets := s.Requests("GET", ".iso")
	if len(gets) != 2 || gets[1].Range != fmt.Sprintf("bytes=%d-", st.Size()) || gets[1].Sent != imagestest.DefaultSize-st.Size() {
		t.Errorf("ISO GETs = %+v; want a resume from %d", gets, st.Size())
	}
}

func TestEnsureConcurrentGoroutinesShareOneDownload(t *testing.T) {
	gate := make(chan struct{})
	s := imagestest.NewServer(t, imagestest.Config{Redirect: true, Gate: gate, GateAfter: 1 << 20})
	cache := t.TempDir()
	var wg sync.WaitGroup
	res := make([]*Image, 2)
	errs := make([]error, 2)
	var mu sync.Mutex
	var notes []string
	logf := func(f string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		notes = append(notes, fmt.Sprintf(f, a...))
	}
	for i := range 2 {
		wg.Go(func() { res[i], errs[i] = pull(t.Context(), s, cache, func(o *PullOptions) { o.Logf = logf }) })
	}
	// The first pull is held mid-body by the gate, so the second must wait
	// for the lock; only then is the gate opened.
	waitFor(t, "one pull to wait for the other", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(notes) == 1 && strings.HasPrefix(notes[0], "waiting for another nixvm downloading ")
	})
	close(gate)
	wg.Wait()
	for i := range 2 {
		if errs[i] != nil {
			t.Fatalf("pull %d: %v", i, errs[i])
		}
		checkImage(t, s, cache, res[i])
	}
	if n := len(s.Requests("GET", ".iso")); n != 1 {
		t.Errorf("%d ISO GETs; want exactly one", n)
	}
}

// TestEnsureHelperProcess is the child of the two-process test.
func TestEnsureHelperProcess(t *testing.T) {
	base := os.Getenv("NIXVM_TEST_ENSURE_BASE")
	if base == "" {
		t.Skip("helper for TestEnsureConcurrentProcessesShareOneDownload")
	}
	im, err := Ensure(t.Context(), PullOptions{Release: "25.11", ChannelsURL: base, CacheDir: os.Getenv("NIXVM_TEST_ENSURE_CACHE")})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("PATH=%s\n", im.Path)
}

func TestEnsureConcurrentProcessesShareOneDownload(t *testing.T) {
	gate := make(chan struct{})
	s := imagestest.NewServer(t, imagestest.Config{Redirect: true, Gate: gate, GateAfter: 1 << 20})
	cache := t.TempDir()
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestEnsureHelperProcess$", "-test.v")
		cmd.Env = append(os.Environ(), "NIXVM_TEST_ENSURE_BASE="+s.URL, "NIXVM_TEST_ENSURE_CACHE="+cache)
		out := &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	waitFor(t, "both processes to fetch the checksum and one to start the ISO", func() bool {
		return len(s.Requests("GET", ".sha256")) == 2 && len(s.Requests("GET", ".iso")) >= 1
	})
	close(gate)
	want := "PATH=" + filepath.Join(cache, "images", s.SHA256, "nixos-minimal-"+imagestest.DefaultVersion+"-x86_64-linux.iso")
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("process %d: %v\n%s", i, err, outs[i])
		}
		if !strings.Contains(outs[i].String(), want) {
			t.Errorf("process %d printed:\n%s\nwant %s", i, outs[i], want)
		}
	}
	if n := len(s.Requests("GET", ".iso")); n != 1 {
		t.Errorf("%d ISO GETs; want exactly one", n)
	}
}

func TestEnsureWithURLAndSHA256(t *testing.T) {
	s := imagestest.NewServer(t, imagestest.Config{})
	cache := t.TempDir()
	u := s.URL + s.VersionedPath("x86_64")
	im, err := Ensure(t.Context(), PullOptions{URL: u, SHA256: s.SHA256, Release: "25.11", CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, s, cache, im)
	if n := len(s.Requests("GET", ".sha256")); n != 0 {
		t.Errorf("fetched a .sha256 although the digest was given")
	}
	_, err = Ensure(t.Context(), PullOptions{URL: u, CacheDir: cache})
	if err == nil || !strings.Contains(err.Error(), "sha256 is required") {
		t.Errorf("URL without sha256: err = %v", err)
	}
}

func TestEnsureExpectedSHA256MustMatchPublished(t *testing.T) {
	s := imagestest.NewServer(t, imagestest.Config{Redirect: true})
	other := imagestest.SHA256([]byte("x"))
	_, err := pull(t.Context(), s, t.TempDir(), func(o *PullOptions) { o.SHA256 = other })
	if err == nil || !strings.Contains(err.Error(), "not the expected "+other) {
		t.Fatalf("err = %v", err)
	}
	if n := len(s.Requests("GET", ".iso")); n != 0 {
		t.Errorf("downloaded although the checksum cannot match")
	}
}

func TestEnsureBadOptions(t *testing.T) {
	for _, tc := range []struct {
		opts PullOptions
		want string
	}{
		{PullOptions{Arch: "i686"}, `arch "i686": valid values are x86_64, aarch64`},
		{PullOptions{Release: "25.04"}, `release "25.04": valid values are`},
		{PullOptions{ChannelsURL: "ftp://x"}, `channels URL "ftp://x"`},
		{PullOptions{SHA256: "ABC"}, `sha256 "ABC": want 64 lowercase hex digits`},
	} {
		tc.opts.CacheDir = t.TempDir()
		_, err := Ensure(t.Context(), tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Ensure(%+v) = %v; want one line with %q", tc.opts, err, tc.want)
		}
	}
}

// checkProgress checks the first and last lines of a LineProgress log (the
// ones between depend on how the network chunks the body).
func checkProgress(t *testing.T, log, first string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(log), "\n")
	if lines[0] != first || lines[len(lines)-1] != "downloaded 4.0 MiB of 4.0 MiB (100%)" {
		t.Errorf("progress:\n%s\nwant first line %q and a last line at 100%%", log, first)
	}
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEnsureOfflineUsesCachedImage(t *testing.T) {
	cache := t.TempDir()
	old := addEntry(t, cache, "25.05", "x86_64", []byte("old"))
	newer := addEntry(t, cache, "25.11", "x86_64", []byte("new"))
	addEntry(t, cache, "26.05", "aarch64", []byte("other arch"))
	u := addEntry(t, cache, "unstable", "x86_64", []byte("unstable"))
	offline := "http://127.0.0.1:1" // nothing listens there
	for _, tc := range []struct {
		release string
		want    *Image
	}{
		{"stable", &newer}, {"", &newer}, {"25.05", &old}, {"unstable", &u}, {"24.11", nil},
	} {
		var notes []string
		im, err := Ensure(t.Context(), PullOptions{Release: tc.release, ChannelsURL: offline, CacheDir: cache,
			Logf: func(f string, a ...any) { notes = append(notes, fmt.Sprintf(f, a...)) }})
		if tc.want == nil {
			if err == nil || !strings.Contains(err.Error(), "connection refused") {
				t.Errorf("Ensure(%q) offline with nothing cached = %+v, %v", tc.release, im, err)
			}
			continue
		}
		if err != nil || im.Path != tc.want.Path {
			t.Errorf("Ensure(%q) offline = %+v, %v; want %s", tc.release, im, err, tc.want.Path)
			continue
		}
		if last := notes[len(notes)-1]; !strings.Contains(last, "using the cached "+tc.want.Name) {
			t.Errorf("Ensure(%q) notes = %q", tc.release, notes)
		}
	}
}

func TestEnsureKnownDigestNeedsNoNetwork(t *testing.T) {
	cache := t.TempDir()
	im := addEntry(t, cache, "25.11", "x86_64", []byte("x"))
	got, err := Ensure(t.Context(), PullOptions{Release: "25.11", SHA256: im.SHA256, ChannelsURL: "http://127.0.0.1:1", CacheDir: cache})
	if err != nil || got.Path != im.Path {
		t.Fatalf("Ensure = %+v, %v", got, err)
	}
}
