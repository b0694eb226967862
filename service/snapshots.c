/* Snapshots of volumes: named, read-only copies of a volume's content at a
 * moment, made by its driver; and restoring one.
 *
 * Each snapshot is a document of kind "snapshot" keyed {volume id}/{name}:
 * {"id" (a UUID: the driver's name for it), "name", "volume", "driver",
 * "created", "state"}. A recorded state machine: `creating` is committed
 * before the driver acts and `ready` after it, durably; a removal commits
 * `deleting` first. Start-up (vol_snapshots_reconcile) undoes a `creating`
 * and finishes a `deleting`, so a crash at any point leaves the snapshot
 * whole or gone. Snapshots go with their volume: the reaper destroys them
 * with the volume's storage (vol_snapshots_destroy_all), under the same
 * tombstone. */
#include <errno.h>
#include <pthread.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cleanup.h"
#include "core/failpoint.h"
#include "core/uuid.h"
#include "core/xmalloc.h"
#include "internal.h"

#define DOC_SNAPSHOT "snapshot"

DEFINE_CLEANUP_FUNC(struct vol_volume, vol_volume_free)

/* ---- which volumes may have snapshots ----
 *
 * Inspect shows a volume's snapshots; most volumes have none, and an
 * inspect should not pay a store read to learn it. The ids of the volumes
 * that may have some are kept, sorted: loaded at start, added to when a
 * snapshot's record is first written, dropped when a read finds none. */

static pthread_mutex_t index_lock = PTHREAD_MUTEX_INITIALIZER;
static char (*index_ids)[37];
static size_t index_n, index_cap;

static int cmp_id(const void *a, const void *b)
{
        return strcmp(a, b);
}

static void index_add(const char *vid)
{
        pthread_mutex_lock(&index_lock);
        size_t lo = 0, hi = index_n;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = strcmp(index_ids[mid], vid);
                if (c == 0) {
                        pthread_mutex_unlock(&index_lock);
                        return;
                }
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (index_n == index_cap) {
                index_cap = index_cap ? index_cap * 2 : 64;
                index_ids = xrealloc(index_ids, index_cap * sizeof(*index_ids));
        }
        memmove(index_ids + lo + 1, index_ids + lo, (index_n - lo) * sizeof(*index_ids));
        snprintf(index_ids[lo], sizeof(index_ids[lo]), "%s", vid);
        index_n++;
        pthread_mutex_unlock(&index_lock);
}

static void index_drop(const char *vid)
{
        pthread_mutex_lock(&index_lock);
        char(*hit)[37] = index_n ? bsearch(vid, index_ids, index_n, sizeof(*index_ids), cmp_id) : NULL;
        if (hit) {
                size_t i = (size_t)(hit - index_ids);
                memmove(index_ids + i, index_ids + i + 1, (index_n - i - 1) * sizeof(*index_ids));
                index_n--;
        }
        pthread_mutex_unlock(&index_lock);
}

bool vol_snapshots_maybe(const char *vid)
{
        pthread_mutex_lock(&index_lock);
        bool hit = index_n && bsearch(vid, index_ids, index_n, sizeof(*index_ids), cmp_id);
        pthread_mutex_unlock(&index_lock);
        return hit;
}

static int index_take(const char *key, const char *json, int64_t rev, void *userdata)
{
        const char *slash = strchr(key, '/');
        if (slash && slash - key < 37) {
                char vid[37];
                memcpy(vid, key, (size_t)(slash - key));
                vid[slash - key] = 0;
                index_add(vid);
        }
        return 0;
}

int vol_snapshots_index_load(struct vol_service *s, struct vol_error *err)
{
        return vol_store_list_docs(s->store, DOC_SNAPSHOT, "", index_take, NULL, err);
}

static void snap_event(struct vol_service *s, const struct vol_caller *caller, const char *action,
                       const struct vol_volume *v, const char *snap)
{
        struct vol_event e;
        memset(&e, 0, sizeof(e));
        snprintf(e.type, sizeof(e.type), "snapshot");
        snprintf(e.action, sizeof(e.action), "%s", action);
        snprintf(e.name, sizeof(e.name), "%s", v->name);
        snprintf(e.tenant, sizeof(e.tenant), "%s", v->scope ? v->scope->tenant : "");
        vol_event_attr(&e, "snapshot", snap);
        vol_event_emit(s, caller, &e);
}

static char *snap_key(const char *vid, const char *name)
{
        return xasprintf("%s/%s", vid, name);
}

