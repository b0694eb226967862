/* The volume operations: the only place where the store and the drivers meet.
 *
 * Every operation that touches both is a recorded state machine:
 *   create: record `creating` -> driver create -> record `ready`
 *   remove: record retired with a tombstone (one write) -> the storage is
 *           destroyed in the background -> tombstone dropped
 * so a crash at any point leaves a state vol_service_reconcile() finishes.
 * Operations on one name are serialized; different names run in parallel;
 * no lock shared between volumes is held while a tree is walked.
 *
 * Every call names its caller (core/caller.h): what the caller may see and
 * do is decided here, once for every face. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/caller.h"
#include "core/event.h"
#include "core/progress.h"
#include "core/token.h"
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
        /* The memory budget of memory-backed volumes (tmpfs): bytes all of
         * them may hold together, and one of them. 0: a quarter of the host's
         * RAM, and 8 GiB (at most the total). */
        uint64_t memory_max_total;
        uint64_t memory_max_volume;
        const char *boot_id; /* NULL: the kernel's (/proc/sys/kernel/random/boot_id) */
        const char *btrfs_root; /* a btrfs filesystem's directory for the btrfs driver, or NULL */
        /* the /con interface (docs/con.md) */
        const char *secret_key_file; /* NULL: {root}/secret.key, made at the first start */
        const char *con_init;        /* the con-init binary; NULL: VOLMAN_CON_INIT */
        int64_t seed_ttl;            /* seconds a seed token lives; 0: 900 */
        const char *seed_url;        /* the API's address for /con/seed/url, or NULL */
        /* cluster mode (docs/cluster.md): a shared store (etcd) and this
         * node's name; NULL node: a single node */
        const char *node;
        const char *advertise;           /* https://ADDR:PORT of this node's listener */
        const char *cluster_secret_file; /* the secret every node shares */
};

struct vol_service;

struct vol_placement {
        char *node;
        char *address;
};

struct vol_create_request {
        const char *name; /* NULL: derived from scope (then scope is required) */
        const char *driver; /* NULL: the default driver */
        struct vol_kvs options;
        struct vol_kvs labels;
        struct vol_scope *scope; /* NULL: unscoped */
        const char *node; /* cluster mode: where it must live (NULL: placement chooses) */
        /* cluster mode, for a caller that can pass the request on (the
         * API): when placement puts a new volume on another node, the create
         * returns -EREMOTE with that node's name and address here (caller
         * frees). NULL: the volume is made on this node. */
        struct vol_placement *placement;
        /* Instead of empty storage (each makes the create a new volume only:
         * -EEXIST when the name is taken): the content of this volume, copied
         * by the driver (a clone; the same driver), or what fill writes into
         * the new volume before it is ready (an import). */
        const struct vol_volume *clone_from;
        int (*fill)(struct vol_service *s, const struct vol_volume *v, void *userdata, struct vol_error *err);
        void *fill_userdata;
};

/* Takes an exclusive lock on cfg->root (a second volmand on one root exits
 * here, naming the first one's PID, having touched nothing), opens the store
 * and drivers under it and reconciles (see vol_service_reconcile), writing
 * what it found to the log callback. Returns 0 and *ret, or < 0 with a message. */
int vol_service_open(const struct vol_service_config *cfg, struct vol_service **ret,
                     struct vol_error *err);
/* Stops background work and closes the store and drivers. Accepts NULL. */
void vol_service_close(struct vol_service *s);

/* 0 when every operation can work; < 0 with the reason when the daemon is
 * degraded (the store refuses durable writes after a failed fsync). */
int vol_service_health(struct vol_service *s, struct vol_error *err);

/* How many removed volumes' data is still being destroyed in the background. */
size_t vol_service_removals_pending(struct vol_service *s);

/* Appends every metric in Prometheus text format: volumes by driver and status
 * (read from the store) and the operation counters and latencies. The
 * figures span every tenant: admin only (-EPERM). */
