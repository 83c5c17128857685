package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/remote"
)

type transferOptions struct {
	Archive string
	Other   string // --to (push) or --from (pull); default: the remote setting
	Jobs    int
	Pin     string
	Keys    keyFlags
}

const pushLong = `Push copies an archive from --repo to another store (--to, default the
"remote" setting of the config file or --remote): only the objects the other
store lacks, in parallel, each written create-exclusive and checked against
its recorded SHA-256 as it streams; then the new commits, last, so that a
version appears there only once it is complete. Push needs no secret.

If another device pushed a newer commit first, push exits 6: run
` + "`chatvault pull`" + `, which rebases this device's commits onto it, then push again.
An interrupted push (Ctrl-C, kill, network down) is finished by running it
again; nothing already sent is sent twice.`

const pullLong = `Pull copies an archive from another store (--from, default the "remote"
setting) into --repo, like push in the other direction. When this device has
commits it has not pushed and the other store moved on meanwhile, pull rebases
them onto the other store's newest commit, reusing their segments (this needs
the archive key: a passphrase or recovery key, as for export). A store that
is merely behind this device is left as it is.`

func newPushCmd(a *app, run func(context.Context, transferOptions) error) *cobra.Command {
	return newTransferCmd(a, "push", "Copy an archive's new commits to another store", pushLong, "to", run)
}

func newPullCmd(a *app, run func(context.Context, transferOptions) error) *cobra.Command {
	return newTransferCmd(a, "pull", "Copy an archive's new commits from another store, rebasing unpushed ones", pullLong, "from", run)
}

