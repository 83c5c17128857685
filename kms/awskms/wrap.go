package awskms

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// KeySize is the size of the keys this package wraps (an archive key).
const KeySize = 32

// Wrap encrypts key (32 bytes) under the KMS key keyID (a key id, key ARN,
// alias name or alias ARN) bound to the encryption context ec, in one Encrypt
// call. It returns the full ARN of the key KMS used (aliases resolved) and the
// ciphertext; record both, with ec, to unwrap later.
func (c *Client) Wrap(ctx context.Context, keyID string, ec map[string]string, key []byte) (arn string, ciphertext []byte, err error) {
	const op = "encrypt under"
	if len(key) != KeySize {
		return "", nil, argError(op, keyID, ErrKeySize, "got %d bytes", len(key))
	}
	if len(ec) == 0 {
		return "", nil, argError(op, keyID, ErrNoContext, "every wrap is bound to an archive and a purpose")
	}
	out, err := c.api.Encrypt(ctx, &kms.EncryptInput{
		KeyId:               aws.String(keyID),
		Plaintext:           key,
		EncryptionContext:   ec,
		EncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault,
	}, c.regionOpts(keyID)...)
	if err != nil {
		return "", nil, classify(op, keyID, err)
	}
	if out.KeyId == nil || *out.KeyId == "" || len(out.CiphertextBlob) == 0 {
		return "", nil, classify(op, keyID, errors.New("KMS returned no key ARN or no ciphertext"))
	}
	return *out.KeyId, out.CiphertextBlob, nil
}

// Unwrap decrypts ciphertext under the key arn (the ARN Wrap returned) with the
// encryption context ec it was wrapped with, in one Decrypt call, and returns
// the 32-byte key. A wrong context, another key's ciphertext or a damaged one
// is ErrWrongContext; see the package documentation for the other classes.
func (c *Client) Unwrap(ctx context.Context, arn string, ec map[string]string, ciphertext []byte) ([]byte, error) {
	const op = "decrypt with"
	if len(ec) == 0 {
		return nil, argError(op, arn, ErrNoContext, "every wrapper is bound to an archive and a purpose")
	}
	out, err := c.api.Decrypt(ctx, &kms.DecryptInput{
		KeyId:               aws.String(arn),
		CiphertextBlob:      ciphertext,
		EncryptionContext:   ec,
		EncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault,
	}, c.regionOpts(arn)...)
	if err != nil {
		return nil, classify(op, arn, err)
	}
	if len(out.Plaintext) != KeySize {
		n := len(out.Plaintext)
		clear(out.Plaintext)
		return nil, argError(op, arn, ErrKeySize, "KMS returned a plaintext of %d bytes", n)
	}
	return out.Plaintext, nil
}

// Rewrap re-encrypts ciphertext, wrapped under its key with context srcEC,
// under the key dstKeyID with context dstEC, in one ReEncrypt call: the key is
// decrypted and re-encrypted inside KMS and never reaches the client. It
// returns the full ARN of the destination key and the new ciphertext.
func (c *Client) Rewrap(ctx context.Context, ciphertext []byte, srcEC map[string]string, dstKeyID string, dstEC map[string]string) (arn string, newCiphertext []byte, err error) {
	const op = "re-encrypt to"
	if len(srcEC) == 0 || len(dstEC) == 0 {
		return "", nil, argError(op, dstKeyID, ErrNoContext, "both the source and the destination context are required")
	}
	out, err := c.api.ReEncrypt(ctx, &kms.ReEncryptInput{
		CiphertextBlob:                 ciphertext,
		SourceEncryptionContext:        srcEC,
		DestinationKeyId:               aws.String(dstKeyID),
		DestinationEncryptionContext:   dstEC,
		SourceEncryptionAlgorithm:      types.EncryptionAlgorithmSpecSymmetricDefault,
		DestinationEncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault,
	}, c.regionOpts(dstKeyID)...)
	if err != nil {
		return "", nil, classify(op, dstKeyID, err)
	}
	if out.KeyId == nil || *out.KeyId == "" || len(out.CiphertextBlob) == 0 {
		return "", nil, classify(op, dstKeyID, errors.New("KMS returned no key ARN or no ciphertext"))
	}
	return *out.KeyId, out.CiphertextBlob, nil
}

// Generate asks KMS for a new random 32-byte key wrapped under keyID with
// context ec, in one GenerateDataKey call, and returns the key, the full ARN
// of the KMS key and the ciphertext (as Wrap would have).
func (c *Client) Generate(ctx context.Context, keyID string, ec map[string]string) (key []byte, arn string, ciphertext []byte, err error) {
	const op = "generate a data key under"
	if len(ec) == 0 {
		return nil, "", nil, argError(op, keyID, ErrNoContext, "every wrap is bound to an archive and a purpose")
	}
	out, err := c.api.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             aws.String(keyID),
		KeySpec:           types.DataKeySpecAes256,
		EncryptionContext: ec,
	}, c.regionOpts(keyID)...)
	if err != nil {
		return nil, "", nil, classify(op, keyID, err)
	}
	if len(out.Plaintext) != KeySize || out.KeyId == nil || len(out.CiphertextBlob) == 0 {
		clear(out.Plaintext)
		return nil, "", nil, argError(op, keyID, ErrKeySize, "KMS returned %d bytes, or no ARN or ciphertext", len(out.Plaintext))
	}
	return out.Plaintext, *out.KeyId, out.CiphertextBlob, nil
}
