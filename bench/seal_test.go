package bench

import (
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/chatvault/chatvault/crypto/seal"
)

// BenchmarkAppendSeal shows what sealing one object costs with the output
// buffer the archive engine gives it: none (nil, as sealObject does for index
// runs, manifests and key tables) or one sized for the whole object (as the
// export workers do for segments). With nil, every 64 KiB frame makes
// AES-GCM's Seal allocate a slice of exactly the size so far and copy
// everything written before, so the cost grows with the square of the size.
func BenchmarkAppendSeal(b *testing.B) {
	parent := make([]byte, seal.KeySize)
	for _, size := range []int{64 << 10, 1 << 20, 8 << 20, 32 << 20} {
		plain := make([]byte, size)
		for _, presized := range []bool{false, true} {
			name := fmt.Sprintf("%dKiB/nil", size>>10)
			if presized {
				name = fmt.Sprintf("%dKiB/presized", size>>10)
			}
			b.Run(name, func(b *testing.B) {
				b.SetBytes(int64(size))
				b.ReportAllocs()
				var dst []byte
				if presized {
					dst = make([]byte, 0, seal.MaxHeaderLen+size+(size/seal.FrameSize+1)*16)
				}
				for b.Loop() {
					h := &seal.Header{Suite: seal.AES256GCM, Kind: seal.KindIndexRun, ArchiveID: make([]byte, 16), ObjectID: make([]byte, 16)}
					if _, err := seal.AppendSeal(dst[:0], parent, h, plain, rand.Reader); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkAppendOpen is the same for reading: seal.Open (used by the
// engine's readSealed for index runs, manifests and key tables) opens into a
// nil buffer.
func BenchmarkAppendOpen(b *testing.B) {
	parent := make([]byte, seal.KeySize)
	for _, size := range []int{64 << 10, 1 << 20, 8 << 20, 32 << 20} {
		h := &seal.Header{Suite: seal.AES256GCM, Kind: seal.KindIndexRun, ArchiveID: make([]byte, 16), ObjectID: make([]byte, 16)}
		obj, err := seal.AppendSeal(make([]byte, 0, seal.MaxHeaderLen+size+(size/seal.FrameSize+1)*16), parent, h, make([]byte, size), rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		want := seal.Expect{Kind: seal.KindIndexRun, ArchiveID: make([]byte, 16), ObjectID: make([]byte, 16)}
		for _, presized := range []bool{false, true} {
			name := fmt.Sprintf("%dKiB/nil", size>>10)
			if presized {
				name = fmt.Sprintf("%dKiB/presized", size>>10)
			}
			b.Run(name, func(b *testing.B) {
				b.SetBytes(int64(size))
				b.ReportAllocs()
				var dst []byte
				if presized {
					dst = make([]byte, 0, size)
				}
				for b.Loop() {
					if _, err := seal.AppendOpen(dst[:0], parent, want, obj); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
