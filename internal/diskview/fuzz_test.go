package diskview

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
)

// The fuzz targets check that no image, however broken, makes Inspect
// panic, loop or allocate without bound, and that what it reports stays
// inside the image.

func FuzzInspectTable(f *testing.F) {
	// Seeds: the start of real layouts (the tables live in the first
	// sectors and, for the backup GPT, the last ones; a small disk keeps
	// both within reach of the fuzzer's mutations).
	small := func(build func([]byte)) []byte {
		img := make([]byte, 64*512)
		build(img)
		return img
	}
	f.Add(small(func(b []byte) {
		writeGPT(b, []gptPart{{typ: "0FC63DAF-8483-4772-8E79-3D69D8477DE4", guid: "AAAAAAAA-0000-0000-0000-000000000003", first: 34, last: 40, name: "root"}})
	}))
	f.Add(small(func(b []byte) {
		putMBREntry(b, 0, 0x80, 0x83, 1, 10)
		putMBREntry(b, 1, 0, 0x05, 20, 40)
		putMBREntry(b[20*512:], 0, 0, 0x82, 1, 5)
		putMBREntry(b[20*512:], 1, 0, 0x05, 10, 10)
		putMBREntry(b[30*512:], 0, 0, 0x83, 1, 5)
	}))
	f.Add(make([]byte, 512))
	f.Fuzz(func(t *testing.T, img []byte) {
		d, err := Inspect(context.Background(), bytes.NewReader(img), int64(len(img)))
		if err != nil {
			t.Fatalf("Inspect on an in-memory image: %v", err)
		}
		for _, p := range d.Partitions {
			if p.Sectors <= 0 || p.End < p.Start || p.Size != p.Sectors*SectorSize {
				t.Fatalf("inconsistent partition %+v", p)
			}
		}
	})
}

func FuzzProbe(f *testing.F) {
	seed := func(build func([]byte)) []byte {
		img := make([]byte, 72*1024)
		build(img)
		return img
	}
	f.Add(seed(func(b []byte) { putExt4(b, "nixos") }))
	f.Add(seed(func(b []byte) { putSwap(b, "swap") }))
	f.Add(seed(func(b []byte) { putFAT32(b, "ESP") }))
	f.Add(seed(func(b []byte) {
		mdSuperblock(b, "vm:root", 1, 0, 16, 64)
		putExt4(b[16*512:], "x")
	}))
	f.Add(seed(func(b []byte) { lvmPV(b, testVGText, 2048, 1536) }))
	f.Add(seed(func(b []byte) { copy(b[0x10040:], "_BHRfS_M") }))
	f.Fuzz(func(t *testing.T, img []byte) {
		rd := &reader{r: bytes.NewReader(img), size: int64(len(img))}
		if _, err := probe(context.Background(), rd, 0, rd.size, 0); err != nil {
			t.Fatalf("probe on an in-memory image: %v", err)
		}
	})
}

func FuzzLVMText(f *testing.F) {
	f.Add(testVGText)
	f.Add(`a { b = [ "x", 1 ] c = "\"" }`)
	f.Fuzz(func(t *testing.T, text string) {
		img := make([]byte, 2*MiB)
		lvmPV(img, "", 1<<20, 512)
		binary.LittleEndian.PutUint64(img[4096+48:], uint64(len(text)))
		copy(img[4096+512:], text)
		rd := &reader{r: bytes.NewReader(img), size: int64(len(img))}
		if _, err := probe(context.Background(), rd, 0, rd.size, 0); err != nil {
			t.Fatal(err)
		}
		parseLVMText(text)
	})
}