int vol_service_render_metrics(struct vol_service *s, const struct vol_caller *caller, struct vol_strbuf *out,
                               struct vol_error *err);

/* Housekeeping the daemon calls about once a minute: writes back when tokens
 * were last used. */
void vol_service_tick(struct vol_service *s);

/* Creates a volume, or returns the existing one when name, driver, options,
 * labels and scope all match (then *ret_created is false). Different
 * parameters for an existing name: -EEXIST. Bad input: -EINVAL; a name
 * starting with the scoped-name prefix and a dash without a scope, too (such
 * names belong to scopes alone). A memory-backed volume past the memory
 * budget: -ENOSPC. The answer is durable (fsync'd) when this returns.
 * *ret: the volume (caller frees). */
int vol_service_create(struct vol_service *s, const struct vol_caller *caller,
                       const struct vol_create_request *req, struct vol_volume **ret,
                       bool *ret_created, struct vol_error *err);

/* The volume called name (caller frees), or -ENOENT. If ret_info is not NULL,
 * fills it with the driver's view (with usage if with_usage). */
int vol_service_get(struct vol_service *s, const struct vol_caller *caller, const char *name,
                    bool with_usage,
                    struct vol_volume **ret, struct vol_volume_info *ret_info,
                    struct vol_error *err);

/* Called per listed volume with the driver's view (no usage). v and info are
 * only valid during the call. Return 0 to go on, < 0 to stop with that error. */
typedef int (*vol_service_volume_cb)(const struct vol_volume *v, const struct vol_volume_info *info,
                                     void *userdata);

/* vol_service_get without a copy: the volume called name is lent to cb with
 * the driver's view (with usage if with_usage) for the call only. Returns
 * what cb returns, or < 0 (-ENOENT: absent, or another tenant's). */
int vol_service_view(struct vol_service *s, const struct vol_caller *caller, const char *name,
                     bool with_usage, vol_service_volume_cb cb, void *userdata, struct vol_error *err);

/* Passes the volumes matching f (NULL: all), in name order, after `after`
 * (NULL: from the start), at most limit (0: all), to cb. *ret_next gets the
 * name to continue after when more remain (heap), else NULL; ret_next may be
 * NULL. Returns how many cb saw, or < 0. */
int vol_service_list(struct vol_service *s, const struct vol_caller *caller,
                     const struct vol_filter *f, const char *after,
                     size_t limit, vol_service_volume_cb cb, void *userdata, char **ret_next,
                     struct vol_error *err);

/* vol_service_list with each volume's usage (where its driver can tell:
 * from the filesystem or qgroup for tmpfs, loop and btrfs; a walk of the
 * whole tree for local, one volume after another) and its size limit. */
int vol_service_list_usage(struct vol_service *s, const struct vol_caller *caller, const struct vol_filter *f,
                           const char *after, size_t limit, vol_service_volume_cb cb, void *userdata,
                           char **ret_next, struct vol_error *err);

/* Called per listed volume with its API JSON as the store keeps it
 * (json[0..len), the object without driver info, ending in '}') and the
 * driver's view to add (no usage). Only valid during the call. */
typedef int (*vol_service_json_cb)(const char *json, size_t len, const struct vol_volume_info *info,
                                   void *userdata);

/* vol_service_list for a filter of only driver, tenant, env and app (say so
 * with vol_service_list_json_ok; never in a cluster, where each volume's
 * node state is added): each volume comes as the JSON the store keeps, so a page of 10,000 is copied, not rendered. Same paging and
 * tenancy as vol_service_list. */
bool vol_service_list_json_ok(const struct vol_service *s, const struct vol_filter *f);
int vol_service_list_json(struct vol_service *s, const struct vol_caller *caller,
                          const struct vol_filter *f, const char *after, size_t limit,
                          vol_service_json_cb cb, void *userdata, char **ret_next,
                          struct vol_error *err);

/* Removes a volume and its data. -ENOENT if absent; -EBUSY while any mount
 * reference exists (no flag overrides this) or a filesystem is mounted in or
 * on its directory: a refused removal changes nothing. Once this returns 0
 * the name is free; the data is destroyed in the background (and at the next
 * start if volmand stops first). */
