/* Tenant apps: deploy, delete, list, and one app's whole state. The config
 * layers and their merge are in service/app_config.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apps.h"
#include "core/cleanup.h"
#include "core/names.h"
#include "core/size.h"
#include "core/strbuf.h"
#include "core/xmalloc.h"
#include "internal.h"


/* ---- deploy ---- */

struct found_containers {
        size_t n, cap;
        char **ids;
        unsigned long max_generation;
};

static pthread_mutex_t *lock_app(struct vol_service *s, const struct vol_app_ref *ref)
{
        _cleanup_free_ char *key = vol_app_state_key(ref);
        return vol_name_lock(&s->app_locks, key);
}

static void found_container(const char *id, const char *name, const char *state,
                            const char *generation, void *userdata)
{
        struct found_containers *f = userdata;
        if (f->n == f->cap) {
                f->cap = f->cap ? f->cap * 2 : 4;
                f->ids = xrealloc(f->ids, f->cap * sizeof(char *));
        }
        f->ids[f->n++] = xstrdup(id);
        unsigned long g = strtoul(generation, NULL, 10);
        if (g > f->max_generation)
                f->max_generation = g;
}

static void found_free(struct found_containers *f)
{
        for (size_t i = 0; i < f->n; i++)
                free(f->ids[i]);
        free(f->ids);
        memset(f, 0, sizeof(*f));
}

void vol_app_labels(const struct vol_app_ref *ref, struct vol_kvs *labels)
{
        vol_kvs_set(labels, LABEL_TENANT, ref->tenant);
        vol_kvs_set(labels, LABEL_ENV, ref->env);
        vol_kvs_set(labels, LABEL_APP, ref->app);
}

static int find_containers(struct vol_service *s, const struct vol_app_ref *ref,
                           struct found_containers *ret, struct vol_error *err)
{
        struct vol_kvs match = VOL_KVS_INIT;
        vol_app_labels(ref, &match);
        int r = vol_engine_container_list(s->engine, &match, found_container, ret, err);
        vol_kvs_free(&match);
        return r;
}

static int remove_containers(struct vol_service *s, struct found_containers *f, size_t *ret_n,
                             struct vol_error *err)
{
        for (size_t i = 0; i < f->n; i++) {
                int r = vol_engine_container_remove(s->engine, f->ids[i], err);
                if (r == -ENOENT) {
                        vol_error_clear(err);
                        continue;
                }
                if (r < 0)
                        return r;
                if (ret_n)
                        (*ret_n)++;
        }
        return 0;
}

/* The size a volume's options set, as text for messages ("no size"). */
static const char *size_text(const struct vol_kvs *options)
{
        const char *s = vol_kvs_get(options, "size");
        return s ? s : "no size";
}

/* A deploy uses a volume only if it is exactly what the config asks for:
 * this app's scope, the driver and the size. Whatever holds the name
 * otherwise (a volume made before the config changed, or anything else) is
 * refused, never used and never changed: converting it would lose its data. */
static int check_volume(struct vol_service *s, const struct vol_app_ref *ref,
                        const struct vol_app_config *cfg, const char *path, const char *name,
                        struct vol_error *err)
{
        struct vol_volume *v = NULL;
        int r = vol_service_get(s, &vol_caller_system, name, false, &v, NULL, err);
        if (r < 0)
                return vol_error_wrap(err, "volume for %s: ", path);
        struct vol_scope want = {(char *)ref->tenant, (char *)ref->env, (char *)ref->app, (char *)path};
        uint64_t have_size = 0, want_size = 0;
        const char *hs = vol_kvs_get(&v->options, "size");
        if (hs)
                vol_parse_size("size", hs, &have_size, NULL);
        if (cfg->volume_size)
                vol_parse_size("volumeSize", cfg->volume_size, &want_size, NULL);
        bool other_options = false;
        for (size_t i = 0; i < v->options.n; i++)
                if (strcmp(v->options.items[i].key, "size"))
                        other_options = true;
        if (!vol_scope_equal(v->scope, &want))
                r = vol_error_set(err, -EEXIST,
                                  "volume %s for %s exists but is not this app's volume (its scope is %s%s%s); "
                                  "volmand will not use it",
                                  name, path, v->scope ? v->scope->tenant : "none", v->scope ? "/" : "",
                                  v->scope ? v->scope->app : "");
        else if (strcmp(v->driver, cfg->volume_driver) || have_size != want_size || other_options)
                r = vol_error_set(err, -EEXIST,
                                  "volume %s for %s was made with driver %s and %s, but the config now asks "
                                  "for driver %s and %s; volmand does not convert a volume in place (its data "
                                  "would be lost): restore the config, or remove the volume (volman volume rm "
                                  "%s) to have it made anew",
                                  name, path, v->driver, size_text(&v->options), cfg->volume_driver,
                                  cfg->volume_size ? cfg->volume_size : "no size", name);
        vol_volume_free(v);
        return r;
}

