package images

import (
	"github.com/nixvm/nixvm/internal/golden"
	"path/filepath"
	"testing"
)

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name+".golden"), []byte(got))
}
