/* Volume operations: create, get, list, remove, prune, mount, unmount. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>

#include "core/cleanup.h"
#include "core/failpoint.h"
#include "core/names.h"
#include "core/volume_json.h"
#include "core/xmalloc.h"
#include "internal.h"

DEFINE_CLEANUP_FUNC(struct vol_volume, vol_volume_free)

static vol_log_fn log_fn;

void vol_service_set_log(vol_log_fn fn)
{
        log_fn = fn;
}

void vol_service_log(const char *level, const char *fmt, ...)
{
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (log_fn)
                log_fn(level, msg);
        else
                fprintf(stderr, "volmand: %s: %s\n", level, msg);
}

static void count_one(const char *driver, enum vol_status status, uint64_t n, void *userdata)
{
        vol_strbuf_printf(userdata, "volman_volumes{driver=\"%s\",status=\"%s\"} %llu\n", driver,
                          vol_status_name(status), (unsigned long long)n);
}

int vol_service_render_metrics(struct vol_service *s, struct vol_strbuf *out, struct vol_error *err)
{
        vol_strbuf_puts(out, "# HELP volman_volumes Volumes by driver and status.\n"
                             "# TYPE volman_volumes gauge\n");
        /* every driver shows up, with 0 when it has no volume */
        struct vol_strbuf counted;
        vol_strbuf_init(&counted, 0);
        int r = vol_store_count(s->store, count_one, &counted, err);
        if (r < 0) {
                vol_strbuf_free(&counted);
                return r;
        }
        for (size_t i = 0; i < s->drivers.n; i++) {
                char needle[64];
                snprintf(needle, sizeof(needle), "driver=\"%s\",status=\"ready\"", s->drivers.items[i].ops->name);
                if (!counted.data || !strstr(counted.data, needle))
                        vol_strbuf_printf(out, "volman_volumes{%s} 0\n", needle);
        }
        if (counted.data)
                vol_strbuf_puts(out, counted.data);
        vol_strbuf_free(&counted);
        return vol_metrics_render(&s->metrics, out);
}

static struct vol_driver *find_driver(struct vol_service *s, const char *name, struct vol_error *err)
{
        struct vol_driver *d = vol_drivers_find(&s->drivers, name);
        if (!d) {
                char list[256] = "";
                for (size_t i = 0; i < s->drivers.n; i++) {
                        if (*list)
                                strncat(list, ", ", sizeof(list) - strlen(list) - 1);
                        strncat(list, s->drivers.items[i].ops->name, sizeof(list) - strlen(list) - 1);
                }
                vol_error_set(err, -EINVAL, "unknown driver \"%s\" (known: %s)", name, list);
        }
        return d;
}

/* Says which parameter of an existing volume differs from a create request. */
static const char *differing_parameter(const struct vol_volume *v, const char *driver,
                                       const struct vol_create_request *req)
{
        if (strcmp(v->driver, driver))
                return "driver";
        if (!vol_kvs_equal(&v->options, &req->options))
                return "options";
        if (!vol_kvs_equal(&v->labels, &req->labels))
                return "labels";
        if (!vol_scope_equal(v->scope, req->scope))
                return "scope";
        return NULL;
}