/* The volume in volman and in the engine, with the options the plugin maps
 * back to this exact scope (so the create is idempotent). */
static int ensure_volume(struct vol_service *s, const struct vol_app_ref *ref,
                         const struct vol_app_config *cfg, const char *path, const char *name,
                         struct vol_error *err)
{
        struct vol_kvs opts = VOL_KVS_INIT;
        vol_kvs_set(&opts, "driver", cfg->volume_driver);
        vol_kvs_set(&opts, "tenant", ref->tenant);
        vol_kvs_set(&opts, "env", ref->env);
        vol_kvs_set(&opts, "app", ref->app);
        vol_kvs_set(&opts, "path", path);
        if (cfg->volume_size)
                vol_kvs_set(&opts, "size", cfg->volume_size);
        int r = vol_engine_volume_ensure(s->engine, name, s->engine_driver, &opts, err);
        vol_kvs_free(&opts);
        if (r < 0)
                return vol_error_wrap(err, "volume for %s: ", path);
        return check_volume(s, ref, cfg, path, name, err);
}

static int save_state(struct vol_service *s, const struct vol_app_ref *ref,
                      const struct vol_deploy_request *req, const struct vol_deploy_result *res,
                      struct vol_error *err)
{
        json_auto_t *st = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:I, s:s}", "tenant", ref->tenant,
                                    "env", ref->env, "app", ref->app, "generation",
                                    (json_int_t)res->generation, "container", res->container_id,
                                    "container_name", res->container_name, "image", req->image,
                                    "deployed_at", (json_int_t)time(NULL), "strategy",
                                    req->blue_green ? "blue-green" : "recreate");
        _cleanup_free_ char *text = json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS);
        _cleanup_free_ char *key = vol_app_state_key(ref);
        return vol_store_put_doc(s->store, DOC_APP, key, text, VOL_REV_ANY, VOL_SYNC_FULL, NULL, err);
}

void vol_deploy_result_free(struct vol_deploy_result *r)
{
        free(r->container_id);
        free(r->container_name);
        vol_app_resolved_free(&r->resolved);
        memset(r, 0, sizeof(*r));
}

static int check_deploy_request(const struct vol_deploy_request *req, struct vol_error *err)
{
        if (!req->image || !*req->image)
                return vol_error_set(err, -EINVAL, "a deploy needs an image");
        if (strlen(req->image) > VOL_APP_IMAGE_MAX)
                return vol_error_set(err, -EINVAL, "image is longer than %d bytes", VOL_APP_IMAGE_MAX);
        for (const char *p = req->image; *p; p++)
                if ((unsigned char)*p <= 0x20 || *p == 0x7f)
                        return vol_error_set(err, -EINVAL, "image has a space or a control character");
        if (req->n_cmd > VOL_APP_CMD_MAX)
                return vol_error_set(err, -E2BIG, "the command has %zu arguments; the most is %d",
                                     req->n_cmd, VOL_APP_CMD_MAX);
        for (size_t i = 0; i < req->n_cmd; i++)
                if (strlen(req->cmd[i]) > 4096)
                        return vol_error_set(err, -EINVAL, "command argument %zu is longer than 4096 bytes", i);
        return 0;
}

static int deploy_locked(struct vol_service *s, const struct vol_caller *caller,
                         const struct vol_app_ref *ref, const struct vol_deploy_request *req,
                         struct vol_deploy_result *res, struct vol_error *err)
{
        int r = vol_apps_resolve(s, caller, ref, &res->resolved, err);
        if (r < 0)
                return r;
        const struct vol_app_config *cfg = &res->resolved.config;
        for (size_t i = 0; i < cfg->n_paths; i++)
                if ((r = ensure_volume(s, ref, cfg, cfg->paths[i], res->resolved.volume_names[i], err)) < 0)
                        return r;

