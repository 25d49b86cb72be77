// Package imagestest serves NixOS-shaped channels and releases over HTTP on
// loopback for tests: the alias redirect, the .sha256 file and the ISO, with
// knobs for the failures a download meets (cut connections, ignored Range,
// wrong checksums, 404s, HTML pages, slow or stalled bodies). It records what
// it saw and sent so tests assert on the server's side.
package imagestest

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

// Server is a real HTTP server on loopback shaped like channels.nixos.org
// plus releases.nixos.org.
type Server struct {
	*httptest.Server
	ISO     []byte // the file served
	SHA256  string // its digest
	Version string // e.g. 25.11.1234.abcdef0

	mu   sync.Mutex
	cfg  Config
	seen []Request
}

// Config sets what the server serves and how it misbehaves. Change it
// between requests with Set.
type Config struct {
	ISO     []byte // the ISO body; nil = DefaultSize pseudo-random bytes
	Version string // versioned name part; "" = DefaultVersion; its first 5 characters are the release

	Listing       string        // body of GET / (the channel listing)
	ListingStatus int           // status of GET /; 0 = 200
	Redirect      bool          // the alias redirects to the versioned URL under /releases/
	CutAfter      int64         // drop the connection after this many body bytes...
	Cuts          int           // ...in this many ISO GET responses
	IgnoreRange   bool          // answer Range requests with 200 and the whole file
	ETag          string        // ETag to send; "" = derived from the digest
	WrongChecksum bool          // publish the digest of other bytes
	NotFound      bool          // every path answers 404
	HTML          bool          // every path answers 200 text/html
	HTMLISO       bool          // only the ISO GET answers 200 text/html
	Trickle       time.Duration // pause between 32 KiB chunks of ISO bodies
	Gate          chan struct{} // ISO bodies stop after GateAfter bytes until Gate is closed
	GateAfter     int64
}

// Request is one request as the server saw it.
type Request struct {
	Method, Path, Range, IfRange string
	Status                       int
	Sent                         int64 // body bytes written
}

// Defaults for Config.
const (
	DefaultSize    = 4 << 20
	DefaultVersion = "25.11.1234.abcdef0"
)

// NewServer starts a server on loopback, closed when the test ends.
func NewServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	s := &Server{ISO: cfg.ISO, Version: cfg.Version, cfg: cfg}
	if s.ISO == nil {
		s.ISO = Bytes(DefaultSize, 1)
	}
	if s.Version == "" {
		s.Version = DefaultVersion
	}
	s.SHA256 = SHA256(s.ISO)
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.Close)
	return s
}

// Bytes returns n deterministic pseudo-random bytes.
func Bytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed)})
	r.Read(b)
	return b
}

// SHA256 is the lowercase hex digest of b.
func SHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Set changes the configuration for the following requests.
func (s *Server) Set(f func(*Config)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.cfg)
}

func (s *Server) config() Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

// Requests returns what the server saw, filtered by method and a path suffix.
func (s *Server) Requests(method, suffix string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.seen {
		if r.Method == method && strings.HasSuffix(r.Path, suffix) {
			out = append(out, r)
		}
	}
	return out
}

func (s *Server) record(r *http.Request) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = append(s.seen, Request{Method: r.Method, Path: r.URL.Path, Range: r.Header.Get("Range"), IfRange: r.Header.Get("If-Range")})
	return len(s.seen) - 1
}

func (s *Server) update(i int, f func(*Request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.seen[i])
}

// VersionedPath is where the alias for arch redirects to.
func (s *Server) VersionedPath(arch string) string {
	rel := s.Version[:5]
	return fmt.Sprintf("/releases/nixos/%s/nixos-%s/nixos-minimal-%s-%s-linux.iso", rel, s.Version, s.Version, arch)
}

var (
	aliasRe     = regexp.MustCompile(`^/nixos-([^/]+)/latest-nixos-minimal-([a-z0-9_]+)-linux\.iso(\.sha256)?$`)
	versionedRe = regexp.MustCompile(`^/releases/nixos/[^/]+/[^/]+/(nixos-minimal-[^/]+-([a-z0-9_]+)-linux\.iso)(\.sha256)?$`)
)

