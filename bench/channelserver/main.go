// Command channelserver serves one ISO file on loopback laid out like
// channels.nixos.org and releases.nixos.org, for benchmarks and manual
// tests of `nixvm image pull --channels-url`:
//
//	GET /                                                 channel listing
//	GET /nixos-REL/latest-nixos-minimal-ARCH-linux.iso    302 to the versioned file
//	GET /releases/.../NAME.iso[.sha256]                   the file (Range, If-Range) and its checksum
//	GET /_stats                                           JSON: the ISO requests seen, bytes sent
//
// -cut-after N drops the first -cuts ISO responses after N body bytes, to
// measure what a resume re-sends.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

type request struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Range  string `json:"range,omitempty"`
	Status int    `json:"status"`
	Sent   int64  `json:"sent"`
}

type server struct {
	file, version, sum string
	size               int64
	modTime            time.Time
	cutAfter           int64

	mu   sync.Mutex
	cuts int
	seen []request
}

func main() {
	var (
		file     = flag.String("file", "", "ISO file to serve")
		addr     = flag.String("addr", "127.0.0.1:0", "listen address")
		release  = flag.String("release", "25.11", "release the file is published as")
		cutAfter = flag.Int64("cut-after", 0, "drop ISO responses after this many body bytes")
		cuts     = flag.Int("cuts", 1, "how many ISO responses -cut-after applies to")
		portFile = flag.String("port-file", "", "write the listening address here once ready")
	)
	flag.Parse()
	if *file == "" {
		log.Fatal("-file is required")
	}
	f, err := os.Open(*file)
	if err != nil {
		log.Fatal(err)
	}
	st, err := f.Stat()
	if err != nil {
		log.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		log.Fatal(err)
	}
	f.Close()
	s := &server{file: *file, version: *release + ".1234.abcdef0", sum: hex.EncodeToString(h.Sum(nil)),
		size: st.Size(), modTime: st.ModTime(), cutAfter: *cutAfter, cuts: *cuts}
	if *cutAfter <= 0 {
		s.cuts = 0
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	if *portFile != "" {
		if err := os.WriteFile(*portFile, []byte(ln.Addr().String()), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	log.Fatal(http.Serve(ln, s))
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/":
		fmt.Fprintf(w, "<html><a href=\"nixos-%s/\">nixos-%s/</a><a href=\"nixos-unstable/\">nixos-unstable/</a></html>", s.version[:5], s.version[:5])
	case p == "/_stats":
		s.mu.Lock()
		defer s.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"size": s.size, "requests": s.seen})
	case strings.HasPrefix(p, "/nixos-") && strings.Contains(p, "/latest-nixos-minimal-"):
		arch := strings.TrimSuffix(strings.TrimSuffix(p[strings.Index(p, "/latest-nixos-minimal-")+len("/latest-nixos-minimal-"):], ".sha256"), "-linux.iso")
		suffix := ""
		if strings.HasSuffix(p, ".sha256") {
			suffix = ".sha256"
		}
		http.Redirect(w, r, "/releases/"+s.name(arch)+suffix, http.StatusFound)
	case strings.HasPrefix(p, "/releases/") && strings.HasSuffix(p, ".iso.sha256"):
		fmt.Fprintf(w, "%s  %s", s.sum, strings.TrimSuffix(p[len("/releases/"):], ".sha256"))
	case strings.HasPrefix(p, "/releases/") && strings.HasSuffix(p, ".iso"):
		s.serveISO(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (s *server) name(arch string) string {
	return fmt.Sprintf("nixos-minimal-%s-%s-linux.iso", s.version, arch)
}

// countingWriter counts body bytes and drops the connection at a limit.
type countingWriter struct {
	http.ResponseWriter
	s     *server
	i     int
	limit int64 // -1 = none
	n     int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	if c.limit >= 0 && c.n+int64(len(b)) > c.limit {
		b = b[:c.limit-c.n]
	}
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	c.s.mu.Lock()
	c.s.seen[c.i].Sent = c.n
	c.s.mu.Unlock()
	if c.limit >= 0 && c.n >= c.limit {
		c.ResponseWriter.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	return n, err
}

func (c *countingWriter) WriteHeader(code int) {
	c.s.mu.Lock()
	c.s.seen[c.i].Status = code
	c.s.mu.Unlock()
	c.ResponseWriter.WriteHeader(code)
}

func (s *server) serveISO(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.seen = append(s.seen, request{Method: r.Method, Path: r.URL.Path, Range: r.Header.Get("Range")})
	i := len(s.seen) - 1
	cut := r.Method == http.MethodGet && s.cuts > 0
	if cut {
		s.cuts--
	}
	s.mu.Unlock()
	f, err := os.Open(s.file)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/x-iso9660-image")
	w.Header().Set("ETag", `"`+s.sum[:16]+`"`)
	if cut {
		http.ServeContent(&countingWriter{ResponseWriter: w, s: s, i: i, limit: s.cutAfter}, r, "", s.modTime, f)
		return
	}
	// Unwrapped, so the body goes out with sendfile as from a real server;
	// the bytes sent are then counted as the Content-Length served, which
	// over-counts (never under-counts) a response the client dropped.
	sw := &statusWriter{ResponseWriter: w}
	http.ServeContent(sw, r, "", s.modTime, f)
	n, _ := strconv.ParseInt(w.Header().Get("Content-Length"), 10, 64)
	s.mu.Lock()
	s.seen[i].Status = sw.status
	if r.Method == http.MethodGet {
		s.seen[i].Sent = n
	}
	s.mu.Unlock()
}

// statusWriter remembers the status code and passes ReadFrom through
// (sendfile).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.(io.ReaderFrom).ReadFrom(r)
}
