package images

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// channelServer is a real HTTP server on loopback shaped like
// channels.nixos.org plus releases.nixos.org, with knobs for the failures a
// download meets. It records what it saw and sent.
type channelServer struct {
	*httptest.Server
	iso     []byte
	sum     string
	version string // e.g. 25.11.1234.abcdef0

	mu   sync.Mutex
	cfg  serverConfig
	seen []request
}

type serverConfig struct {
	listing       string // body of GET /
	listingStatus int    // 0 = 200
	redirect      bool   // alias → versioned URL
	cutAfter      int64  // cut the connection after this many body bytes...
	cuts          int    // ...in this many ISO responses
	ignoreRange   bool   // answer Range requests with 200 and the whole file
	etag          string // ETag to send; "" = derived from the digest
	wrongChecksum bool   // publish the digest of other bytes
	notFound      bool   // every path 404
	html          bool   // every path answers 200 text/html
	htmlISO       bool   // only the ISO body answers 200 text/html
	trickle       time.Duration
	gate          chan struct{} // ISO bodies stop after gateAfter bytes until closed
	gateAfter     int64
}

// request is one request as the server saw it.
type request struct {
	Method, Path, Range, IfRange string
	Status                       int
	Sent                         int64 // body bytes written
}

const testISOSize = 4 << 20

var testVersion = "25.11.1234.abcdef0"

func newChannelServer(t *testing.T, cfg serverConfig) *channelServer {
	t.Helper()
	s := &channelServer{iso: isoBytes(testISOSize, 1), version: testVersion, cfg: cfg}
	s.sum = sha256Hex(s.iso)
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.Close)
	return s
}

func isoBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed)})
	r.Read(b)
	return b
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func (s *channelServer) set(f func(*serverConfig)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.cfg)
}

func (s *channelServer) config() serverConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

// requests returns what the server saw, filtered by method and a path suffix.
func (s *channelServer) requests(method, suffix string) []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []request
	for _, r := range s.seen {
		if r.Method == method && strings.HasSuffix(r.Path, suffix) {
			out = append(out, r)
		}
	}
	return out
}

func (s *channelServer) record(r *http.Request) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = append(s.seen, request{Method: r.Method, Path: r.URL.Path, Range: r.Header.Get("Range"), IfRange: r.Header.Get("If-Range")})
	return len(s.seen) - 1
}

func (s *channelServer) update(i int, f func(*request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.seen[i])
}

func (s *channelServer) versionedPath(arch string) string {
	rel := s.version[:5]
	return fmt.Sprintf("/releases/nixos/%s/nixos-%s/nixos-minimal-%s-%s-linux.iso", rel, s.version, s.version, arch)
}

var (
	aliasRe     = regexp.MustCompile(`^/nixos-([^/]+)/latest-nixos-minimal-([a-z0-9_]+)-linux\.iso(\.sha256)?$`)
	versionedRe = regexp.MustCompile(`^/releases/nixos/[^/]+/[^/]+/(nixos-minimal-[^/]+-([a-z0-9_]+)-linux\.iso)(\.sha256)?$`)
)

const lastModified = "Mon, 01 Dec 2025 10:00:00 GMT"

func (s *channelServer) handle(w http.ResponseWriter, r *http.Request) {
	i := s.record(r)
	cfg := s.config()
	status := func(code int) { s.update(i, func(q *request) { q.Status = code }) }
	switch {
	case cfg.notFound:
		status(404)
		http.NotFound(w, r)
		return
	case cfg.html:
		status(200)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<html><body>Please log in to the hotel Wi-Fi</body></html>")
		return
	}
	if r.URL.Path == "/" {
		code := orDefault(cfg.listingStatus, 200)
		status(code)
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(code)
		fmt.Fprint(w, cfg.listing)
		return
	}
	if m := aliasRe.FindStringSubmatch(r.URL.Path); m != nil {
		if cfg.redirect {
			status(302)
			http.Redirect(w, r, s.versionedPath(m[2])+m[3], http.StatusFound)
			return
		}
		s.serveFile(w, r, i, cfg, fmt.Sprintf("nixos-minimal-%s-%s-linux.iso", s.version, m[2]), m[3] != "")
		return
	}
	if m := versionedRe.FindStringSubmatch(r.URL.Path); m != nil {
		s.serveFile(w, r, i, cfg, m[1], m[3] != "")
		return
	}
	status(404)
	http.NotFound(w, r)
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func (s *channelServer) serveFile(w http.ResponseWriter, r *http.Request, i int, cfg serverConfig, name string, checksum bool) {
	if checksum {
		sum := s.sum
		if cfg.wrongChecksum {
			sum = sha256Hex([]byte("something else"))
		}
		s.update(i, func(q *request) { q.Status = 200 })
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "%s  %s", sum, name) // two spaces, no newline: as published
		return
	}
	if cfg.htmlISO && r.Method == http.MethodGet {
		s.update(i, func(q *request) { q.Status = 200 })
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<!DOCTYPE html><html>Not here</html>")
		return
	}
	etag := cfg.etag
	if etag == "" {
		etag = `"` + s.sum[:16] + `"`
	}
	h := w.Header()
	h.Set("Content-Type", "application/x-iso9660-image")
	h.Set("ETag", etag)
	h.Set("Last-Modified", lastModified)
	start := int64(0)
	if rg := r.Header.Get("Range"); rg != "" && !cfg.ignoreRange {
		h.Set("Accept-Ranges", "bytes")
		if ir := r.Header.Get("If-Range"); ir == "" || ir == etag || ir == lastModified {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"), 10, 64)
			if err != nil || n >= int64(len(s.iso)) {
				s.update(i, func(q *request) { q.Status = 416 })
				h.Set("Content-Range", fmt.Sprintf("bytes */%d", len(s.iso)))
				w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
				return
			}
			start = n
		}
	}
	body := s.iso[start:]
	h.Set("Content-Length", strconv.Itoa(len(body)))
	code := http.StatusOK
	if start > 0 {
		code = http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(s.iso)-1, len(s.iso)))
	}
	s.update(i, func(q *request) { q.Status = code })
	w.WriteHeader(code)
	if r.Method == http.MethodHead {
		return
	}
	cut := int64(-1)
	if cfg.cuts > 0 && r.Method == http.MethodGet {
		s.set(func(c *serverConfig) { c.cuts-- })
		cut = cfg.cutAfter
	}
	var sent int64
	gated := cfg.gate != nil
	const chunk = 32 << 10
	for sent < int64(len(body)) {
		n := min(int64(chunk), int64(len(body))-sent)
		if cut >= 0 && sent+n > cut {
			n = cut - sent
		}
		if gated && sent+n > cfg.gateAfter {
			n = cfg.gateAfter - sent
		}
		if n > 0 {
			if _, err := w.Write(body[sent : sent+n]); err != nil {
				return
			}
			sent += n
			s.update(i, func(q *request) { q.Sent = sent })
		}
		if cut >= 0 && sent == cut {
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler) // drop the connection mid-body
		}
		if gated && sent == cfg.gateAfter {
			gated = false
			w.(http.Flusher).Flush()
			select {
			case <-cfg.gate:
			case <-r.Context().Done():
				return
			}
		}
		if cfg.trickle > 0 {
			w.(http.Flusher).Flush()
			select {
			case <-time.After(cfg.trickle):
			case <-r.Context().Done():
				return
			}
		}
	}
}
