package ppm

import (
	"bytes"
	"fmt"
	"image/color"
	"testing"
)

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		w, h int
		px   color.RGBA // at (1, 0)
		err  bool
	}{
		{"plain", "P6\n2 1\n255\n\x01\x02\x03\x04\x05\x06", 2, 1, color.RGBA{4, 5, 6, 255}, false},
		{"comments and spaces", "P6 # made by QEMU\n2\t1 # size\n255 \x01\x02\x03\xff\x00\x80", 2, 1, color.RGBA{255, 0, 128, 255}, false},
		{"16-bit", "P6\n2 1\n65535\n\x00\x01\x00\x02\x00\x03\x12\x34\x56\x78\x9a\xbc", 2, 1, color.RGBA{0x12, 0x56, 0x9a, 255}, false},
		{"P3 is not P6", "P3\n1 1\n255\n1 2 3", 0, 0, color.RGBA{}, true},
		{"short data", "P6\n2 2\n255\n\x01\x02\x03", 0, 0, color.RGBA{}, true},
		{"zero size", "P6\n0 1\n255\n", 0, 0, color.RGBA{}, true},
		{"huge", "P6\n100000 100000\n255\n", 0, 0, color.RGBA{}, true},
		{"maxval 15", "P6\n1 1\n15\n\x01\x02\x03", 0, 0, color.RGBA{}, true},
		{"no header end", "P6\n1 1\n255", 0, 0, color.RGBA{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := Decode(bytes.NewReader([]byte(tc.in)))
			if tc.err {
				if err == nil {
					t.Fatalf("Decode = nil error, want one")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != tc.w || b.Dy() != tc.h {
				t.Errorf("size %v, want %dx%d", b, tc.w, tc.h)
			}
			if got := img.RGBAAt(1, 0); got != tc.px {
				t.Errorf("pixel (1,0) = %v, want %v", got, tc.px)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte("P6\n2 1\n255\n\x01\x02\x03\x04\x05\x06"))
	f.Add([]byte("P6 #c\n1 1 65535 \x00\x01\x00\x02\x00\x03"))
	f.Add([]byte(fmt.Sprintf("P6\n%d %d\n255\n", 640, 480)))
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := Decode(bytes.NewReader(b))
		if err != nil {
			return
		}
		// A decoded image's pixels all came from the input.
		if r := img.Bounds(); r.Dx()*r.Dy()*3 > len(b) {
			t.Fatalf("%v image from %d bytes", r, len(b))
		}
	})
}
