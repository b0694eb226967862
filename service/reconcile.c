/* Start-up reconciliation: finish what a crash interrupted, and report what
 * the store and the drivers disagree on. */
#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"
#include "internal.h"

struct snapshot {
        size_t n, cap;
        struct vol_volume **items;
};

static int take(const struct vol_volume *v, void *userdata)
{
        struct snapshot *sn = userdata;
        if (sn->n == sn->cap) {
                sn->cap = sn->cap ? sn->cap * 2 : 256;
                sn->items = xrealloc(sn->items, sn->cap * sizeof(*sn->items));
        }
        sn->items[sn->n++] = vol_volume_dup(v);
        return 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

struct orphan_ctx {
        const char **ids; /* sorted ids of every record */
        size_t n;
        const char *driver;
        size_t found;
};

static void check_orphan(const char *id, void *userdata)
{
        struct orphan_ctx *c = userdata;
        const char *key = id;
        if (bsearch(&key, c->ids, c->n, sizeof(char *), cmp_str))
                return;
        c->found++;
        vol_service_log("warning",
                        "reconcile: storage %s/%s has no record; kept untouched (inspect it, then "
                        "remove it by hand if it is not needed)",
                        c->driver, id);
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
                        vol_service_log("info", "reconcile: rolled back the interrupted create of %s",
                                        v->name);
                }
                break;
        case VOL_STATUS_DELETING:
                /* removal was decided: finish it */
                if ((r = d->ops->remove(d, v, &err)) == 0 &&
                    (r = vol_store_remove(s->store, v->name, v->revision, VOL_SYNC_FULL, &err)) == 0) {
                        rep->rolled_forward++;
                        vol_service_log("info", "reconcile: finished the interrupted removal of %s",
                                        v->name);
                }
                break;
        case VOL_STATUS_READY:
                r = d->ops->exists(d, v, &err);
                if (r == 0 && !(d->ops->caps & VOL_CAP_EPHEMERAL)) {
                        rep->missing++;
                        vol_service_log("warning",
                                        "reconcile: volume %s has a record but its storage %s is "
                                        "missing; not recreated (restore it or remove the volume)",
                                        v->name, v->mountpoint);
                        break;
                }
                if (r >= 0 && (d->ops->caps & VOL_CAP_EPHEMERAL)) {
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
        struct snapshot sn = {0};
        int r = vol_store_list(s->store, NULL, NULL, 0, take, &sn, err);
        if (r < 0)
                goto out;
        for (size_t i = 0; i < sn.n; i++)
                settle(s, sn.items[i], &rep);

        const char **ids = xcalloc(sn.n ? sn.n : 1, sizeof(char *));
        for (size_t i = 0; i < sn.n; i++)
                ids[i] = sn.items[i]->id;
        qsort(ids, sn.n, sizeof(char *), cmp_str);
        for (size_t i = 0; i < s->drivers.n; i++) {
                struct vol_driver *d = &s->drivers.items[i];
                struct orphan_ctx c = {ids, sn.n, d->ops->name, 0};
                struct vol_error e = VOL_ERROR_INIT;
                if (d->ops->scan(d, check_orphan, &c, &e) < 0)
                        vol_service_log("error", "reconcile: scanning %s: %s", d->ops->name,
                                        vol_error_message(&e));
                vol_error_clear(&e);
                rep.orphans += c.found;
        }
        free(ids);
        if (rep.rolled_back || rep.rolled_forward || rep.orphans || rep.missing || rep.repaired)
                vol_service_log("info",
                                "reconcile: %zu volumes; %zu creates rolled back, %zu removals "
                                "finished, %zu remade empty, %zu missing storage, %zu orphan storage",
                                sn.n, rep.rolled_back, rep.rolled_forward, rep.repaired, rep.missing,
                                rep.orphans);
        r = 0;
out:
        for (size_t i = 0; i < sn.n; i++)
                vol_volume_free(sn.items[i]);
        free(sn.items);
        if (ret)
                *ret = rep;
        return r;
}
