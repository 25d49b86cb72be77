package spec

import (
	"github.com/nixvm/nixvm/internal/golden"
	"path/filepath"
	"testing"
)

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), got)
}

// The resolved spec of "nixvm create demo" with no options: the defaults
// as users will see them in the instance's spec.yaml.
func TestGoldenDefault(t *testing.T) {
	s := &Spec{Name: "demo"}
	s.ApplyDefaults()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	out, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "default.golden.yaml", out)

	back, err := Parse(out)
	if err != nil {
		t.Fatalf("golden file does not parse: %v", err)
	}
	back.ApplyDefaults()
	if err := back.Validate(); err != nil {
		t.Fatalf("golden file does not validate: %v", err)
	}
}
