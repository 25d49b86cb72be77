package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// The unattended install e2e suite: the real nixvm binary installs from the
// stand-in installer ISO (scripts/build-standin-iso: Debian inside, the
// NixOS installer's interface outside) and the tests check the result from
// inside the guest over SSH.

var (
	standinOnce sync.Once
	standinPath string
	standinErr  error
)

// standinISO builds (once per test binary; the Debian tree is cached across
// runs) the stand-in installer ISO, with extra kernel parameters if given.
func standinISO(t *testing.T, extra string) string {
	t.Helper()
	needIntegration(t)
	build := func(out, extra string) error {
		args := []string{out}
		if extra != "" {
			args = append(args, "--cmdline-extra", extra)
		}
		cmd := exec.Command(filepath.Join(repoRoot(), "scripts", "build-standin-iso"), args...)
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build-standin-iso: %v\n%s", err, tail(string(b), 20))
		}
		return nil
	}
	if extra != "" {
		out := filepath.Join(t.TempDir(), "standin-extra.iso")
		if err := build(out, extra); err != nil {
			t.Fatal(err)
		}
		return out
	}
	standinOnce.Do(func() {
		if p := os.Getenv("NIXVM_TEST_STANDIN_ISO"); p != "" {
			standinPath = p
			return
		}
		dir, err := os.MkdirTemp("", "standin")
		if err != nil {
			standinErr = err
			return
		}
		standinPath = filepath.Join(dir, "standin.iso")
		standinErr = build(standinPath, "")
	})
	if standinErr != nil {
		t.Fatal(standinErr)
	}
	return standinPath
}

// binaryCache is a loopback stand-in for cache.nixos.org: it answers
// /nix-cache-info as a Nix binary cache does. The guest reaches the host's
// loopback at 10.0.2.2 (QEMU user networking), so installs are pointed at
// it with --substituter and never need the internet.
type binaryCache struct {
	URL  string // as the guest sees it
	mu   sync.Mutex
	hits int
}

func startBinaryCache(t *testing.T) *binaryCache {
	t.Helper()
	c := &binaryCache{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/nix-cache-info" {
			http.NotFound(w, r)
			return
		}
		c.mu.Lock()
		c.hits++
		c.mu.Unlock()
		io.WriteString(w, "StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 30\n")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c.URL = fmt.Sprintf("http://10.0.2.2:%d", ln.Addr().(*net.TCPAddr).Port)
	return c
}

func (c *binaryCache) Hits() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits
}

// deadPort is a loopback port where nothing listens.
func deadPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// installArgs are the flags every e2e install uses: the stand-in's
// minimums (2G of memory; disks the tests size) and the loopback cache.
func installArgs(cache *binaryCache) []string {
	return []string{"--memory", "2G", "--substituter", cache.URL}
}

type installCase struct {
	name  string
	flags []string
	check func(t *testing.T, e *env, name string)
}

// guest runs a shell script in the VM through `nixvm ssh` and returns its
// output; a non-zero exit fails the test.
func guest(t *testing.T, e *env, name, script string) string {
	t.Helper()
	r := e.run("ssh", name, "--", "sh", "-c", script)
	if r.code != 0 {
		t.Fatalf("nixvm ssh %s -- %q: exit %d\nstdout: %s\nstderr: %s", name, script, r.code, r.out, r.err)
	}
	return r.out
}

