package shred

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chatvault/chatvault/archive"
	"github.com/chatvault/chatvault/kms/vault"
)

// VaultKEKPrefix starts the KEK of a vault-transit wrapper in a report:
// "vault transit key <mount>/<key>".
const VaultKEKPrefix = "vault transit key "

// Actions of a Vault key in VaultKey.Action.
const (
	VaultDeleted        = "deleted"         // the shred deleted it
	VaultAlreadyDeleted = "already-deleted" // Vault has no such key any more
	VaultKept           = "kept"            // shared, or failing the dedicated checks: see Note
	VaultNone           = "none"            // a conversation shred (nothing is destroyed)
	VaultWouldDelete    = "would-delete"    // a dry run's dedicated key
	VaultFailed         = "failed"          // the deletion (or the question) failed
)

// States of a Vault key in VaultKey.State.
const (
	VaultStateExists  = "exists"
	VaultStateDeleted = "deleted"
	VaultStateUnknown = "unknown"
)

// VaultKey is one HashiCorp Vault Transit key that wrapped the archive key,
// and what the shred found and did. Only a key made by init
// --vault-transit-create is destroyed: its wrapper marks it dedicated, its
// name is chatvault-<archive id>, and Vault says it is neither exportable
// nor allows a plaintext backup.
type VaultKey struct {
	Key       string `json:"key"`       // "<mount>/<key name>"
	Dedicated bool   `json:"dedicated"` // the wrapper marks it dedicated to this archive
	// Action: deleted, already-deleted, kept (shared, or failing the
	// dedicated checks: see Note), none (a conversation shred), would-delete
	// (dry run), failed.
	Action               string `json:"action"`
	State                string `json:"state"` // exists | deleted | unknown
	LatestVersion        int    `json:"latest_version,omitempty"`
	Exportable           bool   `json:"exportable,omitempty"`
	AllowPlaintextBackup bool   `json:"allow_plaintext_backup,omitempty"`
	Note                 string `json:"note,omitempty"`
}

// vaultSnapshotNote is the note of a report in which a Vault key was deleted.
const vaultSnapshotNote = "Vault storage snapshots and backups taken before the deletion of %s still hold its key material: they are not covered by this shred"

// splitVaultKEK returns the mount and key name of a report's vault-transit
// KEK ("vault transit key <mount>/<key>").
func splitVaultKEK(kek string) (mount, key string, ok bool) {
	ref, ok := strings.CutPrefix(kek, VaultKEKPrefix)
	if !ok {
		return "", "", false
	}
	i := strings.LastIndexByte(ref, '/')
	if i <= 0 || i == len(ref)-1 {
		return "", "", false
	}
	return ref[:i], ref[i+1:], true
}

// vaultOn returns a client of c's server for the Transit engine at mount.
func vaultOn(c *vault.Client, mount string) (*vault.Client, error) {
	if c.Mount() == mount {
		return c, nil
	}
	return vault.NewFromAPI(c.API(), mount)
}

// notDedicatedVault says why a Vault key marked dedicated does not qualify
// to be destroyed (or to count as destroyed), or "".
func notDedicatedVault(name string, info vault.Info, archiveID string) string {
	switch {
	case !vault.IsDedicatedName(name, archiveID):
		return fmt.Sprintf("its name is not %s (or %s-<suffix>)", vault.DedicatedName(archiveID), vault.DedicatedName(archiveID))
	case info.Exportable:
		return "it is exportable (its key material may exist outside Vault)"
	case info.AllowPlaintextBackup:
		return "it allows a plaintext backup (its key material may exist outside Vault)"
	}
	return ""
}

// vault describes every Vault key of the former wrappers and, when destroy is
// set, deletes the dedicated ones that pass the checks; it then sets each
// vault-transit wrapper's KEK status.
func (x *run) vault(ctx context.Context, destroy bool) {
	keks, dedicated := x.keks(archive.WrapperVault)
	keys := map[string]VaultKey{}
	for _, kek := range keks {
		k := x.vaultKey(ctx, kek, dedicated[kek], destroy || x.destroyKEK(kek))
		keys[kek] = k
		x.r.VaultKeys = append(x.r.VaultKeys, k)
		if k.Action == VaultDeleted || k.Action == VaultAlreadyDeleted && k.Dedicated {
			x.note(fmt.Sprintf(vaultSnapshotNote, k.Key))
		}
	}
	for i := range x.r.Wrappers {
		w := &x.r.Wrappers[i]
		if w.Type != archive.WrapperVault {
			continue
		}
		k := keys[w.KEK]
		k.Dedicated = k.Dedicated && w.Dedicated // only a wrapper marked dedicated counts its key destroyed
		w.KEKStatus, w.PendingUntil, w.Reason = vaultKEKStatus(k)
	}
}

