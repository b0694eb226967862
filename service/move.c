/* A volume's move to another node (docs/cluster.md, "Moving a volume").
 *
 * The node the volume goes to runs the move, start to end:
 *
 *  1. mark: a mount reference of owner "move" (id "to:NODE") is added to
 *     the record, on its revision. Like any mount reference it keeps the
 *     volume from being removed or restored, and mounts and snapshots
 *     refuse it while it stands; any other change to the record makes the
 *     flip below fail, so nothing written meanwhile is lost.
 *  2. bury: the new storage's tombstone is recorded before the storage is
 *     made, so a crash of this node from here to the flip leaves a copy its
 *     next start destroys.
 *  3. copy: the owner's export stream (the export format), pulled through
 *     the caller's fetch, is extracted into the new storage and synced.
 *  4. flip, in one store transaction on the marked revision: the record
 *     names this node and the new storage, the old storage gets a tombstone
 *     for its node, the new one's tombstone goes. The owner destroys the old
 *     copy (asked at once; else at its next reaping).
 *
 * A failure before the flip destroys the copy and takes the mark off. A
 * crash of the owner drops the mark at its next start (mount references of
 * another boot go); a crash of this node leaves the mark to its own next
 * start, or to anyone who finds this node down. Either way the volume stays
 * whole where it was. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/cleanup.h"
#include "core/failpoint.h"
#include "core/uuid.h"
#include "core/xmalloc.h"
#include "cluster.h"
#include "internal.h"

DEFINE_CLEANUP_FUNC(struct vol_volume, vol_volume_free)

#define MARK_OWNER "move"
#define VOL_MOVES_MAX 16 /* at once, into one node */

/* This process's token in its marks: another start of this node is another
 * process, so a mark it finds with any other token is a dead move's. */
static char mark_token[40];
static pthread_once_t token_once = PTHREAD_ONCE_INIT;

static void make_token(void)
{
        unsigned char b[8] = {0};
        if (getrandom(b, sizeof(b), 0) != sizeof(b))
                snprintf(mark_token, sizeof(mark_token), "move:%lx", (unsigned long)time(NULL));
        else
                snprintf(mark_token, sizeof(mark_token), "move:%02x%02x%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
                         b[3], b[4], b[5], b[6], b[7]);
}

long vol_move_mark(const struct vol_volume *v, const char **ret_to)
{
        for (size_t i = 0; i < v->n_mounts; i++)
                if (v->mounts[i].owner && !strcmp(v->mounts[i].owner, MARK_OWNER) &&
                    !strncmp(v->mounts[i].id, "to:", 3)) {
                        if (ret_to)
                                *ret_to = v->mounts[i].id + 3;
                        return (long)i;
                }
        return -1;
}

int vol_move_check_mark(struct vol_service *s, struct vol_volume *v, struct vol_error *err)
{
        const char *to;
        long i = vol_move_mark(v, &to);
        if (i < 0)
                return 0;
        pthread_once(&token_once, make_token);
        char state[16];
        vol_cluster_node_state(s, to, state);
        bool mine = vol_service_node(s) && !strcmp(to, vol_service_node(s));
        if (mine ? strcmp(v->mounts[i].boot ? v->mounts[i].boot : "", mark_token) != 0 : !strcmp(state, "down")) {
                vol_service_log("info", "volume %s: dropped the mark of a move to node %s that is over (%s)",
                                v->name, to, mine ? "that node started again" : "that node is down");
                vol_volume_remove_mount_at(v, (size_t)i);
                return 1;
        }
        return vol_error_set(err, -EBUSY, "volume %s is being moved to node %s; try again when the move is done",
                             v->name, to);
}

/* The mark this process set on name, taken off again (best effort: a mark
 * left behind is dropped by whoever finds it stale). */
static void unmark(struct vol_service *s, const char *name)
{
        struct vol_error e = VOL_ERROR_INIT;
        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
        const char *to;
        long i;
        if (vol_store_get(s->store, name, &v, &e) == 0 && (i = vol_move_mark(v, &to)) >= 0 &&
            !strcmp(v->mounts[i].boot ? v->mounts[i].boot : "", mark_token)) {
                vol_volume_remove_mount_at(v, (size_t)i);
                vol_store_put(s->store, v, v->revision, VOL_SYNC_FULL, &e);
        }
        vol_error_clear(&e);
}

