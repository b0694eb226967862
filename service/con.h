/* The /con interface's service side (docs/con.md): the files put for the
 * configuration and context areas, the secrets (encrypted at rest with
 * libsodium), the seed tokens, and what a deploy materialises for /con.
 *
 * Files and secrets live at two levels: an env's (ref->app NULL), which every
 * app of the env sees, and an app's, which wins over the env's for the same
 * name. A tenant works in its own tenant only; another tenant's files and
 * secrets do not exist for it (-ENOENT). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/con.h"
#include "core/error.h"
#include "service/apps.h"

/* ---- files (service/con_files.c) ---- */

struct vol_con_file_info {
        enum vol_con_area area;
        char name[VOL_CON_NAME_MAX + 1];
        uint64_t size;
        int64_t updated; /* unix seconds */
        char sha256[65];
};

typedef int (*vol_con_file_cb)(const struct vol_con_file_info *f, void *userdata);

/* Stores data (len bytes, at most VOL_CON_FILE_MAX) as file name of area
 * (configuration or context) at ref's level, replacing one of that name.
 * Refuses past VOL_CON_AREA_BYTES_MAX or VOL_CON_AREA_FILES_MAX per area and
 * level (-E2BIG), bad names and areas (-EINVAL). Durable when it returns. */
int vol_con_file_put(struct vol_service *s, const struct vol_caller *caller, const struct vol_app_ref *ref,
                     enum vol_con_area area, const char *name, const void *data, size_t len,
                     struct vol_con_file_info *ret, struct vol_error *err);
/* The content of one file (caller frees *ret_data), or -ENOENT. */
int vol_con_file_get(struct vol_service *s, const struct vol_caller *caller, const struct vol_app_ref *ref,
                     enum vol_con_area area, const char *name, char **ret_data, size_t *ret_len,
                     struct vol_error *err);
/* Removes one file, or -ENOENT. */
int vol_con_file_remove(struct vol_service *s, const struct vol_caller *caller, const struct vol_app_ref *ref,
                        enum vol_con_area area, const char *name, struct vol_error *err);
/* Every file of ref's level (of area, or of both areas when area < 0), by
 * area and name. */
int vol_con_file_list(struct vol_service *s, const struct vol_caller *caller, const struct vol_app_ref *ref,
                      int area, vol_con_file_cb cb, void *userdata, struct vol_error *err);
/* Removes every file of one app level (its delete). */
int vol_con_files_drop_app(struct vol_service *s, const struct vol_app_ref *ref, struct vol_error *err);

/* ---- secrets (service/secrets.c) ---- */

struct vol_secret_info {
        char name[VOL_CON_NAME_MAX + 1];
        uint64_t size;
        int64_t created, updated; /* unix seconds */
};

typedef int (*vol_secret_cb)(const struct vol_secret_info *info, void *userdata);

/* Loads the key that seals secrets: key_file when given (it must exist, hold
 * 32 bytes and be readable by root alone), else {root}/secret.key, made at
 * the first start. */
int vol_secrets_open(struct vol_service *s, const char *root, const char *key_file, struct vol_error *err);
/* Wipes and frees the key. */
void vol_secrets_close(struct vol_service *s);

/* Seals data (at most VOL_CON_FILE_MAX bytes) and stores it as secret name
 * at ref's level, replacing one of that name. The plaintext is never
 * written anywhere; the store holds only the sealed box, bound to its
 * tenant, env, app and name. Durable when it returns. */
int vol_secret_put(struct vol_service *s, const struct vol_caller *caller, const struct vol_app_ref *ref,
                   const char *name, const void *data, size_t len, struct vol_secret_info *ret,
                   struct vol_error *err);
/* Removes one secret, or -ENOENT. */
int vol_secret_remove(struct vol_service *s, const struct vol_caller *caller, const struct vol_app_ref *ref,
                      const char *name, struct vol_error *err);
/* Every secret of ref's level: names, sizes and dates, never values. */
int vol_secret_list(struct vol_service *s, const struct vol_caller *caller, const struct vol_app_ref *ref,
                    vol_secret_cb cb, void *userdata, struct vol_error *err);
/* The value of secret name as the app ref sees it (its own, else its env's),
 * for the app's seed token alone: any other caller is -EPERM. The value is
 * in memory from sodium_malloc: free it with vol_secret_value_free. */
int vol_secret_read(struct vol_service *s, const struct vol_caller *caller, const struct vol_app_ref *ref,
                    const char *name, unsigned char **ret_value, size_t *ret_len, struct vol_error *err);
/* Wipes and frees a value from vol_secret_read or vol_secrets_each. */
void vol_secret_value_free(unsigned char *value);

/* Calls cb with each secret the app ref sees, env level first, then the
 * app's (which win for the same name: cb sees the winner only), decrypted
 * into wiped memory that lives for the call. For volmand's own deploys. */
typedef int (*vol_secret_value_cb)(const char *name, const unsigned char *value, size_t len, void *userdata);
int vol_secrets_each(struct vol_service *s, const struct vol_app_ref *ref, vol_secret_value_cb cb,
                     void *userdata, struct vol_error *err);
/* Removes every secret of one app level (its delete). */
int vol_secrets_drop_app(struct vol_service *s, const struct vol_app_ref *ref, struct vol_error *err);
