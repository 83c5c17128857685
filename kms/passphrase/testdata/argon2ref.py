#!/usr/bin/env python3
# Independent Argon2id (RFC 9106), transcribed from the RFC in plain Python, used
# once to cross-check the KEK vectors in ../passphrase_test.go. It is not run by
# `go test`. Usage:
#
#   python3 argon2ref.py        # RFC 9106 section 5.3 vector + the small vectors (~1 s)
#   python3 argon2ref.py full   # also the 64 MiB default-parameter vector (~1 min)
#
# The RFC vector uses a secret value K and associated data X, which
# golang.org/x/crypto/argon2 does not expose; reproducing it here validates this
# script, which then validates the Go vectors.
import hashlib, struct, sys
M64 = (1 << 64) - 1
def le32(x): return struct.pack('<I', x)
def le64(x): return struct.pack('<Q', x)
def H(data, n): return hashlib.blake2b(data, digest_size=n).digest()
def Hp(data, T):
    if T <= 64: return H(le32(T) + data, T)
    r = (T + 31) // 32 - 2
    V = H(le32(T) + data, 64); out = V[:32]
    for _ in range(r - 1):
        V = H(V, 64); out += V[:32]
    return out + H(V, T - 32 * r)
def rotr(x, n): return ((x >> n) | (x << (64 - n))) & M64
def GB(v, a, b, c, d):
    va, vb, vc, vd = v[a], v[b], v[c], v[d]
    va = (va + vb + 2 * (va & 0xffffffff) * (vb & 0xffffffff)) & M64; vd = rotr(vd ^ va, 32)
    vc = (vc + vd + 2 * (vc & 0xffffffff) * (vd & 0xffffffff)) & M64; vb = rotr(vb ^ vc, 24)
    va = (va + vb + 2 * (va & 0xffffffff) * (vb & 0xffffffff)) & M64; vd = rotr(vd ^ va, 16)
    vc = (vc + vd + 2 * (vc & 0xffffffff) * (vd & 0xffffffff)) & M64; vb = rotr(vb ^ vc, 63)
    v[a], v[b], v[c], v[d] = va, vb, vc, vd
def P(v):
    GB(v,0,4,8,12); GB(v,1,5,9,13); GB(v,2,6,10,14); GB(v,3,7,11,15)
    GB(v,0,5,10,15); GB(v,1,6,11,12); GB(v,2,7,8,13); GB(v,3,4,9,14)
def G(X, Y):
    R = [x ^ y for x, y in zip(X, Y)]
    Q = list(R)
    for i in range(8):
        idx = list(range(16 * i, 16 * i + 16))
        v = [Q[k] for k in idx]; P(v)
        for k, x in zip(idx, v): Q[k] = x
    for j in range(8):
        idx = []
        for i in range(8): idx += [16 * i + 2 * j, 16 * i + 2 * j + 1]
        v = [Q[k] for k in idx]; P(v)
        for k, x in zip(idx, v): Q[k] = x
    return [q ^ r for q, r in zip(Q, R)]
def tob(b): return list(struct.unpack('<128Q', b))
def frb(w): return struct.pack('<128Q', *w)
ZERO = [0] * 128
def argon2id(P_, S, t, m, p, T, K=b'', X=b''):
    y, v = 2, 0x13
    h0 = H(le32(p) + le32(T) + le32(m) + le32(t) + le32(v) + le32(y) + le32(len(P_)) + P_ +
           le32(len(S)) + S + le32(len(K)) + K + le32(len(X)) + X, 64)
    mp = 4 * p * (m // (4 * p)); q = mp // p; seg = q // 4
    B = [[None] * q for _ in range(p)]
    for l in range(p):
        B[l][0] = tob(Hp(h0 + le32(0) + le32(l), 1024))
        B[l][1] = tob(Hp(h0 + le32(1) + le32(l), 1024))
    for r in range(t):
        for sl in range(4):
            for l in range(p):
                indep = (r == 0 and sl < 2)
                addr = None; ctr = 0
                start = 2 if (r == 0 and sl == 0) else 0
                if indep and start != 0:
                    ctr += 1
                    Z = [r, l, sl, mp, t, y, ctr] + [0] * 121
                    addr = G(ZERO, G(ZERO, Z))
                for index in range(start, seg):
                    j = sl * seg + index
                    prev = j - 1 if j > 0 else q - 1
                    if indep:
                        if index % 128 == 0:
                            ctr += 1
                            Z = [r, l, sl, mp, t, y, ctr] + [0] * 121
                            addr = G(ZERO, G(ZERO, Z))
                        w = addr[index % 128]
                    else:
                        w = B[l][prev][0]
                    J1, J2 = w & 0xffffffff, w >> 32
                    lr = l if (r == 0 and sl == 0) else J2 % p
                    same = lr == l
                    if r == 0:
                        if sl == 0: area = index - 1
                        elif same: area = sl * seg + index - 1
                        else: area = sl * seg + (-1 if index == 0 else 0)
                    else:
                        if same: area = q - seg + index - 1
                        else: area = q - seg + (-1 if index == 0 else 0)
                    x = (J1 * J1) >> 32
                    rel = area - 1 - ((area * x) >> 32)
                    st = 0 if r == 0 else (0 if sl == 3 else (sl + 1) * seg)
                    z = (st + rel) % q
                    nb = G(B[l][prev], B[lr][z])
                    if r > 0: nb = [a ^ b for a, b in zip(nb, B[l][j])]
                    B[l][j] = nb
    C = B[0][q - 1]
    for l in range(1, p): C = [a ^ b for a, b in zip(C, B[l][q - 1])]
    return Hp(frb(C), T)
if __name__ == '__main__':
    rfc = argon2id(b'\x01' * 32, b'\x02' * 16, 3, 32, 4, 32, b'\x03' * 8, b'\x04' * 12)
    print('rfc9106', rfc.hex(), rfc.hex() == '0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659')
    for (t, m, p, salt) in [(1, 64, 1, b'chatvault-test-s'), (2, 1024, 2, b'0123456789abcdef0123456789abcdef')] + \
            ([(3, 65536, 4, b'chatvault-test-s')] if len(sys.argv) > 1 else []):
        print(t, m, p, salt, argon2id(b'correct horse battery staple', salt, t, m, p, 32).hex(), flush=True)