int vol_service_remove(struct vol_service *s, const struct vol_caller *caller, const char *name,
                       struct vol_error *err);

/* Called per volume prune decided on: kept_because is NULL when it was
 * removed (or, with dry_run, would be), else why it was kept. */
typedef void (*vol_service_prune_cb)(const char *name, const char *kept_because, void *userdata);
/* Removes every unmounted, ready volume matching f (or, with dry_run, only
 * names them), except the volumes of an app whose config or deploy still
 * exists, whatever the filter. Returns how many were removed; on a failure
 * that stops it, < 0, and cb has already seen every volume removed before. */
int vol_service_prune(struct vol_service *s, const struct vol_caller *caller,
                      const struct vol_filter *f, bool dry_run, vol_service_prune_cb cb,
                      void *userdata, struct vol_error *err);

/* Records mount reference ref_id of the caller's face on name (durably, with
 * the boot id) and returns the mountpoint in *ret_mountpoint (caller frees).
 * Mounting with an id the face holds already is a no-op. -ENOENT if absent,
 * -EBUSY if the volume is being created. With `now` (a caller that must not
 * wait: an HTTP event thread), -EWOULDBLOCK and nothing done when it would
 * have to: another operation holds the name, the volume's driver mounts for
 * real (VOL_CAP_MOUNT_CHEAP unset), the store's writer is busy (a commit
 * running, writes queued or a flush running: VOL_SYNC_NOWAIT), or the store is a cluster's. */
int vol_service_mount(struct vol_service *s, const struct vol_caller *caller, const char *name,
                      const char *ref_id, bool now, char **ret_mountpoint, struct vol_error *err);

/* Drops the caller's mount reference ref_id from name. An unknown id
 * succeeds; an id held only by another face is -EPERM (only the face that
 * made a reference drops it); an unknown volume is -ENOENT. `now`: as for
 * vol_service_mount. */
int vol_service_unmount(struct vol_service *s, const struct vol_caller *caller, const char *name,
                        const char *ref_id, bool now, struct vol_error *err);

/* What start-up reconciliation did. */
/* ---- snapshots (service/snapshots.c) ---- */

#define VOL_SNAPSHOTS_MAX 64 /* per volume */

/* Snapshots volume's content now as name (NULL: the time, e.g.
 * 2026-12-01T03-18-00Z), durably, through its driver. -ENOTSUP for a driver
 * without snapshots (the message names those with), -EEXIST for a name the
 * volume has, -E2BIG past VOL_SNAPSHOTS_MAX. */
int vol_service_snapshot_create(struct vol_service *s, const struct vol_caller *caller, const char *op_id,
                                const char *volume,
                                const char *name, struct vol_snapshot *ret, struct vol_error *err);
/* The snapshots of volume, oldest first (*ret: caller frees). */
int vol_service_snapshot_list(struct vol_service *s, const struct vol_caller *caller, const char *volume,
                              struct vol_snapshot **ret, size_t *ret_n, struct vol_error *err);
/* Destroys snapshot name of volume. */
int vol_service_snapshot_remove(struct vol_service *s, const struct vol_caller *caller, const char *volume,
                                const char *name, struct vol_error *err);
/* Makes volume's content snapshot name's. -EBUSY while the volume has mount
 * references (the message says whose). The switch is atomic. */
int vol_service_snapshot_restore(struct vol_service *s, const struct vol_caller *caller, const char *volume,
                                 const char *name, struct vol_error *err);

/* ---- clone, resize, drivers (service/volume_ops.c) ---- */

/* A new volume with source's content (its driver and options; req gives
 * name or scope, and labels), independent of it from then on. A tenant
 * clones only into its own scope. */
int vol_service_clone(struct vol_service *s, const struct vol_caller *caller, const char *op_id, const char *source,
                      const struct vol_create_request *req, struct vol_volume **ret, struct vol_error *err);
