package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/nixvm/nixvm/internal/golden"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixvm/nixvm/internal/host"
)

func doctorGolden(t *testing.T, name, got string) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), []byte(got))
}

// runDoctor runs the doctor command as Run would and returns its output
// and exit code.
func runDoctor(t *testing.T, probe doctorProbe, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newDoctorCommandWith(probe)
	cmd.SetArgs(append([]string{}, args...)) // never nil: cobra would read os.Args
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	var ee *exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.code
		errOut.WriteString(ee.Error())
	default:
		code = 1
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), code
}

var (
	tcgKVM = host.Accel{Name: "tcg", Reason: "/dev/kvm does not exist", Warning: host.TCGWarning}
	tcgA64 = host.Accel{Name: "tcg", Reason: "guest aarch64 on x86_64 host", Warning: host.TCGWarning}
	kvm    = host.Accel{Name: "kvm", Reason: "/dev/kvm is usable and /usr/bin/qemu-system-x86_64 supports kvm"}
)

func fixedProbe(f *host.Facts, accels map[string]host.Accel) doctorProbe {
	return func(context.Context) (*host.Facts, map[string]host.Accel, error) { return f, accels, nil }
}

func allFacts() *host.Facts {
	return &host.Facts{
		OS: "linux", Arch: "x86_64", Distro: "debian",
		QEMU: map[string]host.Binary{
			"x86_64":  {Path: "/usr/bin/qemu-system-x86_64", Version: "7.2.22"},
			"aarch64": {Path: "/usr/bin/qemu-system-aarch64", Version: "7.2.22"},
		},
		QEMUImg: &host.Binary{Path: "/usr/bin/qemu-img", Version: "7.2.22"},
		UEFI: map[string][]host.UEFIPair{
			"x86_64":  {{Code: "/usr/share/OVMF/OVMF_CODE_4M.fd", Vars: "/usr/share/OVMF/OVMF_VARS_4M.fd"}},
			"aarch64": {{Code: "/usr/share/AAVMF/AAVMF_CODE.fd", Vars: "/usr/share/AAVMF/AAVMF_VARS.fd"}},
		},
		SeaBIOS:  "/usr/share/seabios/bios-256k.bin",
		Searched: map[string][]string{},
	}
}

func TestDoctor(t *testing.T) {
	noAarch64 := allFacts()
	delete(noAarch64.QEMU, "aarch64")
	noAarch64.UEFI = map[string][]host.UEFIPair{}
	noAarch64.Searched = map[string][]string{
		"qemu-system-aarch64": {"/usr/local/bin/qemu-system-aarch64", "/usr/bin/qemu-system-aarch64"},
		"uefi-x86_64":         {"/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_CODE.fd"},
		"uefi-aarch64":        {"/usr/share/AAVMF/AAVMF_CODE.fd"},
	}

	nothing := &host.Facts{
		OS: "linux", Arch: "x86_64", Distro: "fedora",
		Searched: map[string][]string{
			"qemu-system-x86_64":  {"/usr/bin/qemu-system-x86_64"},
			"qemu-system-aarch64": {"/usr/bin/qemu-system-aarch64"},
			"qemu-img":            {"/usr/bin/qemu-img"},
			"uefi-x86_64":         {"/usr/share/edk2/ovmf/OVMF_CODE.fd"},
			"uefi-aarch64":        {"/usr/share/edk2/aarch64/QEMU_EFI-pflash.raw"},
			"seabios":             {"/usr/share/seabios/bios-256k.bin"},
		},
	}
	// BIOS-only x86_64 without qemu-img cannot create a disk: fatal.
	noImg := allFacts()
	noImg.QEMUImg = nil
	noImg.Searched = map[string][]string{"qemu-img": {"/usr/bin/qemu-img"}}

	tests := []struct {
		name     string
		facts    *host.Facts
		accels   map[string]host.Accel
		wantCode int
		wantErr  string
		wantOK   bool
	}{
		{"ready", allFacts(), map[string]host.Accel{"x86_64": kvm, "aarch64": tcgA64}, 0, "", true},
		{"warnings", noAarch64, map[string]host.Accel{"x86_64": tcgKVM, "aarch64": {Name: "tcg", Reason: "qemu-system-aarch64 not found", Warning: host.TCGWarning}}, 0, "", true},
		{"broken", nothing, map[string]host.Accel{"x86_64": tcgKVM, "aarch64": tcgA64}, 1, "no VM can run on this host: qemu-system-x86_64, qemu-img missing", false},
		{"no-qemu-img", noImg, map[string]host.Accel{"x86_64": kvm, "aarch64": tcgA64}, 1, "no VM can run on this host: qemu-img missing", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			probe := fixedProbe(tt.facts, tt.accels)

			out, errOut, code := runDoctor(t, probe)
			if code != tt.wantCode || errOut != tt.wantErr {
				t.Errorf("doctor: exit %d, stderr %q; want exit %d, stderr %q", code, errOut, tt.wantCode, tt.wantErr)
			}
			doctorGolden(t, "doctor-"+tt.name+".golden", out)

			out, _, code = runDoctor(t, probe, "--json")
			if code != tt.wantCode {
				t.Errorf("doctor --json: exit %d, want %d", code, tt.wantCode)
			}
			doctorGolden(t, "doctor-"+tt.name+".json.golden", out)
			var r struct {
				Accelerator string                `json:"accelerator"`
				Accels      map[string]host.Accel `json:"accelerators"`
				Problems    []string              `json:"problems"`
				OK          bool                  `json:"ok"`
			}
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("doctor --json: %v\n%s", err, out)
			}
			if r.OK != tt.wantOK || r.Accelerator != tt.accels["x86_64"].Name || len(r.Accels) != 2 {
				t.Errorf("doctor --json: ok=%v accelerator=%q accelerators=%v; want ok=%v accelerator=%q", r.OK, r.Accelerator, r.Accels, tt.wantOK, tt.accels["x86_64"].Name)
			}
			if len(r.Problems) != len(tt.facts.Searched)+map[bool]int{true: 1}[tt.accels["x86_64"].Name == "tcg"] {
				t.Errorf("doctor --json: problems %q; want one per missing item, plus one for TCG", r.Problems)
			}
		})
	}
}

