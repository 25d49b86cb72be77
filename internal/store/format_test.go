package store

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		name    string
		content *string // nil: no format file (a VM older than versions)
		want    int
		wantErr string
	}{
		{"none recorded", nil, 1, ""},
		{"older", ptr("1\n"), 1, ""},
		{"current", ptr("2\n"), 2, ""},
		{"newer", ptr("3\n"), 3, "newer nixvm"},
		{"garbage", ptr("x"), 0, "not a format version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tempInstance(t)
			if tt.content != nil {
				os.WriteFile(in.FormatFile(), []byte(*tt.content), 0o600)
			}
			v, _ := in.Format()
			err := in.CheckFormat()
			if v != tt.want || (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Format = %d, CheckFormat = %v; want %d, %q", v, err, tt.want, tt.wantErr)
			}
		})
	}
	in := tempInstance(t)
	l, err := in.TryLock("create")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	if err := l.WriteFormat(); err != nil {
		t.Fatal(err)
	}
	if v, err := in.Format(); v != FormatVersion || err != nil {
		t.Errorf("after WriteFormat: %d, %v", v, err)
	}
}

func ptr(s string) *string { return &s }

// TestEFIVarsByFormat: VMs of format 1 keep their raw efivars.fd; from
// format 2 on the variables are a qcow2 image (snapshot-capable).
func TestEFIVarsByFormat(t *testing.T) {
	for _, tt := range []struct {
		format        *string
		file, format2 string
	}{
		{nil, "efivars.fd", "raw"},
		{ptr("1\n"), "efivars.fd", "raw"},
		{ptr("2\n"), "efivars.qcow2", "qcow2"},
	} {
		in := tempInstance(t)
		if tt.format != nil {
			os.WriteFile(in.FormatFile(), []byte(*tt.format), 0o600)
		}
		if got := in.EFIVars(); !strings.HasSuffix(got, "/"+tt.file) || in.EFIVarsFormat() != tt.format2 {
			t.Errorf("format %v: EFIVars = %s (%s), want %s (%s)", tt.format, got, in.EFIVarsFormat(), tt.file, tt.format2)
		}
	}
	// A VM that does not exist yet (nixvm plan, create --dry-run) is shown
	// with the files create would make: the current format's.
	missing := Instance{Name: "new", Dir: filepath.Join(t.TempDir(), "new")}
	if v, err := missing.Format(); err != nil || v != FormatVersion {
		t.Errorf("Format of a missing VM = %d, %v; want %d", v, err, FormatVersion)
	}
	if got := missing.EFIVars(); filepath.Base(got) != "efivars.qcow2" || missing.EFIVarsFormat() != "qcow2" {
		t.Errorf("missing VM: EFIVars = %s (%s), want efivars.qcow2 (qcow2)", got, missing.EFIVarsFormat())
	}
}
