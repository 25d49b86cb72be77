package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nixvm/nixvm/internal/spec"
	"github.com/nixvm/nixvm/internal/sshx"
	"github.com/nixvm/nixvm/internal/sshx/sshxtest"
	"github.com/nixvm/nixvm/internal/store"
)

func TestSSHArgv(t *testing.T) {
	tests := []struct {
		name string
		cmd  []string
		tty  bool
		want []string
	}{
		{"shell on a terminal", nil, true, []string{"-F", "/d/ssh_config", "-t", "nixvm-lab"}},
		{"shell from a pipe", nil, false, []string{"-F", "/d/ssh_config", "-T", "nixvm-lab"}},
		{"command", []string{"uname", "-a"}, false, []string{"-F", "/d/ssh_config", "-T", "nixvm-lab", "--", "uname -a"}},
		{"command on a terminal", []string{"top"}, true, []string{"-F", "/d/ssh_config", "-t", "nixvm-lab", "--", "top"}},
		{"quoted for the remote shell", []string{"sh", "-c", "exit 3"}, false, []string{"-F", "/d/ssh_config", "-T", "nixvm-lab", "--", "sh -c 'exit 3'"}},
		{"empty argument kept", []string{"printf", "%s|", ""}, false, []string{"-F", "/d/ssh_config", "-T", "nixvm-lab", "--", "printf '%s|' ''"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sshArgv("/d/ssh_config", "lab", tt.cmd, tt.tty); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("sshArgv = %q, want %q", got, tt.want)
			}
		})
	}
}

// A real shell must see exactly the words given.
func TestShellJoinRoundTrip(t *testing.T) {
	sh := sshxtest.Need(t, "sh")
	cases := [][]string{
		{"plain", "words"},
		{"with space", "tab\there", "new\nline"},
		{"'single'", `"double"`, `back\slash`, "$HOME", "`id`", "$(id)", "a;b", "a|b", "*", "~", "#x", "!"},
		{""},
		{"it's", "'", "''"},
	}
	for _, args := range cases {
		out, err := exec.Command(sh, "-c", `printf '%s\0' `+shellJoin(args)).Output()
		if err != nil {
			t.Fatalf("sh: %v", err)
		}
		got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
		if !reflect.DeepEqual(got, args) {
			t.Errorf("shell saw %q, want %q (joined: %s)", got, args, shellJoin(args))
		}
	}
}

// testVM makes an instance directory as create leaves it, in fresh XDG
// dirs: spec, state ready, and a host key unless noHostKey.
func testVM(t *testing.T, name string, specPort int, noHostKey bool) (store.Instance, []byte) {
	t.Helper()
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	in, err := store.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(in.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeTestSpec(t, in, &spec.Spec{Name: name, SSHPort: specPort})
	lock, err := in.TryLock("test")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	if err := lock.WriteState(store.State{Phase: store.PhaseReady}); err != nil {
		t.Fatal(err)
	}
	if noHostKey {
		return in, nil
	}
	priv, pub, err := sshx.NewHostKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := sshx.WriteHostKey(in, priv, pub); err != nil {
		t.Fatal(err)
	}
	return in, priv
}

// fakeRunning makes the VM look running on port: a process whose command
// line holds the pidfile path, as a daemonized QEMU's does.
func fakeRunning(t *testing.T, in store.Instance, port int) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p := exec.Command("sh", "-c", "read x", in.PIDFile())
	p.Stdin = r
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	t.Cleanup(func() { w.Close(); p.Wait() })
	if err := os.WriteFile(in.PIDFile(), []byte(strconv.Itoa(p.Process.Pid)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lock, err := in.TryLock("test")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	if err := lock.UpdateState(func(st *store.State) { st.SSHPort = port }); err != nil {
		t.Fatal(err)
	}
}

func runNixvm(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Run(context.Background(), args, Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	return code, out.String(), errOut.String()
}

func TestSSHCommandErrors(t *testing.T) {
	testVM(t, "lab", 0, false)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"ssh"}, "missing VM name"},
		{[]string{"ssh", "--", "ls"}, "missing VM name"},
		{[]string{"ssh", "lab", "ls"}, `unexpected argument "ls": put the remote command after -- (nixvm ssh lab -- CMD...)`},
		{[]string{"ssh", "lab", "x", "--", "ls"}, `unexpected argument "x"`},
		{[]string{"ssh", "Lab"}, `VM name "Lab" is not valid`},
		{[]string{"ssh", "nope"}, `no VM named "nope" (see nixvm list)`},
		{[]string{"ssh", "lab"}, "VM lab is stopped: start it first (nixvm start lab)"},
		{[]string{"ssh", "lab", "--", "true"}, "VM lab is stopped: start it first (nixvm start lab)"},
		{[]string{"ssh-config", "lab"}, "VM lab is stopped and has no fixed SSH port: start it first (nixvm start lab), or give it one with --ssh-port"},
		{[]string{"ssh-config"}, "accepts 1 arg(s)"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errOut := runNixvm(t, tt.args...)
			if code != 1 || out != "" || !strings.Contains(errOut, tt.want) {
				t.Errorf("nixvm %q: exit %d, stdout %q, stderr %q; want exit 1 and an error containing %q", tt.args, code, out, errOut, tt.want)
			}
		})
	}
}