/* The checks before anything is written; *ret is the record, its source. */
static int movable(struct vol_service *s, const struct vol_caller *caller, const char *name,
                   struct vol_volume **ret, struct vol_driver **ret_d, struct vol_error *err)
{
        if (!vol_caller_is_admin(caller))
                return vol_error_set(err, -EPERM, "only an admin moves volumes between nodes");
        if (!vol_service_node(s))
                return vol_error_set(err, -ENOTSUP, "a move needs cluster mode: this volmand is a single node");
        int r = vol_cluster_fence(s, err);
        if (r < 0)
                return r;
        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
        if ((r = vol_service_get(s, caller, name, false, &v, NULL, err)) < 0)
                return r;
        if (vol_cluster_is_local(s, v->node))
                return vol_error_set(err, -EEXIST, "volume %s is on node %s already", name, v->node);
        if (v->status != VOL_STATUS_READY)
                return vol_error_set(err, -EBUSY, "volume %s is being %s", name,
                                     v->status == VOL_STATUS_CREATING ? "created" : "removed");
        if ((r = vol_move_check_mark(s, v, err)) < 0)
                return r;
        if (v->n_mounts) {
                char since[32];
                vol_format_time(v->mounts[0].since, since);
                return vol_error_set(err, -EBUSY,
                                     "volume %s is in use (%zu mount reference%s, first: %s by %s since %s); a "
                                     "volume moves only unmounted: stop what uses it first",
                                     name, v->n_mounts, v->n_mounts == 1 ? "" : "s", v->mounts[0].id,
                                     v->mounts[0].owner && *v->mounts[0].owner ? v->mounts[0].owner : "unknown",
                                     since);
        }
        struct vol_snapshot *snaps = NULL;
        size_t n_snaps = 0;
        if ((r = vol_snapshots_of(s, v->id, &snaps, &n_snaps, err)) < 0)
                return r;
        if (n_snaps) {
                r = vol_error_set(err, -EBUSY,
                                  "volume %s has %zu snapshot%s (first: %s); a move carries the volume's "
                                  "content only: remove them first (volman volume snapshot rm)",
                                  name, n_snaps, n_snaps == 1 ? "" : "s", snaps[0].name);
                free(snaps);
                return r;
        }
        free(snaps);
        _cleanup_free_ char *address = NULL; /* its node must be up to send it */
        if ((r = vol_service_node_address(s, v->node, &address, err)) < 0)
                return vol_error_wrap(err, "volume %s cannot move now: ", name);
        struct vol_driver *d = vol_drivers_find(&s->drivers, v->driver);
        if (!d || !d->ops->create)
                return vol_error_set(err, -ENOTSUP, "volume %s uses driver %s, which node %s lacks", name, v->driver,
                                     vol_service_node(s));
        *ret_d = d;
        *ret = TAKE_PTR(v);
        return 0;
}

/* The ids of the storages this process's moves are filling: buried, and
 * not for the reaper until their move ends. */
static pthread_mutex_t flight_lock = PTHREAD_MUTEX_INITIALIZER;
static char flight[VOL_MOVES_MAX][37];

static bool flight_add(const char *id)
{
        pthread_mutex_lock(&flight_lock);
        bool added = false;
        for (size_t i = 0; i < VOL_MOVES_MAX && !added; i++)
                if (!flight[i][0]) {
                        snprintf(flight[i], 37, "%s", id);
                        added = true;
                }
        pthread_mutex_unlock(&flight_lock);
        return added;
}

static void flight_drop(const char *id)
{
        pthread_mutex_lock(&flight_lock);
        for (size_t i = 0; i < VOL_MOVES_MAX; i++)
                if (!strcmp(flight[i], id))
                        flight[i][0] = 0;
        pthread_mutex_unlock(&flight_lock);
}

static bool in_flight(const char *id)
{
        pthread_mutex_lock(&flight_lock);
        bool found = false;
        for (size_t i = 0; i < VOL_MOVES_MAX && !found; i++)
                found = !strcmp(flight[i], id);
        pthread_mutex_unlock(&flight_lock);
        return found;
}

