package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/chatvault/chatvault/remote"
)

// ProbeCreateExclusive checks that the server honours create-exclusive writes
// (If-None-Match: * on PutObject), which [Store.Create] relies on to keep
// concurrent writers apart: S3 has since 2024, some S3-compatible servers do
// not. It writes a probe object under "probes/<random>" twice and expects the
// second write to be refused with 412 and the first content kept, then deletes
// the probe. When the server accepts the second write it returns an error
// wrapping [ErrNotExclusive].
func (s *Store) ProbeCreateExclusive(ctx context.Context) (err error) {
	var rnd [16]byte
	rand.Read(rnd[:])
	name := "probes/" + hex.EncodeToString(rnd[:])
	first := []byte("chatvault create-exclusive probe: first write")
	second := []byte("chatvault create-exclusive probe: second write, must be refused")
	if err := s.Create(ctx, name, bytes.NewReader(first), int64(len(first))); err != nil {
		return fmt.Errorf("probing create-exclusive writes: %w", err)
	}
	defer func() {
		if derr := s.Delete(context.WithoutCancel(ctx), name); derr != nil && err == nil {
			err = fmt.Errorf("probing create-exclusive writes: removing the probe: %w", derr)
		}
	}()
	err = s.Create(ctx, name, bytes.NewReader(second), int64(len(second)))
	switch {
	case err == nil:
		return fmt.Errorf("s3 store %s: %w: a second PutObject with If-None-Match: * to %s succeeded (it must be refused with 412 PreconditionFailed)", s.url, ErrNotExclusive, s.Key(name))
	case !errors.Is(err, remote.ErrExists):
		return fmt.Errorf("probing create-exclusive writes: %w", err)
	}
	r, err := s.Open(ctx, name)
	if err != nil {
		return fmt.Errorf("probing create-exclusive writes: %w", err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("probing create-exclusive writes: %w", err)
	}
	if !bytes.Equal(got, first) {
		return fmt.Errorf("s3 store %s: %w: the refused second write to %s replaced the object", s.url, ErrNotExclusive, s.Key(name))
	}
	return nil
}