        struct found_containers old = {0};
        if ((r = find_containers(s, ref, &old, err)) < 0)
                return r;
        _cleanup_free_ char *state_text = NULL;
        _cleanup_free_ char *skey = vol_app_state_key(ref);
        if (vol_store_get_doc(s->store, DOC_APP, skey, &state_text, NULL, NULL) == 0) {
                json_auto_t *st = json_loads(state_text, 0, NULL);
                json_t *g = json_object_get(st, "generation");
                if (json_is_integer(g) && (unsigned long)json_integer_value(g) > old.max_generation)
                        old.max_generation = (unsigned long)json_integer_value(g);
        }
        res->generation = old.max_generation + 1;
        if ((r = vol_app_container_name(s->prefix, ref->tenant, ref->env, ref->app, res->generation,
                                        &res->container_name, err)) < 0)
                goto out;
        if (!req->blue_green && (r = remove_containers(s, &old, &res->replaced, err)) < 0)
                goto out;

        struct vol_engine_mount *mounts = xcalloc(cfg->n_paths ? cfg->n_paths : 1, sizeof(*mounts));
        for (size_t i = 0; i < cfg->n_paths; i++)
                mounts[i] = (struct vol_engine_mount){.volume = res->resolved.volume_names[i], .target = cfg->paths[i]};
        struct vol_kvs labels = VOL_KVS_INIT;
        vol_app_labels(ref, &labels);
        char gen[32];
        snprintf(gen, sizeof(gen), "%lu", res->generation);
        vol_kvs_set(&labels, LABEL_GENERATION, gen);
        vol_kvs_set(&labels, LABEL_MANAGED, "volmand");
        uint64_t tmp_bytes = 0, memory_bytes = 0;
        vol_parse_size("tmpSize", cfg->tmp_size, &tmp_bytes, NULL);
        vol_parse_size("memory", cfg->memory, &memory_bytes, NULL);
        struct vol_container_spec spec = {
                .name = res->container_name,
                .image = req->image,
                .cmd = req->cmd,
                .n_cmd = req->n_cmd,
                .labels = &labels,
                .read_only_rootfs = cfg->read_only_rootfs,
                .tmp_bytes = tmp_bytes,
                .network_mode = cfg->network_mode,
                .mounts = mounts,
                .n_mounts = cfg->n_paths,
                .cap_add = (const char *const *)cfg->caps,
                .n_cap_add = cfg->n_caps,
                .pids_limit = cfg->pids_limit,
                .memory_bytes = memory_bytes,
        };
        r = vol_engine_container_create(s->engine, &spec, &res->container_id, err);
        free(mounts);
        vol_kvs_free(&labels);
        if (r < 0)
                goto out;
        if ((r = vol_engine_container_start(s->engine, res->container_id, err)) < 0) {
                struct vol_error ignored = VOL_ERROR_INIT;
                vol_engine_container_remove(s->engine, res->container_id, &ignored);
                vol_error_clear(&ignored);
                goto out;
        }
        /* blue-green: the new one runs; now the old ones go */
        if (req->blue_green && (r = remove_containers(s, &old, &res->replaced, err)) < 0)
                goto out;
        r = save_state(s, ref, req, res, err);
out:
        found_free(&old);
        return r;
}

