/* Volume operations: create, get, list, remove, prune, mount, unmount. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cleanup.h"
#include "core/size.h"
#include "core/failpoint.h"
#include "core/names.h"
#include "core/uuid.h"
#include "core/volume_json.h"
#include "core/xmalloc.h"
#include "cluster.h"
#include "internal.h"

DEFINE_CLEANUP_FUNC(struct vol_volume, vol_volume_free)

static void count_one(const char *driver, enum vol_status status, uint64_t n, void *userdata)
{
        vol_strbuf_printf(userdata, "volman_volumes{driver=\"%s\",status=\"%s\"} %llu\n", driver,
                          vol_status_name(status), (unsigned long long)n);
}

struct space_ctx {
        struct vol_service *s;
        struct vol_strbuf *out;
        uint64_t used[16], limit[16]; /* per driver, by index in s->drivers */
        struct tenant_count {
                char *tenant;
                uint64_t n;
        } *tenants;
        size_t n_tenants, cap_tenants;
};

static void count_tenant(struct space_ctx *c, const char *tenant)
{
        for (size_t i = 0; i < c->n_tenants; i++)
                if (!strcmp(c->tenants[i].tenant, tenant)) {
                        c->tenants[i].n++;
                        return;
                }
        if (c->n_tenants == c->cap_tenants) {
                c->cap_tenants = c->cap_tenants ? c->cap_tenants * 2 : 16;
                c->tenants = xrealloc(c->tenants, c->cap_tenants * sizeof(*c->tenants));
        }
        c->tenants[c->n_tenants++] = (struct tenant_count){xstrdup(tenant), 1};
}

static void add_limit(const struct vol_driver *d, const struct vol_volume *v, struct vol_volume_info *info);

/* One volume's size limit, and its usage where that costs no walk. */
static int space_one(const struct vol_volume *v, void *userdata)
{
        struct space_ctx *c = userdata;
        count_tenant(c, v->scope ? v->scope->tenant : "");
        for (size_t i = 0; i < c->s->drivers.n && i < 16; i++) {
                struct vol_driver *d = &c->s->drivers.items[i];
                if (!d->available || strcmp(d->ops->name, v->driver))
                        continue;
                struct vol_volume_info info = {0};
                add_limit(d, v, &info);
                if (info.has_limit) {
                        vol_strbuf_printf(c->out, "volman_volume_limit_bytes{volume=\"%s\",driver=\"%s\"} %llu\n",
                                          v->name, v->driver, (unsigned long long)info.limit_bytes);
                        c->limit[i] += info.limit_bytes;
                }
                if ((d->ops->caps & VOL_CAP_USAGE_CHEAP) && d->ops->info(d, v, true, &info, NULL) == 0 &&
                    info.has_usage) {
                        vol_strbuf_printf(c->out, "volman_volume_used_bytes{volume=\"%s\",driver=\"%s\"} %llu\n",
                                          v->name, v->driver, (unsigned long long)info.usage_bytes);
                        c->used[i] += info.usage_bytes;
                }
        }
        return 0;
}

/* Size limits and usage per volume and per driver (usage only where it
 * costs no walk: a scrape never walks a local volume's tree). */
static int render_space(struct vol_service *s, struct vol_strbuf *out, struct vol_error *err)
{
        struct space_ctx c = {.s = s, .out = out};
        vol_strbuf_puts(out, "# HELP volman_volume_limit_bytes A volume's size limit, where its driver enforces one.\n"
                             "# TYPE volman_volume_limit_bytes gauge\n"
                             "# HELP volman_volume_used_bytes Bytes a volume holds (drivers that count them: tmpfs, "
                             "loop, btrfs).\n"
                             "# TYPE volman_volume_used_bytes gauge\n");
        int r = vol_store_list(s->store, NULL, NULL, 0, space_one, &c, err);
        if (r < 0)
                return r;
        vol_strbuf_puts(out, "# HELP volman_driver_limit_bytes The size limits of a driver's volumes, summed.\n"
                             "# TYPE volman_driver_limit_bytes gauge\n"
                             "# HELP volman_driver_used_bytes Bytes a driver's volumes hold, summed (where counted).\n"
                             "# TYPE volman_driver_used_bytes gauge\n");
        vol_strbuf_puts(out, "# HELP volman_tenant_volumes Volumes per tenant (tenant=\"\": volumes without a scope).\n"
                             "# TYPE volman_tenant_volumes gauge\n");
        for (size_t i = 0; i < c.n_tenants; i++) {
                vol_strbuf_printf(out, "volman_tenant_volumes{tenant=\"%s\"} %llu\n", c.tenants[i].tenant,
                                  (unsigned long long)c.tenants[i].n);
                free(c.tenants[i].tenant);
        }
        free(c.tenants);
        for (size_t i = 0; i < s->drivers.n && i < 16; i++) {
                const struct vol_driver *d = &s->drivers.items[i];
                if (!d->available)
                        continue;
                if (d->ops->caps & VOL_CAP_SIZE_LIMIT)
                        vol_strbuf_printf(out, "volman_driver_limit_bytes{driver=\"%s\"} %llu\n", d->ops->name,
                                          (unsigned long long)c.limit[i]);
                if (d->ops->caps & VOL_CAP_USAGE_CHEAP)
                        vol_strbuf_printf(out, "volman_driver_used_bytes{driver=\"%s\"} %llu\n", d->ops->name,
                                          (unsigned long long)c.used[i]);
        }
        return 0;
}

