/* One app's whole state, as the console's app page shows it: its app layer,
 * its last deploy, its containers as the engine sees them, and each
 * writeable volume's name, whether it exists and whether it is in use. */
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "core/cleanup.h"
#include "core/xmalloc.h"
#include "internal.h"

static void add_container(const char *id, const char *name, const char *state, const char *generation,
                          void *userdata)
{
        struct vol_app_view *v = userdata;
        if (v->n_containers >= VOL_APP_VIEW_CONTAINERS_MAX)
                return;
        struct vol_app_container *c = &v->containers[v->n_containers++];
        c->id = xstrdup(id);
        c->name = xstrdup(name);
        c->state = xstrdup(state);
        c->generation = strtoul(generation, NULL, 10);
}

void vol_app_view_free(struct vol_app_view *v)
{
        free(v->config);
        free(v->state);
        free(v->resolve_error);
        for (size_t i = 0; i < v->n_containers; i++) {
                free(v->containers[i].id);
                free(v->containers[i].name);
                free(v->containers[i].state);
        }
        free(v->exists);
        free(v->in_use);
        if (v->resolved_ok)
                vol_app_resolved_free(&v->resolved);
        memset(v, 0, sizeof(*v));
}

int vol_apps_get(struct vol_service *s, const struct vol_caller *caller, const struct vol_app_ref *ref,
                 struct vol_app_view *ret, struct vol_error *err)
{
        int r = vol_app_check_ref(VOL_LAYER_APP, ref, err);
        if (r < 0 || (r = vol_app_may_touch(caller, VOL_LAYER_APP, ref, false, err)) < 0)
                return r;
        struct vol_app_view v;
        memset(&v, 0, sizeof(v));
        _cleanup_free_ char *ckey = vol_app_config_key(VOL_LAYER_APP, ref);
        _cleanup_free_ char *skey = vol_app_state_key(ref);
        r = vol_store_get_doc(s->store, DOC_CONFIG, ckey, &v.config, NULL, err);
        if (r == -ENOENT) {
                vol_error_clear(err);
                r = vol_store_get_doc(s->store, DOC_APP, skey, &v.state, NULL, err);
                if (r == -ENOENT)
                        return vol_error_set(err, -ENOENT, "app %s/%s/%s not found", ref->tenant, ref->env,
                                             ref->app);
                if (r < 0)
                        return r;
                v.config = xstrdup("{}");
        } else if (r < 0) {
                return r;
        } else if ((r = vol_store_get_doc(s->store, DOC_APP, skey, &v.state, NULL, err)) == -ENOENT) {
                vol_error_clear(err);
        } else if (r < 0) {
                vol_app_view_free(&v);
                return r;
        }

        /* the engine's view: best effort, said so when it cannot answer */
        v.engine = s->engine != NULL;
        if (s->engine) {
                struct vol_kvs match = VOL_KVS_INIT;
                vol_app_labels(ref, &match);
                struct vol_error e = VOL_ERROR_INIT;
                if (vol_engine_container_list(s->engine, &match, add_container, &v, &e) < 0)
                        v.engine_error = true;
                vol_error_clear(&e);
                vol_kvs_free(&match);
        }

        struct vol_error e = VOL_ERROR_INIT;
        if (vol_apps_resolve(s, caller, ref, &v.resolved, &e) < 0) {
                v.resolve_error = xstrdup(vol_error_message(&e)); /* the page shows why */
                vol_error_clear(&e);
                *ret = v;
                return 0;
        }
        v.resolved_ok = true;
        size_t n = v.resolved.n_volumes;
        v.exists = xcalloc(n ? n : 1, sizeof(bool));
        v.in_use = xcalloc(n ? n : 1, sizeof(bool));
        for (size_t i = 0; i < n; i++) {
                struct vol_volume *vol = NULL;
                if (vol_service_get(s, caller, v.resolved.volume_names[i], false, &vol, NULL, &e) == 0) {
                        v.exists[i] = true;
                        v.in_use[i] = vol->n_mounts > 0;
                        vol_volume_free(vol);
                }
                vol_error_clear(&e);
        }
        *ret = v;
        return 0;
}