func TestInstall(t *testing.T) {
	cases := []installCase{
		{"bios-mbr-swap", []string{"--firmware", "bios", "--partition-table", "mbr", "--swap", "512M"}, func(t *testing.T, e *env, name string) {
			expectOut(t, guest(t, e, name, "sudo blkid -o value -s PTTYPE /dev/vda"), "dos")
			expectOut(t, guest(t, e, name, "tail -n +2 /proc/swaps | wc -l"), "1")
			expectOut(t, guest(t, e, name, "test -d /sys/firmware/efi && echo uefi || echo bios"), "bios")
		}},
		{"uefi-gpt-lvm-swap", []string{"--firmware", "uefi", "--partition-table", "gpt", "--lvm", "--swap", "512M"}, func(t *testing.T, e *env, name string) {
			expectOut(t, guest(t, e, name, "sudo blkid -o value -s PTTYPE /dev/vda"), "gpt")
			expectOut(t, guest(t, e, name, "tail -n +2 /proc/swaps | wc -l"), "1")
			expectOut(t, guest(t, e, name, "sudo lvs --noheadings -o lv_name nixvm | tr -d ' ' | sort | paste -sd, -"), "root,swap")
			expectOut(t, guest(t, e, name, "lsblk -no TYPE \"$(findmnt -no SOURCE /)\""), "lvm")
			expectOut(t, guest(t, e, name, "test -d /sys/firmware/efi && echo uefi || echo bios"), "uefi")
		}},
		{"uefi-gpt-raid1", []string{"--firmware", "uefi", "--partition-table", "gpt", "--raid", "raid1", "--disk", "6G", "--disk", "6G"}, func(t *testing.T, e *env, name string) {
			expectOut(t, guest(t, e, name, "sudo blkid -o value -s PTTYPE /dev/vdb"), "gpt")
			mdstat := guest(t, e, name, "cat /proc/mdstat")
			if !strings.Contains(mdstat, "raid1") || !strings.Contains(mdstat, "vda") || !strings.Contains(mdstat, "vdb") {
				t.Fatalf("no RAID1 over vda and vdb:\n%s", mdstat)
			}
			expectOut(t, guest(t, e, name, "lsblk -no TYPE \"$(findmnt -no SOURCE /)\""), "raid1")
			// Assembled by its ARRAY line, under its name: /dev/md/root,
			// with the UUID and homehost the plan chose.
			expectOut(t, guest(t, e, name, "test -b /dev/md/root && echo present"), "present")
			expectOut(t, guest(t, e, name, "sudo mdadm --detail /dev/md/root | awk '$1 == \"Name\" { print $3 }'"), name+":root")
			uuid := strings.TrimSpace(guest(t, e, name, "sudo mdadm --detail /dev/md/root | awk '$1 == \"UUID\" { print $3 }'"))
			conf := guest(t, e, name, "cat /etc/mdadm.conf") // NixOS's path (nixos/modules/tasks/swraid.nix)
			if !strings.Contains(conf, "ARRAY /dev/md/root metadata=1.2 UUID="+uuid+" name="+name+":root") || !strings.Contains(conf, "MAILADDR root") {
				t.Fatalf("mdadm.conf lacks the ARRAY line of /dev/md/root (UUID %s):\n%s", uuid, conf)
			}
			checkDiskViewRAID(t, e, name, uuid)
		}},
		// systemd-boot cannot install on MBR: GRUB in EFI mode from an ESP
		// of type 0xEF, at the removable path.
		{"uefi-mbr-swap", []string{"--firmware", "uefi", "--partition-table", "mbr", "--swap", "1G"}, func(t *testing.T, e *env, name string) {
			expectOut(t, guest(t, e, name, "sudo blkid -o value -s PTTYPE /dev/vda"), "dos")
			expectOut(t, guest(t, e, name, "test -d /sys/firmware/efi && echo uefi || echo bios"), "uefi")
			expectOut(t, guest(t, e, name, "tail -n +2 /proc/swaps | wc -l"), "1")
			expectOut(t, guest(t, e, name, "sudo sfdisk --part-type /dev/vda 1"), "ef")
			expectOut(t, guest(t, e, name, "sudo test -f /boot/EFI/BOOT/BOOTX64.EFI && echo grub-efi"), "grub-efi")
		}},
	}
	iso := standinISO(t, "")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			name := c.name
			cache := startBinaryCache(t)
			args := append(append([]string{"create", name, "--iso", iso, "--json"}, installArgs(cache)...), c.flags...)
			if !hasFlag(c.flags, "--disk") {
				args = append(args, "--disk", "6G")
			}
			r := e.run(args...)
			if r.code != 0 {
				t.Fatalf("create %s: exit %d\n%s\n%s", name, r.code, tail(r.out, 30), r.err)
			}
			checkEvents(t, r.out)
			if cache.Hits() == 0 {
				t.Errorf("the install never asked the binary cache %s", cache.URL)
			}
			checkCommon(t, e, name)
			checkGuestAgent(t, e, name)
			c.check(t, e, name)

			e.ok("stop", name)
			e.ok("start", name)
			waitSSH(t, e, name, 15*time.Minute) // a deadline under TCG on a loaded machine, not a budget
			expectOut(t, guest(t, e, name, "hostname"), name)
			c.check(t, e, name)
			e.ok("stop", name)
		})
	}
}