func TestSSHConfigCommandStopped(t *testing.T) {
	in, _ := testVM(t, "lab", 2345, false)
	code, out, errOut := runNixvm(t, "ssh-config", "lab")
	if code != 0 {
		t.Fatalf("ssh-config: exit %d: %s", code, errOut)
	}
	key, _, err := sshx.UserKey()
	if err != nil {
		t.Fatal(err)
	}
	if want := sshx.Config("lab", sshx.User, 2345, key, sshx.KnownHostsPath(in)); out != want {
		t.Errorf("ssh-config printed:\n%s\nwant:\n%s", out, want)
	}
}

func TestSSHWithoutHostKey(t *testing.T) {
	in, _ := testVM(t, "hand", 0, true)
	fakeRunning(t, in, 2345)
	for _, verb := range []string{"ssh", "ssh-config"} {
		code, _, errOut := runNixvm(t, verb, "hand")
		want := "VM hand has no host key known to nixvm"
		if code != 1 || !strings.Contains(errOut, want) || !strings.Contains(errOut, "ssh -p 2345 USER@127.0.0.1") {
			t.Errorf("nixvm %s hand: exit %d, %q; want an error containing %q and how to connect", verb, code, errOut, want)
		}
	}
}

// nixvm ssh against a real sshd standing in for the guest: the command's
// output and exit code come through, and the config is left for ssh -F.
func TestSSHCommandRealSSHD(t *testing.T) {
	sshxtest.Need(t, "ssh")
	in, hostKey := testVM(t, "test", 0, false)
	_, pub, err := sshx.UserKey()
	if err != nil {
		t.Fatal(err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	old := sshUser
	sshUser = u.Username
	t.Cleanup(func() { sshUser = old })
	port := sshxtest.FreePort(t)
	sshxtest.StartSSHD(t, port, hostKey, pub+"\n")
	fakeRunning(t, in, port)

	tests := []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"echo", "hi there"}, 0, "hi there\n", ""},
		{[]string{"sh", "-c", "exit 3"}, 3, "", ""},
		{[]string{"sh", "-c", "echo out; echo err >&2; exit 7"}, 7, "out\n", "err\n"},
		{[]string{"printf", "%s|", "a b", "'q'", ""}, 0, "a b|'q'||", ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errOut := runNixvm(t, append([]string{"ssh", "test", "--"}, tt.args...)...)
			if code != tt.code || out != tt.out || errOut != tt.err {
				t.Errorf("nixvm ssh test -- %q: exit %d, stdout %q, stderr %q; want %d, %q, %q", tt.args, code, out, errOut, tt.code, tt.out, tt.err)
			}
		})
	}

	// A shell without a terminal reads its commands from stdin.
	var out, errOut bytes.Buffer
	code := Run(context.Background(), []string{"ssh", "test"}, Streams{In: strings.NewReader("echo from-stdin\nexit 5\n"), Out: &out, Err: &errOut})
	if code != 5 || out.String() != "from-stdin\n" {
		t.Errorf("nixvm ssh test < script: exit %d, stdout %q, stderr %q; want 5, \"from-stdin\\n\"", code, out.String(), errOut.String())
	}

	// The config it wrote is private and is what ssh-config prints.
	fi, err := os.Stat(sshx.ConfigPath(in))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("ssh_config mode %o, want 600", fi.Mode().Perm())
	}
	written, _ := os.ReadFile(sshx.ConfigPath(in))
	code, printed, stderr := runNixvm(t, "ssh-config", "test")
	if code != 0 || printed != string(written) || !strings.Contains(printed, fmt.Sprintf("Port %d\n", port)) {
		t.Errorf("ssh-config: exit %d (%s), printed:\n%s\nwant the written config:\n%s", code, stderr, printed, written)
	}
}

