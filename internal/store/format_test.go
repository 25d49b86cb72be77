package store

import (
	"os"
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
		{"current", ptr("1\n"), 1, ""},
		{"newer", ptr("2\n"), 2, "newer nixvm"},
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
