/* Tenant apps: their containers, delete and list. Deploys are in
 * service/app_deploy.c, the config layers and their merge in
 * service/app_config.c, one app's whole state in service/app_view.c. */
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
#include "con_internal.h"
#include "internal.h"


/* ---- an app's containers ---- */

pthread_mutex_t *vol_app_lock(struct vol_service *s, const struct vol_app_ref *ref)
{
        _cleanup_free_ char *key = vol_app_state_key(ref);
        return vol_name_lock(&s->app_locks, key);
}

static void found_container(const char *id, const char *name, const char *state,
                            const char *generation, void *userdata)
{
        struct vol_app_found *f = userdata;
        if (f->n == f->cap) {
                f->cap = f->cap ? f->cap * 2 : 4;
                f->ids = xrealloc(f->ids, f->cap * sizeof(char *));
        }
        f->ids[f->n++] = xstrdup(id);
        unsigned long g = strtoul(generation, NULL, 10);
        if (g > f->max_generation)
                f->max_generation = g;
}

void vol_app_found_free(struct vol_app_found *f)
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

int vol_app_find_containers(struct vol_service *s, const struct vol_app_ref *ref, unsigned long generation,
                            struct vol_app_found *ret, struct vol_error *err)
{
        struct vol_kvs match = VOL_KVS_INIT;
        vol_app_labels(ref, &match);
        if (generation) {
                char gen[32];
                snprintf(gen, sizeof(gen), "%lu", generation);
                vol_kvs_set(&match, LABEL_GENERATION, gen);
        }
        int r = vol_engine_container_list(s->engine, &match, found_container, ret, err);
        vol_kvs_free(&match);
        return r;
}

int vol_app_remove_containers(struct vol_service *s, struct vol_app_found *f, size_t *ret_n,
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
                struct vol_app_found found = {0};
                r = vol_app_find_containers(s, ref, 0, &found, err);
                if (r >= 0)
                        r = vol_app_remove_containers(s, &found, &res->containers, err);
                vol_app_found_free(&found);
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
        /* the /con interface's: the app's own files and secrets (its env's
         * stay, for its other apps), its seed tokens, its /con tmpfs */
        if ((r = vol_con_files_drop_app(s, ref, err)) < 0 || (r = vol_secrets_drop_app(s, ref, err)) < 0)
                return r;
        _cleanup_free_ char *app_key = vol_app_state_key(ref);
        vol_tokens_drop_seeds(s, app_key, 0, false);
        _cleanup_free_ char *gen0 = NULL;
        if (vol_app_container_name(s->prefix, ref->tenant, ref->env, ref->app, 0, &gen0, NULL) == 0) {
                gen0[strlen(gen0) - 1] = 0; /* the stem: the names of every generation but their digits */
                vol_con_sweep(s, gen0, NULL);
        }
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
        pthread_mutex_t *lock = vol_app_lock(s, ref);
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
