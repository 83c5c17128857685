package archive

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/chatvault/chatvault/kms/awskms"
	"github.com/chatvault/chatvault/remote"
)

// RotateOutcome is what RotateAll did to one archive.
type RotateOutcome struct {
	Archive ID
	Status  string // rotated | skipped (no wrapper under the old key) | failed
	Commit  uint64 // the keys commit, when rotated
	Err     error  // why it failed
}

// Rotation outcomes.
const (
	Rotated = "rotated"
	Skipped = "skipped"
	Failed  = "failed"
)

// RotateAll moves every archive of st that has an aws-kms wrapper under the
// key fromARN (aliases resolved by the caller) onto the key to, with KMS
// ReEncrypt, one keys commit per archive, jobs archives at a time. A failure
// on one archive is reported in its outcome and never stops or touches the
// others; a rerun skips the archives already done, so an interrupted run is
// finished by running it again. done is called after each archive (it may be
// nil); the outcomes come back in the store's order.
func RotateAll(ctx context.Context, st remote.Store, kms *awskms.Client, fromARN, to string, opts Options, jobs int, done func(RotateOutcome)) ([]RotateOutcome, error) {
	archives, err := ListArchives(ctx, st)
	if err != nil {
		return nil, err
	}
	out := make([]RotateOutcome, len(archives))
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(jobs, 1))
	for i, s := range archives {
		g.Go(func() error {
			o := RotateOutcome{Archive: s.ID}
			o.Status, o.Commit, o.Err = rotateOne(gctx, st, s.ID, kms, fromARN, to, opts)
			out[i] = o
			if done != nil {
				mu.Lock()
				done(o)
				mu.Unlock()
			}
			return gctx.Err() // only an interruption stops the others
		})
	}
	return out, g.Wait()
}

func rotateOne(ctx context.Context, st remote.Store, id ID, kms *awskms.Client, fromARN, to string, opts Options) (string, uint64, error) {
	a, err := Open(ctx, st, id, opts)
	if err != nil {
		return Failed, 0, err
	}
	ws, err := a.Wrappers(ctx)
	if err != nil {
		return Failed, 0, err
	}
	var ch WrapperChange
	for _, w := range ws {
		if w.Type == WrapperKMS && w.KeyID == fromARN {
			ch.Add = append(ch.Add, KMSRewrapLocker{KMS: kms, From: w, KeyID: to})
			ch.Remove = append(ch.Remove, w.ID)
		}
	}
	if len(ch.Remove) == 0 {
		return Skipped, 0, nil
	}
	if err := a.Unlock(ctx, KMSUnlocker{KMS: kms}); err != nil {
		return Failed, 0, err
	}
	res, err := a.ChangeWrappers(ctx, ch)
	if err != nil {
		return Failed, 0, fmt.Errorf("archive %s: %w", id.Short(), err)
	}
	return Rotated, res.Commit, nil
}
