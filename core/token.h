/* API tokens: their text form, and how a stored token is checked. Pure: no I/O
 * (the random bytes come from the caller).
 *
 * A token reads "vmt_" ID "_" SECRET: ID is 12 hex digits that name the token
 * (shown by `volman token ls`, used to revoke it), SECRET 64 hex digits (256
 * random bits). Only SHA-256(SECRET) is stored; a presented token is looked up
 * by its ID and its secret's hash compared in constant time. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VOL_TOKEN_ID_LEN 12
#define VOL_TOKEN_SECRET_LEN 64
#define VOL_TOKEN_HASH_LEN 64 /* hex of SHA-256 */
#define VOL_TOKEN_LEN (4 + VOL_TOKEN_ID_LEN + 1 + VOL_TOKEN_SECRET_LEN)
#define VOL_TOKEN_NAME_MAX 64

/* Formats a token from 6 random bytes (its ID) and 32 random bytes (its
 * secret) into out (at least VOL_TOKEN_LEN + 1 bytes). */
void vol_token_format(const uint8_t id[6], const uint8_t secret[32], char *out);

/* Splits token into its ID and secret (each NUL-terminated). Returns 0, or
 * -EINVAL when token is not of the form above (length, prefix, hex digits). */
int vol_token_parse(const char *token, char id[VOL_TOKEN_ID_LEN + 1],
                    char secret[VOL_TOKEN_SECRET_LEN + 1]);

/* The stored form of secret: SHA-256 of its text, in lowercase hex, in out
 * (VOL_TOKEN_HASH_LEN + 1 bytes). */
void vol_token_hash(const char *secret, char out[VOL_TOKEN_HASH_LEN + 1]);

/* Whether the n bytes at a and b are equal, in time that depends on n only. */
bool vol_token_equal(const char *a, const char *b, size_t n);

/* Whether id is 12 lowercase hex digits (the form `token rm` takes). */
bool vol_token_id_valid(const char *id);

/* Whether name is a token name: 1 to 64 of [A-Za-z0-9._-]. */
bool vol_token_name_valid(const char *name);
