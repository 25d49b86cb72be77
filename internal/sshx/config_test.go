package sshx

import (
	"bytes"
	"context"
	"github.com/nixvm/nixvm/internal/golden"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nixvm/nixvm/internal/sshx/sshxtest"
	"github.com/nixvm/nixvm/internal/store"
)

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name+".golden"), []byte(got))
}

func TestConfigGolden(t *testing.T) {
	tests := []struct {
		golden               string
		name, user           string
		port                 int
		identity, knownHosts string
	}{
		{"config", "lab", "nixos", 2222,
			"/home/ada/.config/nixvm/ssh/id_ed25519", "/home/ada/.local/share/nixvm/vms/lab/known_hosts"},
		{"config-quoted", "lab-2", "nixos", 60022,
			"/home/Ada Lovelace/.config/nixvm/ssh/id_ed25519", `/data/100% "mine"/vms/lab-2/known_hosts`},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			checkGolden(t, tt.golden, Config(tt.name, tt.user, tt.port, tt.identity, tt.knownHosts))
		})
	}
}

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/plain/path", "/plain/path"},
		{"", `""`},
		{"/a b", `"/a b"`},
		{"/a\tb", "\"/a\tb\""},
		{`/a"b`, `"/a\"b"`},
		{`/a\b`, `"/a\\b"`},
		{"/a#b", `"/a#b"`},
		{"/it's", `"/it's"`},
		{"=x", `"=x"`},
	}
	for _, tt := range tests {
		if got := quote(tt.in); got != tt.want {
			t.Errorf("quote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// OpenSSH itself must read the quoted paths back unchanged: `ssh -G` prints
// the values it parsed (IdentityFile before %-token expansion, hence its %%).
func TestConfigParsedByOpenSSH(t *testing.T) {
	sshBin := need(t, "ssh")
	paths := []string{
		"/plain/id",
		"/with space/id",
		`/with "quotes" and 'single'/id`,
		`/back\slash/id`,
		"/hash#tag/id",
		"/100%/id",
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "ssh_config")
			writeFile(t, cfg, Config("x", "nixos", 2222, p, p+"-known"), 0o600)
			out, err := exec.Command(sshBin, "-G", "-F", cfg, "nixvm-x").CombinedOutput()
			if err != nil {
				t.Fatalf("ssh -G: %v\n%s", err, out)
			}
			want := map[string]string{
				"identityfile": escapeTokens(p),
				// ssh -G shows this one after %-token expansion.
				"userknownhostsfile":           p + "-known",
				"hostname":                     "127.0.0.1",
				"port":                         "2222",
				"user":                         "nixos",
				"hostkeyalias":                 "nixvm-x",
				"stricthostkeychecking":        "true",
				"passwordauthentication":       "no",
				"kbdinteractiveauthentication": "no",
				"identitiesonly":               "yes",
			}
			for _, line := range strings.Split(string(out), "\n") {
				k, v, _ := strings.Cut(line, " ")
				if w, ok := want[k]; ok {
					if v != w {
						t.Errorf("ssh parsed %s as %q, want %q", k, v, w)
					}
					delete(want, k)
				}
			}
			for k := range want {
				t.Errorf("ssh -G printed no %s", k)
			}
		})
	}
}

// setupSSHConfig writes the user key, the VM's host key and Config into
// directories whose names need quoting and %-escaping, as `nixvm ssh` does.
func setupSSHConfig(t *testing.T, s *testSSHD, knownPub []byte) (cfgPath string) {
	t.Helper()
	base := t.TempDir()
	in := store.Instance{Name: "test", Dir: filepath.Join(base, "vm dir %h")}
	if err := os.MkdirAll(in.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := WriteHostKey(in, s.HostKey, s.HostPub); err != nil {
		t.Fatal(err)
	}
	if knownPub != nil {
		writeFile(t, KnownHostsPath(in), HostKeyAlias(in.Name)+" "+string(knownPub)+"\n", 0o644)
	}
	// The user key, moved to a directory with a blank and a '%'.
	keyDir := filepath.Join(base, "my keys %d")
	if err := os.MkdirAll(keyDir, 0o700); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(keyDir, "id_ed25519")
	b, err := os.ReadFile(s.Key)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, key, string(b), 0o600)
	cfgPath = ConfigPath(in)
	writeFile(t, cfgPath, Config(in.Name, s.User, s.Port, key, KnownHostsPath(in)), 0o600)
	return cfgPath
}

