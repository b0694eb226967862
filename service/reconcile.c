/* Start-up reconciliation: finish what a crash interrupted, void what a
 * reboot voided, and report what the store and the drivers disagree on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"
#include "cluster.h"
#include "internal.h"

/* What reconciliation keeps of the store: every id (for the orphan check)
 * and a copy of only the records that need work, so that start-up with
 * 100,000 volumes does not hold 100,000 records in memory. */
struct snapshot {
        struct vol_service *s;
        size_t n_ids, cap_ids;
        char (*ids)[37];
        size_t n_foreign, cap_foreign;
        char (*foreign)[37]; /* ids of other nodes' volumes and tombstones */
        size_t n, cap;
        struct vol_volume **items;
        uint64_t memory; /* what memory-backed volumes hold */
};

static void add_id(struct snapshot *sn, const char *id)
{
        if (sn->n_ids == sn->cap_ids) {
                sn->cap_ids = sn->cap_ids ? sn->cap_ids * 2 : 1024;
                sn->ids = xrealloc(sn->ids, sn->cap_ids * sizeof(*sn->ids));
        }
        snprintf(sn->ids[sn->n_ids++], 37, "%s", id);
}

static int add_foreign(struct snapshot *sn, const char *id)
{
        if (sn->n_foreign == sn->cap_foreign) {
                sn->cap_foreign = sn->cap_foreign ? sn->cap_foreign * 2 : 256;
                sn->foreign = xrealloc(sn->foreign, sn->cap_foreign * sizeof(*sn->foreign));
        }
        snprintf(sn->foreign[sn->n_foreign++], 37, "%s", id);
        return 0;
}

/* 1 when v holds a mount reference made before this boot. A reference with
 * no boot recorded (an older volmand's) is kept: its age cannot be told. */
static bool has_stale_refs(const struct vol_volume *v, const char *boot)
{
        for (size_t i = 0; i < v->n_mounts; i++)
                if (v->mounts[i].boot && *v->mounts[i].boot && strcmp(v->mounts[i].boot, boot))
                        return true;
        return false;
}

static int take(const struct vol_volume *v, void *userdata)
{
        struct snapshot *sn = userdata;
        if (!vol_cluster_is_local(sn->s, v->node))
                return add_foreign(sn, v->id); /* another node's: its bytes and its reconciling are there */
        add_id(sn, v->id);
        struct vol_driver *d = vol_drivers_find(&sn->s->drivers, v->driver);
        if (d && d->ops->memory_bytes)
                sn->memory += d->ops->memory_bytes(&v->options);
        bool needs_work = v->status != VOL_STATUS_READY || !d || (d->ops->caps & VOL_CAP_EPHEMERAL) ||
                          has_stale_refs(v, sn->s->boot_id);
        if (!needs_work)
                return 0;
        if (sn->n == sn->cap) {
                sn->cap = sn->cap ? sn->cap * 2 : 256;
                sn->items = xrealloc(sn->items, sn->cap * sizeof(*sn->items));
        }
        sn->items[sn->n++] = vol_volume_dup(v);
        return 0;
}

static int take_tombstone(const struct vol_tombstone *t, void *userdata)
{
        struct snapshot *sn = userdata;
        if (!vol_cluster_is_local(sn->s, t->node))
                return add_foreign(sn, t->id);
        add_id(sn, t->id);
        struct vol_driver *d = vol_drivers_find(&sn->s->drivers, t->driver);
        if (d && d->ops->memory_bytes)
                sn->memory += d->ops->memory_bytes(&t->options);
        return 0;
}

/* Queued only once the memory budget counts them: the reaper gives back
 * what it destroys. */
static int queue_tombstone(const struct vol_tombstone *t, void *userdata)
{
        struct vol_service *s = userdata;
        if (vol_cluster_is_local(s, t->node))
                vol_reaper_add(s->reaper, t);
        return 0;
}

/* Ready records on persistent drivers are checked in a second, streaming pass. */
struct check_ctx {
        struct vol_service *s;
        struct vol_reconcile_report *rep;
};

