/* Tenant apps' config layers (global, env, app): who may read and set each,
 * setting and getting them, and their merge with each writeable volume's name
 * (resolve), for the stored layers or a candidate app layer (check). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "core/cleanup.h"
#include "core/names.h"
#include "core/strbuf.h"
#include "core/xmalloc.h"
#include "internal.h"

int vol_app_check_ref(enum vol_layer layer, const struct vol_app_ref *ref, struct vol_error *err)
{
        int r = 0;
        if (layer >= VOL_LAYER_ENV &&
            ((r = vol_validate_scope_part("tenant", ref->tenant, err)) < 0 ||
             (r = vol_validate_scope_part("env", ref->env, err)) < 0))
                return r;
        if (layer == VOL_LAYER_APP && (r = vol_validate_scope_part("app", ref->app, err)) < 0)
                return r;
        return 0;
}

/* Whether caller may read (or, with write, change) the layer of ref. A
 * tenant works in its own tenant only, and reads the global layer; another
 * tenant's env or app does not exist for it. */
int vol_app_may_touch(const struct vol_caller *caller, enum vol_layer layer, const struct vol_app_ref *ref,
                     bool write, struct vol_error *err)
{
        if (caller->face != VOL_FACE_TENANT)
                return 0;
        if (layer == VOL_LAYER_GLOBAL)
                return write ? vol_error_set(err, -EPERM,
                                             "the global config layer belongs to the platform's operator")
                             : 0;
        if (!caller->tenant || strcmp(ref->tenant, caller->tenant))
                return vol_error_set(err, -ENOENT, "%s %s/%s%s%s not found", layer == VOL_LAYER_ENV ? "env" : "app",
                                     ref->tenant, ref->env, layer == VOL_LAYER_APP ? "/" : "",
                                     layer == VOL_LAYER_APP ? ref->app : "");
        return 0;
}

char *vol_app_config_key(enum vol_layer layer, const struct vol_app_ref *ref)
{
        switch (layer) {
        case VOL_LAYER_GLOBAL:
                return xstrdup("global");
        case VOL_LAYER_ENV:
                return xasprintf("env/%s/%s", ref->tenant, ref->env);
        default:
                return xasprintf("app/%s/%s/%s", ref->tenant, ref->env, ref->app);
        }
}

char *vol_app_state_key(const struct vol_app_ref *ref)
{
        return xasprintf("%s/%s/%s", ref->tenant, ref->env, ref->app);
}


static int load_layer(struct vol_service *s, enum vol_layer layer, const struct vol_app_ref *ref,
                      struct vol_app_config *ret, struct vol_error *err);

/* Checks a new env or app layer against the layers above it, as they are now
 * (vol_app_config_merge's rules): a tenant layer may only tighten. */
static int check_against_above(struct vol_service *s, enum vol_layer layer, const struct vol_app_ref *ref,
                               const struct vol_app_config *c, struct vol_error *err)
{
        if (layer == VOL_LAYER_GLOBAL)
                return 0;
        struct vol_app_config global, env, merged;
        int r = load_layer(s, VOL_LAYER_GLOBAL, ref, &global, err);
        if (r < 0)
                return r;
        memset(&env, 0, sizeof(env));
        if (layer == VOL_LAYER_APP && (r = load_layer(s, VOL_LAYER_ENV, ref, &env, err)) < 0) {
                vol_app_config_free(&global);
                return r;
        }
        r = vol_app_config_merge(&global, layer == VOL_LAYER_ENV ? c : &env, layer == VOL_LAYER_APP ? c : NULL,
                                 &merged, err);
        if (r == 0)
                vol_app_config_free(&merged);
        vol_app_config_free(&global);
        vol_app_config_free(&env);
        return r;
}