/* Changes volume's size limit to size (text, "20g"). -ENOTSUP for a driver
 * that cannot, -ENOSPC below what it holds, -EBUSY when its driver resizes
 * only unused volumes and it is in use. Crash-safe: an intent is recorded
 * first and start-up finishes it. *ret: the volume as it is now. */
int vol_service_resize(struct vol_service *s, const struct vol_caller *caller, const char *volume,
                       const char *size, struct vol_volume **ret, struct vol_error *err);

struct vol_driver_desc {
        const char *name;
        bool available;
        const char *reason; /* why not, or NULL */
        unsigned caps;      /* VOL_CAP_* of drivers/driver.h */
        const char *const *options;
};
typedef int (*vol_driver_desc_cb)(const struct vol_driver_desc *d, void *userdata);
/* Every driver volmand has, available on this host or not. */
int vol_service_drivers(struct vol_service *s, vol_driver_desc_cb cb, void *userdata);

/* ---- export and import (service/transfer.c) ---- */

/* Takes n bytes of an export: 0, or < 0 to stop it (the client went away). */
typedef int (*vol_transfer_write_fn)(void *userdata, const void *buf, size_t n);
/* Gives up to n bytes of an import: > 0, 0 at its end, or < 0 (-errno). */
typedef ssize_t (*vol_transfer_read_fn)(void *userdata, void *buf, size_t n);

/* (Each of export, import, clone and snapshot create takes op_id: NULL, or
 * the id under which GET /v1/operations shows it while it runs.) */

/* Whether exports and imports can run: loads libarchive, which volmand maps
 * on first use only (service/lazy_archive.h). Returns 0, or -ELIBACC with a
 * message saying what ("volume export") needs it and which Debian package to
 * install. Export and import load it themselves too; this lets a caller
 * refuse before it answers. */
int vol_service_transfer_ready(const char *what, struct vol_error *err);

/* Writes volume name's content as a tar stream (pax; zstd-compressed when
 * zstd) through write: owners, modes, times, xattrs, symlinks as links, hard
 * links; nothing followed out of the volume, no other filesystem entered. */
int vol_service_export(struct vol_service *s, const struct vol_caller *caller, const char *op_id, const char *name, bool zstd,
                       vol_transfer_write_fn write, void *userdata, struct vol_transfer_progress *progress,
                       struct vol_error *err);
/* Makes a new volume as req says and fills it from the tar stream read gives
 * (any compression libarchive reads). A hostile or broken archive (a path
 * with ".." or absolute, a path through a symlink, a device node, an entry
 * twice, more than the volume holds: -ENOSPC) refuses the whole import, with
 * a message naming the entry, and leaves no volume. */
int vol_service_import(struct vol_service *s, const struct vol_caller *caller, const char *op_id,
                       const struct vol_create_request *req,
                       vol_transfer_read_fn read, void *userdata, struct vol_transfer_progress *progress,
                       struct vol_volume **ret, struct vol_error *err);

/* ---- long operations under way (service/operations.c) ---- */

#define VOL_OPERATION_ID_MAX 64

struct vol_operation {
        char id[VOL_OPERATION_ID_MAX + 1];
        char kind[16]; /* export, import, clone, snapshot */
        char volume[VOL_NAME_MAX + 1];
        int64_t started, finished; /* unix seconds; finished 0: still running */
        int result;                /* once finished: 0, or < 0 with message */
        char message[256];
        uint64_t bytes, entries; /* so far */
        uint64_t total;          /* bytes expected, 0: not known */
};
typedef int (*vol_operation_cb)(const struct vol_operation *op, void *userdata);

/* Checks an operation id a caller chose: 8-64 of a-z 0-9 -. */
int vol_validate_operation_id(const char *id, struct vol_error *err);
/* The operation called id, as its caller (or an admin) sees it; -ENOENT
 * otherwise. Finished ones stay for ten minutes. */
int vol_service_operation_get(struct vol_service *s, const struct vol_caller *caller, const char *id,
                              struct vol_operation *ret, struct vol_error *err);