static int check_present(const struct vol_volume *v, void *userdata)
{
        struct check_ctx *c = userdata;
        struct vol_driver *d = vol_drivers_find(&c->s->drivers, v->driver);
        if (v->status != VOL_STATUS_READY || !d || (d->ops->caps & VOL_CAP_EPHEMERAL) ||
            !vol_cluster_is_local(c->s, v->node))
                return 0;
        struct vol_error err = VOL_ERROR_INIT;
        int r = d->ops->exists(d, v, &err);
        if (r == 0 && (d->ops->caps & VOL_CAP_REMAKE_EMPTY)) {
                /* Its create synced nothing: a power loss may take the empty
                 * directory, never data (writing data durably inside it would
                 * have made the directory durable first). */
                if (d->ops->create(d, v, &err) == 0) {
                        c->rep->repaired++;
                        vol_service_log("warning",
                                        "reconcile: volume %s had lost its storage %s (a power loss "
                                        "before anything in it was synced, or someone removed it); "
                                        "made again, empty",
                                        v->name, v->mountpoint);
                } else {
                        vol_service_log("error", "reconcile: volume %s: making its storage again: %s",
                                        v->name, vol_error_message(&err));
                }
        } else if (r == 0) {
                c->rep->missing++;
                vol_service_log("warning",
                                "reconcile: volume %s has a record but its storage %s is missing; not "
                                "recreated (restore it or remove the volume)",
                                v->name, v->mountpoint);
        } else if (r == 1 && d->ops->reattach && d->ops->reattach(d, v, &err) < 0) {
                c->rep->unusable++;
                vol_service_log("warning",
                                "reconcile: volume %s (%s) cannot be made usable: %s; the other volumes are "
                                "served (repair or restore its storage, or remove the volume)",
                                v->name, v->driver, vol_error_message(&err));
        } else if (r < 0) {
                vol_service_log("error", "reconcile: volume %s: %s", v->name, vol_error_message(&err));
        }
        vol_error_clear(&err);
        return 0;
}

static int cmp_id(const void *a, const void *b)
{
        return strcmp(a, b);
}

struct orphan_ctx {
        char (*ids)[37]; /* sorted ids of every record and tombstone */
        size_t n;
        const char *driver;
        size_t kept;
        size_t n_empty;
        char (*empty)[37]; /* empty orphans, removed after the scan */
};

static void check_orphan(const char *id, bool empty, void *userdata)
{
        struct orphan_ctx *c = userdata;
        if (c->n && bsearch(id, c->ids, c->n, sizeof(*c->ids), cmp_id))
                return;
        if (empty) {
                c->empty = xrealloc(c->empty, (c->n_empty + 1) * sizeof(*c->empty));
                snprintf(c->empty[c->n_empty++], 37, "%s", id);
                return;
        }
        c->kept++;
        vol_service_log("warning",
                        "reconcile: storage %s/%s has no record and holds data; kept untouched "
                        "(inspect it, then remove it by hand if it is not needed)",
                        c->driver, id);
}

/* An empty directory with no record can only be the trace of a create that
 * was never answered (its intent did not reach the disk before a power loss):
 * nothing is lost by removing it. */
static size_t remove_empty_orphans(struct vol_driver *d, struct orphan_ctx *c)
{
        size_t removed = 0;
        for (size_t i = 0; i < c->n_empty; i++) {
                struct vol_volume stub = {.name = c->empty[i], .driver = (char *)d->ops->name};
                memcpy(stub.id, c->empty[i], sizeof(stub.id));
                struct vol_error err = VOL_ERROR_INIT;
                if (d->ops->remove(d, &stub, &err) == 0) {
                        removed++;
                        vol_service_log("info",
                                        "reconcile: removed %s/%s, an empty directory with no record "
                                        "(the trace of a create that was never answered)",
                                        d->ops->name, c->empty[i]);
                } else {
                        c->kept++;
                        vol_service_log("warning", "reconcile: storage %s/%s has no record: %s; kept",
                                        d->ops->name, c->empty[i], vol_error_message(&err));
                }
                vol_error_clear(&err);
        }
        free(c->empty);
        c->empty = NULL;
        return removed;
}