// TestInstallFailureAndRetry injects a failure in the stand-in installer
// (its nixvm.test.fail-install kernel parameter) and checks the failed state,
// the report, and that running create again succeeds.
func TestInstallFailureAndRetry(t *testing.T) {
	t.Parallel()
	bad := standinISO(t, "nixvm.test.fail-install")
	good := standinISO(t, "")
	e := newEnv(t)
	cache := startBinaryCache(t)
	args := append([]string{"--firmware", "bios", "--disk", "6G"}, installArgs(cache)...)
	r := e.run(append([]string{"create", "retry", "--iso", bad}, args...)...)
	if r.code == 0 {
		t.Fatal("create with a failing installer succeeded")
	}
	for _, want := range []string{"install failed in phase", "last console lines", "nixvm rm retry"} {
		if !strings.Contains(r.err, want) {
			t.Fatalf("failure report lacks %q:\n%s", want, r.err)
		}
	}
	st := e.status("retry")
	if st.State != "failed" {
		t.Fatalf("state after a failed install = %s, want failed", st.State)
	}
	if n := countQEMU(t, filepath.Join(e.data, "nixvm", "vms", "retry", "qemu.pid")); n != 0 {
		t.Fatalf("a failed install left %d QEMU running", n)
	}
	if logs := e.ok("logs", "retry"); !strings.Contains(logs, "NIXVM-FAILED") {
		t.Fatalf("the failed VM's console log does not show the failure:\n%s", tail(logs, 20))
	}
	e.ok(append([]string{"create", "retry", "--iso", good}, args...)...)
	expectOut(t, guest(t, e, "retry", "hostname"), "retry")
	e.ok("rm", "--force", "retry")
}

// checkCommon: key login works (nixvm ssh), the hostname is the VM's name,
// sshd refuses passwords, and the host key is the one nixvm generated.
func checkCommon(t *testing.T, e *env, name string) {
	t.Helper()
	expectOut(t, guest(t, e, name, "hostname"), name)
	expectOut(t, guest(t, e, name, "id -un"), "nixos")
	st := e.status(name)
	known, err := os.ReadFile(filepath.Join(e.data, "nixvm", "vms", name, "known_hosts"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, hostKey, _, _, err := ssh.ParseKnownHosts(known)
	if err != nil {
		t.Fatalf("known_hosts: %v", err)
	}
	cfg := &ssh.ClientConfig{
		User:            "nixos",
		Auth:            []ssh.AuthMethod{ssh.Password("nixos"), ssh.Password("")},
		HostKeyCallback: ssh.FixedHostKey(hostKey),
		Timeout:         30 * time.Second,
	}
	c, err := ssh.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", st.SSHPort), cfg)
	if err == nil {
		c.Close()
		t.Fatal("password login was accepted")
	}
	if !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("password login failed for another reason than being refused (host key?): %v", err)
	}
}

// checkEvents: --json printed one event per line, with the phases in order.
func checkEvents(t *testing.T, out string) {
	t.Helper()
	var phases []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev struct{ Kind, Phase string }
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("--json output line is not JSON: %q", line)
		}
		if ev.Kind == "phase" && (len(phases) == 0 || phases[len(phases)-1] != ev.Phase) {
			phases = append(phases, ev.Phase)
		}
	}
	got := strings.Join(phases, ",")
	for _, want := range []string{"fetching-image", "booting-installer", "network", "partitioning", "installing", "first-boot", "ready"} {
		if !strings.Contains(got, want) {
			t.Fatalf("phases %s lack %s", got, want)
		}
	}
}

