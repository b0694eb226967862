/* What the service's files share. Not a public header. */
#pragma once

#include <pthread.h>

#include "drivers/driver.h"
#include "engine/engine.h"
#include "locks.h"
#include "metrics.h"
#include "apps.h"
#include "core/token.h"
#include "service.h"
#include "store/store.h"

struct vol_reaper;
struct vol_tokens;
struct vol_sessions;
struct vol_events;

struct vol_service {
        struct vol_store *store;
        struct vol_drivers drivers;
        char *prefix;
        char *default_driver;
        struct vol_name_locks locks;
        struct vol_name_locks app_locks; /* apart from volume names: a deploy holds
                                            one while the engine calls back in */
        struct vol_metrics metrics;
        struct vol_engine *engine; /* NULL: no deploys */
        char *engine_driver;       /* what the engine calls volman's plugin */
        char boot_id[64];          /* this boot's id, recorded with mount references */
        int root_lock_fd;          /* flock'd {root}/volmand.lock */
        struct vol_reaper *reaper; /* destroys retired volumes' storage */
        struct vol_tokens *tokens;     /* API tokens, held in memory (service/tokens.c) */
        struct vol_sessions *sessions; /* console sessions (service/sessions.c) */
        struct vol_events *events;     /* the events' ring and history (service/events.c) */
        struct vol_cluster *cluster;   /* cluster mode (service/cluster.c); NULL: a single node */
        struct vol_reconcile_report reconciled; /* what start-up's reconciliation found */
        _Atomic uint64_t last_write_us; /* when the last create, removal or mount began */

        /* the /con interface (docs/con.md) */
        char *root;                /* the data root */
        unsigned char *secret_key; /* seals secrets (sodium_malloc'd, read-only) */
        char *con_init;            /* the con-init binary mounted into containers */
        int64_t seed_ttl;          /* seconds a seed token lives */
        char *seed_url;            /* the API's address written to /con/seed/url, or NULL */

        /* the memory budget of memory-backed volumes */
        pthread_mutex_t memory_lock;
        uint64_t memory_used;
        uint64_t memory_max_total;
        uint64_t memory_max_volume;
};

/* Reserves the memory a volume of driver d with options may hold. Returns 0
 * (nothing to reserve for a disk-backed driver), or -ENOSPC with a message
 * naming the budget it would pass. */
int vol_memory_reserve(struct vol_service *s, const struct vol_driver *d,
                       const struct vol_kvs *options, const char *name, struct vol_error *err);
/* Gives back what vol_memory_reserve took for these options. */
void vol_memory_release(struct vol_service *s, const struct vol_driver *d,
                        const struct vol_kvs *options);

/* The background destroyer of retired volumes' storage (service/reaper.c). */
int vol_reaper_start(struct vol_service *s, struct vol_reaper **ret, struct vol_error *err);
/* Queues the storage of tombstone t (copied) for destruction. */
void vol_reaper_add(struct vol_reaper *r, const struct vol_tombstone *t);
/* Queues the storage of volume v, just retired. */
void vol_reaper_add_volume(struct vol_reaper *r, const struct vol_volume *v);
/* Stops the thread; what is left stays tombstoned for the next start. */
void vol_reaper_stop(struct vol_reaper *r);
/* How many storages wait for destruction (or a retry). */
size_t vol_reaper_pending(struct vol_reaper *r);

/* Whether caller may see v at all: the admin, volmand and the engines see
 * every volume; a tenant only its own scoped ones. Others are "not found". */
bool vol_auth_may_see(const struct vol_caller *caller, const struct vol_volume *v);

/* Tokens (service/tokens.c): loaded from the store at open; last-used times
 * written back and everything freed at close. */
int vol_tokens_open(struct vol_service *s, struct vol_error *err);
void vol_tokens_close(struct vol_service *s);
/* Whether token id exists (is not revoked). */
bool vol_tokens_exists(struct vol_service *s, const char *id);
/* Mints a seed token for generation of the app app_key ("tenant/env/app"),
 * valid for ttl seconds: the token in token, its end in *ret_expires.
 * Stored (hashed) before it returns, so it outlives a restart. */