func TestDoctorProbeError(t *testing.T) {
	probe := func(context.Context) (*host.Facts, map[string]host.Accel, error) {
		return nil, nil, context.DeadlineExceeded
	}
	_, errOut, code := runDoctor(t, probe)
	if code != 1 || !strings.Contains(errOut, "inspect host: context deadline exceeded") {
		t.Errorf("exit %d, stderr %q; want exit 1 naming the failure", code, errOut)
	}
}

func TestDoctorRejectsArgs(t *testing.T) {
	if _, _, code := runDoctor(t, fixedProbe(allFacts(), nil), "extra"); code == 0 {
		t.Error("doctor extra: exit 0, want an error")
	}
}

// TestDoctorRealHost runs doctor against this machine.
func TestDoctorRealHost(t *testing.T) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		if os.Getenv("NIXVM_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("qemu-system-x86_64 not in PATH (required: NIXVM_REQUIRE_INTEGRATION=1)")
		}
		t.Skip("qemu-system-x86_64 not in PATH (install qemu-system-x86)")
	}
	out, errOut, code := runDoctor(t, probeHost, "--json")
	t.Logf("%s", out)
	var r doctorReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("doctor --json: %v (stderr %q)", err, errOut)
	}
	if code != 0 || !r.OK {
		t.Fatalf("doctor --json: exit %d, ok %v, stderr %q, problems %q", code, r.OK, errOut, r.Problems)
	}
	if r.QEMU["x86_64"].Path == "" || r.QEMUImg == nil {
		t.Errorf("doctor --json: qemu %v, qemuImg %v; want both found", r.QEMU, r.QEMUImg)
	}
	if a := r.Accelerators[r.Arch]; r.Accelerator == "" || a.Name != r.Accelerator || a.Reason == "" {
		t.Errorf("doctor --json: accelerator %q, accelerators %v; want the host arch's, with a reason", r.Accelerator, r.Accelerators)
	}

	out, _, code = runDoctor(t, probeHost)
	t.Logf("\n%s", out)
	if code != 0 || !strings.Contains(out, "qemu-system-x86_64:") || !strings.Contains(out, "Ready: x86_64 VMs") {
		t.Errorf("doctor: exit %d, output lacks the qemu line or the verdict", code)
	}
}