int vol_apps_config_set(struct vol_service *s, const struct vol_caller *caller, enum vol_layer layer,
                        const struct vol_app_ref *ref, json_t *cfg, struct vol_error *err)
{
        int r = vol_app_check_ref(layer, ref, err);
        if (r < 0 || (r = vol_app_may_touch(caller, layer, ref, true, err)) < 0)
                return r;
        struct vol_app_config c;
        if ((r = vol_app_config_from_json(cfg, &c, err)) < 0)
                return r;
        if (c.volume_driver && !vol_drivers_find(&s->drivers, c.volume_driver))
                r = vol_error_set(err, -EINVAL, "volumeDriver %s is not a driver of this volmand",
                                  c.volume_driver);
        if (r == 0)
                r = check_against_above(s, layer, ref, &c, err);
        struct vol_strbuf b;
        vol_strbuf_init(&b, 0);
        if (r == 0)
                vol_app_config_to_json(&c, &b);
        vol_app_config_free(&c);
        if (r < 0) {
                vol_strbuf_free(&b);
                return r;
        }
        _cleanup_free_ char *key = vol_app_config_key(layer, ref);
        r = vol_store_put_doc(s->store, DOC_CONFIG, key, b.data, VOL_REV_ANY, VOL_SYNC_FULL, NULL, err);
        vol_strbuf_free(&b);
        /* a layer replaced is the old one gone: in the audit trail */
        _cleanup_free_ char *what = xasprintf("replace config layer %s", key);
        vol_service_audit(caller, what, r, err);
        if (r == 0)
                vol_event_simple(s, caller, "app", "config", key, layer == VOL_LAYER_GLOBAL ? NULL : ref->tenant);
        return r;
}

/* The stored text of one layer, "{}" when never set. */
static int layer_text(struct vol_service *s, enum vol_layer layer, const struct vol_app_ref *ref,
                      char **ret_json, struct vol_error *err)
{
        _cleanup_free_ char *key = vol_app_config_key(layer, ref);
        int r = vol_store_get_doc(s->store, DOC_CONFIG, key, ret_json, NULL, err);
        if (r == -ENOENT) {
                vol_error_clear(err);
                *ret_json = xstrdup("{}");
                return 0;
        }
        return r;
}

int vol_apps_config_get(struct vol_service *s, const struct vol_caller *caller, enum vol_layer layer,
                        const struct vol_app_ref *ref, char **ret_json, struct vol_error *err)
{
        int r = vol_app_check_ref(layer, ref, err);
        if (r < 0 || (r = vol_app_may_touch(caller, layer, ref, false, err)) < 0)
                return r;
        return layer_text(s, layer, ref, ret_json, err);
}

/* Loads one stored layer into *ret (zeroed when never set). */
static int load_layer(struct vol_service *s, enum vol_layer layer, const struct vol_app_ref *ref,
                      struct vol_app_config *ret, struct vol_error *err)
{
        memset(ret, 0, sizeof(*ret));
        _cleanup_free_ char *text = NULL;
        int r = layer_text(s, layer, ref, &text, err);
        if (r < 0)
                return r;
        json_auto_t *j = json_loads(text, 0, NULL);
        if (!j)
                return vol_error_set(err, -EIO, "stored config layer is not JSON");
        return vol_app_config_from_json(j, ret, err);
}

void vol_app_resolved_free(struct vol_app_resolved *r)
{
        for (size_t i = 0; i < r->n_volumes; i++) {
                free(r->volume_names ? r->volume_names[i] : NULL);
                free(r->volume_paths ? r->volume_paths[i] : NULL);
        }
        free(r->volume_names);
        free(r->volume_paths);
        vol_app_config_free(&r->config);
        memset(r, 0, sizeof(*r));
}

/* The merge of ref's stored layers, or of its stored global and env layers
 * with candidate as its app layer, and the name of each writeable volume. */