/* The engine's calls, what start-up's reconciliation found, failed syncs. */
static void render_health(struct vol_service *s, struct vol_strbuf *out)
{
        uint64_t calls = 0, errors = 0;
        if (s->engine)
                vol_engine_counts(s->engine, &calls, &errors);
        const struct vol_reconcile_report *rp = &s->reconciled;
        struct vol_error e = VOL_ERROR_INIT;
        int degraded = vol_store_health(s->store, &e) < 0;
        vol_error_clear(&e);
        vol_strbuf_printf(out,
                          "# HELP volman_engine_requests_total Requests to the container engine.\n"
                          "# TYPE volman_engine_requests_total counter\n"
                          "volman_engine_requests_total %llu\n"
                          "# HELP volman_engine_errors_total Requests to the engine that failed (unreachable, or 5xx).\n"
                          "# TYPE volman_engine_errors_total counter\n"
                          "volman_engine_errors_total %llu\n"
                          "# HELP volman_store_fsync_failures_total Failed fdatasyncs of the store (the first "
                          "degrades it: no durable write is tried after it).\n"
                          "# TYPE volman_store_fsync_failures_total counter\n"
                          "volman_store_fsync_failures_total %d\n"
                          "# HELP volman_reconcile_findings What start-up's reconciliation found, by kind.\n"
                          "# TYPE volman_reconcile_findings gauge\n"
                          "volman_reconcile_findings{kind=\"rolled_back\"} %zu\n"
                          "volman_reconcile_findings{kind=\"rolled_forward\"} %zu\n"
                          "volman_reconcile_findings{kind=\"tombstones\"} %zu\n"
                          "volman_reconcile_findings{kind=\"stale_refs\"} %zu\n"
                          "volman_reconcile_findings{kind=\"orphans\"} %zu\n"
                          "volman_reconcile_findings{kind=\"cleaned\"} %zu\n"
                          "volman_reconcile_findings{kind=\"missing\"} %zu\n"
                          "volman_reconcile_findings{kind=\"repaired\"} %zu\n"
                          "volman_reconcile_findings{kind=\"unusable\"} %zu\n",
                          (unsigned long long)calls, (unsigned long long)errors, degraded, rp->rolled_back,
                          rp->rolled_forward, rp->tombstones, rp->stale_refs, rp->orphans, rp->cleaned, rp->missing,
                          rp->repaired, rp->unusable);
        struct vol_store_stats st;
        if (vol_store_stats(s->store, &st))
                vol_strbuf_printf(out,
                                  "# HELP volman_store_writes_total Writes to the metadata store, by the "
                                  "durability asked for (full: on disk before the answer; ordered: survives a "
                                  "crash of volmand).\n"
                                  "# TYPE volman_store_writes_total counter\n"
                                  "volman_store_writes_total{sync=\"full\"} %llu\n"
                                  "volman_store_writes_total{sync=\"ordered\"} %llu\n"
                                  "# HELP volman_store_commits_total Transactions the store committed (a group "
                                  "commit takes many writes into one).\n"
                                  "# TYPE volman_store_commits_total counter\n"
                                  "volman_store_commits_total %llu\n"
                                  "# HELP volman_store_commits_ahead_total Commits of synced writes made while "
                                  "the flush of an earlier batch ran (their own flush starts when it ends).\n"
                                  "# TYPE volman_store_commits_ahead_total counter\n"
                                  "volman_store_commits_ahead_total %llu\n"
                                  "# HELP volman_store_syncs_total Flushes of the store's log to stable storage.\n"
                                  "# TYPE volman_store_syncs_total counter\n"
                                  "volman_store_syncs_total %llu\n"
                                  "# HELP volman_store_checkpoints_total Copies of the store's log back into "
                                  "its database (each flushes both).\n"
                                  "# TYPE volman_store_checkpoints_total counter\n"
                                  "volman_store_checkpoints_total %llu\n",
                                  (unsigned long long)st.writes_full, (unsigned long long)st.writes_ordered,
                                  (unsigned long long)st.commits, (unsigned long long)st.commits_ahead,
                                  (unsigned long long)st.syncs,
                                  (unsigned long long)st.checkpoints);
}

int vol_service_render_metrics(struct vol_service *s, const struct vol_caller *caller, struct vol_strbuf *out,
                               struct vol_error *err)
{
        if (!vol_caller_is_admin(caller))
                return vol_error_set(err, -EPERM, "metrics span every tenant: only an admin may read them");
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
        if ((r = render_space(s, out, err)) < 0)
                return r;
        render_health(s, out);
        pthread_mutex_lock(&s->memory_lock);
        uint64_t used = s->memory_used, max = s->memory_max_total;
        pthread_mutex_unlock(&s->memory_lock);
        vol_strbuf_printf(out,
                          "# HELP volman_memory_reserved_bytes Memory the memory-backed volumes may hold.\n"
                          "# TYPE volman_memory_reserved_bytes gauge\n"
                          "volman_memory_reserved_bytes %llu\n"
                          "# HELP volman_memory_limit_bytes The budget of memory-backed volumes.\n"
                          "# TYPE volman_memory_limit_bytes gauge\n"
                          "volman_memory_limit_bytes %llu\n"
                          "# HELP volman_removals_pending Removed volumes whose data is still being destroyed.\n"
                          "# TYPE volman_removals_pending gauge\n"
                          "volman_removals_pending %zu\n",
                          (unsigned long long)used, (unsigned long long)max, vol_reaper_pending(s->reaper));
        struct vol_error health = VOL_ERROR_INIT;
        vol_strbuf_printf(out,
                          "# HELP volman_degraded 1 when the store refuses durable writes (a failed fsync).\n"
                          "# TYPE volman_degraded gauge\n"
                          "volman_degraded %d\n",
                          vol_store_health(s->store, &health) < 0);
        vol_error_clear(&health);
        return vol_metrics_render(&s->metrics, out);
}