static int create_locked(struct vol_service *s, struct vol_driver *d, const char *name,
                         const struct vol_create_request *req, struct vol_volume **ret,
                         bool *ret_created, struct vol_error *err)
{
        _cleanup_(vol_volume_freep) struct vol_volume *cur = NULL;
        int r = vol_store_get(s->store, name, &cur, err);
        if (r == 0) {
                const char *diff = differing_parameter(cur, d->ops->name, req);
                if (diff)
                        return vol_error_set(err, -EEXIST,
                                             "volume %s already exists with other %s", name, diff);
                if (cur->status != VOL_STATUS_READY)
                        return vol_error_set(err, -EBUSY, "volume %s is being %s", name,
                                             cur->status == VOL_STATUS_CREATING ? "created" : "removed");
                *ret = TAKE_PTR(cur);
                *ret_created = false;
                return 0;
        }
        if (r != -ENOENT)
                return r;
        vol_error_clear(err);

        _cleanup_(vol_volume_freep) struct vol_volume *v = vol_volume_new();
        uuid_t u;
        uuid_generate_random(u);
        uuid_unparse_lower(u, v->id);
        v->name = xstrdup(name);
        v->driver = xstrdup(d->ops->name);
        vol_kvs_copy(&v->options, &req->options);
        vol_kvs_copy(&v->labels, &req->labels);
        v->scope = vol_scope_dup(req->scope);
        v->status = VOL_STATUS_CREATING;
        v->created_at = (int64_t)time(NULL);
        v->mountpoint = d->ops->path(d, v);

        /* 1. the intent: survives a crash of the daemon; the final commit
         *    below makes it durable along with the result. */
        if ((r = vol_store_put(s->store, v, 0, VOL_SYNC_ORDERED, err)) < 0)
                return r;
        vol_failpoint("create-after-intent");

        /* 2. the bytes */
        r = d->ops->create(d, v, err);
        if (r < 0) {
                struct vol_error undo = VOL_ERROR_INIT;
                if (d->ops->remove(d, v, &undo) == 0)
                        vol_store_remove(s->store, v->name, v->revision, VOL_SYNC_ORDERED, &undo);
                vol_error_clear(&undo);
                return vol_error_wrap(err, "creating volume %s: ", name);
        }
        vol_failpoint("create-after-driver");

        /* 3. the result, fsync'd before anyone is told */
        v->status = VOL_STATUS_READY;
        if ((r = vol_store_put(s->store, v, v->revision, VOL_SYNC_FULL, err)) < 0)
                return r; /* left `creating`: reconciliation rolls it back */
        vol_failpoint("create-after-commit");

        *ret = TAKE_PTR(v);
        *ret_created = true;
        return 0;
}

static int create_checked(struct vol_service *s, const struct vol_create_request *req,
                          struct vol_volume **ret, bool *ret_created, struct vol_error *err)
{
        const char *driver = req->driver ? req->driver : s->default_driver;
        int r = vol_validate_driver_name(driver, err);
        if (r < 0)
                return r;
        struct vol_driver *d = find_driver(s, driver, err);
        if (!d)
                return -EINVAL;
        if ((r = vol_validate_options(&req->options, err)) < 0 ||
            (r = vol_driver_check_options(d, &req->options, err)) < 0 ||
            (r = vol_validate_labels(&req->labels, err)) < 0)
                return r;
        if (req->scope && (r = vol_validate_scope(req->scope, err)) < 0)
                return r;

        /* A scoped volume's name is its scope's name, whoever asks: a name
         * chosen freely could squat another tenant's name, or put a second
         * volume in one scope. */
        _cleanup_free_ char *derived = NULL;
        const char *name = req->name;
        if (name && (r = vol_validate_name(name, err)) < 0)
                return r;
        if (req->scope) {
                if ((r = vol_name_for_scope(s->prefix, req->scope, &derived, err)) < 0)
                        return r;
                if (name && strcmp(name, derived))
                        return vol_error_set(err, -EINVAL,
                                             "volume %s has a scope, and a scoped volume is named after "
                                             "it: %s; leave the name out or give that one",
                                             name, derived);
                name = derived;
        } else if (!name) {
                return vol_error_set(err, -EINVAL, "a volume needs a name or a scope");
        }

        pthread_mutex_t *lock = vol_name_lock(&s->locks, name);
        r = create_locked(s, d, name, req, ret, ret_created, err);
        vol_name_unlock(lock);
        return r;
}

int vol_service_create(struct vol_service *s, const struct vol_create_request *req,
                       struct vol_volume **ret, bool *ret_created, struct vol_error *err)
{
        uint64_t start = vol_now_us();
        int r = create_checked(s, req, ret, ret_created, err);
        vol_metrics_record(&s->metrics, VOL_OP_CREATE, start, r);
        return r;
}

