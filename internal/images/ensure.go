package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/gofrs/flock"

	"github.com/nixvm/nixvm/internal/store"
)

// Defaults for PullOptions.
const (
	DefaultArch         = "x86_64"
	DefaultRetries      = 3
	DefaultStallTimeout = 60 * time.Second
	lockPollInterval    = 100 * time.Millisecond
	maxChecksumFile     = 64 << 10
)

// PullOptions say which image Ensure gets and how.
type PullOptions struct {
	// Release is a version ("25.11"), "unstable", or "stable" (the default
	// when empty). Ignored when URL is set, except that it is recorded.
	Release string
	// Arch is x86_64 (the default) or aarch64.
	Arch string
	// ChannelsURL is the channel server; empty means $NIXVM_CHANNELS_URL,
	// then DefaultChannelsURL.
	ChannelsURL string
	// URL downloads this ISO instead of a channel's; SHA256 is then required.
	URL string
	// SHA256 is the expected digest. With a channel it must equal the
	// published one; with URL it is the only one.
	SHA256 string
	// CacheDir is nixvm's cache directory; empty means store.CacheDir().
	CacheDir string
	// Client makes the HTTP requests; nil means a client without an overall
	// timeout (downloads are long; StallTimeout catches dead transfers).
	Client *http.Client
	// Progress shows the transfer; nil shows nothing.
	Progress Progress
	// Logf prints notes and warnings for the user; nil drops them.
	Logf func(format string, args ...any)
	// Retries is how many times a transfer that broke is resumed within this
	// call: 0 means DefaultRetries, negative means none.
	Retries int
	// StallTimeout aborts a transfer that receives nothing for this long; 0
	// means DefaultStallTimeout.
	StallTimeout time.Duration
}

// ChannelsURL returns the channel server to use: flag, then
// $NIXVM_CHANNELS_URL, then DefaultChannelsURL.
func ChannelsURL(flag string) string {
	if flag != "" {
		return flag
	}
	if env := os.Getenv(ChannelsURLEnv); env != "" {
		return env
	}
	return DefaultChannelsURL
}

func (o *PullOptions) setDefaults() error {
	if o.Arch == "" {
		o.Arch = DefaultArch
	}
	o.ChannelsURL = ChannelsURL(o.ChannelsURL)
	if o.CacheDir == "" {
		d, err := store.CacheDir()
		if err != nil {
			return err
		}
		o.CacheDir = d
	}
	if o.Client == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		// Byte ranges and the digest are about the file as stored: never
		// let the transport ask for, and silently undo, a gzip encoding.
		t.DisableCompression = true
		o.Client = &http.Client{Transport: t}
	}
	if o.Progress == nil {
		o.Progress = noProgress{}
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Retries == 0 {
		o.Retries = DefaultRetries
	}
	if o.StallTimeout == 0 {
		o.StallTimeout = DefaultStallTimeout
	}
	if err := ValidateRelease(o.Release); err != nil {
		return err
	}
	if o.SHA256 != "" {
		if err := ValidateSHA256(o.SHA256); err != nil {
			return err
		}
	}
	if o.URL != "" {
		if err := ValidateBaseURL(o.URL); err != nil {
			return fmt.Errorf("ISO URL %q: want an absolute http:// or https:// URL", o.URL)
		}
		if o.SHA256 == "" {
			return fmt.Errorf("ISO URL %s: a sha256 is required to verify it", o.URL)
		}
	}
	return ValidateArch(o.Arch)
}