static struct vol_driver *find_driver(struct vol_service *s, const char *name, struct vol_error *err)
{
        struct vol_driver *d = vol_drivers_find_any(&s->drivers, name);
        if (d && !d->available) {
                vol_error_set(err, -ENOTSUP, "driver %s is not available on this host: %s", name, d->unavailable);
                return NULL;
        }
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

void vol_drivers_with_cap(struct vol_service *s, unsigned cap, char *out, size_t n)
{
        out[0] = 0;
        size_t len = 0;
        for (size_t i = 0; i < s->drivers.n; i++) {
                const struct vol_driver *d = &s->drivers.items[i];
                if (!(d->ops->caps & cap))
                        continue;
                int w = snprintf(out + len, n - len, "%s%s%s", len ? ", " : "", d->ops->name,
                                 d->available ? "" : " (not available here)");
                if (w < 0 || (size_t)w >= n - len)
                        break;
                len += (size_t)w;
        }
}

/* The size option given to a driver that cannot enforce it: refused, naming
 * the drivers that can. */
static int check_size_option(struct vol_service *s, const struct vol_driver *d, const struct vol_kvs *options,
                             struct vol_error *err)
{
        if (!vol_kvs_get(options, "size") || (d->ops->caps & VOL_CAP_SIZE_LIMIT))
                return 0;
        char list[256];
        vol_drivers_with_cap(s, VOL_CAP_SIZE_LIMIT, list, sizeof(list));
        return vol_error_set(err, -EINVAL,
                             "driver %s cannot enforce a size limit (this kernel gives plain directories no "
                             "quota); drivers that can: %s",
                             d->ops->name, list);
}

/* The stored volume called name, as caller may see it: another tenant's
 * volume is "not found", like one that does not exist. */
static int get_visible(struct vol_service *s, const struct vol_caller *caller, const char *name,
                       struct vol_volume **ret, struct vol_error *err)
{
        struct vol_volume *v = NULL;
        int r = vol_store_get(s->store, name, &v, err);
        if (r < 0)
                return r;
        if (!vol_auth_may_see(caller, v)) {
                vol_volume_free(v);
                return vol_error_set(err, -ENOENT, "volume %s not found", name);
        }
        *ret = v;
        return 0;
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

/* An event of a volume: its name and tenant, the caller, attributes. */
void vol_volume_event(struct vol_service *s, const struct vol_caller *caller, const char *action,
                      const struct vol_volume *v, const char *key, const char *value)
{
        struct vol_event e;
        memset(&e, 0, sizeof(e));
        snprintf(e.type, sizeof(e.type), "volume");
        snprintf(e.action, sizeof(e.action), "%s", action);
        snprintf(e.name, sizeof(e.name), "%s", v->name);
        snprintf(e.tenant, sizeof(e.tenant), "%s", v->scope ? v->scope->tenant : "");
        vol_event_attr(&e, "driver", v->driver);
        if (key)
                vol_event_attr(&e, key, value);
        vol_event_emit(s, caller, &e);
}

/* The answer to a create of a name that exists: the volume itself when the
 * request asks for what it is (creates are idempotent), else why not. */
static int answer_existing(const struct vol_caller *caller, struct vol_driver *d, const char *name,
                           const struct vol_create_request *req, struct vol_volume **cur,
                           struct vol_volume **ret, bool *ret_created, struct vol_error *err)
{
        if (req->clone_from || req->fill)
                return vol_error_set(err, -EEXIST, "volume %s exists; a clone or an import makes a new volume",
                                     name);
        if (!vol_auth_may_see(caller, *cur))
                return vol_error_set(err, -EEXIST, "the name %s is taken", name);
        const char *diff = differing_parameter(*cur, d->ops->name, req);
        if (!diff && req->node && (*cur)->node && strcmp(req->node, (*cur)->node) != 0)
                return vol_error_set(err, -EEXIST, "volume %s already exists on node %s", name, (*cur)->node);
        if (diff)
                return vol_error_set(err, -EEXIST, "volume %s already exists with other %s", name, diff);
        if ((*cur)->status != VOL_STATUS_READY)
                return vol_error_set(err, -EBUSY, "volume %s is being %s", name,
                                     (*cur)->status == VOL_STATUS_CREATING ? "created" : "removed");
        *ret = TAKE_PTR(*cur);
        *ret_created = false;
        return 0;
}

/* The record of name, then answer_existing; -ENOENT when there is none. */
static int read_existing(struct vol_service *s, const struct vol_caller *caller, struct vol_driver *d,
                         const char *name, const struct vol_create_request *req, struct vol_volume **ret,
                         bool *ret_created, struct vol_error *err)
{
        _cleanup_(vol_volume_freep) struct vol_volume *cur = NULL;
        int r = vol_store_get(s->store, name, &cur, err);
        if (r < 0)
                return r;
        return answer_existing(caller, d, name, req, &cur, ret, ret_created, err);
}

static int create_locked(struct vol_service *s, const struct vol_caller *caller, struct vol_driver *d,
                         const char *name, const struct vol_create_request *req, struct vol_volume **ret,
                         bool *ret_created, struct vol_error *err)
{
        bool makes_content = req->clone_from || req->fill;
        /* A new, empty local volume is made without reading the name first:
         * the insert itself refuses a name that is taken (the store's
         * compare-and-swap), and then the new directory goes and the answer
         * is the existing volume's. Saves a read (and its pages, which every
         * write makes a reader fetch again) on the common path. */
        bool optimistic = !makes_content && !vol_service_node(s) && (d->ops->caps & VOL_CAP_REMAKE_EMPTY);
        int r;
        if (!optimistic) {
                r = read_existing(s, caller, d, name, req, ret, ret_created, err);
                if (r != -ENOENT)
                        return r;
                vol_error_clear(err);
        }
        if (vol_service_node(s) && (req->placement || req->node)) {
                _cleanup_free_ char *node = NULL, *address = NULL;
                if ((r = vol_service_place(s, caller, req->node, &node, &address, err)) < 0)
                        return r;
                if (address && !req->placement)
                        return vol_error_set(err, -EREMOTE, "volume %s belongs on node %s; this is node %s", name,
                                             node, vol_service_node(s));
                if (address) {
                        req->placement->node = TAKE_PTR(node);
                        req->placement->address = TAKE_PTR(address);
                        return vol_error_set(err, -EREMOTE, "volume %s is placed on node %s", name,
                                             req->placement->node);
                }
        }
        if (req->clone_from) { /* still there, under its lock now? */
                _cleanup_(vol_volume_freep) struct vol_volume *src = NULL;
                if ((r = vol_store_get(s->store, req->clone_from->name, &src, err)) < 0)
                        return r;
                if (strcmp(src->id, req->clone_from->id) || src->status != VOL_STATUS_READY)
                        return vol_error_set(err, -EBUSY, "volume %s changed while its clone began; retry",
                                             src->name);
        }

        if ((r = vol_memory_reserve(s, d, &req->options, name, err)) < 0)
                return r;
        _cleanup_(vol_volume_freep) struct vol_volume *v = vol_volume_new();
        vol_uuid_random(v->id);
        v->name = xstrdup(name);
        v->driver = xstrdup(d->ops->name);
        vol_kvs_copy(&v->options, &req->options);
        vol_kvs_copy(&v->labels, &req->labels);
        v->scope = vol_scope_dup(req->scope);
        v->status = VOL_STATUS_CREATING;
        v->created_at = (int64_t)time(NULL);
        v->mountpoint = d->ops->path(d, v);
        v->node = vol_service_node(s) ? xstrdup(vol_service_node(s)) : NULL;

        /* 1. the intent, for a driver whose storage a crash could leave
         *    behind holding something (a mount, an image): it survives a
         *    crash of the daemon, and start-up undoes what it names. A driver
         *    whose create leaves an empty directory needs none: start-up
         *    removes empty storage that no record names. */
        bool intent = !(d->ops->caps & VOL_CAP_REMAKE_EMPTY) || makes_content;
        if (intent) {
                if ((r = vol_store_put(s->store, v, 0, VOL_SYNC_ORDERED, err)) < 0) {
                        vol_memory_release(s, d, &req->options);
                        return r;
                }
                vol_failpoint("create-after-intent");
        }

        /* 2. the bytes */
        r = req->clone_from ? d->ops->clone(d, req->clone_from, v, err) : d->ops->create(d, v, err);
        if (r == 0 && req->fill)
                r = req->fill(s, v, req->fill_userdata, err);
        if (r < 0) {
                vol_error_wrap(err, "creating volume %s: ", name);
                goto undo;
        }
        vol_failpoint("create-after-driver");

        /* 3. the result, fsync'd before anyone is told: the one synced write */
        v->status = VOL_STATUS_READY;
        if ((r = vol_store_put(s->store, v, intent ? v->revision : 0, VOL_SYNC_FULL, err)) < 0) {
                /* The store took the write back (store.h): the record is as
                 * before (`creating`, or none); undo what the driver made. */
                if (optimistic && r == -EEXIST) { /* the name is taken: answer as for a taken name */
                        struct vol_error ignored = VOL_ERROR_INIT;
                        d->ops->remove(d, v, &ignored);
                        vol_error_clear(&ignored);
                        vol_memory_release(s, d, &req->options);
                        vol_error_clear(err);
                        r = read_existing(s, caller, d, name, req, ret, ret_created, err);
                        if (r == -ENOENT) /* removed since: the caller may try again */
                                r = vol_error_set(err, -EAGAIN, "volume %s was removed while it was created; retry",
                                                  name);
                        return r;
                }
                goto undo;
        }
        vol_failpoint("create-after-commit");
        vol_cluster_count(s, 1);
        vol_volume_event(s, caller, req->clone_from ? "clone" : req->fill ? "import" : "create", v,
                     req->clone_from ? "source" : NULL, req->clone_from ? req->clone_from->name : NULL);

        *ret = TAKE_PTR(v);
        *ret_created = true;
        return 0;
undo:
        /* A failed create leaves nothing behind. If even this fails, the
         * record stays `creating` and the next start rolls it back. */
        {
                struct vol_error undo_err = VOL_ERROR_INIT;
                struct vol_volume *cur2 = NULL;
                if (d->ops->remove(d, v, &undo_err) == 0 &&
                    vol_store_get(s->store, name, &cur2, &undo_err) == 0 && cur2->status == VOL_STATUS_CREATING &&
                    !strcmp(cur2->id, v->id))
                        vol_store_remove(s->store, name, cur2->revision, VOL_SYNC_ORDERED, &undo_err);
                vol_volume_free(cur2);
                vol_error_clear(&undo_err);
                vol_memory_release(s, d, &req->options);
        }
        return r;
}

static int create_checked(struct vol_service *s, const struct vol_caller *caller,
                          const struct vol_create_request *req, struct vol_volume **ret,
                          bool *ret_created, struct vol_error *err)
{
        const char *driver = req->driver ? req->driver : s->default_driver;
        int r = vol_validate_driver_name(driver, err);
        if (r < 0)
                return r;
        struct vol_driver *d = find_driver(s, driver, err);
        if (!d)
                return -EINVAL;
        if ((r = vol_validate_options(&req->options, err)) < 0 ||
            (r = check_size_option(s, d, &req->options, err)) < 0 ||
            (r = vol_driver_check_options(d, &req->options, err)) < 0 ||
            (r = vol_validate_labels(&req->labels, err)) < 0)
                return r;
        if (req->scope && (r = vol_validate_scope(req->scope, err)) < 0)
                return r;
        if (caller->face == VOL_FACE_TENANT && (!req->scope || strcmp(req->scope->tenant, caller->tenant)))
                return vol_error_set(err, -EPERM,
                                     "a tenant creates volumes only in its own scope: give scope.tenant %s",
                                     caller->tenant);
        if (req->node && !vol_service_node(s))
                return vol_error_set(err, -ENOTSUP, "node %s: this volmand is a single node, not part of a cluster",
                                     req->node);
        if ((r = vol_cluster_fence(s, err)) < 0)
                return r;

        /* A scoped volume's name is its scope's name, whoever asks: a name
         * chosen freely could squat another tenant's name, or put a second
         * volume in one scope. And names of that form belong to scopes alone. */
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
        } else if (vol_name_is_scoped_form(s->prefix, name)) {
                return vol_error_set(err, -EINVAL,
                                     "volume name %s starts with \"%s-\", which is reserved for scoped "
                                     "volumes (tenant, env, app, path); give a scope, or another name",
                                     name, s->prefix);
        }