int vol_tokens_mint_seed(struct vol_service *s, const char *app_key, unsigned long generation, int64_t ttl,
                         char token[VOL_TOKEN_LEN + 1], int64_t *ret_expires, struct vol_error *err);
/* Revokes the seed tokens of app_key: those of generation (only), or all
 * but those of generation (!only; generation 0: all). */
void vol_tokens_drop_seeds(struct vol_service *s, const char *app_key, unsigned long generation, bool only);

/* The rate of failed attempts per client address: check refuses a client
 * past its allowance (-EUSERS with a message); failed counts one failure,
 * logs it and returns -EACCES with why as the message. */
int vol_auth_rate_check(struct vol_service *s, const char *client, struct vol_error *err);
int vol_auth_failed(struct vol_service *s, const char *client, const char *why, struct vol_error *err);

/* Console sessions (service/sessions.c), in memory only. */
void vol_sessions_open(struct vol_service *s);
void vol_sessions_close(struct vol_service *s);
/* Ends every session made with token id. */
void vol_sessions_drop_token(struct vol_service *s, const char *token_id);

/* Apps (service/app_config.c), shared with service/apps.c. */
#define DOC_CONFIG "config" /* config layers, keyed by vol_app_config_key */
#define DOC_APP "app"       /* deploy records, keyed by vol_app_state_key */
/* Checks the parts of ref that layer names (tenant and env; app too). */
int vol_app_check_ref(enum vol_layer layer, const struct vol_app_ref *ref, struct vol_error *err);
/* Whether caller may read (or, with write, change) the layer of ref: a tenant
 * works in its own tenant only (another's is -ENOENT) and only reads the
 * global layer (-EPERM to change it). */
int vol_app_may_touch(const struct vol_caller *caller, enum vol_layer layer, const struct vol_app_ref *ref,
                      bool write, struct vol_error *err);
/* The store keys of a layer and of an app's deploy record (caller frees). */
char *vol_app_config_key(enum vol_layer layer, const struct vol_app_ref *ref);
char *vol_app_state_key(const struct vol_app_ref *ref);
/* The labels of an app's containers. */
#define LABEL_TENANT "volman.tenant"
#define LABEL_ENV "volman.env"
#define LABEL_APP "volman.app"
#define LABEL_GENERATION "volman.generation"
#define LABEL_MANAGED "volman.managed-by"
#define LABEL_SIDE "volman.side" /* a side container (docs/con.md): its name */
/* Sets in labels the tenant, env and app labels of ref's containers. */
void vol_app_labels(const struct vol_app_ref *ref, struct vol_kvs *labels);
/* The lock one app's deploys and delete take (a stripe of app_locks). */
pthread_mutex_t *vol_app_lock(struct vol_service *s, const struct vol_app_ref *ref);
/* The containers of an app (the engine's, by their labels), of one
 * generation or (0) all. */
struct vol_app_found {
        size_t n, cap;
        char **ids;
        unsigned long max_generation;
};
int vol_app_find_containers(struct vol_service *s, const struct vol_app_ref *ref, unsigned long generation,
                            struct vol_app_found *ret, struct vol_error *err);
/* Removes each found container (counting them in *ret_n when not NULL); one
 * gone already is no error. */
int vol_app_remove_containers(struct vol_service *s, struct vol_app_found *f, size_t *ret_n,
                              struct vol_error *err);
void vol_app_found_free(struct vol_app_found *f);

/* The names of the drivers declaring cap, available or not (said so), joined
 * by ", " into out (n bytes), for messages. */
void vol_drivers_with_cap(struct vol_service *s, unsigned cap, char *out, size_t n);

