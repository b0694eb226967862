/* Operations on a volume's storage beyond create and remove: clone, resize,
 * and what the drivers can do on this host.
 *
 * A resize is a recorded state machine: an intent (a document of kind
 * "resize" keyed by the volume's id, {"name", "size"}) is committed first,
 * then the driver acts, then the record takes the new size and the intent
 * goes. Start-up finishes an intent a crash left (the driver's resize is
 * idempotent), so the volume ends as it was or as asked. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cleanup.h"
#include "core/failpoint.h"
#include "core/size.h"
#include "core/xmalloc.h"
#include "cluster.h"
#include "internal.h"

#define DOC_RESIZE "resize"

DEFINE_CLEANUP_FUNC(struct vol_volume, vol_volume_free)

static int clone_volume(struct vol_service *s, const struct vol_caller *caller, const char *source,
                        const struct vol_create_request *req, struct vol_volume **ret, struct vol_error *err);

int vol_service_clone(struct vol_service *s, const struct vol_caller *caller, const char *op_id, const char *source,
                      const struct vol_create_request *req, struct vol_volume **ret, struct vol_error *err)
{
        struct vol_transfer_progress progress = {0};
        struct op *o = vol_operation_begin(caller, op_id, "clone", source, &progress, vol_usage_estimate(s, source));
        vol_progress_set(&progress); /* the driver's copy counts into it */
        uint64_t start = vol_now_us();
        int r = clone_volume(s, caller, source, req, ret, err);
        vol_metrics_record(&s->metrics, VOL_OP_CLONE, start, r);
        vol_progress_set(NULL);
        vol_operation_end(o, r == 0 ? (*ret)->name : NULL, r, err);
        return r;
}

static int clone_volume(struct vol_service *s, const struct vol_caller *caller, const char *source,
                        const struct vol_create_request *req, struct vol_volume **ret, struct vol_error *err)
{
        _cleanup_(vol_volume_freep) struct vol_volume *src = NULL;
        int r = vol_service_get(s, caller, source, false, &src, NULL, err);
        if (r < 0)
                return r;
        struct vol_driver *d = vol_drivers_find(&s->drivers, src->driver);
        if (!d || !(d->ops->caps & VOL_CAP_SNAPSHOT) || !d->ops->clone) {
                char list[256];
                vol_drivers_with_cap(s, VOL_CAP_SNAPSHOT, list, sizeof(list));
                return vol_error_set(err, -ENOTSUP, "driver %s cannot clone volume %s (these can: %s)", src->driver,
                                     source, list);
        }
        if (src->status != VOL_STATUS_READY)
                return vol_error_set(err, -EBUSY, "volume %s is being created or removed", source);
        struct vol_create_request cr = *req;
        cr.driver = src->driver;
        cr.options = src->options; /* borrowed: the clone is what its source is */
        cr.clone_from = src;
        cr.fill = NULL;
        bool created;
        r = vol_service_create(s, caller, &cr, ret, &created, err);
        _cleanup_free_ char *what = xasprintf("clone %s to %s", source, r == 0 ? (*ret)->name : "a new volume");
        vol_service_audit(caller, what, r, err);
        return r;
}

static char *intent_json(const char *name, const char *size)
{
        json_auto_t *o = json_pack("{s:s,s:s}", "name", name, "size", size);
        return json_dumps(o, JSON_COMPACT);
}

/* Resizes v (locked by the caller) to size_text and records it. */
static int apply(struct vol_service *s, struct vol_driver *d, struct vol_volume *v, const char *size_text,
                 uint64_t size, struct vol_error *err)
{
        int64_t rev = 0;
        _cleanup_free_ char *intent = intent_json(v->name, size_text);
        int r = vol_store_put_doc(s->store, DOC_RESIZE, v->id, intent, VOL_REV_ANY, VOL_SYNC_FULL, &rev, err);
        if (r < 0)
                return r;
        vol_failpoint("resize-after-intent");
        if ((r = d->ops->resize(d, v, size, v->n_mounts > 0, err)) < 0) {
                struct vol_error e = VOL_ERROR_INIT; /* nothing changed: the intent goes */
                vol_store_remove_doc(s->store, DOC_RESIZE, v->id, rev, VOL_SYNC_ORDERED, &e);
                vol_error_clear(&e);
                return r;
        }
        vol_failpoint("resize-after-driver");
        vol_kvs_set(&v->options, "size", size_text);
        if ((r = vol_store_put(s->store, v, v->revision, VOL_SYNC_FULL, err)) < 0)
                return r; /* the intent stays: start-up finishes it */
        struct vol_error e = VOL_ERROR_INIT;
        vol_store_remove_doc(s->store, DOC_RESIZE, v->id, rev, VOL_SYNC_ORDERED, &e);
        vol_error_clear(&e);
        return 0;
}

static int resize_locked(struct vol_service *s, const struct vol_caller *caller, const char *name,
                         const char *size_text, struct vol_volume **ret, struct vol_error *err)
{
        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
        int r = vol_service_get(s, caller, name, false, &v, NULL, err);
        if (r < 0)
                return r;
        struct vol_driver *d = vol_drivers_find(&s->drivers, v->driver);
        if (!d || !(d->ops->caps & VOL_CAP_RESIZE)) {
                char list[256];
                vol_drivers_with_cap(s, VOL_CAP_RESIZE, list, sizeof(list));
                return vol_error_set(err, -ENOTSUP, "driver %s cannot change the size of volume %s (these can: %s)",
                                     v->driver, name, list);
        }
        if (v->status != VOL_STATUS_READY)
                return vol_error_set(err, -EBUSY, "volume %s is being created or removed", name);
        uint64_t size;
        struct vol_kvs opts = VOL_KVS_INIT;
        vol_kvs_copy(&opts, &v->options);
        vol_kvs_set(&opts, "size", size_text);
        if ((r = vol_parse_size("size", size_text, &size, err)) < 0 ||
            (r = vol_driver_check_options(d, &opts, err)) < 0) {
                vol_kvs_free(&opts);
                return r;
        }
        vol_kvs_free(&opts);
        if ((r = apply(s, d, v, size_text, size, err)) < 0)
                return r;
        *ret = TAKE_PTR(v);
        return 0;
}

