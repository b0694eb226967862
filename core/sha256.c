/* SHA-256 as specified in FIPS 180-4, section 6.2. */
#include "sha256.h"

#include <string.h>

static const uint32_t k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t rotr(uint32_t x, unsigned n)
{
        return (x >> n) | (x << (32 - n));
}

/* Processes one 64-byte block into s->h. */
static void compress(struct vol_sha256 *s, const uint8_t block[64])
{
        uint32_t w[64];
        for (int t = 0; t < 16; t++)
                w[t] = (uint32_t)block[4 * t] << 24 | (uint32_t)block[4 * t + 1] << 16 |
                       (uint32_t)block[4 * t + 2] << 8 | (uint32_t)block[4 * t + 3];
        for (int t = 16; t < 64; t++) {
                uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
                uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
                w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }

        uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3];
        uint32_t e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
        for (int t = 0; t < 64; t++) {
                uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) +
                              k[t] + w[t];
                uint32_t t2 =
                    (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
                h = g;
                g = f;
                f = e;
                e = d + t1;
                d = c;
                c = b;
                b = a;
                a = t1 + t2;
        }
        s->h[0] += a;
        s->h[1] += b;
        s->h[2] += c;
        s->h[3] += d;
        s->h[4] += e;
        s->h[5] += f;
        s->h[6] += g;
        s->h[7] += h;
}

void vol_sha256_init(struct vol_sha256 *s)
{
        static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
        memcpy(s->h, h0, sizeof(h0));
        s->len = 0;
        s->used = 0;
}

void vol_sha256_update(struct vol_sha256 *s, const void *data, size_t n)
{
        const uint8_t *p = data;
        if (!n)
                return;
        s->len += n;
        if (s->used) {
                size_t take = 64 - s->used < n ? 64 - s->used : n;
                memcpy(s->buf + s->used, p, take);
                s->used += take;
                p += take;
                n -= take;
                if (s->used < 64)
                        return;
                compress(s, s->buf);
                s->used = 0;
        }
        for (; n >= 64; p += 64, n -= 64)
                compress(s, p);
        if (n) {
                memcpy(s->buf, p, n);
                s->used = n;
        }
}

void vol_sha256_final(struct vol_sha256 *s, uint8_t out[32])
{
        uint64_t bits = s->len * 8;
        /* Padding: 0x80, zeros up to 56 mod 64, then the bit length big-endian. */
        s->buf[s->used++] = 0x80;
        if (s->used > 56) {
                memset(s->buf + s->used, 0, 64 - s->used);
                compress(s, s->buf);
                s->used = 0;
        }
        memset(s->buf + s->used, 0, 56 - s->used);
        for (int i = 0; i < 8; i++)
                s->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
        compress(s, s->buf);
        for (int i = 0; i < 8; i++) {
                out[4 * i] = (uint8_t)(s->h[i] >> 24);
                out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
                out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
                out[4 * i + 3] = (uint8_t)s->h[i];
        }
        s->used = 0;
}
