package spec

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const fullYAML = `name: lab
arch: x86_64
cpus: 4
memory: 8G
disks:
  - size: 40G
  - size: 40G
firmware: bios
partitionTable: mbr
swap: 2G
lvm: true
raid: raid1
filesystem: ext4
desktop: i3
display: vnc
portForwards:
  - 8080:80
  - "8443:443/tcp"
sshPort: 2222
release: "25.11"
iso: https://example.org/nixos.iso
isoSha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
extraConfig: |
  services.nginx.enable = true;
substituters: ["http://10.0.2.2:8080"]
trustedPublicKeys: ["test-1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]
networkTimeout: 90s
`

func TestParseFull(t *testing.T) {
	got, err := Parse([]byte(fullYAML))
	if err != nil {
		t.Fatal(err)
	}
	want := &Spec{
		Name: "lab", Arch: "x86_64", CPUs: 4, Memory: 8 * GiB,
		Disks:    []Disk{{40 * GiB}, {40 * GiB}},
		Firmware: "bios", PartitionTable: "mbr", Swap: 2 * GiB, LVM: true,
		RAID: "raid1", Filesystem: "ext4", Desktop: "i3", Display: "vnc",
		PortForwards: []PortForward{{8080, 80, "tcp"}, {8443, 443, "tcp"}},
		SSHPort:      2222, Release: "25.11",
		ISO:               "https://example.org/nixos.iso",
		ISOSHA256:         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		ExtraConfig:       "services.nginx.enable = true;\n",
		Substituters:      []string{"http://10.0.2.2:8080"},
		TrustedPublicKeys: []string{"test-1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
		NetworkTimeout:    90 * time.Second,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse:\n got %+v\nwant %+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // the whole error, so messages stay one readable line
	}{
		{
			name: "a newer spec version",
			in:   "version: 2\nname: a\n",
			want: `nixvm.yaml: version 2: this nixvm reads spec versions 1 to 1 (a newer nixvm wrote this file?)`,
		},
		{
			name: "unknown top-level field with line",
			in:   "name: a\ncpus: 2\nmemory: 2G\nfo: 1\n",
			want: `nixvm.yaml line 4: unknown field "fo" (valid fields: version, name, arch, cpus, memory, disks, firmware, partitionTable, swap, lvm, raid, filesystem, desktop, display, keymap, portForwards, sshPort, release, iso, isoSha256, extraConfig, substituters, trustedPublicKeys, networkTimeout)`,
		},
		{
			name: "misspelt field gets a suggestion",
			in:   "name: a\npartition_table: gpt\n",
			want: `nixvm.yaml line 2: unknown field "partition_table" (valid fields: version, name, arch, cpus, memory, disks, firmware, partitionTable, swap, lvm, raid, filesystem, desktop, display, keymap, portForwards, sshPort, release, iso, isoSha256, extraConfig, substituters, trustedPublicKeys, networkTimeout); did you mean "partitionTable"?`,
		},
		{
			name: "unknown field in a disk",
			in:   "name: a\ndisks:\n  - size: 20G\n  - sise: 20G\n",
			want: `nixvm.yaml line 4: disks[1]: unknown field "sise" (valid fields: size); did you mean "size"?`,
		},
		{
			name: "typo gets a suggestion",
			in:   "memroy: 2G\n",
			want: `nixvm.yaml line 1: unknown field "memroy" (valid fields: version, name, arch, cpus, memory, disks, firmware, partitionTable, swap, lvm, raid, filesystem, desktop, display, keymap, portForwards, sshPort, release, iso, isoSha256, extraConfig, substituters, trustedPublicKeys, networkTimeout); did you mean "memory"?`,
		},
		{
			name: "no far-fetched suggestion",
			in:   "colour: red\n",
			want: `nixvm.yaml line 1: unknown field "colour" (valid fields: version, name, arch, cpus, memory, disks, firmware, partitionTable, swap, lvm, raid, filesystem, desktop, display, keymap, portForwards, sshPort, release, iso, isoSha256, extraConfig, substituters, trustedPublicKeys, networkTimeout)`,
		},
		{
			name: "wrong type names the field",
			in:   "name: a\ncpus: many\n",
			want: `nixvm.yaml line 2: cpus: expected a whole number, got "many"`,
		},
		{
			name: "bool",
			in:   "lvm: maybe\n",
			want: `nixvm.yaml line 1: lvm: expected true or false, got "maybe"`,
		},
		{
			name: "mapping where a list belongs",
			in:   "disks: {size: 20G}\n",
			want: `nixvm.yaml line 1: disks: expected a list, got a mapping`,
		},
		{
			name: "list where text belongs",
			in:   "extraConfig: [a]\n",
			want: `nixvm.yaml line 1: extraConfig: expected text, got a list`,
		},
		{
			name: "wrong type inside a flow mapping",
			in:   "disks: [{size: 20G}, {size: [1]}]\n",
			want: `nixvm.yaml line 1: disks[1].size: expected a size like 512M or 20G, got a list`,
		},
		{
			name: "list where a mapping belongs",
			in:   "disks:\n  - 20G\n",
			want: `nixvm.yaml line 2: disks[0]: expected a mapping like {size: 20G}, got "20G"`,
		},
		{
			name: "bad size in a disk",
			in:   "disks:\n  - size: 20X\n",
			want: `nixvm.yaml line 2: disks[0].size: invalid size "20X" (use a whole number with an optional unit: 512M, 20G, 20GiB)`,
		},
		{
			name: "bad item in a flow list names the item",
			in:   "portForwards: [\"8080:80\", \"80\"]\n",
			want: `nixvm.yaml line 1: portForwards[1]: invalid port forward "80" (use HOST:GUEST, e.g. 8080:80)`,
		},
		{
			name: "port forward as a mapping",
			in:   "portForwards:\n  - host: 1\n",
			want: `nixvm.yaml line 2: portForwards[0]: expected a port forward like "8080:80", got a mapping`,
		},
		{
			name: "explicit zero cpus is not the default",
			in:   "name: a\ncpus: 0\n",
			want: `nixvm.yaml line 2: cpus: 0 is out of range (use 1 to 256, or leave cpus out for the default 2)`,
		},
		{
			name: "explicit zero network timeout",
			in:   "networkTimeout: 0s\n",
			want: `nixvm.yaml line 1: networkTimeout: 0 is out of range (use 10s to 1h0m0s, or leave it out for the default 3m0s)`,
		},
		{
			name: "duplicate key",
			in:   "name: a\ncpus: 1\ncpus: 2\n",
			want: `nixvm.yaml line 3: cpus: set twice (first at line 2)`,
		},
		{
			name: "empty file",
			in:   "",
			want: `nixvm.yaml: file is empty (write at least "name: myvm"; see docs/spec.md)`,
		},
		{
			name: "comments only",
			in:   "# nothing\n",
			want: `nixvm.yaml: file is empty (write at least "name: myvm"; see docs/spec.md)`,
		},
		{
			name: "empty document",
			in:   "---\n",
			want: `nixvm.yaml: file is empty (write at least "name: myvm"; see docs/spec.md)`,
		},
		{
			name: "two documents",
			in:   "name: a\n---\nname: b\n",
			want: `nixvm.yaml line 3: a second YAML document starts here; a spec file describes exactly one VM`,
		},
		{
			name: "not a mapping",
			in:   "- name: a\n",
			want: `nixvm.yaml line 1: expected a mapping of fields like "name: myvm", got a list`,
		},
		{
			name: "syntax error",
			in:   "name: a\n  cpus: 2\n",
			want: `nixvm.yaml line 2: invalid YAML: mapping values are not allowed in this context`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want error %q", tt.in, s, tt.want)
			}
			if err.Error() != tt.want {
				t.Fatalf("Parse(%q) error:\n got %s\nwant %s", tt.in, err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "vm.yaml")
	if err := os.WriteFile(good, []byte("name: a\ncpus: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(good)
	if err != nil || s.Name != "a" || s.CPUs != 3 {
		t.Fatalf("Load = %+v, %v", s, err)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: a\nfo: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || !strings.HasPrefix(err.Error(), bad+" line 2: unknown field \"fo\"") {
		t.Fatalf("Load(bad) error = %v, want it to name the file and line", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("Load(missing) error = %v, want it to name the file", err)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	in, err := Parse([]byte(fullYAML))
	if err != nil {
		t.Fatal(err)
	}
	out, err := in.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(out)
	if err != nil {
		t.Fatalf("Parse(Marshal()) failed: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(in, back) {
		t.Fatalf("round trip changed the spec:\n in %+v\nout %+v\nyaml:\n%s", in, back, out)
	}

	// A defaulted spec round-trips too, including sizes that are not a
	// whole number of a unit and the empty lists.
	d := &Spec{Name: "demo", Swap: 1536 * MiB, Memory: 1000 * MiB}
	d.ApplyDefaults()
	out, err = d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err = Parse(out)
	if err != nil {
		t.Fatalf("Parse(Marshal()) failed: %v\n%s", err, out)
	}
	back.ApplyDefaults()
	if !reflect.DeepEqual(d, back) {
		t.Fatalf("round trip changed the spec:\n in %+v\nout %+v\nyaml:\n%s", d, back, out)
	}
}
