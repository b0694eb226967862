#include "token.h"

#include <errno.h>
#include <string.h>

#include "sha256.h"

static const char hexdig[] = "0123456789abcdef";

static void hex(const uint8_t *in, size_t n, char *out)
{
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = hexdig[in[i] >> 4];
                out[2 * i + 1] = hexdig[in[i] & 15];
        }
        out[2 * n] = 0;
}

static bool is_hex(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

void vol_token_format(const uint8_t id[6], const uint8_t secret[32], char *out)
{
        memcpy(out, "vmt_", 4);
        hex(id, 6, out + 4);
        out[4 + VOL_TOKEN_ID_LEN] = '_';
        hex(secret, 32, out + 5 + VOL_TOKEN_ID_LEN);
}

int vol_token_parse(const char *token, char id[VOL_TOKEN_ID_LEN + 1],
                    char secret[VOL_TOKEN_SECRET_LEN + 1])
{
        if (!token || strnlen(token, VOL_TOKEN_LEN + 1) != VOL_TOKEN_LEN || memcmp(token, "vmt_", 4) ||
            token[4 + VOL_TOKEN_ID_LEN] != '_' || !is_hex(token + 4, VOL_TOKEN_ID_LEN) ||
            !is_hex(token + 5 + VOL_TOKEN_ID_LEN, VOL_TOKEN_SECRET_LEN))
                return -EINVAL;
        memcpy(id, token + 4, VOL_TOKEN_ID_LEN);
        id[VOL_TOKEN_ID_LEN] = 0;
        memcpy(secret, token + 5 + VOL_TOKEN_ID_LEN, VOL_TOKEN_SECRET_LEN);
        secret[VOL_TOKEN_SECRET_LEN] = 0;
        return 0;
}

void vol_token_hash(const char *secret, char out[VOL_TOKEN_HASH_LEN + 1])
{
        struct vol_sha256 h;
        uint8_t d[32];
        vol_sha256_init(&h);
        vol_sha256_update(&h, secret, strlen(secret));
        vol_sha256_final(&h, d);
        hex(d, 32, out);
}

bool vol_token_equal(const char *a, const char *b, size_t n)
{
        volatile unsigned char diff = 0;
        for (size_t i = 0; i < n; i++)
                diff |= (unsigned char)(a[i] ^ b[i]);
        return diff == 0;
}

bool vol_token_id_valid(const char *id)
{
        return id && strnlen(id, VOL_TOKEN_ID_LEN + 1) == VOL_TOKEN_ID_LEN && is_hex(id, VOL_TOKEN_ID_LEN);
}

bool vol_token_name_valid(const char *name)
{
        size_t n = name ? strnlen(name, VOL_TOKEN_NAME_MAX + 1) : 0;
        if (n == 0 || n > VOL_TOKEN_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = name[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '_' || c == '-'))
                        return false;
        }
        return true;
}
