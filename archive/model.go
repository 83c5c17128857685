package archive

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sort"
	"time"

	"github.com/chatvault/chatvault/kms/passphrase"
)

// The object bodies of format v1. docs/FORMAT.md describes each field; fields
// that no code fills yet are written empty so that later work adds code, not a
// format version.

// descriptor: plaintext, hashed, objects/. Written once at init.
type descriptor struct {
	Format     int    `json:"format"`
	Archive    ID     `json:"archive"`
	Suite      string `json:"suite"`
	SigningKey []byte `json:"signing_key"` // genesis Ed25519 public key
}

// Wrapper is one KEK's envelope around the archive key: plaintext, hashed, under
// keys/. It holds no secret: only what the KEK needs to unwrap (KDF parameters,
// a KMS key ARN, an age recipient) and the wrapped key.
type Wrapper struct {
	ID      ID        `json:"-"`    // the wrapper object's id (its name under keys/)
	Type    string    `json:"type"` // passphrase | recovery | aws-kms | vault-transit | age
	Created time.Time `json:"created"`
	Epoch   uint32    `json:"epoch"` // key epoch of the archive key it wraps
	// passphrase
	KDF *passphrase.Params `json:"kdf,omitempty"`
	// passphrase, recovery: a seal object of kind wrapped-key under the KEK
	Sealed []byte `json:"sealed,omitempty"`
	// aws-kms, vault-transit: the service's ciphertext and what it was bound to
	KeyID      string            `json:"key_id,omitempty"`      // KMS key ARN / Vault mount+key
	KeyVersion int               `json:"key_version,omitempty"` // Vault Transit key version
	Context    map[string]string `json:"context,omitempty"`     // encryption / derivation context
	Ciphertext []byte            `json:"ciphertext,omitempty"`
	Dedicated  bool              `json:"dedicated,omitempty"` // KEK made for this archive only
	// age: recipient and the armored age file
	Recipient string `json:"recipient,omitempty"`
	Armored   string `json:"armored,omitempty"`
}

// Wrapper types.
const (
	WrapperPassphrase = "passphrase"
	WrapperRecovery   = "recovery"
)

// wrapperSet: plaintext, hashed, keys/. The full list of current wrappers.
type wrapperSet struct {
	Epoch    uint32         `json:"epoch"`
	Wrappers []wrapperEntry `json:"wrappers"`
}

type wrapperEntry struct {
	Ref
	Type string `json:"type"`
}

// commitBody: plaintext, signed, commits/<n>.
type commitBody struct {
	Format          int         `json:"format"`
	N               uint64      `json:"n"`
	Parent          *Digest     `json:"parent"` // SHA-256 of commit n-1; null for n = 1
	Kind            string      `json:"kind"`   // init | export | keys | rekey | shred | compact
	Epoch           uint32      `json:"epoch"`  // key epoch of the archive key
	Descriptor      Ref         `json:"descriptor"`
	WrapperSet      Ref         `json:"wrapper_set"`
	KeyTable        Ref         `json:"key_table"`
	VersionManifest Ref         `json:"version_manifest"`
	IntegrityList   Ref         `json:"integrity_list"`
	Remap           *Ref        `json:"remap"`
	Tombstones      []tombstone `json:"tombstones"`
	KeyChange       *Ref        `json:"key_change"`
	SigningKey      string      `json:"signing_key"` // key id of the signer
}

// tombstone names an object a commit makes obsolete (deleted, or to delete).
// For a wrapper it also says what KEK it was under — never the wrapped key —
// so that a later shred can grade itself by every KEK that ever wrapped an
// archive key of the archive.
type tombstone struct {
	Area    string         `json:"area"` // objects | keys
	ID      ID             `json:"id"`
	Wrapper *formerWrapper `json:"wrapper,omitempty"`
}

// formerWrapper describes a removed wrapper's KEK.
type formerWrapper struct {
	Type      string `json:"type"`
	KeyID     string `json:"key_id,omitempty"`    // KMS key ARN, Vault mount/key
	Recipient string `json:"recipient,omitempty"` // age
	Dedicated bool   `json:"dedicated,omitempty"`
}

func wrapperTombstone(w *Wrapper) tombstone {
	return tombstone{Area: "keys", ID: w.ID, Wrapper: &formerWrapper{Type: w.Type, KeyID: w.KeyID, Recipient: w.Recipient, Dedicated: w.Dedicated}}
}

func (t tombstone) area() area {
	if t.Area == "keys" {
		return areaKeys
	}
	return areaObjects
}

// Commit kinds.
const (
	KindInit    = "init"
	KindExport  = "export"
	KindKeys    = "keys"
	KindRekey   = "rekey"
	KindShred   = "shred"
	KindCompact = "compact"
)

// versionManifest: encrypted under the archive key, objects/. A delta.
type versionManifest struct {
	Commit        uint64       `json:"commit"`
	Time          time.Time    `json:"time"`
	Label         string       `json:"label"`
	Parent        *Ref         `json:"parent"`
	Conversations []convChange `json:"conversations"` // changed by this commit
	Removed       []ID         `json:"removed"`       // conversations shredded by this commit
	MessagesAdded int64        `json:"messages_added"`
	MessagesTotal int64        `json:"messages_total"`
	Stores        []string     `json:"stores"` // registered stores
}

type convChange struct {
	ID       ID    `json:"id"`
	Manifest Ref   `json:"manifest"`
	Added    int64 `json:"added"`
}

