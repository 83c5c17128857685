package kmsfake

import (
	"context"
	"crypto/rand"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// Encrypt encrypts up to 4096 bytes under the key KeyId names, bound to the
// encryption context.
func (f *Fake) Encrypt(ctx context.Context, in *kms.EncryptInput, _ ...func(*kms.Options)) (*kms.EncryptOutput, error) {
	if err := f.begin(ctx, "Encrypt"); err != nil {
		return nil, err
	}
	f.lock()
	defer f.mu.Unlock()
	if n := len(in.Plaintext); n < 1 || n > 4096 {
		return nil, validation("1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length between 1 and 4096 (got %d)", n)
	}
	k, err := f.resolve(aws.ToString(in.KeyId))
	if err != nil {
		return nil, err
	}
	if err := usable(k); err != nil {
		return nil, err
	}
	return &kms.EncryptOutput{
		CiphertextBlob:      seal(k, in.EncryptionContext, in.Plaintext),
		KeyId:               aws.String(k.arn()),
		EncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault,
	}, nil
}

// GenerateDataKey returns a random data key and its ciphertext under the key
// KeyId names.
func (f *Fake) GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, _ ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	if err := f.begin(ctx, "GenerateDataKey"); err != nil {
		return nil, err
	}
	f.lock()
	defer f.mu.Unlock()
	var n int
	switch {
	case in.KeySpec == types.DataKeySpecAes256 && in.NumberOfBytes == nil:
		n = 32
	case in.KeySpec == types.DataKeySpecAes128 && in.NumberOfBytes == nil:
		n = 16
	case in.KeySpec == "" && in.NumberOfBytes != nil && *in.NumberOfBytes >= 1 && *in.NumberOfBytes <= 1024:
		n = int(*in.NumberOfBytes)
	default:
		return nil, validation("Please specify either number of bytes or key spec.")
	}
	k, err := f.resolve(aws.ToString(in.KeyId))
	if err != nil {
		return nil, err
	}
	if err := usable(k); err != nil {
		return nil, err
	}
	pt := make([]byte, n)
	rand.Read(pt)
	return &kms.GenerateDataKeyOutput{
		CiphertextBlob: seal(k, in.EncryptionContext, pt),
		KeyId:          aws.String(k.arn()),
		Plaintext:      pt,
	}, nil
}

// Decrypt opens a ciphertext of the fake with the encryption context it was
// made with. If KeyId is given it must name the ciphertext's key.
func (f *Fake) Decrypt(ctx context.Context, in *kms.DecryptInput, _ ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	if err := f.begin(ctx, "Decrypt"); err != nil {
		return nil, err
	}
	f.lock()
	defer f.mu.Unlock()
	k, err := f.blobKey(in.CiphertextBlob, in.KeyId)
	if err != nil {
		return nil, err
	}
	if err := usable(k); err != nil {
		if f.LocalKMSErrors && in.KeyId == nil {
			return nil, accessDenied()
		}
		return nil, err
	}
	pt, ok := open(k, in.EncryptionContext, in.CiphertextBlob)
	if !ok {
		return nil, invalidCiphertext()
	}
	return &kms.DecryptOutput{
		KeyId:               aws.String(k.arn()),
		Plaintext:           pt,
		EncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault,
	}, nil
}

// ReEncrypt opens a ciphertext with the source context and seals its
// plaintext under the destination key and context, inside the fake.
func (f *Fake) ReEncrypt(ctx context.Context, in *kms.ReEncryptInput, _ ...func(*kms.Options)) (*kms.ReEncryptOutput, error) {
	if err := f.begin(ctx, "ReEncrypt"); err != nil {
		return nil, err
	}
	f.lock()
	defer f.mu.Unlock()
	src, err := f.blobKey(in.CiphertextBlob, in.SourceKeyId)
	if err != nil {
		return nil, err
	}
	if err := usable(src); err != nil {
		return nil, err
	}
	dst, err := f.resolve(aws.ToString(in.DestinationKeyId))
	if err != nil {
		return nil, err
	}
	if err := usable(dst); err != nil {
		return nil, err
	}
	pt, ok := open(src, in.SourceEncryptionContext, in.CiphertextBlob)
	if !ok {
		return nil, invalidCiphertext()
	}
	defer clear(pt)
	return &kms.ReEncryptOutput{
		CiphertextBlob:                 seal(dst, in.DestinationEncryptionContext, pt),
		KeyId:                          aws.String(dst.arn()),
		SourceKeyId:                    aws.String(src.arn()),
		SourceEncryptionAlgorithm:      types.EncryptionAlgorithmSpecSymmetricDefault,
		DestinationEncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault,
	}, nil
}

// blobKey returns the key a ciphertext was made under, checking it against the
// key the request names, if any. The caller holds the lock.
func (f *Fake) blobKey(blob []byte, keyID *string) (*key, error) {
	var named *key
	if keyID != nil {
		k, err := f.resolve(*keyID)
		if err != nil {
			return nil, err
		}
		named = k
	}
	id, ok := blobKeyID(blob)
	if !ok {
		return nil, invalidCiphertext()
	}
	if named != nil && named.id != id {
		return nil, incorrectKey()
	}
	k, ok := f.keys[id]
	if !ok {
		return nil, notFoundKey(arnPrefix + "key/" + id)
	}
	return k, nil
}
