package spec

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden* files")

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs (run go test -update if the change is intended):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
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
