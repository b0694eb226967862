/* The metadata store interface. The store is the truth for metadata.
 *
 * A backend is a `static const struct vol_store_ops` (store/sqlite.c today,
 * etcd later). Every write is a compare-and-swap on the record's revision, so
 * a backend shared by several daemons stays consistent; no SQL or key layout
 * leaks out of a backend's file. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/filter.h"
#include "core/volume.h"

struct vol_store;

/* How durable a write must be when the call returns. */
enum vol_store_sync {
        VOL_SYNC_FULL,    /* on stable storage (fsync'd): survives power loss */
        VOL_SYNC_ORDERED, /* survives a crash of the daemon, and becomes durable
                             no later than the next VOL_SYNC_FULL write */
        VOL_SYNC_NOWAIT,  /* as VOL_SYNC_ORDERED, made at once or not at all: for a
                             caller that must not wait (an HTTP event thread).
                             -EWOULDBLOCK, nothing written and no message, when it
                             would wait for another writer, a flush or the network
                             (a backend that cannot tell always says so). It does
                             not wait for other threads; its own write into the
                             page cache can still be held by the kernel (a frozen
                             filesystem, dirty-page throttling) */
};

/* What a store's writes cost since it was opened: the durability figures of
 * docs/architecture.md ("one synced write per change, none per mount"). */
struct vol_store_stats {
        uint64_t writes_full;    /* writes asked for with VOL_SYNC_FULL */
        uint64_t writes_ordered; /* writes asked for with VOL_SYNC_ORDERED */
        uint64_t commits;        /* transactions committed (a batch of writes is one) */
        uint64_t commits_ahead;  /* of them, synced batches committed while a flush ran (sqlite) */
        uint64_t syncs;          /* flushes to stable storage the store made for them */
        uint64_t checkpoints;    /* copies of the log back into the database (sqlite) */
};

/* Called once per listed volume; v is only valid during the call.
 * Return 0 to go on, > 0 to stop early, < 0 to stop with that error. */
typedef int (*vol_store_list_cb)(const struct vol_volume *v, void *userdata);

/* Called once per listed volume with its API JSON as vol_volume_to_json
 * writes it with no driver info (json[0..len), ending in '}'), its name and
 * driver; only valid during the call. Return as vol_store_list_cb. */
typedef int (*vol_store_json_cb)(const char *name, const char *driver, const char *json, size_t len,
                                 void *userdata);

/* Called once per (driver, status) pair with the number of volumes in it. */
typedef void (*vol_store_count_cb)(const char *driver, enum vol_status status, uint64_t n,
                                   void *userdata);

/* Called once per listed document; key and json are only valid during the call. */
typedef int (*vol_store_doc_cb)(const char *key, const char *json, int64_t revision,
                                void *userdata);

/* expect_rev for a write that does not care what is there. */
#define VOL_REV_ANY (-1)

/* The storage of a removed volume, waiting to be destroyed in the background:
 * its record is gone (the name is free), the bytes are not yet. */
struct vol_tombstone {
        char id[37];
        const char *name; /* the volume's name, for logs */
        const char *driver;
        const char *mountpoint;
        struct vol_kvs options;
        int64_t retired_at; /* unix time, seconds */
        const char *node;   /* cluster mode: the node whose disk holds the bytes; NULL otherwise */
};

/* Called once per tombstone; t is only valid during the call. */
typedef int (*vol_store_tombstone_cb)(const struct vol_tombstone *t, void *userdata);

struct vol_store_ops {
        const char *name;
        /* Opens the store at location (a backend-specific string: a file path
         * for sqlite), creating and migrating it as needed. */
        int (*open)(const char *location, struct vol_store **ret, struct vol_error *err);
        void (*close)(struct vol_store *s);
        /* The volume called name: 0 and *ret (caller frees), or -ENOENT. */
        int (*get)(struct vol_store *s, const char *name, struct vol_volume **ret,
                   struct vol_error *err);
        /* The volume called name, lent to cb for the call only (no copy):
         * returns what cb returns, or -ENOENT. The read path of inspect. */
        int (*view)(struct vol_store *s, const char *name, vol_store_list_cb cb, void *userdata,
                    struct vol_error *err);
        /* Volumes matching f with names > after (NULL: from the start), in name
         * order, at most limit (0: no limit). Returns how many cb saw, or < 0. */
        int (*list)(struct vol_store *s, const struct vol_filter *f, const char *after, size_t limit,
                    vol_store_list_cb cb, void *userdata, struct vol_error *err);
        /* list, as the stored JSON of each volume: for lists, which then copy
         * text instead of decoding and rendering. f may hold only driver,
         * tenant, env and app (-EINVAL otherwise). */
        int (*list_json)(struct vol_store *s, const struct vol_filter *f, const char *after,
                         size_t limit, vol_store_json_cb cb, void *userdata, struct vol_error *err);
        /* Writes v. expect_rev 0: v must not exist yet (-EEXIST otherwise);
         * expect_rev > 0: the stored revision must be expect_rev (-ESTALE
         * otherwise, -ENOENT if gone). On success sets v->revision. */
        int (*put)(struct vol_store *s, struct vol_volume *v, int64_t expect_rev,
                   enum vol_store_sync sync, struct vol_error *err);
        /* Deletes name if its revision is expect_rev (-ESTALE otherwise, -ENOENT if gone). */
        int (*remove)(struct vol_store *s, const char *name, int64_t expect_rev,
                      enum vol_store_sync sync, struct vol_error *err);
        /* In one atomic write: deletes v's record (revision expect_rev, as
         * remove) and records a tombstone for its storage (id, driver,
         * mountpoint, options). The name is free from then on. */
        int (*retire)(struct vol_store *s, const struct vol_volume *v, int64_t expect_rev,
                      enum vol_store_sync sync, struct vol_error *err);
        /* Every tombstone, oldest first. */
        int (*list_tombstones)(struct vol_store *s, vol_store_tombstone_cb cb, void *userdata,
                               struct vol_error *err);
        /* Forgets the tombstones of the n storages ids (their bytes are gone),
         * in one write. Absent ones are no error. */
        int (*drop_tombstones)(struct vol_store *s, const char *const *ids, size_t n,
                               enum vol_store_sync sync, struct vol_error *err);
        /* 0 when writes work; < 0 with the reason when they cannot (a failed
         * fsync makes every later durable write fail: see docs/api.md). */
        int (*health)(struct vol_store *s, struct vol_error *err);
        /* Counts volumes by driver and status. */
        int (*count)(struct vol_store *s, vol_store_count_cb cb, void *userdata,
                     struct vol_error *err);

