package kmsfake

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"sort"
)

// Ciphertext blobs of the fake, opaque to its users like AWS's:
//
//	0x01 ‖ key id (36 ASCII bytes, a UUID) ‖ nonce (12) ‖ AES-256-GCM ciphertext and tag
//
// The additional data is aadLabel ‖ key id ‖ the encryption context in
// canonical form (pairs sorted by key, each string preceded by its uint32
// big-endian length), so the context must match exactly, neither more nor
// fewer pairs.

const (
	blobVersion = 1
	idLen       = 36
	nonceLen    = 12
	aadLabel    = "chatvault kmsfake v1\x00"
)

func aad(keyID string, ec map[string]string) []byte {
	b := append([]byte(aadLabel), keyID...)
	names := make([]string, 0, len(ec))
	for k := range ec {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		b = binary.BigEndian.AppendUint32(b, uint32(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(ec[k])))
		b = append(b, ec[k]...)
	}
	return b
}

func gcm(material []byte) cipher.AEAD {
	block, err := aes.NewCipher(material)
	if err != nil {
		panic(err) // material is always 32 bytes
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return g
}

func seal(k *key, ec map[string]string, plaintext []byte) []byte {
	out := make([]byte, 0, 1+idLen+nonceLen+len(plaintext)+16)
	out = append(out, blobVersion)
	out = append(out, k.id...)
	nonce := make([]byte, nonceLen)
	rand.Read(nonce)
	out = append(out, nonce...)
	return gcm(k.material).Seal(out, nonce, plaintext, aad(k.id, ec))
}

// blobKeyID returns the key id a blob names, ok=false if it is not a blob of
// the fake.
func blobKeyID(blob []byte) (string, bool) {
	if len(blob) < 1+idLen+nonceLen+16 || blob[0] != blobVersion {
		return "", false
	}
	return string(blob[1 : 1+idLen]), true
}

func open(k *key, ec map[string]string, blob []byte) ([]byte, bool) {
	nonce := blob[1+idLen : 1+idLen+nonceLen]
	pt, err := gcm(k.material).Open(nil, nonce, blob[1+idLen+nonceLen:], aad(k.id, ec))
	return pt, err == nil
}
