package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/archive/shred"
	"github.com/chatvault/chatvault/kms/awskms"
	"github.com/chatvault/chatvault/kms/vault"
	"github.com/chatvault/chatvault/remote"
)

type verifyShredOptions struct {
	Report          string
	Stores          []string
	PublicKey       string
	AllowPending    bool
	AllowBestEffort bool

	repoSet bool // --repo given (or set by the environment or config)
}

const verifyShredLong = `Check a shred report (from ` + "`chatvault shred`" + `) against the world, with no
archive secret: anyone — an auditor — can run it.

It checks the report's signature (--public-key pins the operator's key: base64
or hex of its 32 bytes, a PEM public key, or a FILE holding one; an unsigned
report then fails); that its grade follows from its own list of former
wrappers; in every store the report names (and each --store URL, and --repo
when given) that no version or delete marker of the archive's objects remains
(for a conversation shred: of its tombstoned objects), except versions S3
Object Lock keeps that the report lists; and what KMS (and Vault) say of every
key the report names: a merely disabled KMS key is not destroyed.

Exit status: 0 grade final and every point holds; 6 pending — a dedicated KMS
key can still be restored until the date printed: verify again after it (0
with --allow-pending), or the report says the shred is not complete (rerun
the shred); 1 best-effort — some key-encryption key survives, and the report
names it (0 with --allow-best-effort); 3 evidence contradicts the report (the
failing point is named); 5 a store, KMS or Vault cannot be asked.

--json prints one record: the verdict, the grade the evidence supports and
every check.`

func newVerifyShredCmd(a *app, runF func(context.Context, *verifyShredOptions) error) *cobra.Command {
	o := &verifyShredOptions{}
	cmd := &cobra.Command{
		Use:   "verify-shred REPORT [--store URL]... [--public-key KEY] [--allow-pending] [--allow-best-effort]",
		Short: "Check a shred report against the stores and KMS (no secret needed)",
		Long:  verifyShredLong,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a.begin()
			o.Report = args[0]
			if f := cmd.Flags().Lookup("repo"); f != nil {
				o.repoSet = f.Changed || a.repo != f.DefValue
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return a.verifyShred(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.Stores, "store", nil, "also check the store `URL` (a directory or s3://bucket/prefix); may be repeated")
	f.StringVar(&o.PublicKey, "public-key", "", "require the report to be signed by `KEY` (base64 or hex of the Ed25519 key, PEM, or a file holding one)")
	f.BoolVar(&o.AllowPending, "allow-pending", false, "exit 0 for a shred pending the deletion of a dedicated KMS key")
	f.BoolVar(&o.AllowBestEffort, "allow-best-effort", false, "exit 0 for a best-effort shred (some key-encryption key survives)")
	return cmd
}

// verifyShredRecord is the --json record of verify-shred.
type verifyShredRecord struct {
	Type         string `json:"type"`
	Report       string `json:"report"`
	Kind         string `json:"kind"`
	Archive      string `json:"archive"`
	Conversation string `json:"conversation,omitempty"`
	Exit         int    `json:"exit"`
	shred.VerifyResult
}

func (a *app) verifyShred(ctx context.Context, o *verifyShredOptions) error {
	r, err := shred.LoadReport(o.Report)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return usageErrorf("verify-shred: no report %s", o.Report)
		}
		return err
	}
	var pub ed25519.PublicKey
	if o.PublicKey != "" {
		if pub, err = parsePublicKeyArg(o.PublicKey); err != nil {
			return usageErrorf("--public-key: %v", err)
		}
	}

	// Every store the report names, those given, and --repo when given. A
	// store that cannot be opened is left out: Verify calls it unreachable.
	var stores []remote.Store
	seen := map[string]bool{}
	var urls []string
	for _, s := range r.Stores {
		urls = append(urls, s.URL)
	}
	urls = append(urls, o.Stores...)
	if o.repoSet {
		urls = append(urls, a.repo)
	}
	for _, u := range urls {
		if seen[u] {
			continue
		}
		seen[u] = true
		st, err := a.openStore(ctx, u, storeRead)
		if err != nil {
			a.warn(fmt.Sprintf("store %s cannot be opened: %s", u, oneLine(err.Error())))
			continue
		}
		if !seen[st.String()] || st.String() == u {
			seen[st.String()] = true
			stores = append(stores, st)
		}
	}

	// KMS and Vault clients only when the report names such keys.
	var kmsc *awskms.Client
	var vc *vault.Client
	needKMS, needVault := len(r.KMSKeys) > 0, len(r.VaultKeys) > 0
	for _, w := range append(append([]shred.Wrapper(nil), r.Wrappers...), r.NewWrappers...) {
		needKMS = needKMS || w.Type == archive.WrapperKMS
		needVault = needVault || w.Type == archive.WrapperVault
	}
	if needKMS {
		if kmsc, err = a.kms(ctx); err != nil {
			var ce *cliError
			if errors.As(err, &ce) && ce.code == exitUsage {
				return err
			}
			a.warn(fmt.Sprintf("no KMS client: %s", oneLine(err.Error())))
			kmsc = nil
		}
	}
	if needVault {
		if vc, err = a.vaultClient(); err != nil {
			a.warn(fmt.Sprintf("no Vault client: %s", oneLine(err.Error())))
			vc = nil
		}
	}

	res, err := shred.Verify(ctx, r, stores, kmsc, shred.VerifyOptions{PublicKey: pub, Vault: vc})
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	code := res.Verdict.ExitCode(o.AllowPending, o.AllowBestEffort)

	if a.json {
		if err := a.emit(verifyShredRecord{Type: "verify_shred", Report: o.Report, Kind: r.Kind, Archive: r.Archive,
			Conversation: r.Conversation, Exit: code, VerifyResult: res}); err != nil {
			return err
		}
	} else if !a.quiet {
		what := "archive " + r.Archive
		if r.Kind == shred.KindConversation {
			what = "conversation " + r.Conversation + " of archive " + r.Archive
		}
		fmt.Fprintf(a.out, "shred report %s: %s, grade %s in the report\n", o.Report, what, r.GradeText())
		for _, c := range res.Checks {
			fmt.Fprintf(a.out, "%-5s %s: %s\n", checkWord(c.Status), c.Point, c.Detail)
		}
		fmt.Fprintf(a.out, "verdict: %s\n", verdictText(res))
	}

	switch {
	case code == exitOK && res.Verdict == shred.VerdictPending:
		a.printf("accepted with --allow-pending: verify again after %s for the final grade\n", res.PendingUntil.UTC().Format(time.RFC3339))
	case code == exitOK && res.Verdict == shred.VerdictBestEffort:
		a.printf("accepted with --allow-best-effort: the surviving keys are named above\n")
	}
	if code == exitOK {
		return nil
	}
	var hint string
	switch res.Verdict {
	case shred.VerdictPending:
		hint = "verify again after " + res.PendingUntil.UTC().Format(time.RFC3339) + " (the KMS deletion date), or accept the pending grade with --allow-pending"
	case shred.VerdictBestEffort:
		hint = "a key-encryption key survives the shred (listed above): accept that with --allow-best-effort"
	case shred.VerdictIncomplete:
		hint = "the shred is not complete: run the same `chatvault shred` again to finish it, then verify the new report"
	case shred.VerdictContradicted:
		hint = "the report does not match what the stores or KMS hold (or it was changed after signing): do not rely on it"
	case shred.VerdictUnreachable:
		hint = "check the network and the stores, KMS and Vault named above, then run verify-shred again"
	}
	return &cliError{err: res.Err(), code: code, hint: hint}
}

