package archive

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/chatvault/chatvault/crypto/seal"
)

// Index runs are the message-id index of a conversation: each export commit
// stores one run holding the records it changed, sorted by id hash, and a
// superseded run holding the revisions it replaced. A conversation of
// millions of messages has runs of tens of megabytes, so export and verify
// read and write them as streams (eachIndexRecord, builder.indexRun); the
// callers that need a run whole (restore's superseded set, rebase, re-key)
// use readIndexRun.

// indexRecord: one entry of a message-id index run or superseded run: the keyed
// hash of a message id, the first 8 bytes of the revision (SHA-256 of the line)
// and the commit that stored that revision.
type indexRecord struct {
	IDHash [16]byte
	Rev    [8]byte
	Commit uint32
}

const indexRecordLen = 16 + 8 + 4

func appendIndexRecord(b []byte, r indexRecord) []byte {
	b = append(b, r.IDHash[:]...)
	b = append(b, r.Rev[:]...)
	return binary.BigEndian.AppendUint32(b, r.Commit)
}

func parseIndexRecord(b []byte) indexRecord {
	var r indexRecord
	copy(r.IDHash[:], b)
	copy(r.Rev[:], b[16:])
	r.Commit = binary.BigEndian.Uint32(b[24:])
	return r
}

// encodeIndexRun sorts recs by id hash and encodes them: a big-endian uint32
// count, then the records.
func encodeIndexRun(recs []indexRecord) []byte {
	slices.SortFunc(recs, func(x, y indexRecord) int { return bytes.Compare(x.IDHash[:], y.IDHash[:]) })
	b := make([]byte, 0, 4+len(recs)*indexRecordLen)
	b = binary.BigEndian.AppendUint32(b, uint32(len(recs)))
	for _, r := range recs {
		b = appendIndexRecord(b, r)
	}
	return b
}

func decodeIndexRun(b []byte) ([]indexRecord, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("index run truncated")
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(len(b)-4) != uint64(n)*indexRecordLen {
		return nil, fmt.Errorf("index run of %d bytes cannot hold %d records", len(b), n)
	}
	recs := make([]indexRecord, n)
	for i := range recs {
		recs[i] = parseIndexRecord(b[4+i*indexRecordLen:])
	}
	return recs, nil
}

// readIndexRun reads a whole index run into memory.
func (a *Archive) readIndexRun(ctx context.Context, conv ID, key []byte, ref Ref) ([]indexRecord, error) {
	var recs []indexRecord
	err := a.eachIndexRecord(ctx, conv, key, ref, func(r indexRecord) error {
		recs = append(recs, r)
		return nil
	})
	return recs, err
}

// eachIndexRecord streams the records of an index run to fn, in stored order.
// Frames are authenticated as they are read and the object's size and
// SHA-256 are checked against ref at its end, so fn may have seen records of
// an object that then turns out damaged (an ErrIntegrity error): callers
// abandon what they built on error.
func (a *Archive) eachIndexRecord(ctx context.Context, conv ID, key []byte, ref Ref, fn func(indexRecord) error) error {
	name := a.paths.object(areaObjects, ref.ID)
	rc, err := a.st.Open(ctx, name)
	if err != nil {
		return missingOr(name, err)
	}
	defer rc.Close()
	src := &readErrs{r: rc}
	checked := &checkedReader{r: src, name: name, want: integrityRecord{Size: ref.Size, SHA256: ref.SHA256}, sha: sha256.New()}
	fault := func(err error) error {
		var ie *integrityErr
		switch {
		case src.err != nil:
			return fmt.Errorf("reading %s: %w", name, src.err)
		case errors.As(err, &ie):
			return ie.err
		}
		return integrityError(name, "%v", err)
	}
	_, pr, err := seal.OpenReader(checked, key, seal.Expect{Kind: seal.KindIndexRun, ArchiveID: a.id[:], ConversationID: conv[:], ObjectID: ref.ID[:], Epoch: a.epochOfObject()})
	if err != nil {
		return fault(err)
	}
	r := bufio.NewReaderSize(pr, seal.FrameSize)
	var buf [indexRecordLen]byte
	if _, err := io.ReadFull(r, buf[:4]); err != nil {
		return fault(noEOF(err))
	}
	n := int64(binary.BigEndian.Uint32(buf[:4]))
	if n*indexRecordLen > ref.Size {
		return integrityError(name, "index run of %d bytes cannot hold %d records", ref.Size, n)
	}
	for range n {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return fault(noEOF(err))
		}
		if err := fn(parseIndexRecord(buf[:])); err != nil {
			return err
		}
	}
	if _, err := r.ReadByte(); err != io.EOF {
		if err == nil {
			return integrityError(name, "index run holds more than its %d records", n)
		}
		return fault(err)
	}
	return nil
}

// noEOF turns the end of a stream in the middle of a structure into an error.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readErrs remembers the error of the store's reader, so that a failed read
// (a network error) is not mistaken for damage.
type readErrs struct {
	r   io.Reader
	err error
}

func (r *readErrs) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

// indexRun stores an index run of n records, which each passes to emit in
// ascending id-hash order, without holding the run in memory.
func (b *builder) indexRun(ctx context.Context, conv *ID, key []byte, n int64, each func(emit func(indexRecord) error) error) (Ref, error) {
	return b.sealedStream(ctx, areaObjects, seal.KindIndexRun, conv, key, 4+n*indexRecordLen, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, seal.FrameSize)
		var buf [indexRecordLen]byte
		binary.BigEndian.PutUint32(buf[:4], uint32(n))
		bw.Write(buf[:4])
		var prev [16]byte
		first := true
		err := each(func(r indexRecord) error {
			if !first && bytes.Compare(prev[:], r.IDHash[:]) >= 0 {
				return fmt.Errorf("index run records out of order")
			}
			first, prev = false, r.IDHash
			_, err := bw.Write(appendIndexRecord(buf[:0], r))
			return err
		})
		if err != nil {
			return err
		}
		return bw.Flush()
	})
}