/* Drops v's mount references of an earlier boot: no container survived it. */
static int drop_stale_refs(struct vol_service *s, struct vol_volume *v, struct vol_reconcile_report *rep,
                           struct vol_error *err)
{
        size_t dropped = 0;
        for (size_t i = v->n_mounts; i-- > 0;)
                if (v->mounts[i].boot && *v->mounts[i].boot && strcmp(v->mounts[i].boot, s->boot_id)) {
                        vol_volume_remove_mount_at(v, i);
                        dropped++;
                }
        if (!dropped)
                return 0;
        int r = vol_store_put(s->store, v, v->revision, VOL_SYNC_ORDERED, err);
        if (r < 0)
                return r;
        rep->stale_refs += dropped;
        vol_service_log("info",
                        "reconcile: volume %s: dropped %zu mount reference%s made before the host's last "
                        "boot (no container survives a reboot)",
                        v->name, dropped, dropped == 1 ? "" : "s");
        return 0;
}

/* Finishes one record. Returns 0, or < 0 when it could not (logged, kept). */
static int settle(struct vol_service *s, struct vol_volume *v, struct vol_reconcile_report *rep)
{
        struct vol_driver *d = vol_drivers_find(&s->drivers, v->driver);
        struct vol_error err = VOL_ERROR_INIT;
        int r = 0;
        if (!d) {
                vol_service_log("error", "reconcile: volume %s uses unknown driver %s; left as is",
                                v->name, v->driver);
                return 0;
        }
        switch (v->status) {
        case VOL_STATUS_CREATING:
                /* never acknowledged: undo */
                if ((r = d->ops->remove(d, v, &err)) == 0 &&
                    (r = vol_store_remove(s->store, v->name, v->revision, VOL_SYNC_FULL, &err)) == 0) {
                        rep->rolled_back++;
                        vol_memory_release(s, d, &v->options);
                        vol_service_log("info", "reconcile: rolled back the interrupted create of %s",
                                        v->name);
                }
                break;
        case VOL_STATUS_DELETING:
                /* an older volmand decided this removal: finish it the way removals go now */
                if ((r = vol_store_retire(s->store, v, v->revision, VOL_SYNC_FULL, &err)) == 0) {
                        rep->rolled_forward++;
                        vol_reaper_add_volume(s->reaper, v);
                        vol_service_log("info", "reconcile: finishing the interrupted removal of %s", v->name);
                }
                break;
        case VOL_STATUS_READY:
                if ((r = drop_stale_refs(s, v, rep, &err)) < 0)
                        break;
                if (d->ops->caps & VOL_CAP_EPHEMERAL) {
                        r = d->ops->mount(d, v, &err);
                        if (r == 1) {
                                rep->repaired++;
                                vol_service_log("warning",
                                                "reconcile: volume %s (%s) was made again, empty: its "
                                                "content was lost at host reboot",
                                                v->name, v->driver);
                        }
                }
                break;
        }
        if (r < 0)
                vol_service_log("error", "reconcile: volume %s: %s", v->name, vol_error_message(&err));
        vol_error_clear(&err);
        return r < 0 ? r : 0;
}

