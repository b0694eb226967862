/* SHA-256 (FIPS 180-4). Pure. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct vol_sha256 {
        uint32_t h[8];
        uint64_t len; /* bytes hashed so far */
        uint8_t buf[64];
        size_t used;
};

/* Starts a hash. */
void vol_sha256_init(struct vol_sha256 *s);
/* Hashes n more bytes of data. */
void vol_sha256_update(struct vol_sha256 *s, const void *data, size_t n);
/* Finishes and writes the 32-byte digest to out. */
void vol_sha256_final(struct vol_sha256 *s, uint8_t out[32]);
