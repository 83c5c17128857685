#!/usr/bin/env python3
"""Recomputes the test vectors of docs/FORMAT.md with an independent
implementation (pyca/cryptography), so the format is checked against more than
chatvault's own code. Run: python3 tools/check_vectors.py (exits 1 on a mismatch)."""
import hashlib
import sys

from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def seq(start, n):
    return bytes((start + i) & 0xFF for i in range(n))


def hkdf(secret, salt, info, n):
    return HKDF(hashes.SHA256(), n, salt, info).derive(secret)


def mac(key, msg):
    h = hmac.HMAC(key, hashes.SHA256())
    h.update(msg)
    return h.finalize()


failed = False


def check(name, got, want):
    global failed
    ok = got == want
    failed |= not ok
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f"\n  got  {got}\n  want {want}"))


# Sealed segment (docs/FORMAT.md "Test vectors" 1 and 2).
parent, salt = seq(0x00, 32), seq(0x40, 32)
for suite, aead, want_tail in [
    (1, AESGCM, "fc47a37b77bf30d5d4ecf978c719932c79c48a8d21d6e0b0f4a8b74ef45e88d252436a051a317731ac3854460cb4779500be0465bfebc9dd57f6da4f631d3fbcb6"),
    (2, ChaCha20Poly1305, "b9c273aa951246e735ce5a55d8f3c3d9bc0b2834e51b8de15c629775538aca37f5eef6fad6079e415c8faba73ed7f203f085ae7f92cb32c30ef83f6db349e8e3dc"),
]:
    head = b"CVLT" + bytes([1, suite, 10, 16]) + seq(0xA0, 16) + bytes([16]) + seq(0xC0, 16) + bytes([16]) + seq(0xB0, 16) + (2).to_bytes(4, "big")
    okm = hkdf(parent, salt, b"chatvault/v1/segment" + head[4:], 64)
    full = head + salt + okm[32:]
    ct = aead(okm[:32]).encrypt(bytes(11) + b"\x01", b"hello, chatvault\n", hashlib.sha256(full).digest())
    check(f"sealed segment suite {suite}", (full + ct).hex()[-len(want_tail):], want_tail)

# Key derivations (vectors 3 to 6).
archive_key, archive_id = seq(0x00, 32), seq(0xA0, 16)
conv_key, conv_id = seq(0x20, 32), seq(0xC0, 16)
seed = hkdf(archive_key, None, b"chatvault/v1/signing" + archive_id, 32)
pub = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
check("signing public key", pub.hex(), "61eb2fdd0fb2d552f3ed7f7feaf81b67eecf4313f0d6dd678a7c1178a7986242")
check("signing key id", hashlib.sha256(pub).hexdigest()[:16], "6fac3e05f5931bee")
check("fingerprint", hashlib.sha256(archive_id + pub).hexdigest(), "e2af71c9a10634cbd750337d6271dd3278ce55b8b0c25b5d74e6efaa9fe85c29")
check("source-key hash", mac(hkdf(archive_key, None, b"chatvault/v1/source-key-hash" + archive_id, 32), b"telegram:1001").hex(),
      "3fa16576c081bf9a90dbfc5df9c4a3bf467f3f228d3aa91350a6e94a95d1062f")
check("message-id hash", mac(hkdf(conv_key, None, b"chatvault/v1/message-id" + conv_id, 32), b"42")[:16].hex(), "a16b353447044ba7144de45150a4ff03")
sys.exit(1 if failed else 0)
