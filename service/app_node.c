/* Which node an app lives on, in cluster mode (docs/cluster.md, "Apps"): the
 * node holding its volumes, or, before it has any, the node its last deploy
 * ran on. Deploys, views and deletes run there, through that node's engine. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "core/cleanup.h"
#include "core/xmalloc.h"
#include "internal.h"

DEFINE_CLEANUP_FUNC(struct vol_volume, vol_volume_free)

/* The node of the app's last deploy, from its record, or NULL. */
static char *deployed_on(struct vol_service *s, const struct vol_app_ref *ref)
{
        _cleanup_free_ char *key = vol_app_state_key(ref), *json = NULL;
        struct vol_error e = VOL_ERROR_INIT;
        char *node = NULL;
        if (vol_store_get_doc(s->store, DOC_APP, key, &json, NULL, &e) == 0) {
                json_t *j = json_loads(json, 0, NULL);
                const char *n = json_string_value(json_object_get(j, "node"));
                node = n ? xstrdup(n) : NULL;
                json_decref(j);
        }
        vol_error_clear(&e);
        return node;
}

int vol_apps_node(struct vol_service *s, const struct vol_caller *caller, const struct vol_app_ref *ref,
                  char **ret_node, struct vol_error *err)
{
        *ret_node = NULL;
        if (!vol_service_node(s))
                return 0;
        int r = vol_app_check_ref(VOL_LAYER_APP, ref, err);
        if (r < 0 || (r = vol_app_may_touch(caller, VOL_LAYER_APP, ref, false, err)) < 0)
                return r;
        struct vol_app_resolved res = {0};
        char *node = NULL;
        const char *first = NULL; /* the volume that put the app on node */
        struct vol_error e = VOL_ERROR_INIT;
        /* an app whose config does not resolve (yet) has no volumes to follow */
        if (vol_apps_resolve(s, &vol_caller_system, ref, &res, &e) == 0) {
                for (size_t i = 0; i < res.n_volumes && r == 0; i++) {
                        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
                        if (vol_store_get(s->store, res.volume_names[i], &v, &e) < 0 || !v->node) {
                                vol_error_clear(&e);
                                continue;
                        }
                        if (!node) {
                                node = xstrdup(v->node);
                                first = res.volume_names[i];
                        } else if (strcmp(node, v->node) != 0) {
                                r = vol_error_set(err, -EBUSY,
                                                  "app %s/%s/%s has volumes on two nodes (%s on %s, %s on %s); a "
                                                  "deploy runs where all its volumes are: move them onto one "
                                                  "node (volman volume move)",
                                                  ref->tenant, ref->env, ref->app, first, node,
                                                  res.volume_names[i], v->node);
                        }
                }
        }
        vol_error_clear(&e);
        vol_app_resolved_free(&res);
        if (r < 0) {
                free(node);
                return r;
        }
        *ret_node = node ? node : deployed_on(s, ref);
        return 0;
}