static char *snap_json(const struct vol_snapshot *sn, const char *volume, const char *driver, const char *state)
{
        json_auto_t *o = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s}", "id", sn->id, "name", sn->name, "volume", volume,
                                   "driver", driver, "created", (json_int_t)sn->created, "state", state);
        return json_dumps(o, JSON_COMPACT);
}

static int parse_snap(const char *json, struct vol_snapshot *ret, char **ret_driver, char **ret_state)
{
        json_auto_t *o = json_loads(json, 0, NULL);
        const char *id, *name, *driver, *state;
        json_int_t created;
        if (!o || json_unpack(o, "{s:s,s:s,s:s,s:I,s:s}", "id", &id, "name", &name, "driver", &driver, "created",
                              &created, "state", &state) < 0 || strlen(id) >= sizeof(ret->id) ||
            strlen(name) > VOL_SNAPSHOT_NAME_MAX)
                return -EINVAL;
        memset(ret, 0, sizeof(*ret));
        snprintf(ret->id, sizeof(ret->id), "%s", id);
        snprintf(ret->name, sizeof(ret->name), "%s", name);
        ret->created = created;
        ret->ready = !strcmp(state, "ready");
        if (ret_driver)
                *ret_driver = xstrdup(driver);
        if (ret_state)
                *ret_state = xstrdup(state);
        return 0;
}

struct snap_list {
        size_t n, cap;
        struct vol_snapshot *items;
};

static int take_snap(const char *key, const char *json, int64_t rev, void *userdata)
{
        struct snap_list *l = userdata;
        struct vol_snapshot sn;
        if (parse_snap(json, &sn, NULL, NULL) < 0)
                return 0;
        if (l->n == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 8;
                l->items = xrealloc(l->items, l->cap * sizeof(*l->items));
        }
        l->items[l->n++] = sn;
        return 0;
}

static int cmp_created(const void *a, const void *b)
{
        const struct vol_snapshot *x = a, *y = b;
        return x->created < y->created ? -1 : x->created > y->created ? 1 : strcmp(x->name, y->name);
}

/* The snapshots of volume id vid, oldest first (caller frees *ret). */
static int list_of(struct vol_service *s, const char *vid, struct vol_snapshot **ret, size_t *ret_n,
                   struct vol_error *err)
{
        struct snap_list l = {0};
        _cleanup_free_ char *prefix = xasprintf("%s/", vid);
        int r = vol_store_list_docs(s->store, DOC_SNAPSHOT, prefix, take_snap, &l, err);
        if (r < 0) {
                free(l.items);
                return r;
        }
        if (l.n)
                qsort(l.items, l.n, sizeof(*l.items), cmp_created);
        *ret = l.items;
        *ret_n = l.n;
        return 0;
}

int vol_service_snapshot_list(struct vol_service *s, const struct vol_caller *caller, const char *volume,
                              struct vol_snapshot **ret, size_t *ret_n, struct vol_error *err)
{
        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
        int r = vol_service_get(s, caller, volume, false, &v, NULL, err);
        return r < 0 ? r : list_of(s, v->id, ret, ret_n, err);
}

int vol_snapshots_of(struct vol_service *s, const char *vid, struct vol_snapshot **ret, size_t *ret_n,
                     struct vol_error *err)
{
        /* the index knows this node's snapshots; in a cluster, others make some too */
        if (!vol_service_node(s) && !vol_snapshots_maybe(vid)) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        int r = list_of(s, vid, ret, ret_n, err);
        if (r == 0 && *ret_n == 0)
                index_drop(vid);
        return r;
}

/* The volume called name, visible to caller, on a driver that snapshots. */
static int snap_volume(struct vol_service *s, const struct vol_caller *caller, const char *name,
                       struct vol_volume **ret, struct vol_driver **ret_d, struct vol_error *err)
{
        int r = vol_service_get(s, caller, name, false, ret, NULL, err);
        if (r < 0)
                return r;
        struct vol_driver *d = vol_drivers_find(&s->drivers, (*ret)->driver);
        if (!d || !(d->ops->caps & VOL_CAP_SNAPSHOT)) {
                char list[256];
                vol_drivers_with_cap(s, VOL_CAP_SNAPSHOT, list, sizeof(list));
                r = vol_error_set(err, -ENOTSUP, "driver %s cannot snapshot volume %s (these can: %s)",
                                  (*ret)->driver, name, list);
        } else if ((*ret)->status != VOL_STATUS_READY) {
                r = vol_error_set(err, -EBUSY, "volume %s is being created or removed", name);
        } else if (vol_move_check_mark(s, *ret, err) < 0) {
                r = -EBUSY; /* a snapshot would stay behind with the old storage */
        }
        if (r < 0) {
                vol_volume_free(*ret);
                *ret = NULL;
                return r;
        }
        *ret_d = d;
        return 0;
}

