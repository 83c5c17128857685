// Package archive is chatvault's archive engine: it turns canonical messages into
// encrypted, versioned archives in a [remote.Store] and reads them back.
//
// The decisions here are fixed by docs/FORMAT.md (byte layout, test vectors) and
// by the project's architecture notes (key hierarchy, commit model). In short:
//
// # Objects
//
// Every object is made with [seal]: a header binding it to its archive,
// conversation, object id and key epoch, then a body that is STREAM-encrypted
// under a key derived from its parent key, or plaintext that is hashed or signed.
// Objects are named by random 128-bit ids and written once; whoever refers to an
// object records its size and SHA-256 ([Ref]).
//
//	archives/<id>/commits/<n>     the commit point, signed; the only numbered object
//	archives/<id>/keys/<oid>      wrappers, wrapper sets, key tables
//	archives/<id>/objects/<oid>   descriptor, manifests, integrity lists, segments
//	archives/<id>/leases/<rand>   writers at work (prune waits for them)
//
// # Keys
//
// One random archive key per archive, stored only inside wrappers (a passphrase
// through Argon2id, a recovery key, later KMS, Vault and age). It encrypts the key
// table (conversation id → conversation key) and the version manifests, and
// derives the Ed25519 key that signs commits and integrity lists. Each
// conversation key encrypts that conversation's manifests and, through per-object
// salts, its segments and index runs. After every unwrap the signing key derived
// from the unwrapped key must equal the archive's current signing key.
//
// # Commits
//
// A commit is written last, create-exclusive, as number head+1: two writers
// racing for the same number cannot both win ([ErrConflict]). Manifests and
// integrity lists are deltas that name their parent by hash, so a commit costs
// what it changes. This device remembers every commit it has verified
// ([State]); a different commit at a known number is a fork and a vanished one a
// rollback, both [ErrIntegrity].
package archive
