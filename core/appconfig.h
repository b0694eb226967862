/* The container config of tenant apps, in three layers (global, env, app),
 * and its merge. Pure: no I/O. See docs/apps.md. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "strbuf.h"

#define VOL_APP_PATHS_MAX 32 /* writeable volumes per app */
#define VOL_APP_IMAGE_MAX 512
#define VOL_APP_CMD_MAX 64 /* arguments of a deploy command */

/* One layer: each field is set or not; an unset field inherits. */
struct vol_app_config {
        bool has_writeable_volumes;
        size_t n_paths;
        char **paths; /* absolute, normalized, unique */
        bool has_read_only_rootfs;
        bool read_only_rootfs;
        bool has_tmp_size;
        char *tmp_size; /* as written: "256m" */
        bool has_volume_driver;
        char *volume_driver;
        bool has_volume_size;
        char *volume_size; /* as written, or NULL */
        bool has_network_mode;
        char *network_mode;
};

/* Defaults, used where no layer sets a field. */
#define VOL_APP_DEFAULT_TMP_SIZE "256m"
#define VOL_APP_DEFAULT_VOLUME_DRIVER "local"

/* Frees what c owns and zeroes it. */
void vol_app_config_free(struct vol_app_config *c);

/* Reads one layer from a JSON object: fields writeableVolumes (array of
 * paths), readOnlyRootfs (bool), tmpSize, volumeDriver, volumeSize,
 * networkMode (strings); null or absent = unset. Unknown fields, wrong types
 * and bad values are refused with a message naming them; every path is
 * checked by vol_validate_app_path and duplicates are refused.
 * Returns 0 and fills *ret (zeroed first), or < 0 (ret then holds nothing). */
int vol_app_config_from_json(json_t *obj, struct vol_app_config *ret, struct vol_error *err);

/* Writes c as a JSON object with only its set fields. */
int vol_app_config_to_json(const struct vol_app_config *c, struct vol_strbuf *out);

/* A writeable volume path: an absolute, normalized path (vol_validate_path)
 * that is not /tmp itself and not under /proc, /sys or /dev. */
int vol_validate_app_path(const char *path, struct vol_error *err);

/* Merges the layers (any may be NULL): for each field the most specific layer
 * that sets it wins, else the default. The result has every field set.
 * Whether the merge suits the drivers (a volumeSize needs a driver that
 * enforces one) is the caller's to judge: see vol_apps_resolve. */
int vol_app_config_merge(const struct vol_app_config *global, const struct vol_app_config *env,
                         const struct vol_app_config *app, struct vol_app_config *ret,
                         struct vol_error *err);
