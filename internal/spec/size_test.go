package spec

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    Size
		wantErr string
	}{
		{in: "512M", want: 512 * MiB},
		{in: "20G", want: 20 * GiB},
		{in: "20GiB", want: 20 * GiB},
		{in: "20gib", want: 20 * GiB},
		{in: "20GB", want: 20 * GiB},
		{in: "1T", want: TiB},
		{in: "4K", want: 4 * KiB},
		{in: "4096", want: 4096},
		{in: "4096B", want: 4096},
		{in: " 2G ", want: 2 * GiB},
		{in: "0", want: 0},
		{in: "", wantErr: "empty size"},
		{in: "-1", wantErr: "invalid size"},
		{in: "-1G", wantErr: "invalid size"},
		{in: "1.5G", wantErr: "invalid size"},
		{in: "20X", wantErr: "invalid size"},
		{in: "G", wantErr: "invalid size"},
		{in: "0x10", wantErr: "invalid size"},
		{in: "9999999999T", wantErr: "too large"},
		{in: "99999999999999999999", wantErr: "invalid size"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSize(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseSize(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestSizeString(t *testing.T) {
	tests := []struct {
		in   Size
		want string
	}{
		{0, "0"},
		{1000, "1000"},
		{4 * KiB, "4K"},
		{512 * MiB, "512M"},
		{1536 * MiB, "1536M"},
		{20 * GiB, "20G"},
		{3 * TiB, "3T"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
	}
}

func TestSizeYAML(t *testing.T) {
	tests := []struct {
		in      string
		want    Size
		wantErr string
	}{
		{in: "memory: 4G", want: 4 * GiB},
		{in: "memory: \"4G\"", want: 4 * GiB},
		{in: "memory: 1073741824", want: GiB},
		{in: "memory: 0", wantErr: "line 1: memory: 0 is too small (use at least 256M, or leave memory out for the default 2G)"},
		{in: "memory:", want: 0},
		{in: "memory: -5", wantErr: "memory: invalid size -5"},
		{in: "memory: 1.5", wantErr: "memory: invalid size"},
		{in: "memory: 2X", wantErr: "memory: invalid size"},
		{in: "memory: true", wantErr: "memory: invalid size"},
		{in: "memory: [1]", wantErr: "memory: expected a size"},
		{in: "memory: 9223372036854775807", wantErr: "memory: size 9223372036854775807 is too large"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, err := Parse([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || s.Memory != tt.want {
				t.Fatalf("Parse(%q) = %v, %v; want memory %v", tt.in, s, err, tt.want)
			}
		})
	}
}

func TestSizeJSON(t *testing.T) {
	b, err := json.Marshal(struct{ S Size }{20 * GiB})
	if err != nil || string(b) != `{"S":"20G"}` {
		t.Fatalf("json.Marshal = %s, %v; want {\"S\":\"20G\"}", b, err)
	}
	for in, want := range map[string]Size{`"20G"`: 20 * GiB, `1024`: KiB} {
		var s Size
		if err := json.Unmarshal([]byte(in), &s); err != nil || s != want {
			t.Errorf("json.Unmarshal(%s) = %v, %v; want %v", in, s, err, want)
		}
	}
	for _, in := range []string{`"2X"`, `-1`, `1.5`, `true`} {
		var s Size
		if err := json.Unmarshal([]byte(in), &s); err == nil {
			t.Errorf("json.Unmarshal(%s) = %v, want error", in, s)
		}
	}
}

func TestParsePortForward(t *testing.T) {
	tests := []struct {
		in      string
		want    PortForward
		wantErr bool
	}{
		{in: "8080:80", want: PortForward{8080, 80, "tcp"}},
		{in: "8080:80/tcp", want: PortForward{8080, 80, "tcp"}},
		{in: "8080:80/TCP", want: PortForward{8080, 80, "tcp"}},
		{in: "53:53/udp", want: PortForward{53, 53, "udp"}}, // parsed; Validate rejects
		{in: "70000:80", want: PortForward{70000, 80, "tcp"}},
		{in: "8080", wantErr: true},
		{in: "8080:", wantErr: true},
		{in: ":80", wantErr: true},
		{in: "a:80", wantErr: true},
		{in: "-1:80", wantErr: true},
		{in: "+1:80", wantErr: true},
		{in: "8080:80/", wantErr: true},
		{in: "1:2:3", wantErr: true},
		{in: "99999999999:80", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePortForward(tt.in)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "HOST:GUEST") {
					t.Fatalf("ParsePortForward(%q) = %+v, %v; want error explaining HOST:GUEST", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParsePortForward(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestPortForwardJSON(t *testing.T) {
	b, err := json.Marshal([]PortForward{{8080, 80, "tcp"}, {53, 53, "udp"}})
	if err != nil || string(b) != `["8080:80","53:53/udp"]` {
		t.Fatalf("json.Marshal = %s, %v", b, err)
	}
	var got []PortForward
	if err := json.Unmarshal(b, &got); err != nil || len(got) != 2 || got[1] != (PortForward{53, 53, "udp"}) {
		t.Fatalf("json.Unmarshal(%s) = %+v, %v", b, got, err)
	}
	var p PortForward
	if err := json.Unmarshal([]byte(`{"host":1}`), &p); err == nil {
		t.Errorf("json.Unmarshal(object) = %+v, want error", p)
	}
}