int vol_service_get(struct vol_service *s, const char *name, bool with_usage,
                    struct vol_volume **ret, struct vol_volume_info *ret_info,
                    struct vol_error *err)
{
        uint64_t start = vol_now_us();
        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
        int r = vol_validate_name(name, err);
        if (r == 0)
                r = vol_store_get(s->store, name, &v, err);
        if (r == 0 && ret_info) {
                struct vol_driver *d = vol_drivers_find(&s->drivers, v->driver);
                memset(ret_info, 0, sizeof(*ret_info));
                ret_info->persistent = true;
                if (d)
                        d->ops->info(d, v, with_usage, ret_info, NULL);
        }
        if (r == 0)
                *ret = TAKE_PTR(v);
        vol_metrics_record(&s->metrics, VOL_OP_INSPECT, start, r);
        return r;
}

struct list_ctx {
        struct vol_service *s;
        vol_service_volume_cb cb;
        void *userdata;
        size_t limit; /* 0: all */
        size_t seen;
        char *last; /* name of the last volume passed on */
        bool more;
};

static int list_one(const struct vol_volume *v, void *userdata)
{
        struct list_ctx *c = userdata;
        if (c->limit && c->seen == c->limit) {
                c->more = true;
                return 1;
        }
        struct vol_volume_info info = {.persistent = true};
        struct vol_driver *d = vol_drivers_find(&c->s->drivers, v->driver);
        if (d)
                d->ops->info(d, v, false, &info, NULL);
        int r = c->cb(v, &info, c->userdata);
        if (r < 0)
                return r;
        c->seen++;
        if (c->limit) {
                free(c->last);
                c->last = xstrdup(v->name);
        }
        return 0;
}

int vol_service_list(struct vol_service *s, const struct vol_filter *f, const char *after,
                     size_t limit, vol_service_volume_cb cb, void *userdata, char **ret_next,
                     struct vol_error *err)
{
        uint64_t start = vol_now_us();
        struct list_ctx c = {.s = s, .cb = cb, .userdata = userdata, .limit = limit};
        int r = vol_store_list(s->store, f, after, limit ? limit + 1 : 0, list_one, &c, err);
        if (r >= 0) {
                if (ret_next)
                        *ret_next = c.more ? TAKE_PTR(c.last) : NULL;
                r = (int)c.seen;
        }
        free(c.last);
        vol_metrics_record(&s->metrics, VOL_OP_LIST, start, r);
        return r;
}

static int remove_locked(struct vol_service *s, const char *name, bool only_if_unused_ready,
                         struct vol_error *err)
{
        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
        int r = vol_store_get(s->store, name, &v, err);
        if (r < 0)
                return r;
        if (v->n_mounts > 0) {
                char since[32];
                vol_format_time(v->mounts[0].since, since);
                return vol_error_set(err, -EBUSY,
                                     "volume %s is in use: %zu mount reference%s (first: %s, since %s); "
                                     "stop the containers using it first",
                                     name, v->n_mounts, v->n_mounts == 1 ? "" : "s", v->mounts[0].id,
                                     since);
        }
        if (v->status == VOL_STATUS_CREATING)
                return vol_error_set(err, -EBUSY, "volume %s is being created", name);
        if (only_if_unused_ready && v->status != VOL_STATUS_READY)
                return -EAGAIN;
        struct vol_driver *d = vol_drivers_find(&s->drivers, v->driver);
        if (!d)
                return vol_error_set(err, -EIO, "volume %s uses driver %s, which this volmand lacks",
                                     name, v->driver);
        if (v->status != VOL_STATUS_DELETING) {
                v->status = VOL_STATUS_DELETING;
                if ((r = vol_store_put(s->store, v, v->revision, VOL_SYNC_ORDERED, err)) < 0)
                        return r;
        }
        vol_failpoint("remove-after-intent");
        if ((r = d->ops->remove(d, v, err)) < 0)
                return vol_error_wrap(err, "removing volume %s (it stays `deleting`; retry the "
                                           "removal): ", name);
        vol_failpoint("remove-after-driver");
        if ((r = vol_store_remove(s->store, name, v->revision, VOL_SYNC_FULL, err)) < 0)
                return r;
        vol_failpoint("remove-after-commit");
        return 0;
}