// runSSH runs the real ssh client with the config. An askpass program that
// leaves a mark shows whether ssh ever tried to ask for a password.
func runSSH(t *testing.T, cfgPath string, args ...string) (out string, code int, askedPassword bool) {
	t.Helper()
	sshBin := need(t, "ssh")
	dir := t.TempDir()
	mark := filepath.Join(dir, "asked")
	askpass := filepath.Join(dir, "askpass")
	writeFile(t, askpass, "#!/bin/sh\ntouch '"+mark+"'\necho wrong-password\n", 0o755)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sshBin, append([]string{"-F", cfgPath, "nixvm-test", "--"}, args...)...)
	cmd.Env = append(os.Environ(), "SSH_ASKPASS="+askpass, "SSH_ASKPASS_REQUIRE=force", "DISPLAY=:0")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("ssh hung (waiting for input?): %s", buf.String())
	}
	code = 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	_, statErr := os.Stat(mark)
	return buf.String(), code, statErr == nil
}

func TestConfigWithOpenSSH(t *testing.T) {
	s := newTestSSHD(t)
	s.start(t)

	cfg := setupSSHConfig(t, s, nil)
	out, code, asked := runSSH(t, cfg, "echo", "hi")
	if code != 0 || out != "hi\n" || asked {
		t.Errorf("ssh -F config nixvm-test -- echo hi: exit %d, output %q, asked for a password %v; want 0, \"hi\\n\", false", code, out, asked)
	}
	if out, code, _ := runSSH(t, cfg, "exit 3"); code != 3 {
		t.Errorf("ssh -- exit 3: exit %d (%s), want 3", code, out)
	}
}

func TestConfigRejectsOtherHostKey(t *testing.T) {
	s := newTestSSHD(t)
	s.start(t)
	_, other, err := NewHostKey()
	if err != nil {
		t.Fatal(err)
	}
	cfg := setupSSHConfig(t, s, other)
	out, code, asked := runSSH(t, cfg, "echo", "remote-ran")
	if code != 255 || strings.Contains(out, "remote-ran") || asked {
		t.Errorf("ssh to a host with another key: exit %d, output %q, asked %v; want 255 and a refusal", code, out, asked)
	}
	if !strings.Contains(out, "Host key verification failed") {
		t.Errorf("ssh did not report the host key: %q", out)
	}
}

// The server offers passwords; with a key it does not take, ssh must fail
// at once without asking for one.
func TestConfigNeverAsksPassword(t *testing.T) {
	s := newTestSSHD(t)
	s.start(t)
	writeFile(t, s.AuthorizedKeys, "", 0o600)
	cfg := setupSSHConfig(t, s, nil)
	out, code, asked := runSSH(t, cfg, "echo", "remote-ran")
	if code != 255 || asked || strings.Contains(out, "remote-ran") {
		t.Errorf("ssh with an unauthorized key: exit %d, output %q, asked for a password %v; want 255 without asking", code, out, asked)
	}
	if !strings.Contains(out, "Permission denied (publickey") {
		t.Errorf("ssh output = %q, want Permission denied", out)
	}

	// The trap works: the same login with passwords allowed asks for one.
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, cfg, strings.Replace(string(b), "PasswordAuthentication no", "PasswordAuthentication yes", 1), 0o600)
	if _, _, asked := runSSH(t, cfg, "echo", "hi"); !asked {
		t.Error("with PasswordAuthentication yes, ssh did not use the askpass trap: the check above proves nothing")
	}
}

// Any path ssh can name must reach ssh unchanged through Config's quoting.
func FuzzConfigPath(f *testing.F) {
	sshBin := sshxtest.Need(f, "ssh")
	for _, p := range []string{"/plain", "/a b", `/a"b`, `/a\b`, "/a#b", "/a'b", "/50%", `/\"#'% x`, "/end\\"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		// ssh_config is line based and ssh takes C strings; the
		// surrounding blanks of a value are not part of a path nixvm makes;
		// "${" cannot be escaped for ssh (see escapeTokens).
		if p == "" || strings.ContainsAny(p, "\x00\n\r") || !utf8.ValidString(p) || strings.TrimSpace(p) != p || strings.Contains(p, "${") {
			t.Skip()
		}
		cfg := filepath.Join(t.TempDir(), "ssh_config")
		writeFile(t, cfg, Config("x", "nixos", 2222, p, "/k"), 0o600)
		out, err := exec.Command(sshBin, "-G", "-F", cfg, "nixvm-x").CombinedOutput()
		if err != nil {
			t.Fatalf("ssh -G with IdentityFile %q: %v\n%s", p, err, out)
		}
		want := "\nidentityfile " + escapeTokens(p) + "\n"
		if !strings.Contains(string(out), want) {
			t.Errorf("ssh did not read IdentityFile %q back (want line %q):\n%s", p, want, out)
		}
	})
}
