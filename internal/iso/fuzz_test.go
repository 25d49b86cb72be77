package iso

import (
	"bytes"
	"io"
	"os"
	"path"
	"strings"
	"testing"
)

// The parsers read files from downloaded images: any input must give
// entries or an error, never a panic, and what they return must be usable.

func FuzzParseIsolinux(f *testing.F) {
	for _, n := range []string{"isolinux-24.11.cfg", "isolinux-25.11.cfg"} {
		f.Add(testdata(f, n))
	}
	f.Add([]byte("label a\nkernel k\nappend initrd=\nMENU BEGIN\nMENU END\nMENU END\nTEXT HELP\n"))
	f.Fuzz(func(t *testing.T, cfg []byte) {
		entries, def, err := ParseIsolinux(cfg)
		if err != nil {
			return
		}
		if len(entries) == 0 || def == "" && entries[0].Label != "" {
			t.Fatalf("no error but %d entries, default %q", len(entries), def)
		}
		for _, e := range entries {
			checkEntry(t, e)
		}
	})
}

func FuzzParseGrub(f *testing.F) {
	for _, n := range []string{"grub-24.11.cfg", "grub-25.11.cfg", "grub-25.11-aarch64.cfg"} {
		f.Add(testdata(f, n))
	}
	f.Add([]byte("menuentry \"a\\\"\" { linux ($x)/k ${y} $ \\\n z; initrd '' }\nsubmenu x {return}"))
	f.Fuzz(func(t *testing.T, cfg []byte) {
		entries, err := ParseGrub(cfg)
		if err != nil {
			return
		}
		if len(entries) == 0 {
			t.Fatal("no error but no entries")
		}
		sawSub := false
		for _, e := range entries {
			checkEntry(t, e)
			if e.Menu != "" {
				sawSub = true
			} else if sawSub {
				t.Fatalf("top-level entry %+v after a submenu entry", e)
			}
		}
	})
}

func FuzzParseLabel(f *testing.F) {
	for _, s := range []string{"nixos-minimal-25.11-x86_64", "nixos-gnome-26.05-aarch64", "nixos--", "-", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, label string) {
		rel, arch, err := ParseLabel(label)
		if err != nil {
			return
		}
		if !releaseRE.MatchString(rel) || (arch != "x86_64" && arch != "aarch64") || !strings.HasSuffix(label, "-"+rel+"-"+arch) {
			t.Fatalf("ParseLabel(%q) = %q, %q", label, rel, arch)
		}
	})
}

func checkEntry(t *testing.T, e Entry) {
	t.Helper()
	for _, p := range []string{e.Kernel, e.Initrd} {
		if strings.HasPrefix(p, "/") && path.Clean(p) != p {
			t.Fatalf("path %q is not clean", p)
		}
	}
	if e.Params == nil {
		t.Fatalf("entry %+v has nil Params (JSON would say null)", e)
	}
}

// FuzzImage feeds corrupt images to the ISO 9660 reader: errors, never
// panics or endless loops. The seed is a 46 KB image, so minimizing each
// new input takes long: run with -fuzzminimizetime 2s.
func FuzzImage(f *testing.F) {
	fx := fixture{name: "seed", label: "nixos-minimal-25.11-x86_64", files: map[string][]byte{
		"/isolinux/isolinux.cfg": []byte("DEFAULT a\nLABEL a\nLINUX /boot/k\nINITRD /boot/i\n"),
		"/boot/k":                []byte("kernel"),
		"/boot/i":                []byte("initrd"),
	}, links: map[string]string{"/boot/l": "k"}}
	seed, err := os.ReadFile(makeISO(f, builders()[0], fx))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := readVolume(bytes.NewReader(data), io.NopCloser(nil))
		if err != nil {
			return
		}
		inspect(img, "fuzz.iso")
		for _, p := range []string{"/boot/l", "/EFI/BOOT/grub.cfg"} {
			if r, _, err := img.open(p); err == nil {
				io.Copy(io.Discard, r)
			}
		}
	})
}
