package archive

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash/crc64"
	"testing"

	"github.com/minio/crc64nvme"

	"github.com/chatvault/chatvault/crypto/seal"
)

// Test vectors of docs/FORMAT.md ("Test vectors"): fixed keys and ids in,
// expected bytes out. A change here is a format change.
func seqBytes(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

func TestFormatVectors(t *testing.T) {
	archiveKey := seqBytes(0x00, 32)
	archive := ID(seqBytes(0xa0, 16))
	conv := ID(seqBytes(0xc0, 16))
	convKey := seqBytes(0x20, 32)

	signer := signingKey(archiveKey, archive)
	pub := signer.Public().(ed25519.PublicKey)
	mac := func(key []byte, s string) string {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(s))
		return hex.EncodeToString(m.Sum(nil))
	}
	desc, err := encodeHashed(plainHeader(seal.KindDescriptor, archive, nil, seqBytes(0xb0, 16)),
		[]byte(`{"format":1,"archive":"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf","suite":"aes-256-gcm","signing_key":"`+"x"+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{
		"signing public key": hex.EncodeToString(pub),
		"signing key id":     keyID(pub),
		"fingerprint":        fingerprint(archive, pub).String(),
		"source-key hash":    mac(sourceHashKey(archiveKey, archive), "telegram:1001"),
		"message-id hash":    mac(messageIDKey(convKey, conv), "42")[:32],
		"hashed object":      hex.EncodeToString(desc),
	}
	want := map[string]string{
		"signing public key": "61eb2fdd0fb2d552f3ed7f7feaf81b67eecf4313f0d6dd678a7c1178a7986242",
		"signing key id":     "6fac3e05f5931bee",
		"fingerprint":        "e2af71c9a10634cbd750337d6271dd3278ce55b8b0c25b5d74e6efaa9fe85c29",
		"source-key hash":    "3fa16576c081bf9a90dbfc5df9c4a3bf467f3f228d3aa91350a6e94a95d1062f",
		"message-id hash":    "a16b353447044ba7144de45150a4ff03",
		"hashed object":      "43564c5401000110a0a1a2a3a4a5a6a7a8a9aaabacadaeaf0010b0b1b2b3b4b5b6b7b8b9babbbcbdbebf00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000007b22666f726d6174223a312c2261726368697665223a226130613161326133613461356136613761386139616161626163616461656166222c227375697465223a226165732d3235362d67636d222c227369676e696e675f6b6579223a2278227dd979edf80bd238c8f97f832c363cfbe2d42aa1ce71ee3d6d5effa839e9d26d3b",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s:\n got %s\nwant %s", k, got[k], v)
		}
	}
}

// TestCRC64NVME checks the integrity lists' checksum against the catalogue's
// check value of CRC-64/NVME ("123456789") and against hash/crc64's table
// code at every length up to a few blocks, in one piece and in two writes
// (the accelerated code has separate paths for short inputs and tails).
func TestCRC64NVME(t *testing.T) {
	if got := crc64nvme.Checksum([]byte("123456789")); got != 0xae8b14860a799888 {
		t.Fatalf("check value %#x, want 0xae8b14860a799888", got)
	}
	table := crc64.MakeTable(0x9a6c9329ac4bc9b5) // 0xad93d23594c93659 reflected
	data := seqBytes(7, 1100)
	for n := range len(data) {
		want := crc64.Checksum(data[:n], table)
		h := newCRC()
		h.Write(data[:n/3])
		h.Write(data[n/3 : n])
		if got := h.Sum64(); got != want {
			t.Fatalf("%d bytes: %#x, want %#x", n, got, want)
		}
	}
}