static void tombstone_of(const struct vol_volume *v, struct vol_tombstone *t)
{
        memset(t, 0, sizeof(*t));
        memcpy(t->id, v->id, sizeof(t->id));
        t->name = v->name;
        t->driver = v->driver;
        t->mountpoint = v->mountpoint;
        t->options = v->options;
        t->retired_at = (int64_t)time(NULL);
        t->node = v->node;
}

struct counted_read {
        const struct vol_move_fetch *f;
};

static ssize_t counted(void *userdata, void *buf, size_t n)
{
        struct counted_read *c = userdata;
        if (vol_failpoint("move-copying") < 0)
                return -EIO;
        return c->f->read(c->f->userdata, buf, n);
}

/* Copies src's content into the new storage nv through f; synced. */
static int copy_in(struct vol_service *s, const struct vol_volume *src, const struct vol_volume *nv,
                   const struct vol_move_fetch *f, struct vol_transfer_progress *progress, struct vol_error *err)
{
        _cleanup_free_ char *address = NULL;
        int r = vol_service_node_address(s, src->node, &address, err);
        if (r < 0)
                return r;
        if ((r = f->open(f->userdata, src->node, address, src->name, err)) < 0)
                return r;
        struct counted_read c = {f};
        r = vol_transfer_fill(nv, counted, &c, progress, err);
        struct vol_error fe = VOL_ERROR_INIT;
        int fr = f->close(f->userdata, r == 0, &fe);
        if (fr < 0) { /* the source's word on what went wrong comes first */
                vol_error_clear(err);
                *err = fe;
                return fr;
        }
        vol_error_clear(&fe);
        return r;
}

static int move_locked(struct vol_service *s, const struct vol_caller *caller, const char *name,
                       const struct vol_move_fetch *f, struct vol_transfer_progress *progress,
                       struct vol_volume **ret, struct vol_error *err)
{
        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
        struct vol_driver *d = NULL;
        int r = movable(s, caller, name, &v, &d, err);
        if (r < 0)
                return r;
        if ((r = vol_memory_reserve(s, d, &v->options, name, err)) < 0)
                return r;

        /* 1. the mark */
        pthread_once(&token_once, make_token);
        _cleanup_free_ char *mark = xasprintf("to:%s", vol_service_node(s));
        if ((r = vol_volume_add_mount(v, MARK_OWNER, mark, (int64_t)time(NULL), mark_token, err)) < 0 ||
            (r = vol_store_put(s->store, v, v->revision, VOL_SYNC_FULL, err)) < 0) {
                vol_memory_release(s, d, &v->options);
                return r;
        }
        vol_failpoint("move-after-mark");

        /* 2. the new storage, buried until the flip */
        _cleanup_(vol_volume_freep) struct vol_volume *nv = vol_volume_dup(v);
        vol_uuid_random(nv->id);
        free(nv->node);
        nv->node = xstrdup(vol_service_node(s));
        free(nv->mountpoint);
        nv->mountpoint = d->ops->path(d, nv);
        while (nv->n_mounts)
                vol_volume_remove_mount_at(nv, nv->n_mounts - 1);
        struct vol_tombstone t;
        tombstone_of(nv, &t);
        bool made = false;
        if (!flight_add(nv->id)) {
                unmark(s, name);
                vol_memory_release(s, d, &v->options);
                return vol_error_set(err, -EUSERS, "node %s runs %d moves already; try again when one is done",
                                     vol_service_node(s), VOL_MOVES_MAX);
        }
        if ((r = vol_store_bury(s->store, &t, err)) < 0)
                goto undo;
        vol_failpoint("move-after-bury");
        if ((r = d->ops->create(d, nv, err)) < 0)
                goto undo;
        made = true;

        /* 3. the bytes */
        if ((r = copy_in(s, v, nv, f, progress, err)) < 0) {
                vol_error_wrap(err, "moving volume %s from node %s: ", name, v->node);
                goto undo;
        }
        vol_failpoint("move-before-flip");

