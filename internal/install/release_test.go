package install

import (
	"strings"
	"testing"

	"github.com/nixvm/nixvm/internal/iso"
	"github.com/nixvm/nixvm/internal/spec"
)

func TestMinRelease(t *testing.T) {
	tests := []struct {
		name       string
		mutate     func(s *spec.Spec)
		release    string // of the installer
		wantMin    string
		wantOption string
		wantErr    string // "" = Make succeeds
	}{
		{"minimal on 25.11", func(s *spec.Spec) {}, "25.11", "23.05", "services.openssh.settings.PasswordAuthentication", ""},
		{"minimal on 23.05", func(s *spec.Spec) {}, "23.05", "23.05", "services.openssh.settings.PasswordAuthentication", ""},
		{"minimal on 22.11", func(s *spec.Spec) {}, "22.11", "23.05", "services.openssh.settings.PasswordAuthentication",
			"release: 22.11 is too old for this VM: its configuration sets services.openssh.settings.PasswordAuthentication, which NixOS has since 23.05 (use release 23.05 or newer)"},
		{"raid1 on 23.11", func(s *spec.Spec) { s.RAID = "raid1" }, "23.11", "23.11", "boot.swraid.enable", ""},
		{"raid1 on 23.05", func(s *spec.Spec) { s.RAID = "raid1" }, "23.05", "23.11", "boot.swraid.enable",
			"release: 23.05 is too old for this VM: its configuration sets boot.swraid.enable, which NixOS has since 23.11 (use release 23.11 or newer)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := inputs(testSpec(t, tt.mutate))
			in.Release = tt.release
			p, err := Make(in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Make = %v", err)
				}
				if got, opt := MinRelease(p.ConfigurationNix); got != tt.wantMin || opt != tt.wantOption {
					t.Fatalf("MinRelease = %s (%s), want %s (%s)", got, opt, tt.wantMin, tt.wantOption)
				}
			} else if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("Make:\n got %v\nwant %s", err, tt.wantErr)
			}
			// CheckRelease, which create runs before downloading, agrees.
			err = CheckRelease(in)
			if (err == nil) != (tt.wantErr == "") || (err != nil && err.Error() != tt.wantErr) {
				t.Fatalf("CheckRelease = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestOptionNames(t *testing.T) {
	conf := "{\n  boot.loader.timeout = 1;\n  boot.swraid.mdadmConf = ''\n    ARRAY /dev/md/root metadata=1.2\n  '';\n  a.b-c.d = 2;\n}\n"
	got := strings.Join(OptionNames(conf), ",")
	if want := `boot.loader.timeout,boot.swraid.mdadmConf,a.b-c.d`; got != want {
		t.Fatalf("OptionNames = %s, want %s", got, want)
	}
}

func TestInstallerRelease(t *testing.T) {
	tests := []struct{ release, version, want, wantErr string }{
		{"25.11", "25.11.1234.abcdef", "25.11", ""},
		{"", "26.05pre123456.abcdef", "26.05", ""}, // unstable: the label says no release
		{"", "", "", "cannot tell the NixOS release"},
		{"", "garbage", "", "cannot tell the NixOS release"},
	}
	for _, tt := range tests {
		got, err := InstallerRelease(&iso.Info{Release: tt.release, Version: tt.version, Label: "x"})
		if got != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("InstallerRelease(%q, %q) = %q, %v; want %q, %q", tt.release, tt.version, got, err, tt.want, tt.wantErr)
		}
	}
}