/* Snapshots with their volume (service/snapshots.c): the snapshots of volume
 * id vid (oldest first; caller frees); destroying every snapshot of the
 * volume stub (id, name) with its storage; and at start-up undoing or
 * finishing half-done snapshots, and dropping those whose volume no id in
 * live names (volumes and tombstones), leaving those of foreign ids (other
 * cluster nodes' volumes) to their nodes. */
int vol_snapshots_of(struct vol_service *s, const char *vid, struct vol_snapshot **ret, size_t *ret_n,
                     struct vol_error *err);
/* Which volumes may have snapshots (vol_snapshots_of reads the store only
 * for those): loaded from the store at open. */
int vol_snapshots_index_load(struct vol_service *s, struct vol_error *err);
bool vol_snapshots_maybe(const char *vid);
int vol_snapshots_destroy_all(struct vol_service *s, const struct vol_volume *stub, struct vol_error *err);
int vol_snapshots_reconcile(struct vol_service *s, const char (*live_ids)[37], size_t n_live,
                            const char (*foreign_ids)[37], size_t n_foreign, size_t *ret_fixed);
/* Emits a volume event: type volume, action, v's name and tenant, its
 * driver, and one more attribute (key = value) when key is not NULL. */
void vol_volume_event(struct vol_service *s, const struct vol_caller *caller, const char *action,
                      const struct vol_volume *v, const char *key, const char *value);

/* Moves between nodes (service/move.c). vol_move_mark: the index of v's
 * move mark (the mount reference a move in progress holds) and the node it
 * goes to, or -1. vol_move_check_mark: 0 when v has no mark; -EBUSY naming
 * the move when it has a live one; 1 when it had a dead one (its node is
 * down, or it is this node's from an earlier start), now taken off v (the
 * caller's next put of v stores that). vol_move_reconcile (at start): takes
 * off the marks of this node's earlier start. */
long vol_move_mark(const struct vol_volume *v, const char **ret_to);
int vol_move_check_mark(struct vol_service *s, struct vol_volume *v, struct vol_error *err);
int vol_move_reconcile(struct vol_service *s, struct vol_error *err);
/* Queues this node's tombstoned storage that no move here is filling (what
 * moves elsewhere left); the daemon's tick calls it, so nothing waits for a
 * restart. 0 on a single node. */
int vol_move_reap(struct vol_service *s, struct vol_error *err);
/* Fills the new, empty storage of v (mounted at v->mountpoint) from the tar
 * stream read gives, as an import does, and syncs it (service/transfer.c). */
int vol_transfer_fill(const struct vol_volume *v, vol_transfer_read_fn read, void *userdata,
                      struct vol_transfer_progress *progress, struct vol_error *err);
/* Finishes resizes a crash interrupted (service/volume_ops.c). */
int vol_resizes_reconcile(struct vol_service *s, size_t *ret_fixed);

/* Long operations (service/operations.c): begin registers one under id
 * (NULL or an invalid id: none, and NULL is returned; end accepts NULL). */
struct op;
struct op *vol_operation_begin(const struct vol_caller *caller, const char *id, const char *kind, const char *volume,
                               struct vol_transfer_progress *progress, uint64_t total);
void vol_operation_end(struct op *o, const char *volume, int r, const struct vol_error *err);

/* What volume name holds, when its driver counts it without a walk; else 0
 * (a progress bar's total). */
uint64_t vol_usage_estimate(struct vol_service *s, const char *name);

/* Events (service/events.c): opened after the store (its history loaded),
 * closed before it (the last second written). emit stamps e (seq, time,
 * the caller as actor) and publishes it; simple makes one of type, action,
 * name and tenant (NULL: none). */
int vol_events_open(struct vol_service *s, struct vol_error *err);
void vol_events_close(struct vol_service *s);
void vol_event_emit(struct vol_service *s, const struct vol_caller *caller, struct vol_event *e);
void vol_event_simple(struct vol_service *s, const struct vol_caller *caller, const char *type, const char *action,
                      const char *name, const char *tenant);
