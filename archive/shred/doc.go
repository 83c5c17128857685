// Package shred crypto-shreds chatvault archives and proves it: it destroys
// an archive (Archive, Resume) or completes a conversation shred the engine
// made (Conversation), writes a report of what it did and how final that is,
// signs reports with an operator key (Sign), and checks a report against the
// stores, KMS and Vault without any archive secret (Verify).
//
// # Order of a whole-archive shred
//
// Key material first, then the KEKs, then the data, so that a shred stopped
// anywhere — a refused delete, a network drop, a crash — has already made
// the data unreadable as far as it got:
//
//  1. keys: in every store, every version and delete marker of every object
//     under archives/<id>/keys/ (wrappers, wrapper sets, key tables), and
//     multipart uploads there;
//  2. kms: every dedicated KMS key of an aws-kms wrapper is disabled at once
//     and scheduled for deletion after Options.KMSPendingDays days (7 to 30,
//     default 7) — only a key that is marked dedicated in its wrapper AND is
//     of origin AWS_KMS, single-region and tagged chatvault:archive=<id>; any
//     other key is left alone and survives. Then every dedicated HashiCorp
//     Vault Transit key of a vault-transit wrapper is deleted with every
//     version of its key material (Options.Vault; vault.Client.Destroy) —
//     only a key marked dedicated in its wrapper AND named
//     chatvault-<id> AND, as Vault reports it, neither exportable nor
//     allowing a plaintext backup (init --vault-transit-create makes them
//     so); shared keys survive. Vault deletes at once (no waiting period);
//     Vault storage snapshots taken before the deletion still hold the key,
//     which the report notes;
//  3. data: in every store whose keys step finished, the commits (newest
//     first) and every other object under archives/<id>/, every version and
//     delete marker, and multipart uploads;
//  4. state: the device forgets the archive (archive.State.Forget), once
//     nothing is left to do.
//
// In a versioned S3 bucket every version and delete marker is listed
// (ListObjectVersions) and deleted by version id, one name's versions in
// order (newest first) and up to Options.Jobs names at once; the prefix is
// listed again afterwards until nothing is left. Other stores are listed with
// List and emptied with Delete. A missing object is never an error, so a
// rerun is always safe.
//
// A delete refused by S3 Object Lock (403 AccessDenied "... protected by
// object lock", s3.ErrRetained) is recorded with its retention (mode and
// retain-until date from GetObjectRetention; for a version held by the
// bucket's default retention, where versitygw answers
// NoSuchObjectLockConfiguration, the date is "unknown (bucket default
// retention)" and the note gives the bucket rule) and the shred goes on:
// such versions are listed in "retained", they do not make the shred
// incomplete, and a rerun after their date deletes them. Any other failure
// stops the work in that store (the rest is listed in "remaining"); the other
// stores and the KMS step go on, and the function returns the report with an
// error wrapping ErrIncomplete (exit 6). Options.Journal keeps the report on
// disk from before the first delete, so that a crash loses nothing: rerun
// Archive (it merges the KEKs the journal names, in case the wrappers are
// already gone) or, once the archive no longer opens, Resume from the journal.
//
// # Grades
//
// The grade follows the KEKs of every wrapper of the archive key being
// destroyed ("wrappers" in the report; for a conversation shred, the old
// archive key's wrappers, which the caller records before the engine's shred):
//
//   - final: every KEK is destroyed — every one is a dedicated KMS key that is
//     deleted (DescribeKey says NotFound) or a dedicated Vault key that is
//     deleted (Vault has no such key);
//   - pending-until DATE: as final, but a dedicated KMS key is in
//     PendingDeletion (reversible until DATE, the latest such date);
//   - best-effort: some KEK survives or cannot be named — a passphrase, a
//     recovery key, an age device key, a KMS or Vault key that is shared,
//     a KMS key merely disabled, a key that fails the dedicated checks, a
//     key whose state could not be asked, a shared Vault key found deleted
//     (whether it was exported before cannot be known), or a wrapper an
//     earlier commit removed (keys
//     remove, rotate, re-key): its envelope is deleted, so its KEK is
//     unknown, and copies of the wrapper may survive elsewhere. The report
//     names each surviving KEK.
//
// Copies of the archive outside the stores given (replicas, backups, other
// devices) are never covered; every report says so ("not_covered").
//
// # Report (JSON, format 1)
//
// Field names are stable; lists are [] when empty; times are RFC 3339 UTC;
// fields marked optional are left out when empty or zero.
//
//	format            1
//	kind              "archive" | "conversation"
//	archive           archive id (32 hex digits)
//	fingerprint       archive fingerprint (hex)
//	conversation      optional: the conversation id (kind conversation)
//	commit            optional: the conversation shred commit number
//	prefix            "archives/<id>/": the archive's objects in every store
//	keys_prefix       "archives/<id>/keys/": its key material
//	dry_run           true: nothing was destroyed, "planned" says what would be
//	started           when the shred began
//	finished          optional: when it ended
//	operator          who ran it:
//	  identity_source "aws-sts" (STS GetCallerIdentity) | "local-user"
//	  arn, account, user_id   optional: the AWS caller (aws-sts)
//	  user            optional: the local login name (local-user)
//	  host            optional: the machine
//	  note            optional: why the identity is not AWS's
//	stores[]          every store covered:
//	  url             the store (s3://bucket/prefix or a directory)
//	  versioned       every version and delete marker was listed and deleted
//	  deleted[]       every object version deleted: name, version_id
//	                  (optional, "" in unversioned stores), delete_marker
//	                  (optional), step ("keys" | "data" | "tombstones")
//	  planned[]       optional: a dry run's versions to delete, same fields
//	  uploads_aborted optional: multipart uploads aborted
//	not_covered       the fixed note that copies elsewhere are not covered
//	kms_keys[]        every KMS key of a former wrapper, after the shred:
//	  arn, dedicated  the key; whether its wrapper marks it dedicated
//	  action          scheduled-deletion | already-pending | already-deleted |
//	                  kept | none | would-schedule-deletion | failed
//	  state           Enabled | Disabled | PendingDeletion | NotFound | unknown
//	  deletion_date   optional: the deletion date (PendingDeletion)
//	  origin, multi_region, tag_archive   what KMS said (optional origin, tag)
//	  note            optional: why a key was kept, what failed
//	vault_keys[]      optional: every Vault Transit key of a former wrapper:
//	  key, dedicated  "<mount>/<key>"; whether its wrapper marks it dedicated
//	  action          deleted | already-deleted | kept | none | would-delete |
//	                  failed
//	  state           exists | deleted | unknown
//	  latest_version, exportable, allow_plaintext_backup
//	                  optional: what Vault said of the key before deleting it
//	  note            optional: why a key was kept, what failed
//	wrappers[]        the former wrappers and their KEKs:
//	  id, type        wrapper id; passphrase | recovery | aws-kms | age |
//	                  vault-transit | unknown
//	  kek             key ARN | "age recipient age1..." | "passphrase" |
//	                  "recovery key" | "vault transit key <mount>/<key>" |
//	                  "unknown"
//	  dedicated       optional: marked dedicated
//	  source          "head" (wrapped the key at the shred) | "history"
//	                  (removed by an earlier commit)
//	  removed_by      optional: history: the commit that removed it
//	  kek_status      survives | destroyed | pending | unknown
//	  pending_until   optional: pending: the KMS deletion date (a Vault key is
//	                  never pending: Vault deletes at once)
//	  reason          why
//	new_wrappers[]    optional: a conversation shred's wrappers of the new key
//	tombstones[]      optional: a conversation shred's tombstoned objects:
//	  name, what      what: wrapper | wrapper-set | key-table | object
//	retained[]        versions Object Lock kept: store, name, version_id
//	                  (optional), mode (optional), retain_until (optional),
//	                  until (RFC 3339 or "unknown (bucket default
//	                  retention)"), note (optional)
//	remaining[]       what is not done: store, kms_key, vault_key, name,
//	                  version_id (all optional), step (keys | kms | vault |
//	                  data | state | tombstones), error
//	state_forgotten   the device state was removed
//	complete          nothing remains to do (retained versions aside)
//	grade             "final" | "pending-until" | "best-effort"
//	pending_until     optional: with pending-until, the date
//	surviving_keks[]  with best-effort: each surviving or unknown KEK
//	notes[]           free-form remarks
//	signature         optional: algorithm "ed25519", public_key and value
//	                  (base64, standard alphabet, padded)
//
// # Signature
//
// Sign signs the bytes
//
//	"chatvault shred report v1\n" || JSON(report with signature.value = "")
//
// where JSON is Go's encoding/json Marshal of Report: members in the order
// listed above, no whitespace between tokens, strings escaped as
// encoding/json does (including <, > and & as \u003c, \u003e, \u0026),
// times as time.Time marshals them (RFC 3339 with the fractional seconds
// needed), optional members left out as stated, lists as [] when empty. The
// signature member is present with its algorithm and public key, so both are
// covered. The file on disk is the indented form (Report.JSON); a verifier
// decodes it (ParseReport, strict) and re-encodes. Keys are Ed25519, kept in a
// PEM "PRIVATE KEY" (PKCS #8) file of mode 0600 (NewSigningKey,
// LoadSigningKey); verify-shred may pin the expected public key.
//
// # Verify and exit codes
//
// Verify needs no archive secret. It checks the signature; that the report
// is consistent with itself; that no version or delete marker of anything of
// the archive remains in any store (the report's and the ones given) except
// versions the report lists as retained (or, in an incomplete report, as
// remaining) — for a conversation shred, that no version of any tombstoned
// object remains; the state of every KMS key the report names; and whether
// every Vault key of a vault-transit wrapper still exists
// (VerifyOptions.Vault; the key is only read, never used). Its
// result is a Verdict (VerifyResult.Err gives a matching sentinel error):
//
//	VerdictOK            grade final, every point holds          exit 0
//	VerdictPending       pending-until DATE (PendingUntil)       exit 6, 0 with --allow-pending
//	VerdictBestEffort    some KEK survives                       exit 1, 0 with --allow-best-effort
//	VerdictIncomplete    the report says not complete / dry run  exit 6 (rerun the shred)
//	VerdictContradicted  evidence contradicts the report         exit 3
//	VerdictUnreachable   a store or KMS cannot be asked          exit 5
//
// (Verdict.ExitCode does the mapping.) Contradicted covers: key material or
// any other object version still present that the report does not list as
// retained; a signature that fails or a different key than the one pinned;
// an unsigned report when a key is pinned; a grade that does not follow from
// the report's own wrappers; a KMS key the report calls destroyed or pending
// that is Enabled or Disabled (a merely disabled key is not shredded), or
// PendingDeletion where the report says deleted; a key counted as a dedicated
// KEK that is not of origin AWS_KMS, is multi-Region or lacks the tag
// chatvault:archive=<id>; a Vault key the report calls destroyed that Vault
// still has, or that the report counts as a dedicated KEK although it is not
// named chatvault-<id> or was exportable. A Vault that cannot be asked (down,
// sealed, the token refused) is Unreachable. When several apply,
// Contradicted wins over Unreachable, which wins over Incomplete.
package shred
