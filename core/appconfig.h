/* The container config of tenant apps, in three layers (global, env, app),
 * and its merge. Pure: no I/O. See docs/apps.md.
 *
 * Hardening belongs to the platform: only the global layer (the operator's)
 * may loosen it. The env and app layers (a tenant's) may only tighten it: no
 * writable root filesystem, no host or shared network namespace, only
 * capabilities the global layer grants, and pids and memory limits no higher
 * than the layers above set. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "con.h"
#include "error.h"
#include "strbuf.h"

#define VOL_APP_PATHS_MAX 32 /* writeable volumes per app */
#define VOL_APP_IMAGE_MAX 512
#define VOL_APP_CMD_MAX 64 /* arguments of a deploy command */
#define VOL_APP_CAPS_MAX 48
#define VOL_APP_PIDS_MAX 4194304

enum vol_layer {
        VOL_LAYER_GLOBAL, /* every tenant: the platform operator's */
        VOL_LAYER_ENV,    /* one tenant's env */
        VOL_LAYER_APP,    /* one app */
};

/* "global", "env" or "app". */
const char *vol_layer_name(enum vol_layer layer);

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
        bool has_cap_add;
        size_t n_caps;
        char **caps; /* upper case, without "CAP_", unique */
        bool has_pids_limit;
        int64_t pids_limit;
        bool has_memory;
        char *memory; /* as written: "1g" */
        bool has_con;
        struct vol_con_config con; /* the /con interface (core/con.h) */
        bool has_sides;
        struct vol_con_sides sides; /* containers deployed with the app */
};

/* The fields, in the order the API writes them. */
#define VOL_APP_FIELDS 11
extern const char *const vol_app_config_fields[VOL_APP_FIELDS];

/* Where each field of the merge of these layers (any may be NULL) comes
 * from: out[i] is "app", "env", "global" or "default" for
 * vol_app_config_fields[i] (static strings). */
void vol_app_config_sources(const struct vol_app_config *global, const struct vol_app_config *env,
                            const struct vol_app_config *app, const char *out[VOL_APP_FIELDS]);

/* Defaults, used where no layer sets a field. */
#define VOL_APP_DEFAULT_TMP_SIZE "256m"
#define VOL_APP_DEFAULT_VOLUME_DRIVER "local"
#define VOL_APP_DEFAULT_PIDS_LIMIT 4096
#define VOL_APP_DEFAULT_MEMORY "1g"

/* Frees what c owns and zeroes it. */
void vol_app_config_free(struct vol_app_config *c);

/* Reads one layer from a JSON object: fields writeableVolumes (array of
 * paths), readOnlyRootfs (bool), tmpSize, volumeDriver, volumeSize,
 * networkMode, memory (strings), capAdd (array of capability names),
 * pidsLimit (integer), con (core/con.h), sides (a list of side containers);
 * null or absent = unset. Unknown fields, wrong types
 * and bad values are refused with a message naming them; every path is
 * checked by vol_validate_app_path and duplicates are refused.
 * Returns 0 and fills *ret (zeroed first), or < 0 (ret then holds nothing). */
int vol_app_config_from_json(json_t *obj, struct vol_app_config *ret, struct vol_error *err);

/* Checks what layer may set in c on its own: the env and app layers may not
 * loosen hardening (readOnlyRootfs false, networkMode host or any
 * "kind:target" mode such as container:NAME). Returns 0 or -EPERM naming the
 * field and the layer. What depends on the layers above (capAdd, pidsLimit,
 * memory) is judged by vol_app_config_merge. */
int vol_app_config_check_layer(const struct vol_app_config *c, enum vol_layer layer,
                               struct vol_error *err);

/* Writes c as a JSON object with only its set fields. */
int vol_app_config_to_json(const struct vol_app_config *c, struct vol_strbuf *out);

/* A writeable volume path: an absolute, normalized path (vol_validate_path)
 * that is not /tmp itself and not under /proc, /sys or /dev. */
int vol_validate_app_path(const char *path, struct vol_error *err);

/* Merges the layers (any may be NULL): for each field the most specific layer
 * that sets it wins, else the default. The result has every field set.
 * Refuses (-EPERM, naming the layer and field) what the layers may not do:
 * vol_app_config_check_layer's rules, an env or app capAdd naming a
 * capability the global layer does not grant, a pidsLimit or memory above
 * what the layers above allow; and (-EINVAL, naming the path) a
 * writeableVolumes path at or under /con while con is on. Whether the merge suits the drivers (a
 * volumeSize needs a driver that enforces one) is the caller's to judge: see
 * vol_apps_resolve. */
int vol_app_config_merge(const struct vol_app_config *global, const struct vol_app_config *env,
                         const struct vol_app_config *app, struct vol_app_config *ret,
                         struct vol_error *err);