func waitSSH(t *testing.T, e *env, name string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last result
	for time.Now().Before(deadline) {
		st := e.status(name)
		if st.SSHPort != 0 {
			if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", st.SSHPort), time.Second); err == nil {
				c.Close()
				if last = e.run("ssh", name, "--", "true"); last.code == 0 {
					return
				}
			}
		}
		time.Sleep(2 * time.Second)
	}
	t.Fatalf("VM %s did not answer SSH within %s: %s", name, within, last.err)
}

func expectOut(t *testing.T, got, want string) {
	t.Helper()
	if strings.TrimSpace(got) != want {
		t.Fatalf("guest said %q, want %q", strings.TrimSpace(got), want)
	}
}

func hasFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag {
			return true
		}
	}
	return false
}

// TestInstallInterrupted: Ctrl-C (SIGINT) during the install stops QEMU and
// leaves the VM in state failed, which rm removes.
func TestInstallInterrupted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cmd := exec.Command(nixvmBin, "create", "intr", "--iso", testISO, "--firmware", "bios", "--memory", "2G", "--disk", "6G", "--json")
	cmd.Env = e.vars
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once the installer runs.
	dec := json.NewDecoder(stdout)
	for {
		var ev struct{ Kind, Phase string }
		if err := dec.Decode(&ev); err != nil {
			cmd.Process.Kill()
			t.Fatalf("create ended before booting the installer: %v\n%s", err, stderr.String())
		}
		if ev.Phase == "booting-installer" {
			break
		}
	}
	pidFile := filepath.Join(e.data, "nixvm", "vms", "intr", "qemu.pid")
	deadline := time.Now().Add(time.Minute)
	for countQEMU(t, pidFile) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err == nil {
		t.Fatal("an interrupted create exited 0")
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Fatalf("create did not say it was interrupted:\n%s", stderr.String())
	}
	if n := countQEMU(t, pidFile); n != 0 {
		t.Fatalf("an interrupted create left %d QEMU running", n)
	}
	if st := e.status("intr"); st.State != "failed" {
		t.Fatalf("state after an interrupted create = %s, want failed", st.State)
	}
	e.ok("rm", "intr")
	assertNoVMs(t, e)
}

