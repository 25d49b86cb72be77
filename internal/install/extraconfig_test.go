package install

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixvm/nixvm/internal/spec"
)

var extraGood = []string{
	"",
	"services.nginx.enable = true;",
	"networking.firewall.allowedTCPPorts = [ 80 443 ];\nboot.kernelParams = [ \"quiet\" ];",
	`environment.systemPackages = with pkgs; [ git (python3.withPackages (p: [ p.requests ])) ];`,
	"# a comment with { [ ( and \" and ''\nx = 1;",
	"/* block { comment\n ] */ x = 1;",
	`a = "}{][)(";`,
	`a = "escaped \" quote } and \\";`,
	`a = "interp ${toString (1 + 2)} and ${ { b = "}"; }.b }";`,
	`a = "$${not interp {";`,
	"a = ''\n  indented } ] )\n  ''${not interp {\n  '''quoted''' ''\\n\n'';",
	"a = ''${ { x = \"''\"; }.x }'';",
	"foo' = 1; bar'' = 2;",
	`"${"x"}" = 1;`,
	"a = ./some/path; b = https://example.org/x?y=1;",
	"imports = [ ./hardware.nix ];\nusers.users.alice = { isNormalUser = true; };",
	"a = \"multi\nline\nstring\";",
	"let x = 1; in { }",
}

func TestCheckExtraConfigGood(t *testing.T) {
	for _, text := range extraGood {
		if err := CheckExtraConfig(text); err != nil {
			t.Errorf("CheckExtraConfig(%q) = %v, want nil", text, err)
		}
	}
}

// The good examples are accepted by Nix too, wrapped as nixvm wraps them,
// so the checker's idea of Nix's lexical rules is not made up.
func TestExtraGoodParsesWithNix(t *testing.T) {
	requireTool(t, "nix-instantiate", "nix-bin")
	dir := t.TempDir()
	for i, text := range extraGood {
		if strings.HasPrefix(text, "let") {
			continue // an expression, not attributes: fine for the checker, not for a module body
		}
		path := filepath.Join(dir, "extra.nix")
		if err := os.WriteFile(path, []byte(extraNix(text)), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("nix-instantiate", "--parse", path).CombinedOutput(); err != nil {
			t.Errorf("good example %d (%q) does not parse with Nix: %v\n%s", i, text, err, out)
		}
	}
}

func TestCheckExtraConfigBad(t *testing.T) {
	tests := []struct {
		text, want string
	}{
		{"a = {\n  b = 1;\n", `extraConfig: unbalanced "{" at line 1 (it is never closed with "}")`},
		{"a = 1;\n}\n", `extraConfig: unbalanced "}" at line 2 (nothing is open there)`},
		{"a = [ 1 2;\nb = {\n c = 1; ];\n", `extraConfig: unbalanced "]" at line 3 (expected "}" to close the "{" from line 2)`},
		{"a = (1 + 2;\n", `extraConfig: unbalanced "(" at line 1 (it is never closed with ")")`},
		{"x = 1;\na = \"open\n\n", `extraConfig: unterminated string at line 2 (a " is never closed)`},
		{"a = ''\n text\n", `extraConfig: unterminated '' string at line 1 (it is never closed with '')`},
		{"a = ''\n ''' is not the end\n", `extraConfig: unterminated '' string at line 1 (it is never closed with '')`},
		{"/* open\ncomment", `extraConfig: unterminated comment at line 1 (a /* is never closed with */)`},
		{"a = \"${ b \";\n", `extraConfig: unterminated string at line 1 (a " is never closed)`},
		{"a = \"${ {b = 1;} \";", `extraConfig: unterminated string at line 1 (a " is never closed)`},
		{"a = \"x\";\nb = ${c;", `extraConfig: unbalanced "${" at line 2 (it is never closed with "}")`},
		{"a = 1;\nb = \"\x00\";", `extraConfig: NUL byte at line 2 (use plain Nix text)`},
		{"a = \"\\\"\";\n}", `extraConfig: unbalanced "}" at line 2 (nothing is open there)`},
		{"# comment }\n)", `extraConfig: unbalanced ")" at line 2 (nothing is open there)`},
	}
	for _, tt := range tests {
		err := CheckExtraConfig(tt.text)
		if err == nil || err.Error() != tt.want {
			t.Errorf("CheckExtraConfig(%q)\n got %v\nwant %s", tt.text, err, tt.want)
		}
	}
}

// Make reports the check's error, so a broken extraConfig never reaches the
// installer.
func TestMakeRejectsBadExtraConfig(t *testing.T) {
	in := inputs(testSpec(t, func(s *spec.Spec) { s.ExtraConfig = "a = {" }))
	if _, err := Make(in); err == nil || !strings.HasPrefix(err.Error(), "extraConfig: unbalanced") {
		t.Fatalf("Make = %v, want the extraConfig error", err)
	}
}

func FuzzCheckExtraConfig(f *testing.F) {
	for _, s := range extraGood {
		f.Add(s)
	}
	for _, s := range []string{"{", "}", "''", "'''", "''\\", "\"\\", "${", "/*", "\"${\"", "''${''", "a'''b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		err := CheckExtraConfig(text)
		if err != nil && (!strings.HasPrefix(err.Error(), "extraConfig: ") || strings.Contains(err.Error(), "\n")) {
			t.Fatalf("CheckExtraConfig(%q) = %q: want one line starting with extraConfig:", text, err)
		}
		// Text that passes keeps the wrapper module balanced: wrapping it
		// again must pass too.
		if err == nil {
			if err := CheckExtraConfig("{\n" + text + "\n}"); err != nil {
				t.Fatalf("%q passes but wrapped in braces fails: %v", text, err)
			}
		}
	})
}