int vol_apps_deploy(struct vol_service *s, const struct vol_caller *caller, const struct vol_app_ref *ref,
                    const struct vol_deploy_request *req, struct vol_deploy_result *ret,
                    struct vol_error *err)
{
        int r = vol_app_check_ref(VOL_LAYER_APP, ref, err);
        if (r < 0 || (r = vol_app_may_touch(caller, VOL_LAYER_APP, ref, true, err)) < 0 ||
            (r = check_deploy_request(req, err)) < 0)
                return r;
        if (!s->engine)
                return vol_error_set(err, -ENOTSUP,
                                     "volmand was started without --engine; deploys need a container "
                                     "engine (dockerd or Podman's service)");
        struct vol_deploy_result res;
        memset(&res, 0, sizeof(res));
        uint64_t start = vol_now_us();
        pthread_mutex_t *lock = lock_app(s, ref);
        r = deploy_locked(s, caller, ref, req, &res, err);
        vol_name_unlock(lock);
        if (r == 0) {
                struct vol_event e;
                memset(&e, 0, sizeof(e));
                snprintf(e.type, sizeof(e.type), "app");
                snprintf(e.action, sizeof(e.action), "deploy");
                snprintf(e.name, sizeof(e.name), "%s/%s/%s", ref->tenant, ref->env, ref->app);
                snprintf(e.tenant, sizeof(e.tenant), "%s", ref->tenant);
                char gen[32];
                snprintf(gen, sizeof(gen), "%lu", res.generation);
                vol_event_attr(&e, "generation", gen);
                vol_event_attr(&e, "image", req->image);
                vol_event_attr(&e, "container", res.container_name);
                vol_event_emit(s, caller, &e);
        }
        vol_metrics_record(&s->metrics, VOL_OP_DEPLOY, start, r);
        _cleanup_free_ char *what = xasprintf("deploy app %s/%s/%s (image %s)", ref->tenant, ref->env,
                                              ref->app, req->image);
        if (r < 0) {
                vol_deploy_result_free(&res);
                vol_error_wrap(err, "deploying %s/%s/%s: ", ref->tenant, ref->env, ref->app);
                vol_service_audit(caller, what, r, err);
                return r;
        }
        vol_service_audit(caller, what, 0, NULL);
        *ret = res;
        return 0;
}

/* ---- delete ---- */

struct name_list {
        size_t n, cap;
        char **names;
};

static int collect_name(const struct vol_volume *v, const struct vol_volume_info *info, void *userdata)
{
        struct name_list *l = userdata;
        if (l->n == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 8;
                l->names = xrealloc(l->names, l->cap * sizeof(char *));
        }
        l->names[l->n++] = xstrdup(v->name);
        return 0;
}

static int delete_locked(struct vol_service *s, const struct vol_caller *caller,
                         const struct vol_app_ref *ref, struct vol_app_delete_result *res,
                         struct vol_error *err)
{
        int r;
        if (s->engine) {
                struct found_containers found = {0};
                r = find_containers(s, ref, &found, err);
                if (r >= 0)
                        r = remove_containers(s, &found, &res->containers, err);
                found_free(&found);
                if (r < 0)
                        return r;
        }
        /* The app's volumes: exactly those scoped to its tenant, env and app. */
        struct vol_filter f;
        vol_filter_init(&f);
        f.tenant = xstrdup(ref->tenant);
        f.env = xstrdup(ref->env);
        f.app = xstrdup(ref->app);
        struct name_list names = {0};
        r = vol_service_list(s, caller, &f, NULL, 0, collect_name, &names, NULL, err);
        vol_filter_free(&f);
        for (size_t i = 0; r >= 0 && i < names.n; i++) {
                if (s->engine) {
                        /* through the engine, so that its volume list forgets it too */
                        int e = vol_engine_volume_remove(s->engine, names.names[i], err);
                        if (e < 0 && e != -ENOENT) {
                                r = vol_error_wrap(err, "volume %s: ", names.names[i]);
                                break;
                        }
                        vol_error_clear(err);
                }
                int e = vol_service_remove(s, caller, names.names[i], err);
                if (e < 0 && e != -ENOENT) {
                        r = e;
                        break;
                }
                vol_error_clear(err);
                res->volumes++;
        }
        for (size_t i = 0; i < names.n; i++)
                free(names.names[i]);
        free(names.names);
        if (r < 0)
                return r;
        _cleanup_free_ char *ckey = vol_app_config_key(VOL_LAYER_APP, ref);
        _cleanup_free_ char *skey = vol_app_state_key(ref);
        r = vol_store_remove_doc(s->store, DOC_CONFIG, ckey, VOL_REV_ANY, VOL_SYNC_FULL, err);
        if (r == 0)
                res->config = true;
        else if (r != -ENOENT)
                return r;
        vol_error_clear(err);
        r = vol_store_remove_doc(s->store, DOC_APP, skey, VOL_REV_ANY, VOL_SYNC_FULL, err);
        if (r < 0 && r != -ENOENT)
                return r;
        vol_error_clear(err);
        return 0;
}