// TestInstallNetwork: the installer's network comes up late (the stand-in
// delays it by its nixvm.test.network-delay kernel parameter, as dhcpcd on
// the real ISO can be slow) and the install waits for it and succeeds; with
// a binary cache that never answers, the install fails in its own phase
// "network", says the network is down, leaves the VM failed and has not
// written a byte to the disk.
func TestInstallNetwork(t *testing.T) {
	t.Run("late", func(t *testing.T) {
		t.Parallel()
		late := standinISO(t, "nixvm.test.network-delay=25")
		e := newEnv(t)
		cache := startBinaryCache(t)
		r := e.run(append([]string{"create", "late", "--iso", late, "--firmware", "bios", "--disk", "6G", "--json"}, installArgs(cache)...)...)
		if r.code != 0 {
			t.Fatalf("create with a late network: exit %d\n%s\n%s", r.code, tail(r.out, 30), r.err)
		}
		checkEvents(t, r.out)
		// The wait really happened: the network phase lasted about as long
		// as the delay (a lower bound that the delay causes, not a budget).
		if d := phaseDuration(t, r.out, "network"); d < 10*time.Second {
			t.Fatalf("the network phase took %s; the stand-in delays the network by 25 s, so the install did not wait for it", d)
		}
		expectOut(t, guest(t, e, "late", "hostname"), "late")
	})
	t.Run("down", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		dead := fmt.Sprintf("http://10.0.2.2:%d", deadPort(t))
		r := e.run("create", "nonet", "--iso", standinISO(t, ""), "--firmware", "bios", "--disk", "6G", "--memory", "2G",
			"--substituter", dead, "--network-timeout", "20s")
		if r.code == 0 {
			t.Fatal("create without a reachable binary cache succeeded")
		}
		want := "install failed in phase network: the network is down: binary cache " + dead + " did not answer within 20 s"
		if !strings.Contains(r.err, want) {
			t.Fatalf("failure report lacks %q:\n%s", want, r.err)
		}
		if st := e.status("nonet"); st.State != "failed" {
			t.Fatalf("state = %s, want failed", st.State)
		}
		if logs := e.ok("logs", "nonet"); strings.Contains(logs, "NIXVM-PHASE partitioning") {
			t.Fatalf("the script went on after the network check:\n%s", tail(logs, 20))
		}
		// Nothing was written to the disk: every cluster is unallocated.
		out, err := exec.Command("qemu-img", "map", "--output=json", filepath.Join(e.data, "nixvm", "vms", "nonet", "disk0.qcow2")).Output()
		if err != nil {
			t.Fatal(err)
		}
		var extents []struct{ Data bool }
		if err := json.Unmarshal(out, &extents); err != nil {
			t.Fatal(err)
		}
		for _, x := range extents {
			if x.Data {
				t.Fatalf("the disk was written although the network was down: %s", out)
			}
		}
	})
}

// phaseDuration is how long phase lasted in create --json output: from its
// event to the next phase's.
func phaseDuration(t *testing.T, out, phase string) time.Duration {
	t.Helper()
	var start, end float64 = -1, -1
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev struct {
			Kind, Phase string
			Elapsed     float64
		}
		if json.Unmarshal([]byte(line), &ev) != nil || ev.Kind != "phase" {
			continue
		}
		switch {
		case ev.Phase == phase && start < 0:
			start = ev.Elapsed
		case start >= 0 && end < 0 && ev.Phase != phase:
			end = ev.Elapsed
		}
	}
	if start < 0 || end < 0 {
		t.Fatalf("no phase %s followed by another in:\n%s", phase, tail(out, 30))
	}
	return time.Duration((end - start) * float64(time.Second))
}

// checkDiskViewRAID: `nixvm disk` reads, from the host and without root,
// the same md arrays the guest's mdadm reports: both disks' root partitions
// are members of NAME:root with the array's UUID, roles 0 and 1, and the
// array holds the ext4 root "nixos".
func checkDiskViewRAID(t *testing.T, e *env, name, uuid string) {
	t.Helper()
	var disks []struct {
		Partitions []struct {
			Number  int
			Content *struct {
				Type string
				MD   *struct {
					Name, UUID, Level string
					Role              int
					Content           *struct{ Type, Label string }
				}
			}
		}
	}
	out := e.ok("disk", name, "--json")
	if err := json.Unmarshal([]byte(out), &disks); err != nil {
		t.Fatalf("nixvm disk --json: %v\n%s", err, out)
	}
	if len(disks) != 2 {
		t.Fatalf("nixvm disk shows %d disks, want 2", len(disks))
	}
	for i, d := range disks {
		var md *struct {
			Name, UUID, Level string
			Role              int
			Content           *struct{ Type, Label string }
		}
		for _, p := range d.Partitions {
			if p.Content != nil && p.Content.MD != nil {
				md = p.Content.MD
			}
		}
		if md == nil || md.Name != name+":root" || md.UUID != uuid || md.Level != "raid1" || md.Role != i ||
			md.Content == nil || md.Content.Type != "ext4" || md.Content.Label != "nixos" {
			t.Fatalf("nixvm disk, disk %d: md member %+v, want %s:root, UUID %s, raid1, role %d, holding ext4 \"nixos\"\n%s", i, md, name, uuid, i, out)
		}
	}
}