// note adds a note to the report once.
func (x *run) note(s string) {
	for _, n := range x.r.Notes {
		if n == s {
			return
		}
	}
	x.r.Notes = append(x.r.Notes, s)
}

// vaultKey handles one Vault key.
func (x *run) vaultKey(ctx context.Context, kek string, dedicated, destroy bool) VaultKey {
	k := VaultKey{Key: strings.TrimPrefix(kek, VaultKEKPrefix), Dedicated: dedicated, State: VaultStateUnknown, Action: VaultNone}
	mustDestroy := dedicated && destroy && !x.o.DryRun
	failed := func(err error, what string) VaultKey {
		k.Note = what + ": " + oneLine(err)
		if mustDestroy {
			k.Action = VaultFailed
			x.fail(err)
			x.remain(Remaining{VaultKey: k.Key, Step: StepVault, Error: k.Note})
		}
		return k
	}
	mount, name, ok := splitVaultKEK(kek)
	if !ok {
		return failed(errors.New("not a <mount>/<key> name"), "the wrapper's Vault key "+k.Key)
	}
	if x.o.Vault == nil {
		k.Note = "no Vault client given: the key's state is unknown"
		if mustDestroy {
			k.Action = VaultFailed
			x.remain(Remaining{VaultKey: k.Key, Step: StepVault, Error: "no Vault client given: the dedicated key was not destroyed"})
		}
		return k
	}
	c, err := vaultOn(x.o.Vault, mount)
	if err != nil {
		return failed(err, "the wrapper's Vault mount")
	}
	info, exists, err := c.KeyInfo(ctx, name)
	if err != nil {
		return failed(err, "reading the key")
	}
	if !exists {
		k.State, k.Action = VaultStateDeleted, VaultAlreadyDeleted
		return k
	}
	k.State, k.LatestVersion, k.Exportable, k.AllowPlaintextBackup = VaultStateExists, info.LatestVersion, info.Exportable, info.AllowPlaintextBackup
	if !dedicated {
		k.Action = VaultKept
		k.Note = "not dedicated to this archive: a shared Vault key is never destroyed by a shred"
		return k
	}
	if why := notDedicatedVault(name, info, x.r.Archive); why != "" {
		k.Action = VaultKept
		k.Note = "marked dedicated but " + why + ": not destroyed"
		return k
	}
	switch {
	case !destroy:
		k.Note = "a conversation shred destroys no Vault key (it may wrap the new archive key)"
	case x.o.DryRun:
		k.Action, k.Note = VaultWouldDelete, "would be deleted, with every version of its key material"
	default:
		if err := c.Destroy(ctx, name); err != nil {
			k.Action = VaultFailed
			k.Note = "deleting the key: " + oneLine(err)
			x.fail(err)
			x.remain(Remaining{VaultKey: k.Key, Step: StepVault, Error: k.Note})
			if _, exists, err := c.KeyInfo(ctx, name); err == nil && !exists {
				k.State = VaultStateDeleted
			}
			return k
		}
		k.Action, k.State = VaultDeleted, VaultStateDeleted
	}
	return k
}

// vaultKEKStatus is the status of a Vault KEK from what the shred found.
func vaultKEKStatus(k VaultKey) (status string, until time.Time, reason string) {
	switch {
	case k.Action == VaultWouldDelete:
		return KEKDestroyed, until, "dry run: the dedicated Vault key would be deleted"
	case k.State == VaultStateDeleted && k.Dedicated:
		return KEKDestroyed, until, "the dedicated Vault key is deleted (every version of its key material)"
	case k.State == VaultStateDeleted:
		return KEKUnknown, until, "the Vault key is deleted, but it was not dedicated to this archive: whether its key material was exported or backed up before cannot be known"
	case k.State == VaultStateUnknown:
		return KEKUnknown, until, "the Vault key's state is unknown: " + k.Note
	case !k.Dedicated:
		return KEKSurvives, until, "a Vault key not dedicated to this archive survives the shred"
	}
	if k.Note != "" {
		return KEKSurvives, until, "the Vault key exists and was not destroyed: " + k.Note
	}
	return KEKSurvives, until, "the Vault key exists and was not destroyed"
}