        /* 4. the flip */
        struct vol_tombstone old;
        tombstone_of(v, &old);
        if ((r = vol_store_relocate(s->store, nv, v->revision, &old, err)) < 0) {
                if (r == -ESTALE) {
                        vol_error_clear(err);
                        r = vol_error_set(err, -ESTALE, "volume %s changed while it was being copied (its move "
                                                        "mark was taken off, or it was resized); it stays on node %s",
                                          name, v->node);
                }
                goto undo;
        }
        flight_drop(nv->id);
        vol_failpoint("move-after-flip");
        vol_cluster_count(s, 1);
        if (f->reap)
                f->reap(f->userdata, v->node);
        *ret = TAKE_PTR(nv);
        return 0;
undo: {
        struct vol_error e = VOL_ERROR_INIT;
        const char *id = nv->id;
        if ((!made || d->ops->remove(d, nv, &e) == 0) &&
            vol_store_drop_tombstones(s->store, &id, 1, VOL_SYNC_FULL, &e) < 0)
                vol_service_log("warning", "volume %s: the copy of a failed move stays buried (%s); the next "
                                           "start of this node destroys it",
                                name, vol_error_message(&e));
        vol_error_clear(&e);
        flight_drop(nv->id);
        unmark(s, name);
        vol_memory_release(s, d, &v->options);
}
        return r;
}

int vol_service_move(struct vol_service *s, const struct vol_caller *caller, const char *op_id, const char *name,
                     const struct vol_move_fetch *f, struct vol_transfer_progress *progress, struct vol_volume **ret,
                     struct vol_error *err)
{
        int r = vol_validate_name(name, err);
        if (r < 0)
                return r;
        struct op *o = vol_operation_begin(caller, op_id, "move", name, progress, 0);
        s->last_write_us = vol_now_us();
        pthread_mutex_t *lock = vol_name_lock(&s->locks, name);
        r = move_locked(s, caller, name, f, progress, ret, err);
        vol_name_unlock(lock);
        vol_operation_end(o, name, r, err);
        _cleanup_free_ char *what = xasprintf("move volume %s to node %s", name,
                                              vol_service_node(s) ? vol_service_node(s) : "-");
        vol_service_audit(caller, what, r, err);
        if (r == 0)
                vol_volume_event(s, caller, "move", *ret, "node", vol_service_node(s));
        return r;
}

/* ---- start-up and reaping ---- */

struct marks {
        struct vol_service *s;
        char **names;
        size_t n;
};

static int take_marked(const struct vol_volume *v, void *userdata)
{
        struct marks *m = userdata;
        const char *to;
        if (vol_move_mark(v, &to) >= 0 && !strcmp(to, vol_service_node(m->s))) {
                m->names = xrealloc(m->names, (m->n + 1) * sizeof(*m->names));
                m->names[m->n++] = xstrdup(v->name);
        }
        return 0;
}

int vol_move_reconcile(struct vol_service *s, struct vol_error *err)
{
        if (!vol_service_node(s))
                return 0;
        struct marks m = {s, NULL, 0};
        int r = vol_store_list(s->store, NULL, NULL, 0, take_marked, &m, err);
        for (size_t i = 0; i < m.n; i++) {
                pthread_mutex_t *lock = vol_name_lock(&s->locks, m.names[i]);
                _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
                struct vol_error e = VOL_ERROR_INIT;
                if (r >= 0 && vol_store_get(s->store, m.names[i], &v, &e) == 0 && vol_move_check_mark(s, v, &e) == 1)
                        vol_store_put(s->store, v, v->revision, VOL_SYNC_FULL, &e);
                vol_error_clear(&e);
                vol_name_unlock(lock);
                free(m.names[i]);
        }
        free(m.names);
        return r < 0 ? r : 0;
}

static int queue_local(const struct vol_tombstone *t, void *userdata)
{
        struct vol_service *s = userdata;
        if (t->node && vol_cluster_is_local(s, t->node) && !in_flight(t->id))
                vol_reaper_add(s->reaper, t);
        return 0;
}

int vol_move_reap(struct vol_service *s, struct vol_error *err)
{
        if (!vol_service_node(s))
                return 0;
        int r = vol_store_list_tombstones(s->store, queue_local, s, err);
        return r < 0 ? r : 0;
}

int vol_service_reap(struct vol_service *s, const struct vol_caller *caller, struct vol_error *err)
{
        if (!vol_caller_is_admin(caller))
                return vol_error_set(err, -EPERM, "only an admin or a node asks for reaping");
        return vol_move_reap(s, err);
}
