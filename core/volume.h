/* The volume model and the validation of every field. Pure: no I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "kv.h"

/* Bounds on everything that comes from outside. */
#define VOL_NAME_MAX 128         /* bytes in a volume name */
#define VOL_LABELS_MAX 64        /* labels on one volume */
#define VOL_LABEL_KEY_MAX 255    /* bytes in a label key */
#define VOL_LABEL_VALUE_MAX 4096 /* bytes in a label value */
#define VOL_OPTIONS_MAX 32       /* options on one volume */
#define VOL_OPTION_KEY_MAX 64
#define VOL_OPTION_VALUE_MAX 1024
#define VOL_SCOPE_PART_MAX 63 /* tenant, env, app: DNS labels */
#define VOL_PATH_MAX 1024     /* bytes in a scope path */
#define VOL_PATH_COMPONENT_MAX 255
#define VOL_MOUNTS_MAX 1024  /* mount references on one volume */
#define VOL_MOUNT_ID_MAX 256 /* bytes in a mount reference id */
#define VOL_DRIVER_NAME_MAX 32
#define VOL_NODE_NAME_MAX 63 /* a cluster node's name: a DNS label */

enum vol_status {
        VOL_STATUS_CREATING = 0, /* intent recorded, driver may not have acted */
        VOL_STATUS_READY,        /* driver created it; usable */
        VOL_STATUS_DELETING,     /* removal decided; driver may have acted */
};

struct vol_scope {
        char *tenant;
        char *env;
        char *app;
        char *path;
};

/* A mount reference: who mounted the volume. It belongs to the face that made
 * it (owner, see core/caller.h): only that face can drop it. boot is the boot
 * id of the host when it was made; references of an earlier boot are void
 * (no container survives a reboot). An owner or boot of "" comes from a store
 * written before volmand recorded them: any face may drop such a reference,
 * and it is kept across boots, since its age cannot be told. */
struct vol_mount_ref {
        char *id;
        int64_t since; /* unix time, seconds */
        char *owner;
        char *boot;
};

struct vol_volume {
        char id[37]; /* UUID, lower-case, NUL-terminated */
        char *name;
        char *driver;
        struct vol_kvs options;
        struct vol_kvs labels;
        struct vol_scope *scope; /* NULL for an unscoped volume */
        enum vol_status status;
        int64_t created_at; /* unix time, seconds */
        size_t n_mounts;
        struct vol_mount_ref *mounts;
        char *mountpoint;
        char *node;       /* cluster mode: the node holding the bytes; NULL on a single node */
        int64_t revision; /* store revision; 0 = never stored */
};

/* A new zeroed volume (status creating, no fields set). Never NULL. */
struct vol_volume *vol_volume_new(void);
/* Frees v and everything it owns. Accepts NULL. */
void vol_volume_free(struct vol_volume *v);
/* Deep copy of v. Never NULL. */
struct vol_volume *vol_volume_dup(const struct vol_volume *v);
/* "creating", "ready" or "deleting". */
const char *vol_status_name(enum vol_status s);
/* Parses a status name; returns 0 or -EINVAL. */
int vol_status_parse(const char *s, enum vol_status *ret);

/* A snapshot of a volume: a named, read-only copy of its content. */
#define VOL_SNAPSHOT_NAME_MAX 64
struct vol_snapshot {
        char id[37]; /* the driver's name for it (a UUID) */
        char name[VOL_SNAPSHOT_NAME_MAX + 1];
        int64_t created; /* unix seconds */
        bool ready;      /* false while being made or removed */
};

/* Checks a snapshot name: 1-64 of letters, digits, . _ - (not first). */
int vol_validate_snapshot_name(const char *name, struct vol_error *err);

/* The index of the mount reference (owner, id) in v, or -1. A reference with
 * an owner of "" (written before owners were recorded) matches any owner. */
long vol_volume_find_mount(const struct vol_volume *v, const char *owner, const char *id);
/* Adds a mount reference (copies the strings). Returns 0, or -EEXIST when
 * (owner, id) is present, or -E2BIG when VOL_MOUNTS_MAX would be passed. */
int vol_volume_add_mount(struct vol_volume *v, const char *owner, const char *id, int64_t since,
                         const char *boot, struct vol_error *err);
/* Removes mount reference (owner, id); returns 0, or -ENOENT when absent. */
int vol_volume_remove_mount(struct vol_volume *v, const char *owner, const char *id);
/* Removes the reference at index i. */
void vol_volume_remove_mount_at(struct vol_volume *v, size_t i);

/* Frees a scope and its strings. Accepts NULL. */
void vol_scope_free(struct vol_scope *s);
/* Deep copy. Accepts NULL (returns NULL). */
struct vol_scope *vol_scope_dup(const struct vol_scope *s);
/* True when both are NULL or hold equal fields. */
bool vol_scope_equal(const struct vol_scope *a, const struct vol_scope *b);

/* Validators: each returns 0, or -EINVAL (or -ENAMETOOLONG / -E2BIG for sizes)
 * with a message in err that names the field and what is wrong with it. */

/* A Docker volume name: [a-zA-Z0-9][a-zA-Z0-9_.-]*, 1..VOL_NAME_MAX bytes. */
int vol_validate_name(const char *name, struct vol_error *err);
/* A driver name: [a-z0-9][a-z0-9_-]*, at most VOL_DRIVER_NAME_MAX bytes. */
int vol_validate_driver_name(const char *name, struct vol_error *err);
/* Labels: at most VOL_LABELS_MAX; keys non-empty printable without '=',
 * values printable UTF-8 (no control characters), both bounded. */
int vol_validate_labels(const struct vol_kvs *labels, struct vol_error *err);
/* Options: at most VOL_OPTIONS_MAX; keys [a-z0-9_.-]+, values without control
 * characters, bounded. Which keys a driver accepts is the driver's business. */
int vol_validate_options(const struct vol_kvs *options, struct vol_error *err);
/* A tenant, env or app id (what names the field in messages): a DNS label,
 * [a-z0-9]([a-z0-9-]*[a-z0-9])?, 1..VOL_SCOPE_PART_MAX bytes. */
int vol_validate_scope_part(const char *what, const char *value, struct vol_error *err);
/* An absolute, normalized path: starts with '/', is not "/", has no empty, "."
 * or ".." component, no trailing '/', no control characters, bounded. */
int vol_validate_path(const char *path, struct vol_error *err);
/* All four parts of a scope. */
int vol_validate_scope(const struct vol_scope *s, struct vol_error *err);
/* A mount reference id: 1..VOL_MOUNT_ID_MAX printable ASCII bytes, no spaces. */
int vol_validate_mount_id(const char *id, struct vol_error *err);
