package archive

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/chatvault/chatvault/remote"
)

// PruneOptions tune Prune.
type PruneOptions struct {
	Grace  time.Duration // only objects older than this are removed (the CLI's default is 24 h)
	DryRun bool          // list, remove nothing
}

// PruneReport lists what Prune removed (or would remove).
type PruneReport struct {
	Removed []string
	Bytes   int64
	Kept    int // objects still referenced
}

// Prune removes objects no commit references (leftovers of crashed or
// cancelled runs, and of lost commit races) once they are older than the grace
// period, and expired leases. It refuses to run while another writer holds a
// live lease (ErrConflict): that writer's new objects are not referenced yet.
func (a *Archive) Prune(ctx context.Context, o PruneOptions) (PruneReport, error) {
	if o.Grace < 0 {
		return PruneReport{}, fmt.Errorf("negative grace period %s", o.Grace)
	}
	now := a.opts.Now()
	var stale []remote.Info
	err := a.st.List(ctx, a.paths.leases(), func(info remote.Info) error {
		if now.Sub(info.ModTime) < leaseTTL {
			return fmt.Errorf("%w: a writer is at work on archive %s (lease %s from %s); try again later",
				ErrConflict, a.id.Short(), info.Name[strings.LastIndexByte(info.Name, '/')+1:], info.ModTime.Format(time.RFC3339))
		}
		stale = append(stale, info)
		return nil
	})
	if err != nil {
		return PruneReport{}, err
	}
	recs, err := a.liveObjects(ctx)
	if err != nil {
		return PruneReport{}, err
	}
	// Commits set aside by pull are not in the chain but will be rebased:
	// their objects stay.
	pending, err := a.pendingRebases(ctx)
	if err != nil {
		return PruneReport{}, err
	}
	for _, n := range pending {
		body, _, err := a.readSetAside(ctx, n)
		if err != nil {
			return PruneReport{}, err
		}
		_, set, err := a.readIntegrityList(ctx, body.IntegrityList, nil)
		if err != nil {
			return PruneReport{}, err
		}
		recs = append(recs, set...)
		recs = append(recs, integrityRecord{Area: areaObjects, ID: body.IntegrityList.ID})
	}
	keep := map[string]bool{}
	for _, r := range recs {
		keep[a.paths.object(r.Area, r.ID)] = true
	}
	var rep PruneReport
	for _, ar := range []area{areaObjects, areaKeys} {
		err := a.st.List(ctx, a.paths.root()+ar.dir()+"/", func(info remote.Info) error {
			if keep[info.Name] {
				rep.Kept++
				return nil
			}
			if now.Sub(info.ModTime) < o.Grace {
				return nil
			}
			rep.Removed = append(rep.Removed, info.Name)
			rep.Bytes += info.Size
			return nil
		})
		if err != nil {
			return rep, err
		}
	}
	for _, l := range stale {
		rep.Removed = append(rep.Removed, l.Name)
	}
	if o.DryRun {
		return rep, nil
	}
	for _, name := range rep.Removed {
		if err := a.st.Delete(ctx, name); err != nil {
			return rep, fmt.Errorf("removing %s: %w", name, err)
		}
	}
	if t, ok := a.st.(interface {
		RemoveStaleTemp(time.Duration) (int, error)
	}); ok {
		if _, err := t.RemoveStaleTemp(o.Grace); err != nil {
			return rep, err
		}
	}
	return rep, nil
}