static int create_locked(struct vol_service *s, const struct vol_caller *caller, const char *volume,
                         const char *name, struct vol_snapshot *ret, struct vol_error *err)
{
        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
        struct vol_driver *d;
        int r = snap_volume(s, caller, volume, &v, &d, err);
        if (r < 0)
                return r;
        _cleanup_free_ struct vol_snapshot *have = NULL;
        size_t n = 0;
        if ((r = list_of(s, v->id, &have, &n, err)) < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if (!strcmp(have[i].name, name))
                        return vol_error_set(err, -EEXIST, "volume %s has a snapshot called %s already", volume, name);
        if (n >= VOL_SNAPSHOTS_MAX)
                return vol_error_set(err, -E2BIG, "volume %s has %zu snapshots, the most it may have; remove one first",
                                     volume, n);
        struct vol_snapshot sn = {.created = (int64_t)time(NULL)};
        vol_uuid_random(sn.id);
        snprintf(sn.name, sizeof(sn.name), "%s", name);
        _cleanup_free_ char *key = snap_key(v->id, name);
        _cleanup_free_ char *intent = snap_json(&sn, v->name, d->ops->name, "creating");
        int64_t rev = 0;
        index_add(v->id); /* before the record: an inspect never misses it */
        if ((r = vol_store_put_doc(s->store, DOC_SNAPSHOT, key, intent, 0, VOL_SYNC_FULL, &rev, err)) < 0)
                return r;
        vol_failpoint("snapshot-after-intent");
        if ((r = d->ops->snapshot(d, v, sn.id, err)) < 0) {
                struct vol_error e = VOL_ERROR_INIT;
                if (d->ops->snapshot_remove(d, v, sn.id, &e) == 0)
                        vol_store_remove_doc(s->store, DOC_SNAPSHOT, key, rev, VOL_SYNC_ORDERED, &e);
                vol_error_clear(&e);
                return vol_error_wrap(err, "snapshot of volume %s: ", volume);
        }
        vol_failpoint("snapshot-after-driver");
        _cleanup_free_ char *done = snap_json(&sn, v->name, d->ops->name, "ready");
        if ((r = vol_store_put_doc(s->store, DOC_SNAPSHOT, key, done, rev, VOL_SYNC_FULL, NULL, err)) < 0)
                return r; /* left `creating`: the next start removes it */
        sn.ready = true;
        *ret = sn;
        snap_event(s, caller, "create", v, name);
        return 0;
}

int vol_service_snapshot_create(struct vol_service *s, const struct vol_caller *caller, const char *op_id,
                                const char *volume, const char *name, struct vol_snapshot *ret, struct vol_error *err)
{
        char deflt[VOL_SNAPSHOT_NAME_MAX + 1];
        if (!name) { /* a name from the time: 2026-12-01T03-18-00Z */
                time_t t = time(NULL);
                struct tm tm;
                gmtime_r(&t, &tm);
                strftime(deflt, sizeof(deflt), "%Y-%m-%dT%H-%M-%SZ", &tm);
                name = deflt;
        }
        int r = vol_validate_name(volume, err);
        if (r < 0 || (r = vol_validate_snapshot_name(name, err)) < 0)
                return r;
        struct vol_transfer_progress progress = {0};
        struct op *o = vol_operation_begin(caller, op_id, "snapshot", volume, &progress, vol_usage_estimate(s, volume));
        vol_progress_set(&progress); /* a driver that copies counts into it */
        uint64_t start = vol_now_us();
        pthread_mutex_t *lock = vol_name_lock(&s->locks, volume);
        r = create_locked(s, caller, volume, name, ret, err);
        vol_name_unlock(lock);
        vol_metrics_record(&s->metrics, VOL_OP_SNAPSHOT, start, r);
        vol_progress_set(NULL);
        vol_operation_end(o, NULL, r, err);
        _cleanup_free_ char *what = xasprintf("snapshot create %s %s", volume, name);
        vol_service_audit(caller, what, r, err);
        return r;
}

/* The snapshot called name of v: its record's key, revision and content. */
static int find_snap(struct vol_service *s, const struct vol_volume *v, const char *name, char **ret_key,
                     int64_t *ret_rev, struct vol_snapshot *ret, struct vol_error *err)
{
        _cleanup_free_ char *key = snap_key(v->id, name);
        _cleanup_free_ char *json = NULL;
        int r = vol_store_get_doc(s->store, DOC_SNAPSHOT, key, &json, ret_rev, err);
        if (r == -ENOENT) {
                vol_error_clear(err);
                return vol_error_set(err, -ENOENT, "volume %s has no snapshot called %s", v->name, name);
        }
        if (r < 0)
                return r;
        if (parse_snap(json, ret, NULL, NULL) < 0)
                return vol_error_set(err, -EIO, "the record of snapshot %s of %s is unreadable", name, v->name);
        *ret_key = TAKE_PTR(key);
        return 0;
}

static int remove_locked(struct vol_service *s, const struct vol_caller *caller, const char *volume,
                         const char *name, struct vol_error *err)
{
        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
        struct vol_driver *d;
        int r = snap_volume(s, caller, volume, &v, &d, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *key = NULL;
        int64_t rev;
        struct vol_snapshot sn;
        if ((r = find_snap(s, v, name, &key, &rev, &sn, err)) < 0)
                return r;
        _cleanup_free_ char *intent = snap_json(&sn, v->name, d->ops->name, "deleting");
        if ((r = vol_store_put_doc(s->store, DOC_SNAPSHOT, key, intent, rev, VOL_SYNC_FULL, &rev, err)) < 0)
                return r;
        vol_failpoint("snapshot-rm-after-intent");
        if ((r = d->ops->snapshot_remove(d, v, sn.id, err)) < 0)
                return r; /* stays `deleting`: the next start finishes it */
        if ((r = vol_store_remove_doc(s->store, DOC_SNAPSHOT, key, rev, VOL_SYNC_FULL, err)) == 0)
                snap_event(s, caller, "remove", v, name);
        return r;
}

typedef int (*snap_op)(struct vol_service *s, const struct vol_caller *caller, const char *volume,
                       const char *name, struct vol_error *err);

/* Checks the names, runs op under the volume's lock, audits it as what. */
static int run_locked(struct vol_service *s, const struct vol_caller *caller, const char *volume, const char *name,
                      snap_op op, const char *what, struct vol_error *err)
{
        int r = vol_validate_name(volume, err);
        if (r < 0 || (r = vol_validate_snapshot_name(name, err)) < 0)
                return r;
        pthread_mutex_t *lock = vol_name_lock(&s->locks, volume);
        r = op(s, caller, volume, name, err);
        vol_name_unlock(lock);
        _cleanup_free_ char *line = xasprintf("snapshot %s %s %s", what, volume, name);
        vol_service_audit(caller, line, r, err);
        return r;
}

int vol_service_snapshot_remove(struct vol_service *s, const struct vol_caller *caller, const char *volume,
                                const char *name, struct vol_error *err)
{
        return run_locked(s, caller, volume, name, remove_locked, "rm", err);
}

static int restore_locked(struct vol_service *s, const struct vol_caller *caller, const char *volume,
                          const char *name, struct vol_error *err)
{
        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
        struct vol_driver *d;
        int r = snap_volume(s, caller, volume, &v, &d, err);
        if (r < 0)
                return r;
        if (v->n_mounts) {
                char since[32];
                vol_format_time(v->mounts[0].since, since);
                return vol_error_set(err, -EBUSY,
                                     "volume %s is in use (%zu mount reference%s, first: %s by %s since %s); "
                                     "stop what uses it before restoring a snapshot",
                                     volume, v->n_mounts, v->n_mounts == 1 ? "" : "s", v->mounts[0].id,
                                     v->mounts[0].owner ? v->mounts[0].owner : "unknown", since);
        }
        _cleanup_free_ char *key = NULL;
        int64_t rev;
        struct vol_snapshot sn;
        if ((r = find_snap(s, v, name, &key, &rev, &sn, err)) < 0)
                return r;
        if (!sn.ready)
                return vol_error_set(err, -EBUSY, "snapshot %s of %s is being made or removed", name, volume);
        vol_failpoint("restore-before-driver");
        /* the driver switches atomically: the old content or the new one */
        if ((r = d->ops->snapshot_restore(d, v, sn.id, err)) == 0)
                snap_event(s, caller, "restore", v, name);
        return r;
}

int vol_service_snapshot_restore(struct vol_service *s, const struct vol_caller *caller, const char *volume,
                                 const char *name, struct vol_error *err)
{
        return run_locked(s, caller, volume, name, restore_locked, "restore", err);
}

/* ---- with the volume's storage, and at start-up ---- */

struct snap_rec {
        char *key, *driver, *state, *vid;
        int64_t rev;
        struct vol_snapshot sn;
};

struct rec_list {
        size_t n, cap;
        struct snap_rec *items;
};

static int take_rec(const char *key, const char *json, int64_t rev, void *userdata)
{
        struct rec_list *l = userdata;
        struct snap_rec x = {.rev = rev};
        if (parse_snap(json, &x.sn, &x.driver, &x.state) < 0)
                return 0;
        const char *slash = strchr(key, '/');
        if (!slash) {
                free(x.driver);
                free(x.state);
                return 0;
        }
        x.key = xstrdup(key);
        x.vid = xstrndup(key, (size_t)(slash - key));
        if (l->n == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 8;
                l->items = xrealloc(l->items, l->cap * sizeof(*l->items));
        }
        l->items[l->n++] = x;
        return 0;
}

static void rec_list_free(struct rec_list *l)
{
        for (size_t i = 0; i < l->n; i++) {
                free(l->items[i].key);
                free(l->items[i].driver);
                free(l->items[i].state);
                free(l->items[i].vid);
        }
        free(l->items);
}

/* Destroys one snapshot's storage and record. */
static int drop(struct vol_service *s, const struct snap_rec *x, const struct vol_volume *stub, struct vol_error *err)
{
        struct vol_driver *d = vol_drivers_find(&s->drivers, x->driver);
        if (!d)
                return vol_error_set(err, -ENODEV, "snapshot %s uses driver %s, which is not available", x->sn.name,
                                     x->driver);
        int r = d->ops->snapshot_remove(d, stub, x->sn.id, err);
        if (r == 0)
                r = vol_store_remove_doc(s->store, DOC_SNAPSHOT, x->key, x->rev, VOL_SYNC_ORDERED, err);
        return r == -ENOENT ? 0 : r;
}

int vol_snapshots_destroy_all(struct vol_service *s, const struct vol_volume *stub, struct vol_error *err)
{
        struct rec_list l = {0};
        _cleanup_free_ char *prefix = xasprintf("%s/", stub->id);
        int r = vol_store_list_docs(s->store, DOC_SNAPSHOT, prefix, take_rec, &l, err);
        for (size_t i = 0; r >= 0 && i < l.n; i++)
                r = drop(s, &l.items[i], stub, err);
        rec_list_free(&l);
        return r;
}

int vol_snapshots_reconcile(struct vol_service *s, const char (*live_ids)[37], size_t n_live,
                            const char (*foreign_ids)[37], size_t n_foreign, size_t *ret_fixed)
{
        struct rec_list l = {0};
        struct vol_error err = VOL_ERROR_INIT;
        *ret_fixed = 0;
        int r = vol_store_list_docs(s->store, DOC_SNAPSHOT, "", take_rec, &l, &err);
        for (size_t i = 0; r >= 0 && i < l.n; i++) {
                struct snap_rec *x = &l.items[i];
                bool live = false, foreign = false;
                for (size_t k = 0; k < n_live && !live; k++)
                        live = !strcmp(live_ids[k], x->vid);
                for (size_t k = 0; k < n_foreign && !live && !foreign; k++)
                        foreign = !strcmp(foreign_ids[k], x->vid);
                if (foreign)
                        continue; /* another node's volume: that node reconciles it */
                bool ready = !strcmp(x->state, "ready");
                /* a volume or a tombstone names it: the reaper takes its
                 * snapshots with its storage */
                if (ready && live)
                        continue;
                /* else a snapshot half made or half removed, or of no volume at all */
                struct vol_volume stub = {.id = {0}};
                snprintf(stub.id, sizeof(stub.id), "%s", x->vid);
                stub.name = x->sn.name;
                if (drop(s, x, &stub, &err) == 0) {
                        (*ret_fixed)++;
                        vol_service_log("info", "reconcile: %s snapshot %s of volume %s",
                                        !strcmp(x->state, "creating") ? "rolled back the interrupted" : "finished removing",
                                        x->sn.name, x->vid);
                } else {
                        vol_service_log("error", "reconcile: snapshot %s of volume %s: %s", x->sn.name, x->vid,
                                        vol_error_message(&err));
                }
                vol_error_clear(&err);
        }
        vol_error_clear(&err);
        rec_list_free(&l);
        return r;
}
