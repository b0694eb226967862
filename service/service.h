/* The volume operations: the only place where the store and the drivers meet.
 *
 * Every operation that touches both is a recorded state machine:
 *   create: record `creating` -> driver create -> record `ready`
 *   remove: record `deleting` -> driver remove -> record deleted
 * so a crash at any point leaves a state vol_service_reconcile() finishes.
 * Operations on one name are serialized; different names run in parallel. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/filter.h"
#include "core/strbuf.h"
#include "core/volume.h"
#include "core/volume_json.h"
#include "service/metrics.h"

struct vol_service;

struct vol_service_config {
        const char *root;           /* data root: store file and driver directories */
        const char *store_backend;  /* "sqlite" */
        const char *store_location; /* NULL: {root}/volman.db */
        const char *name_prefix;    /* prefix of scoped names, e.g. "volman" */
        const char *default_driver; /* "local" */
        const char *engine;         /* "unix:///run/docker.sock" for app deploys, or NULL */
        const char *engine_driver;  /* the name the engine knows volman's plugin by ("volman") */
};

struct vol_create_request {
        const char *name; /* NULL: derived from scope (then scope is required) */
        const char *driver; /* NULL: the default driver */
        struct vol_kvs options;
        struct vol_kvs labels;
        struct vol_scope *scope; /* NULL: unscoped */
};

/* Opens the store and drivers under cfg->root and reconciles (see
 * vol_service_reconcile), writing what it found to the log callback.
 * Returns 0 and *ret, or < 0 with a message. */
int vol_service_open(const struct vol_service_config *cfg, struct vol_service **ret,
                     struct vol_error *err);
/* Closes the store and drivers. Accepts NULL. */
void vol_service_close(struct vol_service *s);

/* Appends every metric in Prometheus text format: volumes by driver and status
 * (read from the store) and the operation counters and latencies. */
int vol_service_render_metrics(struct vol_service *s, struct vol_strbuf *out, struct vol_error *err);

/* Creates a volume, or returns the existing one when name, driver, options,
 * labels and scope all match (then *ret_created is false). Different
 * parameters for an existing name: -EEXIST. Bad input: -EINVAL. The answer is
 * durable (fsync'd) when this returns. *ret: the volume (caller frees). */
int vol_service_create(struct vol_service *s, const struct vol_create_request *req,
                       struct vol_volume **ret, bool *ret_created, struct vol_error *err);

/* The volume called name (caller frees), or -ENOENT. If ret_info is not NULL,
 * fills it with the driver's view (with usage if with_usage). */
int vol_service_get(struct vol_service *s, const char *name, bool with_usage,
                    struct vol_volume **ret, struct vol_volume_info *ret_info,
                    struct vol_error *err);

/* Called per listed volume with the driver's view (no usage). v and info are
 * only valid during the call. Return 0 to go on, < 0 to stop with that error. */
typedef int (*vol_service_volume_cb)(const struct vol_volume *v, const struct vol_volume_info *info,
                                     void *userdata);

/* Passes the volumes matching f (NULL: all), in name order, after `after`
 * (NULL: from the start), at most limit (0: all), to cb. *ret_next gets the
 * name to continue after when more remain (heap), else NULL; ret_next may be
 * NULL. Returns how many cb saw, or < 0. */
int vol_service_list(struct vol_service *s, const struct vol_filter *f, const char *after,
                     size_t limit, vol_service_volume_cb cb, void *userdata, char **ret_next,
                     struct vol_error *err);

/* Removes a volume and its data. -ENOENT if absent; -EBUSY while any mount
 * reference exists (no flag overrides this). */
int vol_service_remove(struct vol_service *s, const char *name, struct vol_error *err);

/* Removes every unmounted, ready volume matching f (or, with dry_run, only
 * names them). Each removed (or would-be removed) name is passed to cb. */
typedef void (*vol_service_name_cb)(const char *name, void *userdata);
int vol_service_prune(struct vol_service *s, const struct vol_filter *f, bool dry_run,
                      vol_service_name_cb cb, void *userdata, struct vol_error *err);

/* Records mount reference ref_id on name (durably) and returns the mountpoint
 * in *ret_mountpoint (caller frees). Mounting with an id already present is a
 * no-op. -ENOENT if absent, -EBUSY if the volume is being created or removed. */
int vol_service_mount(struct vol_service *s, const char *name, const char *ref_id,
                      char **ret_mountpoint, struct vol_error *err);

/* Drops mount reference ref_id from name. An unknown id succeeds; an unknown
 * volume is -ENOENT. */
int vol_service_unmount(struct vol_service *s, const char *name, const char *ref_id,
                        struct vol_error *err);

/* What start-up reconciliation did. */
struct vol_reconcile_report {
        size_t rolled_back;    /* `creating` records undone */
        size_t rolled_forward; /* `deleting` records finished */
        size_t orphans;        /* storage with no record that holds data (reported, kept) */
        size_t cleaned;        /* empty storage with no record (removed) */
        size_t missing;        /* ready records whose storage is gone (reported) */
        size_t repaired;       /* ready records whose storage was made again */
};

/* Drives every half-done operation to an end and reports storage with no
 * record and records with no storage, through the log callback. */
int vol_service_reconcile(struct vol_service *s, struct vol_reconcile_report *ret,
                          struct vol_error *err);

/* Where the service writes what it reports (reconciliation findings).
 * Default: stderr. */
typedef void (*vol_log_fn)(const char *level, const char *msg);
void vol_service_set_log(vol_log_fn fn);

/* Writes one line through the log callback (the daemon's log). */
void vol_service_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
