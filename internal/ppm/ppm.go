// Package ppm decodes binary PPM (P6) images, the format QEMU's QMP
// screendump writes when it cannot (or is not asked to) write PNG.
package ppm

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"io"
)

// MaxPixels bounds the size of an image Decode accepts: a header is
// untrusted input and must not make us allocate gigabytes. 16384x16384
// is far beyond any VM display.
const MaxPixels = 1 << 28

var errFormat = errors.New("ppm: not a binary PPM (P6) image")

// Decode reads one P6 image. Only maxval 255 (one byte per sample) and
// 65535 (two, big-endian; kept to the high byte) are accepted; QEMU writes
// 255.
func Decode(r io.Reader) (*image.RGBA, error) {
	br := bufio.NewReader(r)
	magic := make([]byte, 2)
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != "P6" {
		return nil, errFormat
	}
	var hdr [3]int
	for i := range hdr {
		n, err := headerInt(br)
		if err != nil {
			return nil, err
		}
		hdr[i] = n
	}
	w, h, maxval := hdr[0], hdr[1], hdr[2]
	if w <= 0 || h <= 0 || w > MaxPixels/h {
		return nil, fmt.Errorf("ppm: bad size %dx%d", w, h)
	}
	if maxval != 255 && maxval != 65535 {
		return nil, fmt.Errorf("ppm: unsupported maxval %d (want 255 or 65535)", maxval)
	}
	// Exactly one whitespace byte ends the header (read by headerInt).
	bps := 1
	if maxval > 255 {
		bps = 2
	}
	// Read the pixels before allocating the image, so that a header
	// promising a large image costs memory only if the data is there.
	need := int64(w) * int64(h) * 3 * int64(bps)
	data, err := io.ReadAll(io.LimitReader(br, need))
	if err != nil {
		return nil, fmt.Errorf("ppm: read pixel data: %w", err)
	}
	if int64(len(data)) < need {
		return nil, fmt.Errorf("ppm: pixel data ends after %d of %d bytes", len(data), need)
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i, o := 0, 0; o < len(data); i, o = i+4, o+3*bps {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = data[o], data[o+bps], data[o+2*bps], 0xff
	}
	return img, nil
}

// headerInt reads a decimal number of the header, skipping whitespace and
// # comments before it, and consumes the one whitespace byte after it.
func headerInt(br *bufio.Reader) (int, error) {
	var c byte
	var err error
	for {
		if c, err = br.ReadByte(); err != nil {
			return 0, errFormat
		}
		if c == '#' {
			for c != '\n' {
				if c, err = br.ReadByte(); err != nil {
					return 0, errFormat
				}
			}
			continue
		}
		if !isSpace(c) {
			break
		}
	}
	n, digits := 0, 0
	for c >= '0' && c <= '9' {
		if n > 1<<24 {
			return 0, fmt.Errorf("ppm: header number too large")
		}
		n = n*10 + int(c-'0')
		digits++
		if c, err = br.ReadByte(); err != nil {
			return 0, errFormat
		}
	}
	if digits == 0 || !isSpace(c) {
		return 0, errFormat
	}
	return n, nil
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}
