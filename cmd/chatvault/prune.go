package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/chatvault/chatvault/archive"
)

type pruneOptions struct {
	app *app

	Archive string
	Grace   time.Duration
	DryRun  bool
}

func newPruneCmd(a *app, runF func(context.Context, *pruneOptions) error) *cobra.Command {
	opts := &pruneOptions{app: a}
	cmd := &cobra.Command{
		Use:   "prune ARCHIVE",
		Short: "Remove objects no version refers to",
		Long: `Remove objects that no commit refers to (leftovers of crashed or lost
writes) once they are older than --grace, and only while no other writer
holds a lease on the archive.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.begin()
			opts.Archive = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runPrune(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&opts.Grace, "grace", 24*time.Hour, "keep unreferenced objects younger than this")
	f.BoolVar(&opts.DryRun, "dry-run", false, "only list what would be removed")
	return cmd
}

type pruneRecord struct {
	Type    string   `json:"type"`
	Archive string   `json:"archive"`
	DryRun  bool     `json:"dry_run"`
	Removed []string `json:"removed"`
	Bytes   int64    `json:"bytes"`
	Kept    int      `json:"kept"`
}

func runPrune(ctx context.Context, opts *pruneOptions) error {
	a := opts.app
	if opts.Grace <= 0 {
		// The engine reads a zero grace as its default (24h).
		return usageErrorf("--grace must be positive (1s removes every unreferenced object)")
	}
	_, ar, err := a.openRepoArchive(ctx, storeWrite, opts.Archive, "")
	if err != nil {
		return err
	}
	// The signed commits and integrity lists name every live object: prune
	// needs no key.
	rep, err := ar.Prune(ctx, archive.PruneOptions{Grace: opts.Grace, DryRun: opts.DryRun})
	if err != nil {
		return err
	}
	for _, name := range rep.Removed {
		a.notef("%s", name)
	}
	if a.json {
		removed := rep.Removed
		if removed == nil {
			removed = []string{}
		}
		return a.emit(pruneRecord{Type: "prune", Archive: ar.ID().String(), DryRun: opts.DryRun,
			Removed: removed, Bytes: rep.Bytes, Kept: rep.Kept})
	}
	verb := "removed"
	if opts.DryRun {
		verb = "would remove"
	}
	a.printf("%s %s (%s); %s kept\n", verb, plural(len(rep.Removed), "unreferenced object"), formatBytes(rep.Bytes), plural(rep.Kept, "object"))
	return nil
}
