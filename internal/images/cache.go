package images

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Cache layout under the cache dir (store.CacheDir()):
//
//	images/<sha256>/<versioned-name>.iso   verified ISO
//	images/<sha256>/image.json             metadata, written last: its presence marks a complete entry
//	images/tmp/<sha256>.part               download in progress (never used or listed)
//	images/tmp/<sha256>.part.json          validators for resuming it (ETag, Last-Modified)
//	images/tmp/<sha256>.lock               held while one process downloads that digest
const (
	imagesSubdir = "images"
	tmpSubdir    = "tmp"
	metaFile     = "image.json"
	minIDLen     = 8
)

// Image is a verified ISO: a cache entry, or a local file checked by Import.
type Image struct {
	Release  string    `json:"release"` // "25.11", "unstable"; empty for a local file or URL
	Arch     string    `json:"arch"`
	Name     string    `json:"name"` // versioned file name
	SHA256   string    `json:"sha256"`
	Size     int64     `json:"size"`
	URL      string    `json:"url,omitempty"` // where it was downloaded from (final, versioned URL)
	PulledAt time.Time `json:"pulledAt,omitzero"`
	Path     string    `json:"path"`
}

// ID is the short form of the digest shown by list; Remove accepts any
// unambiguous prefix of at least 8 digits.
func (im Image) ID() string { return im.SHA256[:12] }

// metadata is what image.json holds: Image without Path, which is derived
// from where the entry is.
type metadata struct {
	Release  string    `json:"release"`
	Arch     string    `json:"arch"`
	URL      string    `json:"url"`
	Name     string    `json:"name"`
	Size     int64     `json:"size"`
	SHA256   string    `json:"sha256"`
	PulledAt time.Time `json:"pulledAt"`
}

func imagesDir(cacheDir string) string { return filepath.Join(cacheDir, imagesSubdir) }
func tmpDir(cacheDir string) string    { return filepath.Join(cacheDir, imagesSubdir, tmpSubdir) }
func entryDir(cacheDir, digest string) string {
	return filepath.Join(cacheDir, imagesSubdir, digest)
}
func partPath(cacheDir, digest string) string {
	return filepath.Join(tmpDir(cacheDir), digest+".part")
}
func lockPath(cacheDir, digest string) string {
	return filepath.Join(tmpDir(cacheDir), digest+".lock")
}

// lookup returns the complete cache entry for digest, or nil when there is
// none (missing, half-written or damaged entries count as none).
func lookup(cacheDir, digest string) *Image {
	dir := entryDir(cacheDir, digest)
	data, err := os.ReadFile(filepath.Join(dir, metaFile))
	if err != nil {
		return nil
	}
	var m metadata
	if err := json.Unmarshal(data, &m); err != nil || m.SHA256 != digest || !safeName(m.Name) {
		return nil
	}
	p := filepath.Join(dir, m.Name)
	st, err := os.Stat(p)
	if err != nil || !st.Mode().IsRegular() || st.Size() != m.Size {
		return nil
	}
	return &Image{Release: m.Release, Arch: m.Arch, Name: m.Name, SHA256: m.SHA256, Size: m.Size,
		URL: m.URL, PulledAt: m.PulledAt, Path: p}
}

// List returns the complete, verified entries of the cache, sorted by
// release, arch and name. Downloads in progress are not listed.
func List(cacheDir string) ([]Image, error) {
	ents, err := os.ReadDir(imagesDir(cacheDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list cached images: %w", err)
	}
	var out []Image
	for _, e := range ents {
		if !e.IsDir() || ValidateSHA256(e.Name()) != nil {
			continue
		}
		if im := lookup(cacheDir, e.Name()); im != nil {
			out = append(out, *im)
		}
	}
	slices.SortFunc(out, func(a, b Image) int {
		return strings.Compare(a.Release+"\x00"+a.Arch+"\x00"+a.Name, b.Release+"\x00"+b.Arch+"\x00"+b.Name)
	})
	return out, nil
}

// RefError is a release or image ID that names no cached image, or names
// it badly.
type RefError struct {
	Ref string
	Msg string
}

func (e *RefError) Error() string { return e.Msg }

// Find returns the cached images matching a release ("25.11", "unstable")
// or an ID (a digest prefix of at least 8 hex digits).
func Find(cacheDir, releaseOrID string) ([]Image, error) {
	all, err := List(cacheDir)
	if err != nil {
		return nil, err
	}
	byID := isHex(releaseOrID)
	if byID && len(releaseOrID) < minIDLen {
		return nil, &RefError{Ref: releaseOrID, Msg: fmt.Sprintf("image ID %q: give at least %d hex digits", releaseOrID, minIDLen)}
	}
	if !byID {
		if err := ValidateRelease(releaseOrID); err != nil || releaseOrID == "" || releaseOrID == "stable" {
			return nil, &RefError{Ref: releaseOrID, Msg: fmt.Sprintf("image %q: give a release (e.g. %s or unstable) or an ID of at least %d hex digits", releaseOrID, PinnedStable, minIDLen)}
		}
	}
	var out []Image
	for _, im := range all {
		if (byID && strings.HasPrefix(im.SHA256, releaseOrID)) || (!byID && im.Release == releaseOrID) {
			out = append(out, im)
		}
	}
	return out, nil
}

// Remove deletes the one cached image matching a release or an ID. It
// refuses when nothing or more than one image matches.
func Remove(cacheDir, releaseOrID string) error {
	found, err := Find(cacheDir, releaseOrID)
	if err != nil {
		return err
	}
	switch len(found) {
	case 0:
		return &RefError{Ref: releaseOrID, Msg: fmt.Sprintf("no cached image matches %q", releaseOrID)}
	case 1:
	default:
		ids := make([]string, len(found))
		for i, im := range found {
			ids[i] = im.ID() + " (" + im.Arch + ")"
		}
		return &RefError{Ref: releaseOrID, Msg: fmt.Sprintf("%q matches %d cached images: %s; give an ID", releaseOrID, len(found), strings.Join(ids, ", "))}
	}
	digest := found[0].SHA256
	// Remove the metadata first: a half-removed entry is then no longer listed.
	if err := os.Remove(filepath.Join(entryDir(cacheDir, digest), metaFile)); err != nil {
		return fmt.Errorf("remove image %s: %w", found[0].ID(), err)
	}
	if err := os.RemoveAll(entryDir(cacheDir, digest)); err != nil {
		return fmt.Errorf("remove image %s: %w", found[0].ID(), err)
	}
	return nil
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// safeName reports whether name can be used as a file name in the cache.
func safeName(name string) bool {
	return name != "" && name != "." && name != ".." && name != metaFile &&
		!strings.ContainsAny(name, "/\\\x00") && len(name) <= 255
}

// writeMetadata writes image.json atomically and durably: it is the marker
// of a complete entry, so it must never be seen half-written.
func writeMetadata(dir string, m metadata) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, metaFile+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, metaFile)); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