// Ensure returns the verified cached image for opts, downloading it first
// when needed. Concurrent calls for the same image, in one process or
// several, share one download. Nothing unverified is ever returned.
func Ensure(ctx context.Context, opts PullOptions) (*Image, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	// A known digest needs no network when the image is cached.
	if opts.SHA256 != "" {
		if im := lookup(opts.CacheDir, opts.SHA256); im != nil {
			return im, nil
		}
	}
	release, final, name, digest, err := locate(ctx, &opts)
	if err != nil {
		var na *NoAnswerError
		if errors.As(err, &na) && ctx.Err() == nil && opts.URL == "" {
			// Offline: a cached image of the release still beats failing.
			if im := newestCached(opts.CacheDir, opts.Release, opts.Arch); im != nil {
				opts.Logf("warning: %v; using the cached %s (pulled %s)", err, im.Name, im.PulledAt.Format(time.DateOnly))
				return im, nil
			}
		}
		return nil, err
	}

	if im := lookup(opts.CacheDir, digest); im != nil {
		return im, nil
	}
	if err := os.MkdirAll(tmpDir(opts.CacheDir), 0o755); err != nil {
		return nil, fmt.Errorf("create image cache: %w", err)
	}
	lock := flock.New(lockPath(opts.CacheDir, digest))
	ok, err := lock.TryLock()
	if err == nil && !ok {
		opts.Logf("waiting for another nixvm downloading %s", name)
		ok, err = lock.TryLockContext(ctx, lockPollInterval)
	}
	if err != nil || !ok {
		return nil, fmt.Errorf("lock image cache for %s: %w", name, errors.Join(err, ctx.Err()))
	}
	defer lock.Unlock()
	// Another process may have completed it while we waited.
	if im := lookup(opts.CacheDir, digest); im != nil {
		return im, nil
	}

	d := &downloader{client: opts.Client, progress: opts.Progress, stall: opts.StallTimeout, bufSize: 1 << 20}
	part := partPath(opts.CacheDir, digest)
	retries := max(opts.Retries, 0)
	for attempt := 0; ; attempt++ {
		err = d.fetch(ctx, final, part, name, digest)
		if err == nil {
			break
		}
		var de *DownloadError
		retryable := errors.Is(err, errRestart) || errors.As(err, &de)
		if !retryable || ctx.Err() != nil || attempt >= retries {
			return nil, err
		}
		if de != nil {
			opts.Logf("download interrupted after %d bytes (%v); resuming (%d of %d)", de.Got, de.Err, attempt+1, retries)
		} else {
			opts.Logf("%v; retrying (%d of %d)", err, attempt+1, retries)
		}
	}
	return commit(opts.CacheDir, part, metadata{
		Release: release, Arch: opts.Arch, URL: final, Name: name, SHA256: digest, PulledAt: time.Now().UTC(),
	})
}

// NoAnswerError is a request that got no HTTP answer at all: DNS, refused
// or reset connections, TLS, timeouts. The host may be offline.
type NoAnswerError struct{ Err error }

func (e *NoAnswerError) Error() string { return e.Err.Error() }
func (e *NoAnswerError) Unwrap() error { return e.Err }

// noAnswer turns the *url.Error of http.Client.Do into a NoAnswerError
// without the method and URL it repeats: callers already name the URL.
func noAnswer(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &NoAnswerError{Err: ue.Err}
	}
	return &NoAnswerError{Err: err}
}

// locate finds where the image of opts is and what it must hash to: the
// resolved release, the final (versioned) URL, the file name and the digest.
func locate(ctx context.Context, opts *PullOptions) (release, final, name, digest string, err error) {
	release, isoURL := opts.Release, opts.URL
	if isoURL == "" {
		src, err := Resolve(ctx, opts.Client, opts.ChannelsURL, opts.Release, opts.Arch)
		if err != nil {
			return "", "", "", "", err
		}
		if src.Warning != "" {
			opts.Logf("warning: %s", src.Warning)
		}
		release, isoURL = src.Release, src.URL
	}
	final, err = finalURL(ctx, opts.Client, isoURL)
	if err != nil {
		return "", "", "", "", fmt.Errorf("release %s (%s): %w", orUnknown(release), opts.Arch, err)
	}
	name = fileName(final)
	digest = opts.SHA256
	if opts.URL == "" {
		published, sumName, err := fetchChecksum(ctx, opts.Client, final+".sha256")
		if err != nil {
			return "", "", "", "", err
		}
		if digest != "" && digest != published {
			return "", "", "", "", fmt.Errorf("the published checksum of %s is %s, not the expected %s", final, published, digest)
		}
		digest = published
		// Without a redirect (a plain mirror, a symlink) the final name is
		// still the alias; the checksum file names the versioned file.
		if strings.HasPrefix(name, "latest-") && safeName(sumName) {
			name = sumName
		}
	}
	if !strings.HasSuffix(name, ".iso") {
		name += ".iso"
	}
	return release, final, name, digest, nil
}

