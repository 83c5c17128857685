package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/chatvault/chatvault/archive"
)

type verifyOptions struct {
	app *app

	Archive     string
	ReadData    bool
	Keyless     bool
	Fingerprint string
	Jobs        int
	Keys        keyFlags
}

func newVerifyCmd(a *app, runF func(context.Context, *verifyOptions) error) *cobra.Command {
	opts := &verifyOptions{app: a}
	cmd := &cobra.Command{
		Use:   "verify ARCHIVE",
		Short: "Check that an archive is complete and intact",
		Long: `Check an archive's commits, signatures and objects.

By default verify unlocks the archive and checks that every object exists with
the recorded size and checksum, without downloading it; --read-data also reads
every object and checks its SHA-256. --keyless needs no secret: it checks the
signed commits and the SHA-256 of every object, and --fingerprint pins the
archive fingerprint (without it the first fingerprint seen is trusted).
Damage is exit status 3.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.begin()
			opts.Archive = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runVerify(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.ReadData, "read-data", false, "read every object and check its SHA-256")
	f.BoolVar(&opts.Keyless, "keyless", false, "verify without any secret")
	f.StringVar(&opts.Fingerprint, "fingerprint", "", "expected archive fingerprint `FP` (hex)")
	f.IntVar(&opts.Jobs, "jobs", 0, "objects checked in parallel (0: one per CPU)")
	opts.Keys.register(f)
	return cmd
}

type verifyRecord struct {
	Type        string `json:"type"`
	Archive     string `json:"archive"`
	Fingerprint string `json:"fingerprint"`
	Commits     int    `json:"commits"`
	Objects     int    `json:"objects"`
	Bytes       int64  `json:"bytes"`
	ReadData    bool   `json:"read_data"`
	Keyless     bool   `json:"keyless"`
}

func runVerify(ctx context.Context, opts *verifyOptions) error {
	a := opts.app
	if opts.Jobs < 0 {
		return usageErrorf("--jobs must not be negative")
	}
	_, ar, err := a.openRepoArchive(ctx, storeRead, opts.Archive, opts.Fingerprint)
	if err != nil {
		return err
	}
	if !opts.Keyless {
		if err := a.unlock(ctx, ar, opts.Keys, false); err != nil {
			return err
		}
	}
	bar := a.newProgress(-1, "verify", false)
	rep, err := ar.Verify(ctx, archive.VerifyOptions{
		ReadData: opts.ReadData,
		Jobs:     opts.Jobs,
		Keyless:  opts.Keyless,
		Progress: func(done, total int) { bar.set(int64(done), int64(total)) },
	})
	bar.done()
	if err != nil {
		return err
	}
	if a.json {
		return a.emit(verifyRecord{Type: "verify", Archive: ar.ID().String(), Fingerprint: ar.Fingerprint(),
			Commits: rep.Commits, Objects: rep.Objects, Bytes: rep.Bytes, ReadData: opts.ReadData, Keyless: opts.Keyless})
	}
	how := "sizes and checksums"
	if opts.ReadData || opts.Keyless {
		how = "contents read"
	}
	if opts.Keyless {
		how += ", without key"
	}
	a.printf("archive %s is intact: %s, %s, %s (%s)\n", ar.ID().Short(), plural(rep.Commits, "version"), plural(rep.Objects, "object"), formatBytes(rep.Bytes), how)
	return nil
}