int vol_service_remove(struct vol_service *s, const char *name, struct vol_error *err)
{
        uint64_t start = vol_now_us();
        int r = vol_validate_name(name, err);
        if (r == 0) {
                pthread_mutex_t *lock = vol_name_lock(&s->locks, name);
                r = remove_locked(s, name, false, err);
                vol_name_unlock(lock);
        }
        vol_metrics_record(&s->metrics, VOL_OP_REMOVE, start, r);
        return r;
}

struct names {
        size_t n, cap;
        char **items;
};

static int collect_unused(const struct vol_volume *v, void *userdata)
{
        struct names *ns = userdata;
        if (v->n_mounts > 0 || v->status != VOL_STATUS_READY)
                return 0;
        if (ns->n == ns->cap) {
                ns->cap = ns->cap ? ns->cap * 2 : 64;
                ns->items = xrealloc(ns->items, ns->cap * sizeof(char *));
        }
        ns->items[ns->n++] = xstrdup(v->name);
        return 0;
}

int vol_service_prune(struct vol_service *s, const struct vol_filter *f, bool dry_run,
                      vol_service_name_cb cb, void *userdata, struct vol_error *err)
{
        uint64_t start = vol_now_us();
        struct names ns = {0};
        int r = vol_store_list(s->store, f, NULL, 0, collect_unused, &ns, err);
        int removed = 0;
        for (size_t i = 0; r >= 0 && i < ns.n; i++) {
                if (dry_run) {
                        cb(ns.items[i], userdata);
                        removed++;
                        continue;
                }
                struct vol_error one = VOL_ERROR_INIT;
                pthread_mutex_t *lock = vol_name_lock(&s->locks, ns.items[i]);
                int rr = remove_locked(s, ns.items[i], true, &one);
                vol_name_unlock(lock);
                if (rr == 0) {
                        cb(ns.items[i], userdata);
                        removed++;
                } else if (rr != -EBUSY && rr != -ENOENT && rr != -EAGAIN) {
                        /* mounted or gone since the listing: skipped; anything else stops */
                        vol_error_set(err, rr, "%s", vol_error_message(&one));
                        r = rr;
                }
                vol_error_clear(&one);
        }
        for (size_t i = 0; i < ns.n; i++)
                free(ns.items[i]);
        free(ns.items);
        vol_metrics_record(&s->metrics, VOL_OP_PRUNE, start, r);
        return r < 0 ? r : removed;
}

static int mount_locked(struct vol_service *s, const char *name, const char *ref_id,
                        char **ret_mountpoint, struct vol_error *err)
{
        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
        int r = vol_store_get(s->store, name, &v, err);
        if (r < 0)
                return r;
        if (v->status != VOL_STATUS_READY)
                return vol_error_set(err, -EBUSY, "volume %s is being %s", name,
                                     v->status == VOL_STATUS_CREATING ? "created" : "removed");
        struct vol_driver *d = vol_drivers_find(&s->drivers, v->driver);
        if (!d)
                return vol_error_set(err, -EIO, "volume %s uses driver %s, which this volmand lacks",
                                     name, v->driver);
        r = d->ops->mount(d, v, err);
        if (r < 0)
                return vol_error_wrap(err, "mounting volume %s: ", name);
        if (r == 1)
                vol_service_log("warning", "volume %s: storage was made again, empty (%s)", name,
                                d->ops->caps & VOL_CAP_EPHEMERAL ? "content lost at host reboot"
                                                                 : "it was missing");
        if (vol_volume_find_mount(v, ref_id) < 0) {
                if ((r = vol_volume_add_mount(v, ref_id, (int64_t)time(NULL), err)) < 0)
                        return r;
                if ((r = vol_store_put(s->store, v, v->revision, VOL_SYNC_FULL, err)) < 0)
                        return r;
                vol_failpoint("mount-after-commit");
        }
        *ret_mountpoint = xstrdup(v->mountpoint);
        return 0;
}

