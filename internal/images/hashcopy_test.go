package images

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/nixvm/nixvm/internal/images/imagestest"
)

func TestCopyHashing(t *testing.T) {
	data := imagestest.Bytes(3<<20+17, 5)
	boom := errors.New("boom")
	for _, tc := range []struct {
		name    string
		src     io.Reader
		want    []byte
		wantErr error
	}{
		{"whole", bytes.NewReader(data), data, nil},
		{"one byte reads", iotest.OneByteReader(bytes.NewReader(data[:100000])), data[:100000], nil},
		{"error part way", io.MultiReader(bytes.NewReader(data[:1<<20+3]), iotest.ErrReader(boom)), data[:1<<20+3], boom},
		{"data with error", iotest.DataErrReader(bytes.NewReader(data[:5000])), data[:5000], nil},
		{"empty", bytes.NewReader(nil), nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var dst bytes.Buffer
			h := sha256.New()
			chunks := 0
			n, err := copyHashing(&dst, h, tc.src, 64<<10, func(int) { chunks++ })
			if !errors.Is(err, tc.wantErr) || n != int64(len(tc.want)) || !bytes.Equal(dst.Bytes(), tc.want) {
				t.Fatalf("copyHashing = %d, %v; want %d bytes, %v", n, err, len(tc.want), tc.wantErr)
			}
			if want := sha256.Sum256(tc.want); !bytes.Equal(h.Sum(nil), want[:]) {
				t.Errorf("hash differs from the bytes written")
			}
			if len(tc.want) > 0 && chunks == 0 {
				t.Errorf("onChunk never called")
			}
		})
	}
}
