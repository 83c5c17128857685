package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/archive/audit"
	"github.com/chatvault/chatvault/archive/shred"
	"github.com/chatvault/chatvault/remote"
)

// The audit log: one JSON line per command that changes who can open an
// archive or destroys one (archive/audit), appended to <state dir>/audit.log
// and, with the global --audit-log STORE (config key audit-log), also written
// to that store as one object per record (audit/<time>-<random>.json).
//
// What a failure to write it means:
//   - init, keys, rotate, rekey (a.audit): a warning on stderr, printed even
//     with --quiet — never a silent success, but the change stands;
//   - shred (a.auditStrict): an error. A shred appends a "started" record
//     before it deletes anything, and refuses to begin (exit 1) if that
//     fails; a final record that cannot be written after the shred is exit 1
//     too (the shred itself is done: rerunning it writes the record).
//     Compliance relies on the log, so a shred nobody can account for must
//     not look like a success.

// auditState is what a run keeps of the audit log: the --audit-log flag and
// the operator named in records.
type auditState struct {
	store string // --audit-log: a store receiving every record ("" for none)

	opOnce sync.Once
	op     shred.Operator

	storeOnce sync.Once
	st        remote.Store
	stErr     error
}

// auditPath is the local audit log file.
func (a *app) auditPath() string { return filepath.Join(a.stateDir, "audit.log") }

// operator names who runs this command, once per run: the AWS caller
// identity (STS) when the run talks to AWS — an s3:// store, or a KMS client
// was made — else the local user and host.
func (a *app) operator(ctx context.Context, aws bool) shred.Operator {
	a.aud.opOnce.Do(func() {
		if aws || strings.HasPrefix(a.repo, "s3://") || a.kmsClient != nil {
			a.aud.op = shred.Identify(ctx, shred.IdentifyOptions{Timeout: 5 * time.Second})
			return
		}
		a.aud.op = shred.LocalOperator("no AWS service involved")
	})
	return a.aud.op
}

// auditLog returns the log to append to: the state dir's file and, with
// --audit-log, the store.
func (a *app) auditLog(ctx context.Context) (*audit.Log, error) {
	if a.stateDir == "" {
		return nil, errors.New("audit log: no state directory (--state-dir)")
	}
	if err := os.MkdirAll(a.stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	l := &audit.Log{Path: a.auditPath()}
	if a.aud.store != "" {
		a.aud.storeOnce.Do(func() {
			a.aud.st, a.aud.stErr = a.openStore(ctx, a.aud.store, storeCreate)
		})
		if a.aud.stErr != nil {
			return nil, fmt.Errorf("audit log store %s: %w", a.aud.store, a.aud.stErr)
		}
		l.Store = a.aud.st
	}
	return l, nil
}

// auditStrict appends one record to the audit log and returns any failure.
// details must hold no secret (audit.ErrSecret refuses keys naming one and
// byte strings).
func (a *app) auditStrict(ctx context.Context, action string, id archive.ID, details map[string]any) error {
	l, err := a.auditLog(ctx)
	if err != nil {
		return err
	}
	op := a.operator(ctx, false)
	return l.Append(ctx, audit.Record{Action: action, Archive: id.String(), Operator: op.String(),
		IdentitySource: op.IdentitySource, Details: details})
}

// audit appends one record to the audit log (see auditStrict); a failure is
// a warning printed even with --quiet, never silent. action is one of
// audit.ActionInit, ActionKeysAdd, ActionKeysRemove, ActionRotate,
// ActionRekey, ActionShred, ActionShredConversation.
func (a *app) audit(ctx context.Context, action string, id archive.ID, details map[string]any) {
	if err := a.auditStrict(ctx, action, id, details); err != nil {
		a.outMu.Lock()
		defer a.outMu.Unlock()
		fmt.Fprintf(a.errOut, "warning: the audit log was not written: %s\n", oneLine(err.Error()))
	}
}

// describeWrappers names wrappers and their KEKs for the audit log (types,
// ARNs, recipients, KDF parameters: never a secret).
func describeWrappers(ws []*archive.Wrapper) []string {
	out := make([]string, 0, len(ws))
	for _, w := range ws {
		out = append(out, describeWrapper(w))
	}
	return out
}

// hadRecovery reports whether a wrapper set held a recovery-key wrapper
// (whose sheet a re-key makes void).
func hadRecovery(ws []*archive.Wrapper) bool {
	return slices.ContainsFunc(ws, func(w *archive.Wrapper) bool { return w.Type == archive.WrapperRecovery })
}