int vol_service_reconcile(struct vol_service *s, struct vol_reconcile_report *ret,
                          struct vol_error *err)
{
        struct vol_reconcile_report rep = {0};
        struct snapshot sn = {.s = s};
        int r = vol_store_list(s->store, NULL, NULL, 0, take, &sn, err);
        if (r < 0)
                goto out;
        size_t n_records = sn.n_ids;
        if ((r = vol_store_list_tombstones(s->store, take_tombstone, &sn, err)) < 0)
                goto out;
        rep.tombstones = (size_t)r;
        pthread_mutex_lock(&s->memory_lock);
        s->memory_used = sn.memory;
        pthread_mutex_unlock(&s->memory_lock);
        if ((r = vol_store_list_tombstones(s->store, queue_tombstone, s, err)) < 0)
                goto out;
        for (size_t i = 0; i < sn.n; i++)
                settle(s, sn.items[i], &rep);
        struct vol_error merr = VOL_ERROR_INIT;
        if (vol_move_reconcile(s, &merr) < 0)
                vol_service_log("warning", "reconcile: the marks of moves this node ran before: %s",
                                vol_error_message(&merr));
        vol_error_clear(&merr);
        size_t fixed = 0;
        if (vol_resizes_reconcile(s, &fixed) == 0)
                rep.rolled_forward += fixed;
        if (vol_snapshots_reconcile(s, (const char(*)[37])sn.ids, sn.n_ids, (const char(*)[37])sn.foreign,
                                    sn.n_foreign, &fixed) == 0)
                rep.rolled_back += fixed;
        struct check_ctx cc = {s, &rep};
        if ((r = vol_store_list(s->store, NULL, NULL, 0, check_present, &cc, err)) < 0)
                goto out;

        if (sn.n_ids)
                qsort(sn.ids, sn.n_ids, sizeof(*sn.ids), cmp_id);
        for (size_t i = 0; i < s->drivers.n; i++) {
                struct vol_driver *d = &s->drivers.items[i];
                if (!d->available)
                        continue;
                struct orphan_ctx c = {sn.ids, sn.n_ids, d->ops->name, 0, 0, NULL};
                struct vol_error e = VOL_ERROR_INIT;
                if (d->ops->scan(d, check_orphan, &c, &e) < 0)
                        vol_service_log("error", "reconcile: scanning %s: %s", d->ops->name,
                                        vol_error_message(&e));
                vol_error_clear(&e);
                rep.cleaned += remove_empty_orphans(d, &c);
                rep.orphans += c.kept;
        }
        if (rep.rolled_back || rep.rolled_forward || rep.orphans || rep.missing || rep.repaired ||
            rep.cleaned || rep.tombstones || rep.stale_refs || rep.unusable) {
                struct vol_event e;
                memset(&e, 0, sizeof(e));
                snprintf(e.type, sizeof(e.type), "reconcile");
                snprintf(e.action, sizeof(e.action), "findings");
                const struct {
                        const char *k;
                        size_t v;
                } f[] = {{"rolled_back", rep.rolled_back}, {"rolled_forward", rep.rolled_forward},
                         {"tombstones", rep.tombstones},   {"stale_refs", rep.stale_refs},
                         {"orphans", rep.orphans},         {"cleaned", rep.cleaned},
                         {"missing", rep.missing},         {"repaired", rep.repaired},
                         {"unusable", rep.unusable}};
                for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
                        char num[24];
                        snprintf(num, sizeof(num), "%zu", f[i].v);
                        vol_event_attr(&e, f[i].k, num);
                }
                vol_event_emit(s, &vol_caller_system, &e);
        }
        if (rep.rolled_back || rep.rolled_forward || rep.orphans || rep.missing || rep.repaired ||
            rep.cleaned || rep.tombstones || rep.stale_refs || rep.unusable)
                vol_service_log("info",
                                "reconcile: %zu volumes; %zu creates rolled back, %zu removals "
                                "finished, %zu removed volumes' data queued for destruction, %zu "
                                "mount references of an earlier boot dropped, %zu remade empty, %zu "
                                "missing storage, %zu that cannot be made usable, %zu empty traces removed, %zu "
                                "orphan storage kept",
                                n_records, rep.rolled_back, rep.rolled_forward, rep.tombstones,
                                rep.stale_refs, rep.repaired, rep.missing, rep.unusable, rep.cleaned, rep.orphans);
        r = 0;
out:
        for (size_t i = 0; i < sn.n; i++)
                vol_volume_free(sn.items[i]);
        free(sn.items);
        free(sn.ids);
        free(sn.foreign);
        if (ret)
                *ret = rep;
        return r;
}