// newestCached is the most recently pulled cached image of release ("" and
// "stable" match any stable release, newest release first) and arch.
func newestCached(cacheDir, release, arch string) *Image {
	all, _ := List(cacheDir)
	var best *Image
	for _, im := range all {
		stable := versionRe.MatchString(im.Release)
		if im.Arch != arch || !(im.Release == release || (release == "" || release == "stable") && stable) {
			continue
		}
		if best == nil || (stable && best.Release != im.Release && compareVersions(im.Release, best.Release) > 0) ||
			(im.Release == best.Release && im.PulledAt.After(best.PulledAt)) {
			best = &im
		}
	}
	return best
}

// commit moves a verified part into its cache entry and writes the metadata
// that makes the entry visible.
func commit(cacheDir, part string, m metadata) (*Image, error) {
	st, err := os.Stat(part)
	if err != nil {
		return nil, fmt.Errorf("add image to cache: %w", err)
	}
	m.Size = st.Size()
	dir := entryDir(cacheDir, m.SHA256)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("add image to cache: %w", err)
	}
	dst := dir + string(os.PathSeparator) + m.Name
	if err := os.Rename(part, dst); err != nil {
		return nil, fmt.Errorf("add image to cache: %w", err)
	}
	os.Remove(part + ".json")
	if err := writeMetadata(dir, m); err != nil {
		return nil, fmt.Errorf("add image to cache: write metadata: %w", err)
	}
	im := lookup(cacheDir, m.SHA256)
	if im == nil {
		return nil, fmt.Errorf("add image to cache: entry %s unreadable after writing it", dir)
	}
	return im, nil
}

// finalURL follows the alias's redirects with HEAD and returns the
// versioned URL, checking on the way that an ISO is there.
func finalURL(ctx context.Context, client *http.Client, alias string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, alias, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		err = noAnswer(err)
		return "", fmt.Errorf("look up %s: %w", alias, err)
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusMethodNotAllowed, http.StatusNotImplemented:
		// A server without HEAD: download from the alias itself.
		return alias, nil
	case http.StatusNotFound:
		return "", fmt.Errorf("no ISO at %s: HTTP %s (check the release, arch and channels URL)", alias, resp.Status)
	default:
		return "", fmt.Errorf("look up %s: HTTP %s", alias, resp.Status)
	}
	if err := checkNotHTML(resp); err != nil {
		return "", fmt.Errorf("look up %s: %w", alias, err)
	}
	return resp.Request.URL.String(), nil
}

// fetchChecksum downloads and parses a .sha256 file.
func fetchChecksum(ctx context.Context, client *http.Client, u string) (digest, name string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		err = noAnswer(err)
		return "", "", fmt.Errorf("fetch checksum: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", "", fmt.Errorf("fetch checksum %s: HTTP %s", u, resp.Status)
	}
	if err := checkNotHTML(resp); err != nil {
		return "", "", fmt.Errorf("fetch checksum %s: %w", u, err)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxChecksumFile))
	if err != nil {
		return "", "", fmt.Errorf("fetch checksum %s: %w", u, err)
	}
	digest, name, err = ParseChecksum(data)
	if err != nil {
		return "", "", fmt.Errorf("checksum %s: %w", u, err)
	}
	return digest, name, nil
}

// fileName is the last path element of u, unescaped.
func fileName(u string) string {
	if p, err := url.Parse(u); err == nil {
		if b := path.Base(p.Path); safeName(b) {
			return b
		}
	}
	return "image.iso"
}

func orUnknown(s string) string {
	if s == "" {
		return "(custom)"
	}
	return s
}