        /* Documents: small JSON texts under (kind, key), for configuration
         * layers and app state. Same revision rules as volumes, plus
         * VOL_REV_ANY for an unconditional write. */
        int (*get_doc)(struct vol_store *s, const char *kind, const char *key, char **ret_json,
                       int64_t *ret_rev, struct vol_error *err);
        int (*put_doc)(struct vol_store *s, const char *kind, const char *key, const char *json,
                       int64_t expect_rev, enum vol_store_sync sync, int64_t *ret_rev,
                       struct vol_error *err);
        /* -ENOENT when absent. */
        int (*remove_doc)(struct vol_store *s, const char *kind, const char *key, int64_t expect_rev,
                          enum vol_store_sync sync, struct vol_error *err);
        /* Every document of kind whose key starts with prefix, in key order. */
        int (*list_docs)(struct vol_store *s, const char *kind, const char *prefix,
                         vol_store_doc_cb cb, void *userdata, struct vol_error *err);

        /* Shared backends only (NULL in a backend for one process, such as
         * sqlite): documents bound to this process's session, for presence
         * (cluster nodes). put_session_doc writes (kind, key) unconditionally
         * under the session, starting one of ttl_s seconds if there is none;
         * the backend drops every such document when the session lapses
         * (etcd: a lease). renew_session keeps it alive: 0, or -ENOENT when it
         * had lapsed (its documents are gone; the next put starts a new one),
         * or < 0 when the backend cannot be reached. */
        int (*put_session_doc)(struct vol_store *s, const char *kind, const char *key,
                               const char *json, int ttl_s, struct vol_error *err);
        int (*renew_session)(struct vol_store *s, struct vol_error *err);

        /* Shared backends only (NULL otherwise): a volume's move to another
         * node (docs/cluster.md). bury records the tombstone t on its own:
         * the storage a move is filling, which the next start of t->node
         * destroys unless the move's relocate came first. relocate, in one
         * atomic write: writes v (revision expect_rev, as put; sets
         * v->revision), records the tombstone old (the storage v leaves) and
         * forgets the tombstone of v->id's storage. */
        int (*bury)(struct vol_store *s, const struct vol_tombstone *t, struct vol_error *err);
        int (*relocate)(struct vol_store *s, struct vol_volume *v, int64_t expect_rev,
                        const struct vol_tombstone *old, struct vol_error *err);
        /* Optional (NULL: the backend does not count): what the store's writes
         * have cost since it was opened, for /metrics. */
        void (*stats)(struct vol_store *s, struct vol_store_stats *out);
        /* Optional (NULL: the backend has its own, such as etcd's snapshots):
         * a consistent copy of the whole store, made while writes go on, in
         * a file of the backend's own format that opens as the store:
         * 0 and *ret_fd, open for reading at its start, the file already
         * unlinked (nothing is left behind, whatever happens next). */
        int (*backup)(struct vol_store *s, int *ret_fd, struct vol_error *err);
};

/* A write that returns an error has changed nothing a later read can see:
 * when a durable write committed but could not be made durable (fdatasync
 * failed), the backend writes the old state back before it answers. */

/* Every backend begins with this. */
struct vol_store {
        const struct vol_store_ops *ops;
};

/* The backends. */
extern const struct vol_store_ops vol_store_sqlite_ops;
extern const struct vol_store_ops vol_store_etcd_ops;

/* The backend registered under name, or NULL. */
const struct vol_store_ops *vol_store_find(const char *name);

/* Opens a store with backend `backend` at location. */
int vol_store_open(const char *backend, const char *location, struct vol_store **ret,
                   struct vol_error *err);