// parsePublicKeyArg reads --public-key: the key itself, or a file holding it.
func parsePublicKeyArg(s string) (ed25519.PublicKey, error) {
	if pub, err := shred.ParsePublicKey(s); err == nil {
		return pub, nil
	}
	b, err := os.ReadFile(s)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errors.New("want base64 or hex of 32 bytes, a PEM public key, or a file holding one")
		}
		return nil, err
	}
	return shred.ParsePublicKey(string(b))
}

func checkWord(status string) string {
	switch status {
	case shred.CheckOK:
		return "ok"
	case shred.CheckContradicted:
		return "FAIL"
	case shred.CheckUnreachable:
		return "UNREACHABLE"
	case shred.CheckIncomplete:
		return "INCOMPLETE"
	}
	return status
}

func verdictText(res shred.VerifyResult) string {
	switch res.Verdict {
	case shred.VerdictOK:
		return "ok: the shred is final and every point holds"
	case shred.VerdictPending:
		return "pending until " + res.PendingUntil.UTC().Format(time.RFC3339) + ": a dedicated KMS key can still be restored until then"
	case shred.VerdictBestEffort:
		return "best-effort: these key-encryption keys survive: " + strings.Join(res.SurvivingKEKs, "; ")
	case shred.VerdictIncomplete:
		return "incomplete: the shred is not finished"
	case shred.VerdictContradicted:
		return "CONTRADICTED: the evidence does not match the report"
	case shred.VerdictUnreachable:
		return "unreachable: a store, KMS or Vault could not be asked"
	}
	return res.Verdict.String()
}
