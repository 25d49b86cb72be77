package install

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// standinSince reads the "since" column of the stand-in's declared-options
// table, keyed by option path (<name> and * stay as written).
func standinSince(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "scripts", "standin", "nixos-options.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	since := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) < 3 {
			t.Fatalf("nixos-options.tsv: short row %q", line)
		}
		since[cols[0]] = cols[2]
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return since
}

// rowFor finds the table row that declares option: exact, or with
// attribute names replaced by <name>.
func rowFor(since map[string]string, option string) (string, bool) {
	if r, ok := since[option]; ok {
		return r, true
	}
	parts := strings.Split(option, ".")
	for i := range parts {
		p := append([]string{}, parts...)
		p[i] = "<name>"
		if r, ok := since[strings.Join(p, ".")]; ok {
			return r, true
		}
	}
	return "", false
}

// TestMinReleaseAgreesWithTable: the release minimum nixvm enforces
// (OptionsSince) is never older than what the stand-in's table, written from
// nixpkgs, says of any option a generated configuration sets; otherwise
// create would accept an installer that fails evaluation.
func TestMinReleaseAgreesWithTable(t *testing.T) {
	since := standinSince(t)
	// The table tracks releases from 22.05 on: "22.05" means "22.05 or
	// older", which every release nixvm's options need is newer than.
	const floor = "22.05"
	files, err := filepath.Glob(filepath.Join("testdata", "*.configuration.nix.golden"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden configurations: %v", err)
	}
	quoted := regexp.MustCompile(`"[^"]*"`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		conf := string(b)
		got, _ := MinRelease(conf)
		for _, o := range OptionNames(conf) {
			o = quoted.ReplaceAllStringFunc(o, func(s string) string { return strings.Trim(s, `"`) })
			r, ok := rowFor(since, o)
			if !ok {
				continue // options_test.go reports undeclared options
			}
			if r > floor && releaseLess(got, r) {
				t.Errorf("%s: sets %s, which the table says NixOS has since %s, but MinRelease is %q: add it to OptionsSince",
					filepath.Base(f), o, r, got)
			}
		}
	}
}