/* Every operation caller may see, through cb. */
int vol_service_operation_list(struct vol_service *s, const struct vol_caller *caller, vol_operation_cb cb,
                               void *userdata);

/* ---- events (service/events.c) ---- */

struct vol_events_query {
        const struct vol_caller *caller; /* a tenant sees its own tenant's events only */
        struct vol_event_filter filter;
        int64_t since_us; /* 0: from now on; else replay from then (the kept history) */
        int64_t until_us; /* 0: follow until the reader goes; else stop past it */
        /* Called between batches (the reader's chance to flush what it got):
         * false ends the stream. NULL: always on. */
        bool (*alive)(void *userdata);
        /* Called once the reader is admitted, before any event (the reader
         * answers its head then). NULL: none. */
        void (*admitted)(void *userdata);
};
/* Called per event, in order. Return 0 to go on, < 0 to stop. */
typedef int (*vol_event_cb)(const struct vol_event *e, void *userdata);
/* Passes the events q asks for to cb: the history kept (since), then new
 * ones as they happen, until until, the reader goes, or volmand stops. A
 * reader that falls behind gets an "events"/"dropped" event and the end.
 * -EAGAIN when 64 readers follow already. */
int vol_service_events(struct vol_service *s, const struct vol_events_query *q, vol_event_cb cb, void *userdata,
                       struct vol_error *err);

/* ---- tokens and console sessions (service/tokens.c, service/sessions.c) ---- */

struct vol_token_info {
        char id[VOL_TOKEN_ID_LEN + 1];
        const char *tenant; /* NULL: an admin token */
        const char *name;   /* "" when none was given */
        int64_t created;    /* unix seconds */
        int64_t last_used;  /* unix seconds; 0: never */
};
typedef int (*vol_token_cb)(const struct vol_token_info *t, void *userdata);

/* Makes a token for tenant (NULL: an admin token) called name (NULL or ""
 * for none) and writes it, durably, before it returns it in token: the only
 * time its text exists outside the caller's hands. Admin only (-EPERM). *ret
 * (or NULL) gets its details; its strings are tenant and name. */
int vol_service_token_create(struct vol_service *s, const struct vol_caller *caller, const char *tenant,
                             const char *name, char token[VOL_TOKEN_LEN + 1], struct vol_token_info *ret,
                             struct vol_error *err);
/* Every token, through cb (never its secret). Admin only. */
int vol_service_token_list(struct vol_service *s, const struct vol_caller *caller, vol_token_cb cb,
                           void *userdata, struct vol_error *err);
/* Revokes token id: it fails from the next request on, and its console
 * sessions end. -ENOENT if there is none. Admin only. */
int vol_service_token_remove(struct vol_service *s, const struct vol_caller *caller, const char *id,
                             struct vol_error *err);
/* Who token stands for, presented by client (an address, for the rate of
 * failures and the logs): 0 and *ret; -EACCES (a malformed, unknown or
 * revoked token; logged and counted against client) or -EUSERS (client made
 * too many failed attempts lately), each with a message. */
int vol_service_authenticate(struct vol_service *s, const char *token, const char *client,
                             struct vol_identity *ret, struct vol_error *err);

#define VOL_SESSION_LEN 64 /* hex digits of a session ID and of its CSRF token */

/* Exchanges token for a console session: as vol_service_authenticate, then
 * a new session ID and CSRF token (256 random bits each) in sid and csrf. */
int vol_service_session_open(struct vol_service *s, const char *token, const char *client,
                             char sid[VOL_SESSION_LEN + 1], char csrf[VOL_SESSION_LEN + 1],
                             struct vol_identity *ret, struct vol_error *err);
/* Who session sid stands for. A change (any request but a read) must carry
 * the session's CSRF token in csrf (-EPERM otherwise). -EACCES for an
 * unknown, expired or revoked session; -EUSERS as above. ret_csrf (or NULL)
 * gets the session's CSRF token. */