int vol_service_resize(struct vol_service *s, const struct vol_caller *caller, const char *volume,
                       const char *size, struct vol_volume **ret, struct vol_error *err)
{
        int r = vol_validate_name(volume, err);
        if (r < 0)
                return r;
        if (!size || !*size)
                return vol_error_set(err, -EINVAL, "give the new size (e.g. 20g)");
        uint64_t start = vol_now_us();
        pthread_mutex_t *lock = vol_name_lock(&s->locks, volume);
        r = resize_locked(s, caller, volume, size, ret, err);
        vol_name_unlock(lock);
        if (r == 0)
                vol_volume_event(s, caller, "resize", *ret, "size", size);
        vol_metrics_record(&s->metrics, VOL_OP_RESIZE, start, r);
        _cleanup_free_ char *what = xasprintf("resize %s to %s", volume, size);
        vol_service_audit(caller, what, r, err);
        return r;
}

struct intents {
        size_t n, cap;
        char **ids, **names, **sizes;
};

static int take_intent(const char *key, const char *json, int64_t rev, void *userdata)
{
        struct intents *l = userdata;
        json_auto_t *o = json_loads(json, 0, NULL);
        const char *name, *size;
        if (!o || json_unpack(o, "{s:s,s:s}", "name", &name, "size", &size) < 0)
                return 0;
        if (l->n == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 4;
                l->ids = xrealloc(l->ids, l->cap * sizeof(char *));
                l->names = xrealloc(l->names, l->cap * sizeof(char *));
                l->sizes = xrealloc(l->sizes, l->cap * sizeof(char *));
        }
        l->ids[l->n] = xstrdup(key);
        l->names[l->n] = xstrdup(name);
        l->sizes[l->n++] = xstrdup(size);
        return 0;
}

int vol_resizes_reconcile(struct vol_service *s, size_t *ret_fixed)
{
        struct intents l = {0};
        struct vol_error err = VOL_ERROR_INIT;
        *ret_fixed = 0;
        int r = vol_store_list_docs(s->store, DOC_RESIZE, "", take_intent, &l, &err);
        for (size_t i = 0; r >= 0 && i < l.n; i++) {
                struct vol_volume *v = NULL;
                uint64_t size;
                struct vol_driver *d = NULL;
                int one = vol_store_get(s->store, l.names[i], &v, &err);
                if (one == 0 && strcmp(v->id, l.ids[i]))
                        one = -ENOENT; /* the name is another volume's now */
                if (one == 0 && !vol_cluster_is_local(s, v->node)) {
                        vol_volume_free(v);
                        continue; /* another node's: it finishes its own */
                }
                if (one == 0 && (d = vol_drivers_find(&s->drivers, v->driver)) && d->ops->resize &&
                    vol_parse_size("size", l.sizes[i], &size, &err) == 0) {
                        one = apply(s, d, v, l.sizes[i], size, &err);
                        if (one == 0) {
                                (*ret_fixed)++;
                                vol_service_log("info", "reconcile: finished resizing volume %s to %s", v->name,
                                                l.sizes[i]);
                        } else {
                                vol_service_log("error", "reconcile: resizing volume %s to %s: %s", v->name,
                                                l.sizes[i], vol_error_message(&err));
                        }
                } else if (one == -ENOENT) {
                        vol_store_remove_doc(s->store, DOC_RESIZE, l.ids[i], VOL_REV_ANY, VOL_SYNC_ORDERED, &err);
                }
                vol_volume_free(v);
                vol_error_clear(&err);
        }
        for (size_t i = 0; i < l.n; i++) {
                free(l.ids[i]);
                free(l.names[i]);
                free(l.sizes[i]);
        }
        free(l.ids);
        free(l.names);
        free(l.sizes);
        vol_error_clear(&err);
        return r;
}

int vol_service_drivers(struct vol_service *s, vol_driver_desc_cb cb, void *userdata)
{
        for (size_t i = 0; i < s->drivers.n; i++) {
                const struct vol_driver *d = &s->drivers.items[i];
                struct vol_driver_desc desc = {d->ops->name, d->available, d->unavailable, d->ops->caps,
                                               d->ops->options};
                int r = cb(&desc, userdata);
                if (r)
                        return r;
        }
        return 0;
}

uint64_t vol_usage_estimate(struct vol_service *s, const char *name)
{
        struct vol_volume *v = NULL;
        uint64_t bytes = 0;
        if (vol_store_get(s->store, name, &v, NULL) == 0) {
                struct vol_driver *d = vol_drivers_find(&s->drivers, v->driver);
                struct vol_volume_info info = {0};
                if (d && (d->ops->caps & VOL_CAP_USAGE_CHEAP) && d->ops->info(d, v, true, &info, NULL) == 0 &&
                    info.has_usage)
                        bytes = info.usage_bytes;
        }
        vol_volume_free(v);
        return bytes;
}