int vol_service_mount(struct vol_service *s, const char *name, const char *ref_id,
                      char **ret_mountpoint, struct vol_error *err)
{
        uint64_t start = vol_now_us();
        int r = vol_validate_name(name, err);
        if (r == 0)
                r = vol_validate_mount_id(ref_id, err);
        if (r == 0) {
                pthread_mutex_t *lock = vol_name_lock(&s->locks, name);
                r = mount_locked(s, name, ref_id, ret_mountpoint, err);
                vol_name_unlock(lock);
        }
        vol_metrics_record(&s->metrics, VOL_OP_MOUNT, start, r);
        return r;
}

static int unmount_locked(struct vol_service *s, const char *name, const char *ref_id,
                          struct vol_error *err)
{
        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
        int r = vol_store_get(s->store, name, &v, err);
        if (r < 0)
                return r;
        if (vol_volume_remove_mount(v, ref_id) < 0)
                return 0; /* unknown reference: nothing to do, and no failure */
        if ((r = vol_store_put(s->store, v, v->revision, VOL_SYNC_FULL, err)) < 0)
                return r;
        vol_failpoint("unmount-after-commit");
        struct vol_driver *d = vol_drivers_find(&s->drivers, v->driver);
        if (d && v->n_mounts == 0) {
                struct vol_error ignored = VOL_ERROR_INIT;
                if (d->ops->unmount(d, v, &ignored) < 0)
                        vol_service_log("warning", "volume %s: driver unmount: %s", name,
                                        vol_error_message(&ignored));
                vol_error_clear(&ignored);
        }
        return 0;
}

int vol_service_unmount(struct vol_service *s, const char *name, const char *ref_id,
                        struct vol_error *err)
{
        uint64_t start = vol_now_us();
        int r = vol_validate_name(name, err);
        if (r == 0)
                r = vol_validate_mount_id(ref_id, err);
        if (r == 0) {
                pthread_mutex_t *lock = vol_name_lock(&s->locks, name);
                r = unmount_locked(s, name, ref_id, err);
                vol_name_unlock(lock);
        }
        vol_metrics_record(&s->metrics, VOL_OP_UNMOUNT, start, r);
        return r;
}

int vol_service_open(const struct vol_service_config *cfg, struct vol_service **ret,
                     struct vol_error *err)
{
        int r;
        if ((r = vol_validate_prefix(cfg->name_prefix, err)) < 0)
                return vol_error_wrap(err, "name prefix: ");
        _cleanup_free_ char *db = cfg->store_location ? xstrdup(cfg->store_location)
                                                      : xasprintf("%s/volman.db", cfg->root);
        struct vol_service *s = xcalloc(1, sizeof(*s));
        s->prefix = xstrdup(cfg->name_prefix);
        s->default_driver = xstrdup(cfg->default_driver);
        vol_name_locks_init(&s->locks);
        vol_name_locks_init(&s->app_locks);
        s->engine_driver = xstrdup(cfg->engine_driver ? cfg->engine_driver : "volman");
        if (cfg->engine && (r = vol_engine_open(cfg->engine, &s->engine, err)) < 0)
                goto fail;
        if ((r = vol_drivers_open(cfg->root, &s->drivers, err)) < 0)
                goto fail;
        if (!vol_drivers_find(&s->drivers, s->default_driver)) {
                r = vol_error_set(err, -EINVAL, "default driver %s is not a known driver",
                                  s->default_driver);
                goto fail;
        }
        if ((r = vol_store_open(cfg->store_backend, db, &s->store, err)) < 0)
                goto fail;
        struct vol_reconcile_report rep;
        if ((r = vol_service_reconcile(s, &rep, err)) < 0) {
                vol_error_wrap(err, "reconciling at start-up: ");
                goto fail;
        }
        *ret = s;
        return 0;
fail:
        vol_service_close(s);
        return r;
}

void vol_service_close(struct vol_service *s)
{
        if (!s)
                return;
        vol_store_close(s->store);
        vol_drivers_close(&s->drivers);
        vol_name_locks_destroy(&s->locks);
        vol_name_locks_destroy(&s->app_locks);
        vol_engine_close(s->engine);
        free(s->engine_driver);
        free(s->prefix);
        free(s->default_driver);
        free(s);
}