// verifyVault asks Vault about one key (read only: never an encrypt, which
// would re-create a deleted key); nil when it cannot be asked.
func verifyVault(ctx context.Context, r *Report, kek string, c *vault.Client, add func(point, status, format string, args ...any)) *VaultKey {
	ref := strings.TrimPrefix(kek, VaultKEKPrefix)
	point := "vault " + ref
	dedicated, claimed := false, ""
	for _, w := range r.Wrappers {
		if w.Type == archive.WrapperVault && w.KEK == kek {
			dedicated = dedicated || w.Dedicated
			if w.KEKStatus == KEKDestroyed {
				claimed = w.KEKStatus
			}
		}
	}
	mount, name, ok := splitVaultKEK(kek)
	if !ok {
		add(point, CheckContradicted, "the report names a Vault key that is not <mount>/<key>")
		return nil
	}
	if c == nil {
		add(point, CheckUnreachable, "no Vault client: the key's state cannot be checked")
		return nil
	}
	cm, err := vaultOn(c, mount)
	if err != nil {
		add(point, CheckContradicted, "the report names a Vault mount that is not one: %v", oneLine(err))
		return nil
	}
	info, exists, err := cm.KeyInfo(ctx, name)
	if err != nil {
		add(point, CheckUnreachable, "%v", oneLine(err))
		return nil
	}
	k := &VaultKey{Key: ref, Dedicated: dedicated, State: VaultStateDeleted}
	// What the report saw of the key before it was deleted.
	for _, rk := range r.VaultKeys {
		if rk.Key == ref {
			k.Exportable, k.AllowPlaintextBackup = rk.Exportable, rk.AllowPlaintextBackup
		}
	}
	if exists {
		k.State, k.LatestVersion, k.Exportable, k.AllowPlaintextBackup = VaultStateExists, info.LatestVersion, info.Exportable, info.AllowPlaintextBackup
		if claimed == "" {
			add(point, CheckNote, "exists (latest version %d): survives (the report says so)", info.LatestVersion)
		}
		return k
	}
	if dedicated {
		if why := notDedicatedVault(name, vault.Info{Exportable: k.Exportable, AllowPlaintextBackup: k.AllowPlaintextBackup}, r.Archive); why != "" {
			if claimed != "" {
				add(point, CheckContradicted, "the report counts this key as a dedicated KEK destroyed, but %s", why)
			}
			k.Dedicated = false // deleted, but not provably destroyed
			return k
		}
	}
	add(point, CheckOK, "deleted (Vault has no such key)")
	return k
}

// verifyVaultWrapper sets the evidence's KEK status of one vault-transit
// wrapper, asking Vault once per key, and reports a contradiction with what
// the report claims.
func verifyVaultWrapper(ctx context.Context, r *Report, w *Wrapper, c *vault.Client, seen map[string]*VaultKey, add func(point, status, format string, args ...any)) {
	k, ok := seen[w.KEK]
	if !ok {
		k = verifyVault(ctx, r, w.KEK, c, add)
		seen[w.KEK] = k
	}
	if k == nil {
		w.KEKStatus, w.Reason = KEKUnknown, "the Vault key could not be checked"
		return
	}
	claimed := w.KEKStatus
	for _, rw := range r.Wrappers {
		if rw.ID == w.ID {
			claimed = rw.KEKStatus
		}
	}
	kk := *k
	kk.Dedicated = k.Dedicated && w.Dedicated
	w.KEKStatus, w.PendingUntil, w.Reason = vaultKEKStatus(kk)
	if claimed == KEKDestroyed && k.State == VaultStateExists {
		add("vault "+k.Key, CheckContradicted, "the report calls this key destroyed but Vault still has it (latest version %d)", k.LatestVersion)
	}
}
