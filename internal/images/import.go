package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Import verifies a local ISO and returns it as an Image (Path absolute,
// SHA256 computed, Release and Arch empty). When sha256 is given the file's
// digest must equal it. The file is not copied and nothing is recorded.
func Import(ctx context.Context, path, sha256Hex string) (*Image, error) {
	if sha256Hex != "" {
		if err := ValidateSHA256(sha256Hex); err != nil {
			return nil, err
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("iso %q: %w", path, err)
	}
	f, err := os.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("iso: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("iso: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("iso %s: not a regular file", abs)
	}
	h := sha256.New()
	if _, err := io.Copy(h, ctxReader{ctx, f}); err != nil {
		return nil, fmt.Errorf("iso %s: hash: %w", abs, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if sha256Hex != "" && sum != sha256Hex {
		return nil, fmt.Errorf("iso %s: checksum mismatch: expected %s, got %s", abs, sha256Hex, sum)
	}
	return &Image{Name: filepath.Base(abs), SHA256: sum, Size: st.Size(), Path: abs}, nil
}

// ctxReader stops a long read (hashing a GiB) when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