int vol_apps_delete(struct vol_service *s, const struct vol_caller *caller, const struct vol_app_ref *ref,
                    struct vol_app_delete_result *ret, struct vol_error *err)
{
        int r = vol_app_check_ref(VOL_LAYER_APP, ref, err);
        if (r < 0 || (r = vol_app_may_touch(caller, VOL_LAYER_APP, ref, true, err)) < 0)
                return r;
        struct vol_app_delete_result res = {0};
        uint64_t start = vol_now_us();
        pthread_mutex_t *lock = lock_app(s, ref);
        r = delete_locked(s, caller, ref, &res, err);
        vol_name_unlock(lock);
        if (r == 0) {
                _cleanup_free_ char *name = xasprintf("%s/%s/%s", ref->tenant, ref->env, ref->app);
                vol_event_simple(s, caller, "app", "delete", name, ref->tenant);
        }
        vol_metrics_record(&s->metrics, VOL_OP_APP_DELETE, start, r);
        _cleanup_free_ char *what = xasprintf("delete app %s/%s/%s", ref->tenant, ref->env, ref->app);
        if (r < 0) {
                vol_error_wrap(err, "deleting %s/%s/%s (run the delete again to finish): ", ref->tenant,
                               ref->env, ref->app);
                vol_service_audit(caller, what, r, err);
                return r;
        }
        _cleanup_free_ char *done = xasprintf("%s (%zu containers, %zu volumes)", what, res.containers,
                                              res.volumes);
        vol_service_audit(caller, done, 0, NULL);
        *ret = res;
        return 0;
}

/* ---- list ---- */

struct app_entry {
        char *key; /* tenant/env/app */
        bool has_config;
        char *state;
};

struct app_list {
        size_t n, cap;
        struct app_entry *items;
};

static struct app_entry *entry_for(struct app_list *l, const char *key)
{
        for (size_t i = 0; i < l->n; i++)
                if (!strcmp(l->items[i].key, key))
                        return &l->items[i];
        if (l->n == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 16;
                l->items = xrealloc(l->items, l->cap * sizeof(*l->items));
        }
        l->items[l->n] = (struct app_entry){xstrdup(key), false, NULL};
        return &l->items[l->n++];
}

static int take_config(const char *key, const char *json, int64_t rev, void *userdata)
{
        entry_for(userdata, key + strlen("app/"))->has_config = true;
        return 0;
}

static int take_state(const char *key, const char *json, int64_t rev, void *userdata)
{
        struct app_entry *e = entry_for(userdata, key);
        free(e->state);
        e->state = xstrdup(json);
        return 0;
}

static int cmp_entry(const void *a, const void *b)
{
        return strcmp(((const struct app_entry *)a)->key, ((const struct app_entry *)b)->key);
}

int vol_apps_list(struct vol_service *s, const struct vol_caller *caller, const char *tenant,
                  vol_app_cb cb, void *userdata, struct vol_error *err)
{
        int r = 0;
        if (tenant && (r = vol_validate_scope_part("tenant", tenant, err)) < 0)
                return r;
        if (caller->face == VOL_FACE_TENANT) {
                if (tenant && strcmp(tenant, caller->tenant))
                        return 0; /* another tenant's apps: none to see */
                tenant = caller->tenant;
        }
        _cleanup_free_ char *cprefix = tenant ? xasprintf("app/%s/", tenant) : xstrdup("app/");
        _cleanup_free_ char *sprefix = tenant ? xasprintf("%s/", tenant) : xstrdup("");
        struct app_list l = {0};
        if ((r = vol_store_list_docs(s->store, DOC_CONFIG, cprefix, take_config, &l, err)) >= 0)
                r = vol_store_list_docs(s->store, DOC_APP, sprefix, take_state, &l, err);
        if (l.n)
                qsort(l.items, l.n, sizeof(*l.items), cmp_entry);
        for (size_t i = 0; r >= 0 && i < l.n; i++) {
                char *t = l.items[i].key, *e = strchr(t, '/'), *a = e ? strchr(e + 1, '/') : NULL;
                if (!a)
                        continue;
                *e++ = 0;
                *a++ = 0;
                int c = cb(t, e, a, l.items[i].has_config, l.items[i].state, userdata);
                if (c < 0)
                        r = c;
        }
        for (size_t i = 0; i < l.n; i++) {
                free(l.items[i].key);
                free(l.items[i].state);
        }
        free(l.items);
        return r < 0 ? r : 0;
}
