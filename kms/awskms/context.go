package awskms

// Encryption context keys. KMS logs contexts in plaintext, so a context holds
// the archive id and a purpose string and nothing else.
const (
	ContextArchive = "chatvault:archive"
	ContextPurpose = "chatvault:purpose"
)

// PurposeArchiveKey is the purpose of the context under which an archive key
// is wrapped.
const PurposeArchiveKey = "archive-key"

// Context returns the encryption context binding a ciphertext to one archive
// and one purpose: exactly {"chatvault:archive": archiveID,
// "chatvault:purpose": purpose}.
func Context(archiveID, purpose string) map[string]string {
	return map[string]string{
		ContextArchive: archiveID,
		ContextPurpose: purpose,
	}
}
