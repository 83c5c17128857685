// Package vault implements the HashiCorp Vault Transit key-encryption-key
// (KEK) primitives of chatvault: wrapping an archive key under a Transit key,
// unwrapping it, re-wrapping it under the key's latest version after a
// rotation in Vault (the key never leaves Vault), inspecting a key, and
// managing the life of a key dedicated to one archive (create, destroy).
//
// It depends on github.com/hashicorp/vault/api only; it knows nothing of
// archives beyond an archive id string, and the archive package stores what
// it returns (mount, key name, key version, the ciphertext) in a wrapper.
//
// # Configuration
//
// [New] starts from api.DefaultConfig, i.e. the standard environment
// (VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE, VAULT_CACERT, VAULT_CAPATH,
// VAULT_CLIENT_CERT/KEY, VAULT_SKIP_VERIFY, VAULT_MAX_RETRIES,
// VAULT_CLIENT_TIMEOUT, …), then applies [Options]. Without any token it
// falls back to ~/.vault-token, the file `vault login` writes. The Transit
// engine is expected at "transit" unless Options.Mount says otherwise.
//
// # Derivation context
//
// Every key chatvault wraps with is a derived Transit key (derived=true):
// Transit derives the encryption key of each request from the key version's
// material and the request's context, so a ciphertext opens only with the
// context it was made with. [Context] returns that context for an archive:
//
//	{"chatvault:archive":"<archive id>","chatvault:purpose":"archive-key"}
//
// and nothing else (contexts can reach Vault's audit log). A wrapper copied
// onto another archive does not open: Vault answers "cipher: message
// authentication failed", reported as [ErrWrongContext]. A key that is not
// derived would silently ignore the context, so [Client.Wrap] refuses it
// ([ErrUnsuitableKey]).
//
// # Keys that appear from nowhere
//
// Transit's encrypt creates a key that does not exist ("upsert", when the
// token may create), so a mistyped key name, or a dedicated key deleted by a
// shred, would be silently (re-)created by a wrap. [Client.Wrap] therefore
// reads the key first and never encrypts under a key it did not find
// ([ErrKeyNotFound], with advice to create the key or use
// --vault-transit-create). decrypt and rewrap never create keys, and
// [Client.KeyInfo] (which verify-shred uses) only reads. A policy that denies
// create on <mount>/encrypt/* closes the window between Wrap's read and its
// encrypt.
//
// # Dedicated keys
//
// [Client.CreateDedicated] makes "chatvault-<archive id>": aes256-gcm96,
// derived, not exportable, no plaintext backup, deletion allowed.
// [Client.Destroy] deletes a key with all its versions; Vault storage
// snapshots taken before still hold it, which the shred report must say.
//
// # Errors
//
// Vault answers every Transit refusal with HTTP 400 (even "key not found"),
// so errors are classified by Vault's message texts (Vault 1.21). Every
// error of a Vault call is an [*Error] naming the operation and the key on
// one line and wrapping a class sentinel and the api client's error (so
// errors.As still reaches *api.ResponseError):
//
//	class             Vault's answer                                        umbrella
//	ErrUnreachable    connection refused, DNS, timeouts, 5xx but 501 and     ErrUnavailable (exit 5)
//	                  503-sealed, 429 (after the api client's retries)
//	ErrSealed         503 "Vault is sealed" (not retried)                    ErrUnavailable (exit 5)
//	ErrDenied         403 (bad, expired or missing token; ACL)               ErrRefused (exit 4)
//	ErrKeyNotFound    "encryption key not found" (decrypt, rewrap),          ErrRefused (exit 4)
//	                  "no existing key named … could be found" (config),
//	                  "… could not delete key; not found" (delete),
//	                  "key not found" (rotate), and a Wrap whose read found
//	                  no key
//	ErrWrongContext   "cipher: message authentication failed",               ErrRefused (exit 4)
//	                  "invalid ciphertext: version is too new" (the key was
//	                  deleted and re-created)
//	ErrTooOld         "ciphertext or signature version is disallowed by      ErrRefused (exit 4)
//	                  policy (too old)" (below min_decryption_version)
//	ErrUnsuitableKey  Wrap on a key not derived, or not aes256-gcm96 /       ErrRefused (exit 4)
//	                  chacha20-poly1305
//	ErrNoMount        404 "no handler for route …" (no Transit engine at     ErrRefused (exit 4)
//	                  the mount path, or another namespace)
//	ErrKeyExists      CreateDedicated found the key already                  none
//
// Anything else (a bad CA certificate, an answer that is not Vault's JSON, a
// 400 of another text, a cancelled context) has no class. Arguments are
// checked before any call ([ErrKeySize], [ErrNoContext], [ErrBadKeyName],
// [ErrBadArchiveID]). No error carries key material: plaintexts are never
// formatted, and Vault's messages do not echo them.
//
// # Testing
//
// Package vaultfake is an httptest server speaking the Transit endpoints used
// here with Vault's status codes and messages, so tests run the real api
// client against it; package vaulttest connects tests to it or to a real
// Vault dev server (VAULT_ADDR).
package vault
