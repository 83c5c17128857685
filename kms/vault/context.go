package vault

import "encoding/json"

// Derivation-context keys, named like the AWS KMS encryption context's.
const (
	ContextArchive = "chatvault:archive"
	ContextPurpose = "chatvault:purpose"
)

// PurposeArchiveKey is the purpose of the context under which an archive key
// is wrapped.
const PurposeArchiveKey = "archive-key"

// Context returns the derivation context binding a Transit ciphertext to one
// archive and the purpose PurposeArchiveKey: ContextFor(archiveID,
// PurposeArchiveKey).
func Context(archiveID string) []byte {
	return ContextFor(archiveID, PurposeArchiveKey)
}

// ContextFor returns the derivation context binding a Transit ciphertext to
// one archive and one purpose, as the bytes of the JSON object
//
//	{"chatvault:archive":"<archive id>","chatvault:purpose":"<purpose>"}
//
// with exactly these two members in this order (encoding/json escaping).
// Transit derives the encryption key from it (HKDF), so a ciphertext opens
// only under the same bytes. It holds the archive id and the purpose and
// nothing else: a context may be written to Vault's audit log. The bytes are
// part of the format: never change them for existing wrappers.
func ContextFor(archiveID, purpose string) []byte {
	b, err := json.Marshal(struct {
		Archive string `json:"chatvault:archive"`
		Purpose string `json:"chatvault:purpose"`
	}{archiveID, purpose})
	if err != nil {
		panic(err) // two strings always marshal
	}
	return b
}
