package images

import (
	"hash"
	"io"
)

// copyHashing copies src to dst and feeds the same bytes to h, calling
// onChunk after each chunk written. Hashing runs in a second goroutine so it
// overlaps with network and disk I/O: inline, SHA-256 made loopback pulls
// about 25% slower than curl. When it returns, h has seen exactly the
// written bytes.
func copyHashing(dst io.Writer, h hash.Hash, src io.Reader, bufSize int, onChunk func(n int)) (written int64, err error) {
	const depth = 4 // buffers in flight between the copier and the hasher
	free := make(chan []byte, depth)
	for range depth {
		free <- make([]byte, bufSize)
	}
	toHash := make(chan []byte, depth)
	hashed := make(chan struct{})
	go func() {
		defer close(hashed)
		for b := range toHash {
			h.Write(b)
			free <- b[:cap(b)]
		}
	}()
	defer func() {
		close(toHash)
		<-hashed
	}()
	for {
		buf := <-free
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return written, werr
			}
			written += int64(n)
			toHash <- buf[:n]
			onChunk(n)
		}
		if rerr == io.EOF {
			return written, nil
		}
		if rerr != nil {
			return written, rerr
		}
	}
}