// convManifest: encrypted under the conversation key, objects/. A delta.
type convManifest struct {
	Commit        uint64       `json:"commit"`
	Parent        *Ref         `json:"parent"`
	SourceKey     string       `json:"source_key"`
	Label         string       `json:"label"`
	Participants  []string     `json:"participants"`
	Segments      []segmentRef `json:"segments"`   // added by this commit, in order
	IndexRun      *Ref         `json:"index_run"`  // latest revisions added by this commit
	Superseded    *Ref         `json:"superseded"` // revisions this commit replaced
	Blobs         []blobRef    `json:"blobs"`      // attachments added by this commit
	Messages      int64        `json:"messages"`   // distinct message ids, all commits
	First         time.Time    `json:"first"`
	Last          time.Time    `json:"last"`
	IndexRunCount int          `json:"index_runs"` // runs in the chain, for compaction
}

type segmentRef struct {
	Ref
	Messages int       `json:"messages"`
	Plain    int64     `json:"plain"` // plaintext bytes (canonical JSONL)
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
}

// keyTableEntry: one fixed-width record of the key table.
type keyTableEntry struct {
	Conv       ID
	Key        [32]byte
	SourceHash [32]byte
}

const keyTableRecord = IDLen + 32 + 32

func encodeKeyTable(entries []keyTableEntry) []byte {
	sort.Slice(entries, func(i, j int) bool { return string(entries[i].Conv[:]) < string(entries[j].Conv[:]) })
	b := make([]byte, 0, 4+len(entries)*keyTableRecord)
	b = binary.BigEndian.AppendUint32(b, uint32(len(entries)))
	for _, e := range entries {
		b = append(b, e.Conv[:]...)
		b = append(b, e.Key[:]...)
		b = append(b, e.SourceHash[:]...)
	}
	return b
}

func decodeKeyTable(b []byte) ([]keyTableEntry, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("key table truncated")
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(len(b)-4) != uint64(n)*keyTableRecord {
		return nil, fmt.Errorf("key table of %d bytes cannot hold %d entries", len(b), n)
	}
	out := make([]keyTableEntry, n)
	for i := range out {
		r := b[4+i*keyTableRecord:]
		copy(out[i].Conv[:], r)
		copy(out[i].Key[:], r[IDLen:])
		copy(out[i].SourceHash[:], r[IDLen+32:])
	}
	return out, nil
}

// integrityRecord: one fixed-width record of an integrity list.
type integrityRecord struct {
	Area   area
	ID     ID
	Size   int64
	SHA256 Digest
	CRC64  uint64
}

const integrityRecordLen = 1 + IDLen + 8 + 32 + 8

// integrityList body: parent list SHA-256 (zero for the first) ‖ u32 count ‖ records.
func encodeIntegrityList(parent Digest, recs []integrityRecord) []byte {
	b := make([]byte, 0, 32+4+len(recs)*integrityRecordLen)
	b = append(b, parent[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(recs)))
	for _, r := range recs {
		b = append(b, byte(r.Area))
		b = append(b, r.ID[:]...)
		b = binary.BigEndian.AppendUint64(b, uint64(r.Size))
		b = append(b, r.SHA256[:]...)
		b = binary.BigEndian.AppendUint64(b, r.CRC64)
	}
	return b
}

func decodeIntegrityList(b []byte) (parent Digest, recs []integrityRecord, err error) {
	if len(b) < 36 {
		return parent, nil, fmt.Errorf("integrity list truncated")
	}
	copy(parent[:], b)
	n := binary.BigEndian.Uint32(b[32:])
	if uint64(len(b)-36) != uint64(n)*integrityRecordLen {
		return parent, nil, fmt.Errorf("integrity list of %d bytes cannot hold %d records", len(b), n)
	}
	recs = make([]integrityRecord, n)
	for i := range recs {
		r := b[36+i*integrityRecordLen:]
		if r[0] > byte(areaKeys) {
			return parent, nil, fmt.Errorf("integrity record %d: unknown area %d", i, r[0])
		}
		recs[i].Area = area(r[0])
		copy(recs[i].ID[:], r[1:])
		recs[i].Size = int64(binary.BigEndian.Uint64(r[1+IDLen:]))
		copy(recs[i].SHA256[:], r[9+IDLen:])
		recs[i].CRC64 = binary.BigEndian.Uint64(r[41+IDLen:])
		if recs[i].Size < 0 {
			return parent, nil, fmt.Errorf("integrity record %d: negative size", i)
		}
	}
	return parent, recs, nil
}

// Key derivations from the archive key and conversation keys (HKDF-SHA-256).
func derive(secret []byte, info string, id []byte) []byte {
	k, err := hkdf.Key(sha256.New, secret, nil, info+string(id), 32)
	if err != nil {
		panic(err) // only for lengths hkdf cannot produce
	}
	return k
}

func signingKey(archiveKey []byte, archive ID) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(derive(archiveKey, "chatvault/v1/signing", archive[:]))
}

func sourceHashKey(archiveKey []byte, archive ID) []byte {
	return derive(archiveKey, "chatvault/v1/source-key-hash", archive[:])
}

func messageIDKey(convKey []byte, conv ID) []byte {
	return derive(convKey, "chatvault/v1/message-id", conv[:])
}

// keyID names a signing key in commits: the first 8 bytes of SHA-256 of the public key, hex.
func keyID(pub ed25519.PublicKey) string {
	s := sha256.Sum256(pub)
	return fmt.Sprintf("%x", s[:8])
}

// Fingerprint = SHA-256(archive id ‖ genesis signing public key): it names the
// archive's identity and never changes.
func fingerprint(archive ID, genesis ed25519.PublicKey) Digest {
	return sha256.Sum256(append(archive[:], genesis...))
}