// openPTY returns the controller and terminal ends of a new pseudo-terminal,
// or skips when the host has none.
func openPTY(t *testing.T) (ptmx, tty *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	fd := int(ptmx.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Skipf("pty number: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pty terminal: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return ptmx, tty
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// On a terminal, nixvm ssh gives the remote side one too (an interactive
// shell works, commands see a tty) and leaves the local terminal as it was.
func TestSSHCommandTerminal(t *testing.T) {
	sshxtest.Need(t, "ssh")
	in, hostKey := testVM(t, "test", 0, false)
	_, pub, err := sshx.UserKey()
	if err != nil {
		t.Fatal(err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	old := sshUser
	sshUser = u.Username
	t.Cleanup(func() { sshUser = old })
	port := sshxtest.FreePort(t)
	sshxtest.StartSSHD(t, port, hostKey, pub+"\n")
	fakeRunning(t, in, port)

	ptmx, tty := openPTY(t)
	before, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	screen := &lockedBuffer{}
	go io.Copy(screen, ptmx) // ends with EIO when the test closes the pty

	run := func(input string, args ...string) (int, string) {
		t.Helper()
		if input != "" {
			ptmx.Write([]byte(input))
		}
		// A deadline, so a session that waits for input fails the test
		// instead of hanging it.
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		var errOut bytes.Buffer
		code := Run(ctx, args, Streams{In: tty, Out: tty, Err: &errOut})
		if ctx.Err() != nil {
			t.Fatalf("nixvm %q did not finish:\n%s", args, screen.String())
		}
		return code, errOut.String()
	}
	code, stderr := run("", "ssh", "test", "--", "sh", "-c", "test -t 0 && test -t 1 && echo remote-has-a-tty; exit 4")
	if code != 4 {
		t.Errorf("nixvm ssh on a terminal: exit %d (%s), want 4", code, stderr)
	}
	// The interactive shell reads what is typed.
	code, stderr = run("echo $((6*7))-typed; exit 6\r", "ssh", "test")
	if code != 6 {
		t.Errorf("interactive nixvm ssh: exit %d (%s), want 6", code, stderr)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(screen.String(), "42-typed") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for _, want := range []string{"remote-has-a-tty", "42-typed"} {
		if !strings.Contains(screen.String(), want) {
			t.Errorf("terminal shows no %q:\n%s", want, screen.String())
		}
	}
	after, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if *after != *before {
		t.Errorf("terminal settings not restored:\nbefore %+v\nafter  %+v", before, after)
	}
}

// Whatever the words, the remote shell must see exactly them.
func FuzzShellJoin(f *testing.F) {
	sh := sshxtest.Need(f, "sh")
	for _, s := range [][2]string{{"a", "b"}, {"it's", `"x"`}, {"$(id)", "`id`"}, {"", "\n"}, {"'\\''", "*?[a]"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if strings.ContainsRune(a+b, 0) {
			t.Skip() // no argument can hold a NUL
		}
		args := []string{a, b}
		out, err := exec.Command(sh, "-c", `printf '%s\0' `+shellJoin(args)).Output()
		if err != nil {
			t.Fatalf("sh rejected %s: %v", shellJoin(args), err)
		}
		if got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00"); !reflect.DeepEqual(got, args) {
			t.Errorf("shell saw %q, want %q (joined: %s)", got, args, shellJoin(args))
		}
	})
}

// writeTestSpec writes s, with its defaults, as in's spec.yaml.
func writeTestSpec(t *testing.T, in store.Instance, s *spec.Spec) {
	t.Helper()
	s.ApplyDefaults()
	data, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in.SpecFile(), data, 0o600); err != nil {
		t.Fatal(err)
	}
}