        /* a clone holds its source too (no removal under the copy) */
        const char *other = req->clone_from ? req->clone_from->name : NULL;
        if (other && !strcmp(other, name))
                return vol_error_set(err, -EEXIST, "a volume cannot be cloned onto itself");
        pthread_mutex_t *locks[2] = {NULL, NULL};
        if (other)
                vol_name_lock2(&s->locks, name, other, locks);
        else
                locks[0] = vol_name_lock(&s->locks, name);
        r = create_locked(s, caller, d, name, req, ret, ret_created, err);
        vol_name_unlock(locks[1]);
        vol_name_unlock(locks[0]);
        return r;
}

int vol_service_create(struct vol_service *s, const struct vol_caller *caller,
                       const struct vol_create_request *req, struct vol_volume **ret,
                       bool *ret_created, struct vol_error *err)
{
        uint64_t start = vol_now_us();
        s->last_write_us = start;
        int r = create_checked(s, caller, req, ret, ret_created, err);
        vol_metrics_record(&s->metrics, VOL_OP_CREATE, start, r);
        return r;
}

int vol_service_get(struct vol_service *s, const struct vol_caller *caller, const char *name,
                    bool with_usage, struct vol_volume **ret, struct vol_volume_info *ret_info,
                    struct vol_error *err)
{
        uint64_t start = vol_now_us();
        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
        int r = vol_validate_name(name, err);
        if (r == 0)
                r = get_visible(s, caller, name, &v, err);
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

/* The filter a tenant's listing runs with: its own tenant pushed down to the
 * store. Returns 1 with *ret filled (caller frees), 0 when f applies as it is
 * (not a tenant; *ret empty), -1 when f asks for another tenant. */
static int tenant_filter(const struct vol_caller *caller, const struct vol_filter *f,
                         struct vol_filter *ret)
{
        vol_filter_init(ret);
        if (caller->face != VOL_FACE_TENANT)
                return 0;
        if (f && f->tenant && strcmp(f->tenant, caller->tenant))
                return -1;
        if (f)
                vol_filter_copy(ret, f);
        free(ret->tenant);
        ret->tenant = xstrdup(caller->tenant);
        return 1;
}

/* The size limit v's driver enforces, into info. */
static void add_limit(const struct vol_driver *d, const struct vol_volume *v, struct vol_volume_info *info)
{
        uint64_t limit;
        const char *size = vol_kvs_get(&v->options, "size");
        if (d && (d->ops->caps & VOL_CAP_SIZE_LIMIT) && size && vol_parse_size("size", size, &limit, NULL) == 0) {
                info->has_limit = true;
                info->limit_bytes = limit;
        }
}

struct view_ctx {
        struct vol_service *s;
        const struct vol_caller *caller;
        bool with_usage;
        vol_service_volume_cb cb;
        void *userdata;
};

/* The view of a volume another cluster node holds: what its driver is, and
 * whether its node is up; the bytes are not here to look at. */
static void remote_info(struct vol_service *s, const struct vol_driver *d, const struct vol_volume *v,
                        struct vol_volume_info *info, char state[16])
{
        info->persistent = !d || !(d->ops->caps & VOL_CAP_EPHEMERAL);
        vol_cluster_node_state(s, v->node, state);
        info->node_state = state;
        if (strcmp(state, "down") == 0)
                info->status = "unavailable";
}

/* The driver's view of v, here or (cluster mode) on v's node. */
static void volume_info(struct vol_service *s, struct vol_driver *d, const struct vol_volume *v, bool with_usage,
                        struct vol_volume_info *info, char state[16])
{
        if (!vol_cluster_is_local(s, v->node)) {
                remote_info(s, d, v, info, state);
                return;
        }
        if (d)
                d->ops->info(d, v, with_usage, info, NULL);
        if (vol_service_node(s)) {
                vol_cluster_node_state(s, vol_service_node(s), state);
                info->node_state = state;
        }
}

static int view_one(const struct vol_volume *v, void *userdata)
{
        struct view_ctx *c = userdata;
        if (!vol_auth_may_see(c->caller, v))
                return -ENOENT;
        struct vol_volume_info info = {.persistent = true};
        struct vol_driver *d = vol_drivers_find(&c->s->drivers, v->driver);
        char state[16];
        volume_info(c->s, d, v, c->with_usage, &info, state);
        /* inspect shows the snapshots: one more read, on the same reader */
        struct vol_snapshot *snaps = NULL;
        if (d && (d->ops->caps & VOL_CAP_SNAPSHOT) &&
            vol_snapshots_of(c->s, v->id, &snaps, &info.n_snapshots, NULL) == 0 && info.n_snapshots) {
                info.has_snapshots = true;
                info.snapshots = snaps;
        }
        add_limit(d, v, &info); /* and the size limit its driver enforces */
        int r = c->cb(v, &info, c->userdata);
        free(snaps);
        return r;
}

int vol_service_view(struct vol_service *s, const struct vol_caller *caller, const char *name,
                     bool with_usage, vol_service_volume_cb cb, void *userdata, struct vol_error *err)
{
        uint64_t start = vol_now_us();
        struct view_ctx c = {s, caller, with_usage, cb, userdata};
        int r = vol_validate_name(name, err);
        if (r == 0) {
                r = vol_store_view(s->store, name, view_one, &c, err);
                if (r == -ENOENT && !err->msg)
                        vol_error_set(err, r, "volume %s not found", name);
        }
        vol_metrics_record(&s->metrics, VOL_OP_INSPECT, start, r);
        return r;
}

struct list_ctx {
        struct vol_service *s;
        const struct vol_caller *caller;
        vol_service_volume_cb cb;
        void *userdata;
        size_t limit; /* 0: all */
        size_t seen;
        char *last; /* name of the page's last volume, once passed on */
        bool more;
        bool with_usage; /* each volume's usage and size limit too */
};

static int list_one(const struct vol_volume *v, void *userdata)
{
        struct list_ctx *c = userdata;
        if (!vol_auth_may_see(c->caller, v))
                return 0;
        if (c->limit && c->seen == c->limit) {
                c->more = true;
                return 1;
        }
        struct vol_volume_info info = {.persistent = true};
        struct vol_driver *d = vol_drivers_find(&c->s->drivers, v->driver);
        char state[16];
        volume_info(c->s, d, v, c->with_usage, &info, state);
        if (c->with_usage)
                add_limit(d, v, &info);
        int r = c->cb(v, &info, c->userdata);
        if (r < 0)
                return r;
        if (++c->seen == c->limit) /* the page's last: its name is the next page's `after` */
                c->last = xstrdup(v->name);
        return 0;
}

static int list_volumes(struct vol_service *s, const struct vol_caller *caller, const struct vol_filter *f,
                        const char *after, size_t limit, bool with_usage, vol_service_volume_cb cb, void *userdata,
                        char **ret_next, struct vol_error *err);

int vol_service_list(struct vol_service *s, const struct vol_caller *caller,
                     const struct vol_filter *f, const char *after, size_t limit,
                     vol_service_volume_cb cb, void *userdata, char **ret_next, struct vol_error *err)
{
        return list_volumes(s, caller, f, after, limit, false, cb, userdata, ret_next, err);
}

int vol_service_list_usage(struct vol_service *s, const struct vol_caller *caller, const struct vol_filter *f,
                           const char *after, size_t limit, vol_service_volume_cb cb, void *userdata,
                           char **ret_next, struct vol_error *err)
{
        return list_volumes(s, caller, f, after, limit, true, cb, userdata, ret_next, err);
}

static int list_volumes(struct vol_service *s, const struct vol_caller *caller, const struct vol_filter *f,
                        const char *after, size_t limit, bool with_usage, vol_service_volume_cb cb, void *userdata,
                        char **ret_next, struct vol_error *err)
{
        uint64_t start = vol_now_us();
        struct list_ctx c = {.s = s, .caller = caller, .cb = cb, .userdata = userdata, .limit = limit,
                             .with_usage = with_usage};
        struct vol_filter tf;
        int r = tenant_filter(caller, f, &tf);
        if (r > 0)
                r = vol_store_list(s->store, &tf, after, limit ? limit + 1 : 0, list_one, &c, err);
        else if (r == 0)
                r = vol_store_list(s->store, f, after, limit ? limit + 1 : 0, list_one, &c, err);
        else
                r = 0; /* a tenant asking for another tenant's volumes: none */
        vol_filter_free(&tf);
        if (r >= 0) {
                if (ret_next)
                        *ret_next = c.more ? TAKE_PTR(c.last) : NULL;
                r = (int)c.seen;
        }
        free(c.last);
        vol_metrics_record(&s->metrics, VOL_OP_LIST, start, r);
        return r;
}

bool vol_service_list_json_ok(const struct vol_service *s, const struct vol_filter *f)
{
        if (vol_service_node(s))
                return false;
        return !f || (!f->name && !f->n_labels && f->dangling < 0);
}

struct json_ctx {
        struct vol_service *s;
        vol_service_json_cb cb;
        void *userdata;
        size_t limit, seen;
        char *last;
        bool more;
        const char *info_driver; /* the driver the cached info is of */
        struct vol_volume_info info;
};

static int json_one(const char *name, const char *driver, const char *json, size_t len, void *userdata)
{
        struct json_ctx *c = userdata;
        if (c->limit && c->seen == c->limit) {
                c->more = true;
                return 1;
        }
        if (!c->info_driver || strcmp(c->info_driver, driver)) {
                /* The view without usage depends on the driver alone. */
                struct vol_driver *d = vol_drivers_find(&c->s->drivers, driver);
                struct vol_volume stub = {.name = (char *)name, .driver = (char *)driver};
                memset(&c->info, 0, sizeof(c->info));
                c->info.persistent = true;
                if (d) {
                        d->ops->info(d, &stub, false, &c->info, NULL);
                        c->info_driver = d->ops->name;
                } else {
                        c->info_driver = NULL;
                }
        }
        int r = c->cb(json, len, &c->info, c->userdata);
        if (r < 0)
                return r;
        if (++c->seen == c->limit) /* the page's last: its name is the next page's `after` */
                c->last = xstrdup(name);
        return 0;
}

int vol_service_list_json(struct vol_service *s, const struct vol_caller *caller,
                          const struct vol_filter *f, const char *after, size_t limit,
                          vol_service_json_cb cb, void *userdata, char **ret_next,
                          struct vol_error *err)
{
        uint64_t start = vol_now_us();
        struct json_ctx c = {.s = s, .cb = cb, .userdata = userdata, .limit = limit};
        struct vol_filter tf;
        int r = tenant_filter(caller, f, &tf);
        if (r > 0)
                r = vol_store_list_json(s->store, &tf, after, limit ? limit + 1 : 0, json_one, &c, err);
        else if (r == 0)
                r = vol_store_list_json(s->store, f, after, limit ? limit + 1 : 0, json_one, &c, err);
        else
                r = 0;
        vol_filter_free(&tf);
        if (r >= 0) {
                if (ret_next)
                        *ret_next = c.more ? TAKE_PTR(c.last) : NULL;
                r = (int)c.seen;
        }
        free(c.last);
        vol_metrics_record(&s->metrics, VOL_OP_LIST, start, r);
        return r;
}

/* The obstacle to removing v, if any, with a message; 0 when it can go. */
static int removable(struct vol_service *s, const struct vol_volume *v, struct vol_driver **ret_d,
                     struct vol_error *err)
{
        if (v->n_mounts > 0) {
                char since[32];
                vol_format_time(v->mounts[0].since, since);
                const char *owner = v->mounts[0].owner && *v->mounts[0].owner ? v->mounts[0].owner : "unknown";
                return vol_error_set(err, -EBUSY,
                                     "volume %s is in use: %zu mount reference%s (first: %s by %s, since %s); "
                                     "stop the containers using it first",
                                     v->name, v->n_mounts, v->n_mounts == 1 ? "" : "s", v->mounts[0].id,
                                     owner, since);
        }
        if (v->status == VOL_STATUS_CREATING)
                return vol_error_set(err, -EBUSY, "volume %s is being created", v->name);
        if (!vol_cluster_is_local(s, v->node))
                return vol_error_set(err, -EREMOTE, "volume %s lives on node %s; this is node %s", v->name,
                                     v->node, vol_service_node(s));
        int r = vol_cluster_fence(s, err);
        if (r < 0)
                return r;
        struct vol_driver *d = vol_drivers_find(&s->drivers, v->driver);
        if (!d)
                return vol_error_set(err, -EIO, "volume %s uses driver %s, which this volmand lacks",
                                     v->name, v->driver);
        if ((r = d->ops->check_remove(d, v, err)) < 0)
                return r;
        *ret_d = d;
        return 0;
}

/* Retires v: its record goes and a tombstone for its storage comes, in one
 * durable write; the reaper destroys the storage. The name lock is held. */
static int remove_locked(struct vol_service *s, const struct vol_caller *caller, const char *name,
                         bool only_if_unused_ready, struct vol_error *err)
{
        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
        int r = get_visible(s, caller, name, &v, err);
        if (r < 0)
                return r;
        if (only_if_unused_ready && (v->status != VOL_STATUS_READY || v->n_mounts))
                return vol_error_set(err, -EAGAIN, "volume %s changed since it was listed", name);
        struct vol_driver *d = NULL;
        if ((r = removable(s, v, &d, err)) < 0)
                return r;
        vol_failpoint("remove-before-commit");
        if ((r = vol_store_retire(s->store, v, v->revision, VOL_SYNC_FULL, err)) < 0)
                return r;
        vol_failpoint("remove-after-commit");
        vol_cluster_count(s, -1);
        vol_volume_event(s, caller, only_if_unused_ready ? "prune" : "remove", v, NULL, NULL);
        vol_reaper_add_volume(s->reaper, v);
        return 0;
}

int vol_service_remove(struct vol_service *s, const struct vol_caller *caller, const char *name,
                       struct vol_error *err)
{
        uint64_t start = vol_now_us();
        s->last_write_us = start;
        int r = vol_validate_name(name, err);
        if (r == 0) {
                pthread_mutex_t *lock = vol_name_lock(&s->locks, name);
                r = remove_locked(s, caller, name, false, err);
                vol_name_unlock(lock);
        }
        vol_metrics_record(&s->metrics, VOL_OP_REMOVE, start, r);
        _cleanup_free_ char *what = xasprintf("remove volume %s", name);
        vol_service_audit(caller, what, r, err);
        return r;
}

struct candidate {
        char *name;
        char *app_key; /* tenant/env/app of a scoped volume, or NULL */
};

struct candidates {
        struct vol_service *s;
        size_t n, cap;
        struct candidate *items;
};

static int collect_unused(const struct vol_volume *v, void *userdata)
{
        struct candidates *cs = userdata;
        if (v->n_mounts > 0 || v->status != VOL_STATUS_READY || !vol_cluster_is_local(cs->s, v->node))
                return 0; /* in a cluster, each node prunes its own */
        if (cs->n == cs->cap) {
                cs->cap = cs->cap ? cs->cap * 2 : 64;
                cs->items = xrealloc(cs->items, cs->cap * sizeof(*cs->items));
        }
        cs->items[cs->n++] = (struct candidate){
                xstrdup(v->name),
                v->scope ? xasprintf("%s/%s/%s", v->scope->tenant, v->scope->env, v->scope->app) : NULL,
        };
        return 0;
}

/* 1 if the app keyed tenant/env/app has an app-layer config or a deploy
 * record, 0 if neither, < 0 on error. */
static int app_exists(struct vol_service *s, const char *app_key, struct vol_error *err)
{
        _cleanup_free_ char *ckey = xasprintf("app/%s", app_key);
        _cleanup_free_ char *json = NULL;
        int r = vol_store_get_doc(s->store, "config", ckey, &json, NULL, err);
        if (r == 0)
                return 1;
        if (r != -ENOENT)
                return r;
        vol_error_clear(err);
        r = vol_store_get_doc(s->store, "app", app_key, &json, NULL, err);
        if (r == 0)
                return 1;
        if (r != -ENOENT)
                return r;
        vol_error_clear(err);
        return 0;
}

/* Prunes one candidate. Returns 1 removed, 0 kept (cb told why), < 0 failed. */
static int prune_one(struct vol_service *s, const struct vol_caller *caller, struct candidate *c,
                     bool dry_run, vol_service_prune_cb cb, void *userdata, struct vol_error *err)
{
        /* The app's lock: a deploy cannot start (or finish) between the check
         * that the app is gone and the removal. */
        pthread_mutex_t *app_lock = c->app_key ? vol_name_lock(&s->app_locks, c->app_key) : NULL;
        int r = c->app_key ? app_exists(s, c->app_key, err) : 0;
        if (r > 0) {
                _cleanup_free_ char *why = xasprintf("belongs to app %s, whose config or deploy exists "
                                                     "(delete the app to remove its volumes)",
                                                     c->app_key);
                cb(c->name, why, userdata);
                r = 0;
        } else if (r == 0 && dry_run) {
                cb(c->name, NULL, userdata);
                r = 1;
        } else if (r == 0) {
                struct vol_error one = VOL_ERROR_INIT;
                pthread_mutex_t *lock = vol_name_lock(&s->locks, c->name);
                int rr = remove_locked(s, caller, c->name, true, &one);
                vol_name_unlock(lock);
                if (rr == 0) {
                        /* each removed volume by name, as a remove is */
                        _cleanup_free_ char *what = xasprintf("remove volume %s (prune)", c->name);
                        vol_service_audit(caller, what, 0, NULL);
                        cb(c->name, NULL, userdata);
                        r = 1;
                } else if (rr == -EBUSY || rr == -ENOENT || rr == -EAGAIN) {
                        /* mounted or gone since the listing: kept, and said why */
                        cb(c->name, vol_error_message(&one), userdata);
                        r = 0;
                } else {
                        r = vol_error_set(err, rr, "%s", vol_error_message(&one));
                }
                vol_error_clear(&one);
        }
        vol_name_unlock(app_lock);
        return r;
}

int vol_service_prune(struct vol_service *s, const struct vol_caller *caller,
                      const struct vol_filter *f, bool dry_run, vol_service_prune_cb cb,
                      void *userdata, struct vol_error *err)
{
        uint64_t start = vol_now_us();
        struct candidates cs = {.s = s};
        struct vol_filter tf;
        int r = tenant_filter(caller, f, &tf);
        if (r > 0)
                r = vol_store_list(s->store, &tf, NULL, 0, collect_unused, &cs, err);
        else if (r == 0)
                r = vol_store_list(s->store, f, NULL, 0, collect_unused, &cs, err);
        else
                r = 0;
        vol_filter_free(&tf);
        int removed = 0;
        for (size_t i = 0; r >= 0 && i < cs.n; i++) {
                int one = prune_one(s, caller, &cs.items[i], dry_run, cb, userdata, err);
                if (one < 0)
                        r = one;
                else
                        removed += one;
        }
        for (size_t i = 0; i < cs.n; i++) {
                free(cs.items[i].name);
                free(cs.items[i].app_key);
        }
        free(cs.items);
        vol_metrics_record(&s->metrics, VOL_OP_PRUNE, start, r);
        if (!dry_run) {
                _cleanup_free_ char *what = xasprintf("prune (%d removed)", removed);
                vol_service_audit(caller, what, r, err);
        }
        return r < 0 ? r : removed;
}

/* The driver of v, when a caller that must not wait may mount with it. */
static bool mounts_cheaply(struct vol_service *s, const struct vol_volume *v)
{
        struct vol_driver *d = vol_drivers_find(&s->drivers, v->driver);
        return d && (d->ops->caps & VOL_CAP_MOUNT_CHEAP);
}

static int mount_locked(struct vol_service *s, const struct vol_caller *caller, const char *name,
                        const char *ref_id, bool now, char **ret_mountpoint, struct vol_error *err)
{
        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
        int r = get_visible(s, caller, name, &v, err);
        if (r < 0)
                return r;
        if (now && !mounts_cheaply(s, v))
                return -EWOULDBLOCK;
        if (v->status != VOL_STATUS_READY)
                return vol_error_set(err, -EBUSY, "volume %s is being %s", name,
                                     v->status == VOL_STATUS_CREATING ? "created" : "removed");
        /* Hard node affinity: the bytes are on one node's disk alone. */
        if (!vol_cluster_is_local(s, v->node))
                return vol_error_set(err, -EREMOTE, "volume %s lives on node %s, not on this node (%s): run the "
                                     "container on %s, or move the volume (volman volume move %s --to %s)",
                                     name, v->node, vol_service_node(s), v->node, name, vol_service_node(s));
        if ((r = vol_cluster_fence(s, err)) < 0 || (r = vol_move_check_mark(s, v, err)) < 0)
                return r;
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
        char owner[VOL_OWNER_MAX];
        vol_caller_owner(caller, owner);
        if (vol_volume_find_mount(v, owner, ref_id) < 0) {
                if ((r = vol_volume_add_mount(v, owner, ref_id, (int64_t)time(NULL), s->boot_id, err)) < 0)
                        return r;
                /* Ordered, not synced: a reference must outlive a crash of
                 * volmand, not a power loss (no container survives one, and
                 * references of an earlier boot are dropped at start-up).
                 * `now`: made at once or deferred, never waited for. */
                if ((r = vol_store_put(s->store, v, v->revision, now ? VOL_SYNC_NOWAIT : VOL_SYNC_ORDERED,
                                       err)) < 0)
                        return r;
                vol_failpoint("mount-after-commit");
                vol_volume_event(s, caller, "mount", v, "id", ref_id);
        }
        *ret_mountpoint = xstrdup(v->mountpoint);
        return 0;
}

/* The name's lock, or NULL when `now` and another thread holds it. */
static pthread_mutex_t *lock_name(struct vol_service *s, const char *name, bool now)
{
        return now ? vol_name_trylock(&s->locks, name) : vol_name_lock(&s->locks, name);
}

int vol_service_mount(struct vol_service *s, const struct vol_caller *caller, const char *name,
                      const char *ref_id, bool now, char **ret_mountpoint, struct vol_error *err)
{
        if (now && vol_service_node(s))
                return -EWOULDBLOCK; /* every read is a network call */
        uint64_t start = vol_now_us();
        int r = vol_validate_name(name, err);
        if (r == 0)
                r = vol_validate_mount_id(ref_id, err);
        if (r == 0) {
                pthread_mutex_t *lock = lock_name(s, name, now);
                if (!lock)
                        return -EWOULDBLOCK;
                r = mount_locked(s, caller, name, ref_id, now, ret_mountpoint, err);
                vol_name_unlock(lock);
                if (now && r == -EWOULDBLOCK)
                        return r;
        }
        s->last_write_us = start;
        vol_metrics_record(&s->metrics, VOL_OP_MOUNT, start, r);
        return r;
}

static int unmount_locked(struct vol_service *s, const struct vol_caller *caller, const char *name,
                          const char *ref_id, bool now, struct vol_error *err)
{
        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
        int r = get_visible(s, caller, name, &v, err);
        if (r < 0)
                return r;
        if (now && !mounts_cheaply(s, v))
                return -EWOULDBLOCK;
        if ((r = vol_cluster_fence(s, err)) < 0)
                return r;
        char owner[VOL_OWNER_MAX];
        vol_caller_owner(caller, owner);
        long i = vol_volume_find_mount(v, owner, ref_id);
        if (i < 0) {
                for (size_t k = 0; k < v->n_mounts; k++)
                        if (!strcmp(v->mounts[k].id, ref_id))
                                return vol_error_set(err, -EPERM,
                                                     "mount reference %s of volume %s was made by %s; only "
                                                     "that face can drop it",
                                                     ref_id, name, v->mounts[k].owner);
                return 0; /* unknown reference: nothing to do, and no failure */
        }
        vol_volume_remove_mount_at(v, (size_t)i);
        if ((r = vol_store_put(s->store, v, v->revision, now ? VOL_SYNC_NOWAIT : VOL_SYNC_ORDERED, err)) < 0)
                return r;
        vol_failpoint("unmount-after-commit");
        vol_volume_event(s, caller, "unmount", v, "id", ref_id);
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

int vol_service_unmount(struct vol_service *s, const struct vol_caller *caller, const char *name,
                        const char *ref_id, bool now, struct vol_error *err)
{
        if (now && vol_service_node(s))
                return -EWOULDBLOCK;
        uint64_t start = vol_now_us();
        int r = vol_validate_name(name, err);
        if (r == 0)
                r = vol_validate_mount_id(ref_id, err);
        if (r == 0) {
                pthread_mutex_t *lock = lock_name(s, name, now);
                if (!lock)
                        return -EWOULDBLOCK;
                r = unmount_locked(s, caller, name, ref_id, now, err);
                vol_name_unlock(lock);
                if (now && r == -EWOULDBLOCK)
                        return r;
        }
        s->last_write_us = start;
        vol_metrics_record(&s->metrics, VOL_OP_UNMOUNT, start, r);
        return r;
}
