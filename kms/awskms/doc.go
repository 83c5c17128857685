// Package awskms implements the AWS KMS key-encryption-key (KEK) primitives of
// chatvault: wrapping an archive key under a KMS key, unwrapping it, re-wrapping
// it under another key without it ever reaching the client, and managing the
// life of a key dedicated to one archive (create, inspect, destroy).
//
// It depends on aws-sdk-go-v2 only; it knows nothing of archives beyond an
// archive id string, and the archive package stores what it returns (the key
// ARN, the encryption context and the ciphertext) in a wrapper.
//
// # Encryption context
//
// Every wrap binds the ciphertext to an encryption context built by [Context]:
//
//	{"chatvault:archive": "<archive id>", "chatvault:purpose": "<purpose>"}
//
// and nothing else. KMS writes encryption contexts to CloudTrail in plaintext,
// so the context holds no label, no name and no secret; it exists so that a
// ciphertext copied from one archive (or made for another purpose) does not
// open in another. Decrypt with any other context fails with
// InvalidCiphertextException, reported as [ErrWrongContext].
//
// # Keys
//
// A wrapper records the full key ARN KMS returned from Encrypt (aliases are
// resolved by KMS at wrap time), and [Client.Unwrap] passes that ARN as KeyId,
// so a ciphertext never opens under a key other than the one recorded. Calls
// naming a full ARN are sent to the ARN's region, so a restore works without
// AWS_REGION set.
//
// A dedicated key ([Client.CreateDedicated]) is a SYMMETRIC_DEFAULT,
// single-region AWS_KMS key tagged chatvault:archive=<id> with the alias
// alias/chatvault-<id>. [Client.Destroy] disables it at once (every unwrap
// fails from then on) and schedules its deletion after 7 to 30 days; while it
// is pending deletion the shred is reversible, after the date it is final.
//
// # Errors
//
// Every error of a KMS call is an [*Error] naming the operation and the key,
// on one line, and wrapping both a class sentinel and the SDK's error (so
// errors.As still reaches *types.NotFoundException and friends):
//
//	ErrUnreachable   connection refused, timeouts, throttling after the SDK's
//	                 retries, 5xx: try again later
//	ErrDenied        AccessDeniedException
//	ErrDisabled      DisabledException
//	ErrInvalidState  KMSInvalidStateException (pending deletion)
//	ErrNotFound      NotFoundException (never existed, or deleted)
//	ErrWrongContext  InvalidCiphertextException / IncorrectKeyException: the
//	                 ciphertext does not open with this key and context
//
// ErrDenied, ErrDisabled and ErrInvalidState all match [ErrUnusable] with
// errors.Is. They cannot always be told apart: AWS answers
// AccessDeniedException when IAM or the key policy refuses, and local-kms (the
// emulator the integration tests use) answers a Decrypt that names no KeyId on
// a disabled key or a key pending deletion with AccessDeniedException where
// AWS answers DisabledException and KMSInvalidStateException. ([Client.Unwrap]
// names the KeyId, and then local-kms answers like AWS.) Callers therefore
// treat all three as one outcome, "key unusable (disabled, pending deletion or
// access denied)", and use [Client.Resolve] when they need to know which.
//
// No error carries key material: plaintexts are never formatted, and
// ciphertexts are not either.
//
// # Testing
//
// [API] is the subset of the KMS client used here; package kmsfake implements
// it in memory (with states, a clock and call counters), and package kmstest
// connects to a real KMS endpoint (local-kms started by scripts/kmsserver.sh).
package awskms