int vol_service_session_check(struct vol_service *s, const char *sid, bool change, const char *csrf,
                              const char *client, char ret_csrf[VOL_SESSION_LEN + 1],
                              struct vol_identity *ret, struct vol_error *err);
/* Ends session sid (log out). Unknown ones are no error. */
void vol_service_session_close(struct vol_service *s, const char *sid);

struct vol_reconcile_report {
        size_t rolled_back;    /* `creating` records undone */
        size_t rolled_forward; /* `deleting` records (of an older volmand) retired */
        size_t tombstones;     /* storage of removed volumes, queued for destruction */
        size_t stale_refs;     /* mount references of an earlier boot, dropped */
        size_t orphans;        /* storage with no record that holds data (reported, kept) */
        size_t cleaned;        /* empty storage with no record (removed) */
        size_t missing;        /* ready records whose storage is gone (reported) */
        size_t repaired;       /* ready records whose storage was made again */
        size_t unusable;       /* ready records whose storage is there but could not be reattached (reported) */
};

/* Drives every half-done operation to an end and reports storage with no
 * record and records with no storage, through the log callback. */
int vol_service_reconcile(struct vol_service *s, struct vol_reconcile_report *ret,
                          struct vol_error *err);

/* Where the service writes what it reports (reconciliation findings, the
 * audit trail). Without one, nothing is written. */
typedef void (*vol_log_fn)(const char *level, const char *msg);
void vol_service_set_log(vol_log_fn fn);

/* Writes one line through the log callback (the daemon's log), when level
 * ("debug", "info", "warning", "error") is at or above the threshold. */
void vol_service_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Log levels, least severe first. */
enum vol_log_level { VOL_LOG_DEBUG, VOL_LOG_INFO, VOL_LOG_WARNING, VOL_LOG_ERROR };

/* The level called name ("debug", "info", "warning", "error"), or -EINVAL. */
int vol_log_level_from_name(const char *name);

/* Sets the threshold: lines below min are dropped before they are formatted
 * (default: VOL_LOG_INFO). */
void vol_service_set_log_level(enum vol_log_level min);

/* Whether a line of level (a name, as vol_service_log takes; an unknown
 * name counts as info) would be written: lets a caller skip building one. */
bool vol_service_log_enabled(const char *level);

/* A consistent copy of the metadata store, made while writes go on (the
 * sqlite store's database file, which opens as a store): 0 and *ret_fd, open
 * for reading at its start, nothing left on disk. Admin only (-EPERM: it
 * holds every tenant's records); -ENOTSUP for a store that has its own tools
 * (etcd). Audited. */
int vol_service_store_backup(struct vol_service *s, const struct vol_caller *caller, int *ret_fd,
                             struct vol_error *err);

/* The audit trail: one line per destructive operation and per failure of the
 * daemon, with who (the caller), what and the outcome (r: 0 or < 0 with err). */
void vol_service_audit(const struct vol_caller *caller, const char *what, int r,
                       const struct vol_error *err);

/* --- Cluster mode (service/cluster.c, docs/cluster.md) ----------------------- */

/* A node as this node sees it. Strings valid during the callback only. */
struct vol_node_info {
        const char *name;
        const char *address;   /* https://ADDR:PORT */
        const char *state;     /* "up", "down" or "draining" */
        bool self;             /* the node answering */
        uint64_t volumes;      /* volumes it holds, as it last said */
        uint64_t free_bytes;   /* free space under its root, as it last said */
        int64_t heartbeat;     /* unix time of its last heartbeat (0: none seen) */
};
typedef int (*vol_service_node_cb)(const struct vol_node_info *n, void *userdata);

/* This node's name in a cluster, or NULL on a single node. */
const char *vol_service_node(const struct vol_service *s);

/* Every node the cluster has known, in name order, read afresh from the
 * store. Admin only (-EPERM); -ENOTSUP on a single node. */
int vol_service_nodes(struct vol_service *s, const struct vol_caller *caller, vol_service_node_cb cb,
                      void *userdata, struct vol_error *err);