func newTransferCmd(a *app, name, short, long, dir string, run func(context.Context, transferOptions) error) *cobra.Command {
	var o transferOptions
	cmd := &cobra.Command{
		Use:   name + " ARCHIVE",
		Short: short,
		Long:  long,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.begin()
			o.Archive = args[0]
			if o.Other == "" {
				o.Other = a.remote
			}
			if o.Other == "" {
				return usageErrorf("%s: no other store: give --%s STORE or set remote in the config file", name, dir)
			}
			if o.Jobs < 1 || o.Jobs > 64 {
				return usageErrorf("--jobs %d: want 1 to 64", o.Jobs)
			}
			if run != nil {
				return run(cmd.Context(), o)
			}
			if name == "push" {
				return a.push(cmd.Context(), o)
			}
			return a.pull(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Other, dir, "", "the other `STORE` (directory or s3://bucket/prefix; default: the remote setting)")
	f.IntVar(&o.Jobs, "jobs", 8, "objects transferred in parallel")
	f.StringVar(&o.Pin, "fingerprint", "", "expected archive fingerprint (refuse any other)")
	if name == "pull" {
		o.Keys.register(f)
	}
	return cmd
}

// transferRecord is the --json summary of a push or pull.
type transferRecord struct {
	Type    string   `json:"type"`
	Archive string   `json:"archive"`
	From    uint64   `json:"from_commit"`
	To      uint64   `json:"to_commit"`
	Commits int      `json:"commits"`
	Objects int      `json:"objects"`
	Bytes   int64    `json:"bytes"`
	Skipped int      `json:"skipped"`
	Deleted int      `json:"deleted"`
	Ahead   uint64   `json:"ahead,omitempty"`
	Rebased []uint64 `json:"rebased,omitempty"`
}

// progressRecord is a --json progress event, at most a few per second.
type progressRecord struct {
	Type         string `json:"type"`
	Op           string `json:"op"`
	Objects      int    `json:"objects"`
	TotalObjects int    `json:"total_objects"`
	Bytes        int64  `json:"bytes"`
	TotalBytes   int64  `json:"total_bytes"`
}

func (a *app) push(ctx context.Context, o transferOptions) error {
	src, err := a.openStore(ctx, a.repo, storeRead)
	if err != nil {
		return err
	}
	dst, err := a.openStore(ctx, o.Other, storeCreate)
	if err != nil {
		return err
	}
	id, err := a.resolve(ctx, src, o.Archive)
	if err != nil {
		return err
	}
	rep, err := archive.Push(ctx, src, dst, id, a.archiveOptions(o.Pin), a.transferOptions("push", o.Jobs))
	if err != nil {
		return err
	}
	return a.reportTransfer("push", src, dst, rep)
}

func (a *app) pull(ctx context.Context, o transferOptions) error {
	src, err := a.openStore(ctx, o.Other, storeRead)
	if err != nil {
		return err
	}
	dst, err := a.openStore(ctx, a.repo, storeCreate)
	if err != nil {
		return err
	}
	id, err := a.resolve(ctx, src, o.Archive)
	if err != nil {
		return err
	}
	unlock := func(ctx context.Context, ar *archive.Archive) error { return a.unlock(ctx, ar, o.Keys, false) }
	rep, err := archive.Pull(ctx, src, dst, id, a.archiveOptions(o.Pin), a.transferOptions("pull", o.Jobs), unlock)
	if err != nil {
		return err
	}
	return a.reportTransfer("pull", src, dst, rep)
}

func (a *app) resolve(ctx context.Context, st remote.Store, name string) (archive.ID, error) {
	id, err := archive.Resolve(ctx, st, name, a.state())
	if err != nil {
		return id, withHint(err, "run `chatvault ls --repo "+st.String()+"` to list the archives there")
	}
	return id, nil
}

// transferOptions wires progress: a bar with bytes, objects and ETA on a
// terminal, JSON events with --json.
func (a *app) transferOptions(op string, jobs int) archive.TransferOptions {
	t := archive.TransferOptions{Jobs: jobs}
	switch {
	case a.json:
		var mu sync.Mutex
		var last time.Time
		t.Progress = func(p archive.TransferProgress) {
			mu.Lock()
			defer mu.Unlock()
			if p.Objects != p.TotalObjects && p.Objects != 0 && time.Since(last) < 250*time.Millisecond {
				return
			}
			last = time.Now()
			_ = a.emit(progressRecord{Type: "progress", Op: op, Objects: p.Objects, TotalObjects: p.TotalObjects, Bytes: p.Bytes, TotalBytes: p.TotalBytes})
		}
	default:
		var bar *progress
		var once sync.Once
		t.Progress = func(p archive.TransferProgress) {
			once.Do(func() { bar = a.newProgress(p.TotalBytes, op, true) })
			bar.describe(fmt.Sprintf("%s %d/%d objects", op, p.Objects, p.TotalObjects))
			bar.set(p.Bytes, p.TotalBytes)
			if p.Objects == p.TotalObjects {
				bar.done()
			}
		}
	}
	return t
}

func (a *app) reportTransfer(op string, src, dst remote.Store, rep archive.TransferReport) error {
	if a.json {
		return a.emit(transferRecord{Type: op, Archive: rep.Archive.String(), From: rep.From, To: rep.To, Commits: rep.Commits,
			Objects: rep.Objects, Bytes: rep.Bytes, Skipped: rep.Skipped, Deleted: rep.Deleted, Ahead: rep.Ahead, Rebased: rep.Rebased})
	}
	switch {
	case rep.Ahead != 0 && op == "push":
		a.warn(fmt.Sprintf("%s has archive %s up to commit %d, newer than %s: nothing pushed; run `chatvault pull` to get its commits", dst, rep.Archive.Short(), rep.Ahead, src))
		return nil
	case rep.Ahead != 0:
		a.printf("%s is ahead of %s (commit %d): nothing to pull; `chatvault push` sends its commits\n", dst, src, rep.Ahead)
		return nil
	case rep.Commits == 0 && rep.Objects == 0 && len(rep.Rebased) == 0:
		a.printf("%s already has archive %s up to commit %d: nothing to %s\n", dst, rep.Archive.Short(), rep.To, op)
		return nil
	}
	a.printf("%s: archive %s commits %d→%d in %s (%s, %s sent, %s already there",
		op, rep.Archive.Short(), rep.From, rep.To, dst, plural(rep.Objects, "object"), formatBytes(rep.Bytes), plural(rep.Skipped, "object"))
	if rep.Deleted > 0 {
		a.printf(", %s deleted by tombstones", plural(rep.Deleted, "object"))
	}
	a.printf(")\n")
	if len(rep.Rebased) > 0 {
		a.printf("rebased this device's unpushed commits onto the remote head as %v: push to send them\n", rep.Rebased)
	}
	return nil
}