static inline void vol_store_close(struct vol_store *s)
{
        if (s)
                s->ops->close(s);
}

/* See struct vol_store_ops for each contract. */
static inline int vol_store_get(struct vol_store *s, const char *name, struct vol_volume **ret,
                                struct vol_error *err)
{
        return s->ops->get(s, name, ret, err);
}

static inline int vol_store_view(struct vol_store *s, const char *name, vol_store_list_cb cb,
                                 void *userdata, struct vol_error *err)
{
        return s->ops->view(s, name, cb, userdata, err);
}

static inline int vol_store_list(struct vol_store *s, const struct vol_filter *f, const char *after,
                                 size_t limit, vol_store_list_cb cb, void *userdata,
                                 struct vol_error *err)
{
        return s->ops->list(s, f, after, limit, cb, userdata, err);
}

static inline int vol_store_list_json(struct vol_store *s, const struct vol_filter *f,
                                      const char *after, size_t limit, vol_store_json_cb cb,
                                      void *userdata, struct vol_error *err)
{
        return s->ops->list_json(s, f, after, limit, cb, userdata, err);
}

static inline int vol_store_put(struct vol_store *s, struct vol_volume *v, int64_t expect_rev,
                                enum vol_store_sync sync, struct vol_error *err)
{
        return s->ops->put(s, v, expect_rev, sync, err);
}

static inline int vol_store_remove(struct vol_store *s, const char *name, int64_t expect_rev,
                                   enum vol_store_sync sync, struct vol_error *err)
{
        return s->ops->remove(s, name, expect_rev, sync, err);
}

static inline int vol_store_retire(struct vol_store *s, const struct vol_volume *v,
                                   int64_t expect_rev, enum vol_store_sync sync,
                                   struct vol_error *err)
{
        return s->ops->retire(s, v, expect_rev, sync, err);
}

static inline int vol_store_list_tombstones(struct vol_store *s, vol_store_tombstone_cb cb,
                                            void *userdata, struct vol_error *err)
{
        return s->ops->list_tombstones(s, cb, userdata, err);
}

static inline int vol_store_drop_tombstones(struct vol_store *s, const char *const *ids, size_t n,
                                            enum vol_store_sync sync, struct vol_error *err)
{
        return s->ops->drop_tombstones(s, ids, n, sync, err);
}

static inline int vol_store_health(struct vol_store *s, struct vol_error *err)
{
        return s->ops->health(s, err);
}

/* See backup in struct vol_store_ops; -ENOTSUP when the backend has none. */
static inline int vol_store_backup(struct vol_store *s, int *ret_fd, struct vol_error *err)
{
        if (!s->ops->backup)
                return vol_error_set(err, -ENOTSUP,
                                     "the %s store is backed up with its own tools, not through volmand",
                                     s->ops->name);
        return s->ops->backup(s, ret_fd, err);
}

/* Fills *out; false when the backend does not count. */
static inline bool vol_store_stats(struct vol_store *s, struct vol_store_stats *out)
{
        if (!s->ops->stats)
                return false;
        s->ops->stats(s, out);
        return true;
}

static inline int vol_store_count(struct vol_store *s, vol_store_count_cb cb, void *userdata,
                                  struct vol_error *err)
{
        return s->ops->count(s, cb, userdata, err);
}

static inline int vol_store_get_doc(struct vol_store *s, const char *kind, const char *key,
                                    char **ret_json, int64_t *ret_rev, struct vol_error *err)
{
        return s->ops->get_doc(s, kind, key, ret_json, ret_rev, err);
}

static inline int vol_store_put_doc(struct vol_store *s, const char *kind, const char *key,
                                    const char *json, int64_t expect_rev, enum vol_store_sync sync,
                                    int64_t *ret_rev, struct vol_error *err)
{
        return s->ops->put_doc(s, kind, key, json, expect_rev, sync, ret_rev, err);
}

static inline int vol_store_remove_doc(struct vol_store *s, const char *kind, const char *key,
                                       int64_t expect_rev, enum vol_store_sync sync,
                                       struct vol_error *err)
{
        return s->ops->remove_doc(s, kind, key, expect_rev, sync, err);
}

static inline int vol_store_bury(struct vol_store *s, const struct vol_tombstone *t, struct vol_error *err)
{
        if (!s->ops->bury)
                return vol_error_set(err, -ENOTSUP, "the %s store keeps no tombstones of its own", s->ops->name);
        return s->ops->bury(s, t, err);
}

static inline int vol_store_relocate(struct vol_store *s, struct vol_volume *v, int64_t expect_rev,
                                     const struct vol_tombstone *old, struct vol_error *err)
{
        if (!s->ops->relocate)
                return vol_error_set(err, -ENOTSUP, "the %s store cannot relocate a volume", s->ops->name);
        return s->ops->relocate(s, v, expect_rev, old, err);
}

static inline int vol_store_list_docs(struct vol_store *s, const char *kind, const char *prefix,
                                      vol_store_doc_cb cb, void *userdata, struct vol_error *err)
{
        return s->ops->list_docs(s, kind, prefix, cb, userdata, err);
}