/* Marks node name draining (true: nothing new is placed there) or not.
 * Admin only. -ENOENT for a node the cluster never knew. */
int vol_service_node_drain(struct vol_service *s, const struct vol_caller *caller, const char *name,
                           bool draining, struct vol_error *err);

/* Where a new volume of driver goes: want (a node's name) when it is up and
 * not draining, else an error naming why; without want, the placement
 * policy: the up, not draining node with the fewest volumes, then the most
 * free space, then the first name. On a single node: 0 and NULLs (want must
 * then be NULL or -ENOTSUP). *ret_node and *ret_address are the caller's to
 * free; *ret_address is NULL when the node is this one. */
int vol_service_place(struct vol_service *s, const struct vol_caller *caller, const char *want,
                      char **ret_node, char **ret_address, struct vol_error *err);

/* Which node holds volume name, for a call that touches its bytes: 0 with
 * *ret_address NULL when this node does (or on a single node); 0 with the
 * owner's name and address (caller frees) when another up node does; -EAGAIN
 * naming the node when it is down; -ENOENT when caller may not see it. */
int vol_service_owner(struct vol_service *s, const struct vol_caller *caller, const char *name,
                      char **ret_node, char **ret_address, struct vol_error *err);

/* The address of node name when it is up (caller frees; NULL when name is
 * this node), -EAGAIN naming it when it is down; -ENOTSUP on a single node. */
int vol_service_node_address(struct vol_service *s, const char *name, char **ret_address, struct vol_error *err);

/* How a move reaches the volume's node (the API's node-to-node call): open
 * starts the export of volume name from node (at address), read gives its
 * bytes (as vol_transfer_read_fn), close ends it (read_all: the archive was
 * read to its end) and says whether the node sent it whole (0, or < 0 with
 * the node's reason); reap, if set, asks node to destroy storage it no
 * longer holds now (best effort). */
struct vol_move_fetch {
        int (*open)(void *userdata, const char *node, const char *address, const char *name, struct vol_error *err);
        ssize_t (*read)(void *userdata, void *buf, size_t n);
        int (*close)(void *userdata, bool read_all, struct vol_error *err);
        void (*reap)(void *userdata, const char *node);
        void *userdata;
};

/* Moves volume name to this node (docs/cluster.md): marks it, copies its
 * content from its node through f into new storage here, syncs, and flips
 * the record to this node in one store transaction; the old storage is then
 * its node's to destroy. Admin only. Refuses a volume that is mounted, has
 * snapshots, is being moved, or whose node is down; a failure at any point
 * before the flip leaves the volume where it was, unchanged. Returns 0 and
 * *ret (the moved volume; caller frees). */
int vol_service_move(struct vol_service *s, const struct vol_caller *caller, const char *op_id, const char *name,
                     const struct vol_move_fetch *f, struct vol_transfer_progress *progress, struct vol_volume **ret,
                     struct vol_error *err);

/* Queues for destruction every storage of this node that a tombstone names
 * and no move of this node is filling (a move elsewhere left it). Admin (or
 * a node) only; 0 on a single node. */
int vol_service_reap(struct vol_service *s, const struct vol_caller *caller, struct vol_error *err);

/* The signature of a node-to-node call: HMAC-SHA256 under the cluster
 * secret of "time\nmethod\ntarget\nidentity", in hex (65 bytes with the
 * NUL). -ENOTSUP on a single node. */
#define VOL_CLUSTER_MAC_HEX 65
int vol_service_cluster_sign(struct vol_service *s, int64_t time, const char *method, const char *target,
                             const char *identity, char out[VOL_CLUSTER_MAC_HEX]);
/* Checks a signature made by vol_service_cluster_sign on another node, and
 * that time is within a minute of this node's clock. 0 or -EACCES with why. */
int vol_service_cluster_verify(struct vol_service *s, int64_t time, const char *method, const char *target,
                               const char *identity, const char *mac, struct vol_error *err);
