// Package golden compares generated text in tests with files under a
// package's testdata directory; `go test -update` rewrites the files from
// the current output. It is for tests only.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files (testdata/...) from the current output")

// Check compares got with the file at path (relative to the package under
// test, e.g. testdata/x.golden), or writes it there under -update.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs (run go test -update if the change is intended):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
