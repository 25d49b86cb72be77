package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DownloadError is a transfer that stopped part way. What arrived is kept
// and the next attempt resumes from there.
type DownloadError struct {
	URL   string
	Got   int64 // bytes on disk, verified or not
	Total int64 // -1 when unknown
	Err   error
}

func (e *DownloadError) Error() string {
	of := ""
	if e.Total >= 0 {
		of = fmt.Sprintf(" of %d", e.Total)
	}
	return fmt.Sprintf("download failed after %d%s bytes: %v (run the command again to resume)", e.Got, of, e.Err)
}

func (e *DownloadError) Unwrap() error { return e.Err }

// ChecksumError is a complete download whose SHA-256 is not the published
// one. The data is deleted: resuming it could never succeed.
type ChecksumError struct {
	URL, Expected, Got string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("checksum mismatch: expected %s, got %s (the partial file was removed)", e.Expected, e.Got)
}

// errRestart asks for another attempt from byte 0, without counting as a
// failure of the connection.
var errRestart = errors.New("server could not resume the download; starting over")

// partState is what is needed to resume a part safely: the validators the
// server sent with the first byte of it.
type partState struct {
	URL          string `json:"url"`
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	Size         int64  `json:"size"`
}

// writebackChunk is how much written data is handed to the kernel's
// writeback at a time during a download.
const writebackChunk = 32 << 20

// downloader moves one URL into one part file.
type downloader struct {
	client   *http.Client
	progress Progress
	stall    time.Duration // abort a transfer when no byte arrives for this long
	bufSize  int
}