static int resolve_layers(struct vol_service *s, const struct vol_app_ref *ref,
                          const struct vol_app_config *candidate, struct vol_app_resolved *ret,
                          struct vol_error *err)
{
        int r = 0;
        struct vol_app_config layers[3];
        memset(layers, 0, sizeof(layers));
        struct vol_app_resolved res;
        memset(&res, 0, sizeof(res));
        for (int i = 0; i < (candidate ? 2 : 3) && r >= 0; i++)
                r = load_layer(s, (enum vol_layer)i, ref, &layers[i], err);
        const struct vol_app_config *app = candidate ? candidate : &layers[2];
        if (r >= 0)
                r = vol_app_config_merge(&layers[0], &layers[1], app, &res.config, err);
        if (r >= 0)
                vol_app_config_sources(&layers[0], &layers[1], app, res.sources);
        for (int i = 0; i < 3; i++)
                vol_app_config_free(&layers[i]);
        if (r < 0)
                return r;

        struct vol_driver *d = vol_drivers_find(&s->drivers, res.config.volume_driver);
        if (!d)
                r = vol_error_set(err, -EINVAL, "volumeDriver %s is not a driver of this volmand",
                                  res.config.volume_driver);
        else if (res.config.volume_size && !(d->ops->caps & VOL_CAP_SIZE_LIMIT)) {
                char list[256];
                vol_drivers_with_cap(s, VOL_CAP_SIZE_LIMIT, list, sizeof(list));
                r = vol_error_set(err, -EINVAL,
                                  "volumeSize %s needs a driver that enforces a size limit; volumeDriver "
                                  "%s does not (these do: %s)",
                                  res.config.volume_size, d->ops->name, list);
        }
        const struct vol_con_config *con = &res.config.con;
        size_t max = res.config.n_paths + 3;
        res.volume_paths = xcalloc(max, sizeof(char *));
        res.volume_names = xcalloc(max, sizeof(char *));
        /* (a writeableVolumes path under /con with con on: refused by the merge) */
        for (size_t i = 0; i < res.config.n_paths; i++)
                res.volume_paths[res.n_volumes++] = xstrdup(res.config.paths[i]);
        for (int a = VOL_CON_DATA; con->enabled && a <= VOL_CON_VAR; a++)
                if (con->areas[a].on)
                        res.volume_paths[res.n_volumes++] =
                                xasprintf(VOL_CON_ROOT "/%s", vol_con_area_name((enum vol_con_area)a));
        for (size_t i = 0; r >= 0 && i < res.n_volumes; i++) {
                struct vol_scope scope = {(char *)ref->tenant, (char *)ref->env, (char *)ref->app,
                                          res.volume_paths[i]};
                r = vol_name_for_scope(s->prefix, &scope, &res.volume_names[i], err);
        }
        if (r < 0) {
                vol_app_resolved_free(&res);
                return r;
        }
        *ret = res;
        return 0;
}


int vol_apps_resolve(struct vol_service *s, const struct vol_caller *caller,
                     const struct vol_app_ref *ref, struct vol_app_resolved *ret,
                     struct vol_error *err)
{
        int r = vol_app_check_ref(VOL_LAYER_APP, ref, err);
        if (r < 0 || (r = vol_app_may_touch(caller, VOL_LAYER_APP, ref, false, err)) < 0)
                return r;
        return resolve_layers(s, ref, NULL, ret, err);
}

int vol_apps_check(struct vol_service *s, const struct vol_caller *caller, const struct vol_app_ref *ref,
                   json_t *layer, struct vol_app_resolved *ret, struct vol_error *err)
{
        int r = vol_app_check_ref(VOL_LAYER_APP, ref, err);
        if (r < 0 || (r = vol_app_may_touch(caller, VOL_LAYER_APP, ref, true, err)) < 0)
                return r;
        struct vol_app_config c;
        if ((r = vol_app_config_from_json(layer, &c, err)) < 0)
                return r;
        r = resolve_layers(s, ref, &c, ret, err);
        vol_app_config_free(&c);
        return r;
}