const lastModified = "Mon, 01 Dec 2025 10:00:00 GMT"

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	i := s.record(r)
	cfg := s.config()
	status := func(code int) { s.update(i, func(q *Request) { q.Status = code }) }
	switch {
	case cfg.NotFound:
		status(404)
		http.NotFound(w, r)
		return
	case cfg.HTML:
		status(200)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<html><body>Please log in to the hotel Wi-Fi</body></html>")
		return
	}
	if r.URL.Path == "/" {
		code := orDefault(cfg.ListingStatus, 200)
		status(code)
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(code)
		fmt.Fprint(w, cfg.Listing)
		return
	}
	if m := aliasRe.FindStringSubmatch(r.URL.Path); m != nil {
		if cfg.Redirect {
			status(302)
			http.Redirect(w, r, s.VersionedPath(m[2])+m[3], http.StatusFound)
			return
		}
		s.serveFile(w, r, i, cfg, fmt.Sprintf("nixos-minimal-%s-%s-linux.iso", s.Version, m[2]), m[3] != "")
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

func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, i int, cfg Config, name string, checksum bool) {
	if checksum {
		sum := s.SHA256
		if cfg.WrongChecksum {
			sum = SHA256([]byte("something else"))
		}
		s.update(i, func(q *Request) { q.Status = 200 })
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "%s  %s", sum, name) // two spaces, no newline: as published
		return
	}
	if cfg.HTMLISO && r.Method == http.MethodGet {
		s.update(i, func(q *Request) { q.Status = 200 })
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<!DOCTYPE html><html>Not here</html>")
		return
	}
	etag := cfg.ETag
	if etag == "" {
		etag = `"` + s.SHA256[:16] + `"`
	}
	h := w.Header()
	h.Set("Content-Type", "application/x-iso9660-image")
	h.Set("ETag", etag)
	h.Set("Last-Modified", lastModified)
	start := int64(0)
	if rg := r.Header.Get("Range"); rg != "" && !cfg.IgnoreRange {
		h.Set("Accept-Ranges", "bytes")
		if ir := r.Header.Get("If-Range"); ir == "" || ir == etag || ir == lastModified {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"), 10, 64)
			if err != nil || n >= int64(len(s.ISO)) {
				s.update(i, func(q *Request) { q.Status = 416 })
				h.Set("Content-Range", fmt.Sprintf("bytes */%d", len(s.ISO)))
				w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
				return
			}
			start = n
		}
	}
	body := s.ISO[start:]
	h.Set("Content-Length", strconv.Itoa(len(body)))
	code := http.StatusOK
	if start > 0 {
		code = http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(s.ISO)-1, len(s.ISO)))
	}
	s.update(i, func(q *Request) { q.Status = code })
	w.WriteHeader(code)
	if r.Method == http.MethodHead {
		return
	}
	cut := int64(-1)
	if cfg.Cuts > 0 && r.Method == http.MethodGet {
		s.Set(func(c *Config) { c.Cuts-- })
		cut = cfg.CutAfter
	}
	var sent int64
	gated := cfg.Gate != nil
	const chunk = 32 << 10
	for sent < int64(len(body)) {
		n := min(int64(chunk), int64(len(body))-sent)
		if cut >= 0 && sent+n > cut {
			n = cut - sent
		}
		if gated && sent+n > cfg.GateAfter {
			n = cfg.GateAfter - sent
		}
		if n > 0 {
			if _, err := w.Write(body[sent : sent+n]); err != nil {
				return
			}
			sent += n
			s.update(i, func(q *Request) { q.Sent = sent })
		}
		if cut >= 0 && sent == cut {
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler) // drop the connection mid-body
		}
		if gated && sent == cfg.GateAfter {
			gated = false
			w.(http.Flusher).Flush()
			select {
			case <-cfg.Gate:
			case <-r.Context().Done():
				return
			}
		}
		if cfg.Trickle > 0 {
			w.(http.Flusher).Flush()
			select {
			case <-time.After(cfg.Trickle):
			case <-r.Context().Done():
				return
			}
		}
	}
}
