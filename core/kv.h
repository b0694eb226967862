/* A small string map kept sorted by key: volume labels and options. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct vol_kv {
        char *key;
        char *value;
};

struct vol_kvs {
        size_t n;
        struct vol_kv *items; /* sorted by key, keys unique */
};

#define VOL_KVS_INIT {0, NULL}

/* Sets key to value (copies both), replacing an existing value. */
void vol_kvs_set(struct vol_kvs *m, const char *key, const char *value);
/* The value for key, or NULL. */
const char *vol_kvs_get(const struct vol_kvs *m, const char *key);
/* True when both maps hold the same keys with the same values. */
bool vol_kvs_equal(const struct vol_kvs *a, const struct vol_kvs *b);
/* Deep copy of src into *dst (dst must be empty or freed). */
void vol_kvs_copy(struct vol_kvs *dst, const struct vol_kvs *src);
/* Frees every entry and resets m. Accepts NULL. */
void vol_kvs_free(struct vol_kvs *m);

/* Splits "key=value" into a map entry; "key" alone gives an empty value.
 * Returns 0 or -EINVAL when text is empty or starts with '='. */
int vol_kvs_set_pair(struct vol_kvs *m, const char *text);