// fetch downloads url into part, resuming what is already there, and
// returns nil only when part holds exactly the bytes whose SHA-256 is want.
// A mismatch deletes the part. name is for progress reports.
func (d *downloader) fetch(ctx context.Context, url, part, name, want string) (err error) {
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open download file: %w", err)
	}
	defer f.Close()
	defer func() {
		// An empty part is no progress worth keeping (404, HTML page, ...).
		if st, serr := f.Stat(); err != nil && serr == nil && st.Size() == 0 {
			os.Remove(part)
			os.Remove(part + ".json")
		}
	}()

	// Hash what an earlier attempt left; the file offset ends at its end,
	// where the new bytes go.
	h := sha256.New()
	have, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("read partial download %s: %w", part, err)
	}
	st := readPartState(part)
	if have > 0 && st.URL != "" && st.URL != url {
		st = partState{Size: -1} // validators of another URL mean nothing here
	}

	if have > 0 && have == st.Size && hex.EncodeToString(h.Sum(nil)) == want {
		return f.Sync() // an earlier attempt got every byte but stopped before the rename
	}

	reqCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	errStalled := fmt.Errorf("no data received for %s", d.stall)
	timer := time.AfterFunc(d.stall, func() { cancel(errStalled) })
	defer timer.Stop()

	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
		// If-Range: when the file changed, the server sends all of it (200)
		// instead of a remainder that would not fit the part. Without a
		// validator the digest in the part's name still guards the result.
		if v := ifRangeValidator(st); v != "" {
			req.Header.Set("If-Range", v)
		}
	}
	fail := func(got, total int64, err error) error {
		if c := context.Cause(reqCtx); c == errStalled && ctx.Err() == nil {
			err = c
		}
		return &DownloadError{URL: url, Got: got, Total: total, Err: err}
	}
	resp, err := d.client.Do(req)
	if err != nil {
		err = noAnswer(err)
		return fail(have, st.Size, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusPartialContent {
		if err := checkNotHTML(resp); err != nil {
			return fmt.Errorf("download %s: %w", url, err)
		}
	}
	total := int64(-1)
	switch resp.StatusCode {
	case http.StatusPartialContent:
		start, size, err := parseContentRange(resp.Header.Get("Content-Range"))
		if err != nil || start != have || have == 0 {
			if err := restart(f, h); err != nil {
				return err
			}
			return fmt.Errorf("%w (Content-Range %q does not continue at byte %d)", errRestart, resp.Header.Get("Content-Range"), have)
		}
		total = size
	case http.StatusOK:
		// A full body: the server ignored Range, or If-Range found the file
		// changed. Either way the part is worthless now.
		if have > 0 {
			if err := restart(f, h); err != nil {
				return err
			}
			have = 0
		}
		total = resp.ContentLength
		st = partState{URL: url, ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"), Size: total}
		if err := writePartState(part, st); err != nil {
			return err
		}
	case http.StatusRequestedRangeNotSatisfiable:
		// An earlier attempt may have stopped right after the last byte.
		if have > 0 && hex.EncodeToString(h.Sum(nil)) == want {
			return f.Sync()
		}
		if err := restart(f, h); err != nil {
			return err
		}
		return fmt.Errorf("%w (HTTP %s)", errRestart, resp.Status)
	default:
		return fmt.Errorf("download %s: HTTP %s", url, resp.Status)
	}
	// Check the room before the first byte: a download that can only end
	// in ENOSPC must not fill the disk first.
	if total >= 0 && total > have {
		if err := checkSpace(filepath.Dir(part), total-have); err != nil {
			return err
		}
	}
	d.progress.Begin(name, have, total)
	flushed, pending := have, int64(0)
	n, err := copyHashing(f, h, resp.Body, d.bufSize, func(n int) {
		timer.Reset(d.stall)
		d.progress.Advance(int64(n))
		if pending += int64(n); pending >= writebackChunk {
			startWriteback(f, flushed, pending)
			flushed, pending = flushed+pending, 0
		}
	})
	got := have + n
	if err != nil {
		d.progress.End(err)
		if ctx.Err() == nil && context.Cause(reqCtx) == nil {
			var pe *fs.PathError
			if errors.As(err, &pe) { // a write to the part, not the network
				if errors.Is(err, syscall.ENOSPC) {
					// Keeping the part would keep the disk full.
					f.Close()
					os.Remove(part)
					os.Remove(part + ".json")
					return fmt.Errorf("%w (after %s; the partial download was removed to free the space)", pe, HumanBytes(got))
				}
				return pe // names the part once: "write PATH: ..."
			}
		}
		return fail(got, total, err)
	}
	if total >= 0 && got != total {
		err := fmt.Errorf("the server sent %d bytes, announced %d", got, total)
		d.progress.End(err)
		return fail(got, total, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != want {
		f.Close()
		os.Remove(part)
		os.Remove(part + ".json")
		err := &ChecksumError{URL: url, Expected: want, Got: sum}
		d.progress.End(err)
		return err
	}
	d.progress.End(nil)
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", part, err)
	}
	return nil
}

// restart empties the part so the next bytes start it again.
func restart(f *os.File, h hash.Hash) error {
	h.Reset()
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("truncate partial download: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("truncate partial download: %w", err)
	}
	return nil
}

// ifRangeValidator picks the If-Range value: a strong ETag if there is one
// (weak ones are not allowed in If-Range), else the Last-Modified date.
func ifRangeValidator(st partState) string {
	if st.ETag != "" && !strings.HasPrefix(st.ETag, "W/") {
		return st.ETag
	}
	return st.LastModified
}

// parseContentRange reads "bytes START-END/SIZE"; size is -1 for "*".
func parseContentRange(v string) (start, size int64, err error) {
	rest, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, 0, fmt.Errorf("Content-Range %q: not a byte range", v)
	}
	rng, sz, ok := strings.Cut(rest, "/")
	s, _, ok2 := strings.Cut(rng, "-")
	if !ok || !ok2 {
		return 0, 0, fmt.Errorf("Content-Range %q: malformed", v)
	}
	if start, err = strconv.ParseInt(s, 10, 64); err != nil || start < 0 {
		return 0, 0, fmt.Errorf("Content-Range %q: malformed start", v)
	}
	if sz == "*" {
		return start, -1, nil
	}
	if size, err = strconv.ParseInt(sz, 10, 64); err != nil || size < 0 {
		return 0, 0, fmt.Errorf("Content-Range %q: malformed size", v)
	}
	return start, size, nil
}

// checkNotHTML refuses HTML: captive portals, mirror error pages and
// directory listings come back as 200 text/html, never as an ISO.
func checkNotHTML(resp *http.Response) error {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "text/html" || mt == "application/xhtml+xml" {
		return errors.New("got an HTML page, not an ISO (check the URL, or a proxy or captive portal in the way)")
	}
	return nil
}

func readPartState(part string) partState {
	var st partState
	data, err := os.ReadFile(part + ".json")
	if err == nil && json.Unmarshal(data, &st) == nil {
		return st
	}
	return partState{Size: -1}
}

func writePartState(part string, st partState) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := os.WriteFile(part+".json", data, 0o644); err != nil {
		return fmt.Errorf("save download state: %w", err)
	}
	return nil
}

// NoSpaceError says that a download does not fit on its file system.
type NoSpaceError struct {
	Dir        string
	Need, Free int64
}

func (e *NoSpaceError) Error() string {
	return fmt.Sprintf("not enough free space in %s: the download needs %s more, %s are free (free some space, or set XDG_CACHE_HOME to a directory on a bigger disk)",
		e.Dir, HumanBytes(e.Need), HumanBytes(e.Free))
}

// Is makes a NoSpaceError match syscall.ENOSPC.
func (e *NoSpaceError) Is(target error) bool { return target == syscall.ENOSPC }

// freeSpace returns the bytes an unprivileged user may still write in dir.
// A variable so that tests can pretend a full disk.
var freeSpace = func(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// checkSpace fails with a *NoSpaceError when dir has less than need bytes
// free. A file system that cannot say is not an error.
func checkSpace(dir string, need int64) error {
	free, err := freeSpace(dir)
	if err != nil || free >= need {
		return nil
	}
	return &NoSpaceError{Dir: dir, Need: need, Free: free}
}
