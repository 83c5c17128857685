package main

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/remote"
)

type lsOptions struct {
	app *app

	Archive string // "": list the archives
	Keys    keyFlags
}

func newLsCmd(a *app, runF func(context.Context, *lsOptions) error) *cobra.Command {
	opts := &lsOptions{app: a}
	cmd := &cobra.Command{
		Use:   "ls [ARCHIVE]",
		Short: "List archives, or the versions and conversations of one",
		Long: `Without ARCHIVE, list the archives in the store: id, label, versions, messages,
stored size and the type and age of each wrapper (the keys that open it).
Labels and message counts come from this device's cache; ls never asks for a
passphrase to fill them in.

With ARCHIVE, unlock it and list its wrappers with their ages, its versions
(commits) and its conversations.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.begin()
			if len(args) == 1 {
				opts.Archive = args[0]
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runLs(cmd.Context(), opts)
		},
	}
	opts.Keys.register(cmd.Flags())
	return cmd
}

type archiveRow struct {
	Type        string       `json:"type"`
	ID          string       `json:"id"`
	Label       string       `json:"label,omitempty"`
	Versions    uint64       `json:"versions"`
	Messages    *int64       `json:"messages,omitempty"` // from the cache; absent when unknown
	StoredBytes int64        `json:"stored_bytes"`
	Wrappers    []wrapperAge `json:"wrappers,omitempty"` // absent when the archive could not be read
	wrappers    []*archive.Wrapper
}

type archiveHeadRow struct {
	Type        string       `json:"type"`
	ID          string       `json:"id"`
	Label       string       `json:"label"`
	Fingerprint string       `json:"fingerprint"`
	Cipher      string       `json:"cipher"`
	Versions    uint64       `json:"versions"`
	Wrappers    []wrapperAge `json:"wrappers"`
}

// wrapperAge is a wrapper in ls --json: enough to see which keys are due.
type wrapperAge struct {
	ID      string    `json:"id"`
	Type    string    `json:"type"`
	Created time.Time `json:"created"`
	AgeDays int       `json:"age_days"`
}

func wrapperAgeRows(ws []*archive.Wrapper, now time.Time) []wrapperAge {
	out := make([]wrapperAge, len(ws))
	for i, w := range ws {
		out[i] = wrapperAge{ID: w.ID.String(), Type: w.Type, Created: w.Created, AgeDays: ageDays(w.Created, now)}
	}
	return out
}

type commitRow struct {
	Type    string     `json:"type"`
	Archive string     `json:"archive"`
	Version uint64     `json:"version"`
	Kind    string     `json:"kind"`
	Time    *time.Time `json:"time,omitempty"`
	Added   int64      `json:"added"`
	Total   int64      `json:"total"`
}

type conversationRow struct {
	Type     string     `json:"type"`
	Archive  string     `json:"archive"`
	ID       string     `json:"id"`
	Label    string     `json:"label"`
	Messages int64      `json:"messages"`
	First    *time.Time `json:"first,omitempty"`
	Last     *time.Time `json:"last,omitempty"`
}

func runLs(ctx context.Context, opts *lsOptions) error {
	a := opts.app
	st, err := a.openStore(ctx, a.repo, storeRead)
	if err != nil {
		return err
	}
	if opts.Archive == "" {
		return listArchives(ctx, a, st)
	}
	ar, err := a.openArchive(ctx, st, opts.Archive, "")
	if err != nil {
		return err
	}
	if err := a.unlock(ctx, ar, opts.Keys, false); err != nil {
		return err
	}
	label, err := ar.Label(ctx)
	if err != nil {
		return err
	}
	commits, err := ar.Commits(ctx)
	if err != nil {
		return err
	}
	convs, err := ar.Conversations(ctx, 0)
	if err != nil {
		return err
	}
	ws, err := ar.Wrappers(ctx)
	if err != nil {
		return err
	}
	id := ar.ID().String()
	now := time.Now()

	if a.json {
		if err := a.emit(archiveHeadRow{Type: "archive", ID: id, Label: label, Fingerprint: ar.Fingerprint(),
			Cipher: ar.Suite(), Versions: ar.Head(), Wrappers: wrapperAgeRows(ws, now)}); err != nil {
			return err
		}
		for _, c := range commits {
			if err := a.emit(commitRow{Type: "commit", Archive: id, Version: c.N, Kind: c.Kind,
				Time: timePtr(c.Time), Added: c.Added, Total: c.Total}); err != nil {
				return err
			}
		}
		for _, c := range convs {
			if err := a.emit(conversationRow{Type: "conversation", Archive: id, ID: c.ID.String(), Label: c.Label,
				Messages: c.Messages, First: timePtr(c.First), Last: timePtr(c.Last)}); err != nil {
				return err
			}
		}
		return nil
	}

	fmt.Fprintf(a.out, "archive %q %s\nfingerprint %s\nwrappers %s\n\n", label, id, ar.Fingerprint(), wrapperAges(ws, now))
	tw := tabwriter.NewWriter(a.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tKIND\tTIME\tADDED\tMESSAGES")
	for _, c := range commits {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\n", c.N, c.Kind, formatTime(c.Time), c.Added, c.Total)
	}
	tw.Flush()
	fmt.Fprintln(a.out)
	if len(convs) == 0 {
		fmt.Fprintln(a.out, "no conversations yet")
		return nil
	}
	fmt.Fprintln(tw, "CONVERSATION\tLABEL\tMESSAGES\tFIRST\tLAST")
	for _, c := range convs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", c.ID.Short(), tableText(c.Label), c.Messages, formatTime(c.First), formatTime(c.Last))
	}
	return tw.Flush()
}

// listArchives lists the archives of the store with what this device knows
// of them and their wrappers' types and ages; it never unlocks anything, and
// reads the archives without recording them in this device's state.
func listArchives(ctx context.Context, a *app, st remote.Store) error {
	sums, err := archive.ListArchives(ctx, st)
	if err != nil {
		return err
	}
	rows := make([]archiveRow, len(sums))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, s := range sums {
		row := &rows[i]
		*row = archiveRow{Type: "archive", ID: s.ID.String(), Versions: s.Commits, StoredBytes: s.StoredBytes}
		pin, err := a.state().Load(s.ID)
		if err != nil {
			a.warn(err.Error())
		} else if pin != nil {
			row.Label = pin.Label
			if pin.Messages > 0 || pin.Label != "" {
				n := pin.Messages
				row.Messages = &n
			}
		}
		g.Go(func() error {
			ar, err := archive.Open(gctx, st, s.ID, archive.Options{})
			if err == nil {
				row.wrappers, err = ar.Wrappers(gctx)
			}
			if err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				a.warn(fmt.Sprintf("archive %s: %s", s.ID.Short(), oneLine(err.Error())))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	now := time.Now()
	for i := range rows {
		a.warnOldWrappers(rows[i].wrappers)
		if rows[i].wrappers != nil {
			rows[i].Wrappers = wrapperAgeRows(rows[i].wrappers, now)
		}
	}
	if a.json {
		for _, r := range rows {
			if err := a.emit(r); err != nil {
				return err
			}
		}
		return nil
	}
	if len(rows) == 0 {
		a.printf("no archives in %s\n", st)
		return nil
	}
	tw := tabwriter.NewWriter(a.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tLABEL\tVERSIONS\tMESSAGES\tSTORED\tWRAPPERS")
	for _, r := range rows {
		msgs := "-"
		if r.Messages != nil {
			msgs = strconv.FormatInt(*r.Messages, 10)
		}
		keys := "?"
		if r.wrappers != nil {
			keys = wrapperAges(r.wrappers, now)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", r.ID[:12], tableText(r.Label), r.Versions, msgs, formatBytes(r.StoredBytes), keys)
	}
	return tw.Flush()
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// formatTime shows a time in the local zone, or "-" when unknown.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// tableText keeps a label on one table cell: no tabs or line breaks, at most
// 40 characters.
func tableText(s string) string {
	if s == "" {
		return "-"
	}
	r := []rune(s)
	for i, c := range r {
		if c < ' ' || c == 0x7f {
			r[i] = ' '
		}
	}
	if len(r) > 40 {
		r = append(r[:39], '…')
	}
	return string(r)
}
