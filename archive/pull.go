package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/chatvault/chatvault/remote"
)

// Pull copies the commits of the archive in src (a remote store) that dst
// (this device's store) lacks. When dst holds commits this device made and has
// not pushed, and src moved on meanwhile, Pull rebases them: each becomes a new
// commit on top of src's head that reuses its segments and blobs (see rebase).
// A rebase needs the archive key: unlock is called to get it, once, and only
// then. A dst that is ahead of src is left as it is.
func Pull(ctx context.Context, src, dst remote.Store, id ID, opts Options, t TransferOptions, unlock func(context.Context, *Archive) error) (TransferReport, error) {
	opts.fill()
	r, err := Open(ctx, src, id, opts)
	if err != nil {
		return TransferReport{}, err
	}
	local := &Archive{st: dst, id: id, paths: pathsFor(id), opts: opts}
	pending, err := local.pendingRebases(ctx)
	if err != nil {
		return TransferReport{}, err
	}
	exists, err := local.hasCommits(ctx)
	if err != nil {
		return TransferReport{}, err
	}
	if exists {
		l, err := Open(ctx, dst, id, opts)
		if err != nil {
			return TransferReport{}, err
		}
		common := commonPrefix(r, l)
		switch {
		case common == l.Head():
			// dst is a prefix of src: a plain copy.
		case common == r.Head():
			rep := TransferReport{Archive: id, From: l.Head(), To: l.Head(), Ahead: l.Head()}
			if len(pending) == 0 {
				return rep, nil
			}
		default:
			if err := l.setAside(ctx, common); err != nil {
				return TransferReport{}, err
			}
			if pending, err = local.pendingRebases(ctx); err != nil {
				return TransferReport{}, err
			}
		}
	}
	rep, err := r.copyTo(ctx, dst, t, false)
	if err == nil {
		err = r.updatePin(func(p *Pin) { p.Stores[dst.String()] = max(p.Stores[dst.String()], r.Head()) })
	}
	if err != nil || len(pending) == 0 {
		return rep, err
	}
	l, err := Open(ctx, dst, id, opts)
	if err != nil {
		return rep, err
	}
	if err := unlock(ctx, l); err != nil {
		return rep, fmt.Errorf("rebasing this device's unpushed commits needs the archive key: %w", err)
	}
	for _, n := range pending {
		newN, err := l.rebase(ctx, n)
		if errors.Is(err, ErrConflict) {
			// Kept in rebased/ (prune keeps its objects); the pull itself
			// succeeded. Every pull says it again until it is dealt with.
			opts.Warn(fmt.Sprintf("%v; it stays set aside in %s", err, l.paths.rebased(n)))
			rep.NotRebased = append(rep.NotRebased, n)
			continue
		}
		if err != nil {
			return rep, err
		}
		if newN != 0 {
			rep.Rebased = append(rep.Rebased, newN)
			rep.To = newN
		}
	}
	return rep, nil
}

// hasCommits reports whether the store holds any commit of the archive.
func (a *Archive) hasCommits(ctx context.Context) (bool, error) {
	found := errors.New("found")
	err := a.st.List(ctx, a.paths.commits(), func(remote.Info) error { return found })
	if errors.Is(err, found) {
		return true, nil
	}
	return false, err
}

// commonPrefix is the number of commits two verified chains share. Commits
// chain by parent hash, so they share a prefix up to the last equal commit.
func commonPrefix(a, b *Archive) uint64 {
	n := min(a.Head(), b.Head())
	for n > 0 && a.commits[n-1].digest != b.commits[n-1].digest {
		n--
	}
	return n
}

// setAside moves this device's unpushed commits after common out of the
// chain, into rebased/, so that the remote's commits can take their numbers:
// first copied (and made durable), then removed from commits/. Their objects
// stay where they are; rebase reuses them. Only commits this device made and
// has not pushed may be set aside: any other difference is a fork.
func (a *Archive) setAside(ctx context.Context, common uint64) error {
	pin, err := a.opts.State.Load(a.id)
	if err != nil {
		return err
	}
	for n := common + 1; n <= a.Head(); n++ {
		if pin == nil || !slices.Contains(pin.LocalOnly, n) {
			return fmt.Errorf("%w: %s differs from the remote's commit %d and was not made on this device (a fork)", ErrIntegrity, a.paths.commit(n), n)
		}
		if kind := a.commits[n-1].body.Kind; kind != KindExport {
			return fmt.Errorf("%w: commit %d of archive %s is a %s commit, which pull cannot rebase yet; push it to another store or discard it", ErrConflict, n, a.id.Short(), kind)
		}
	}
	for n := common + 1; n <= a.Head(); n++ {
		b, err := readAll(ctx, a.st, a.paths.commit(n), maxCommitObject)
		if err != nil {
			return err
		}
		err = a.st.Create(ctx, a.paths.rebased(n), bytes.NewReader(b), int64(len(b)))
		if err != nil && !errors.Is(err, remote.ErrExists) {
			return fmt.Errorf("setting commit %d aside: %w", n, err)
		}
	}
	if s, ok := a.st.(remote.Syncer); ok {
		if err := s.Sync(ctx); err != nil {
			return err
		}
	}
	for n := a.Head(); n > common; n-- {
		if err := a.st.Delete(ctx, a.paths.commit(n)); err != nil {
			return fmt.Errorf("setting commit %d aside: %w", n, err)
		}
	}
	a.commits = a.commits[:common]
	// The device forgets the set-aside commits (their numbers now belong to
	// the remote's) and that this store held them.
	return a.updatePin(func(p *Pin) {
		for k := range p.Commits {
			if n, _ := strconv.ParseUint(k, 10, 64); n > common {
				delete(p.Commits, k)
			}
		}
		p.LocalOnly = slices.DeleteFunc(p.LocalOnly, func(n uint64) bool { return n > common })
		p.Stores[a.st.String()] = common
	})
}

// pendingRebases lists the commits set aside and not yet rebased, oldest first.
func (a *Archive) pendingRebases(ctx context.Context) ([]uint64, error) {
	var out []uint64
	err := a.st.List(ctx, a.paths.rebasedDir(), func(info remote.Info) error {
		n, ok := parseCommitName(info.Name)
		if !ok {
			return integrityError(info.Name, "not a commit name")
		}
		out = append(out, n)
		return nil
	})
	return out, err
}

func rebaseError(n uint64, format string, args ...any) error {
	return fmt.Errorf("%w: cannot rebase set-aside commit %d: %s", ErrConflict, n, fmt.Sprintf(format, args...))
}
