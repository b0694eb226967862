/* Tenant apps: their three-layer container config, the resolved volume names,
 * deploys through a container engine, and deletion with their volumes.
 * See docs/apps.md. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/appconfig.h"
#include "core/error.h"
#include "service/service.h"

/* Which app (or env, or nothing for the global layer). */
struct vol_app_ref {
        const char *tenant;
        const char *env;
        const char *app;
};

/* Replaces one config layer with cfg (a JSON object, validated whole: a bad
 * field changes nothing). ref needs tenant and env for the env layer, and app
 * too for the app layer. An env or app layer that would loosen hardening, or
 * raise a limit above what the layers above it set, is -EPERM
 * (vol_app_config_merge). */
int vol_apps_config_set(struct vol_service *s, const struct vol_caller *caller, enum vol_layer layer,
                        const struct vol_app_ref *ref, json_t *cfg, struct vol_error *err);

/* The JSON text of one layer, "{}" when it was never set (caller frees). */
int vol_apps_config_get(struct vol_service *s, const struct vol_caller *caller, enum vol_layer layer,
                        const struct vol_app_ref *ref, char **ret_json, struct vol_error *err);

struct vol_app_resolved {
        struct vol_app_config config; /* the merge: every field set */
        /* the app's volumes: config.paths first, then /con/data, /con/log
         * and /con/var when the merged con turns them on */
        size_t n_volumes;
        char **volume_paths;
        char **volume_names; /* one per volume_paths[i] */
        /* where each field comes from ("app", "env", "global", "default"),
         * for vol_app_config_fields[i] */
        const char *sources[VOL_APP_FIELDS];
};

/* Merges the layers for ref and names each writeable volume. Checks the
 * merged config against the drivers (a known volumeDriver; volumeSize only
 * with a driver that can limit size). */
int vol_apps_resolve(struct vol_service *s, const struct vol_caller *caller,
                     const struct vol_app_ref *ref, struct vol_app_resolved *ret,
                     struct vol_error *err);
/* Frees what r owns. */
void vol_app_resolved_free(struct vol_app_resolved *r);

/* What vol_apps_resolve would give if layer (a JSON object) were ref's app
 * layer: the same checks and errors vol_apps_config_set gives for it, and
 * nothing saved. The caller must be allowed to set ref's app layer. */
int vol_apps_check(struct vol_service *s, const struct vol_caller *caller, const struct vol_app_ref *ref,
                   json_t *layer, struct vol_app_resolved *ret, struct vol_error *err);

struct vol_deploy_request {
        const char *image;
        const char *const *cmd; /* NULL: the image's command */
        size_t n_cmd;
        bool blue_green; /* start the new container before removing the old */
};

struct vol_deploy_result {
        char *container_id;
        char *container_name;
        unsigned long generation;
        size_t replaced; /* old containers removed */
        struct vol_app_resolved resolved;
};

/* Deploys ref: makes sure each writeable volume exists (in volman and in the
 * engine) and is the one the config asks for (its scope, driver and size:
 * a volume that differs is -EEXIST, never used or changed), then replaces the
 * app's container: `recreate` removes the old one first, `blue-green` starts
 * the new one first. The container runs hardened: the merged config's read-only
 * root, network mode, pids and memory limits, every capability dropped but
 * capAdd, no-new-privileges. -ENOTSUP without an engine. */
int vol_apps_deploy(struct vol_service *s, const struct vol_caller *caller, const struct vol_app_ref *ref,
                    const struct vol_deploy_request *req, struct vol_deploy_result *ret,
                    struct vol_error *err);
/* Frees what r owns. */
void vol_deploy_result_free(struct vol_deploy_result *r);

/* Cluster mode (service/app_node.c): the node app ref lives on (caller
 * frees), which its deploys, views and deletes run on: the node holding its
 * volumes, else the node of its last deploy; NULL when it has neither (a
 * first deploy: placement chooses), and always on a single node. -EBUSY
 * naming them when its volumes are on different nodes. */
int vol_apps_node(struct vol_service *s, const struct vol_caller *caller, const struct vol_app_ref *ref,
                  char **ret_node, struct vol_error *err);

struct vol_app_delete_result {
        size_t containers;
        size_t volumes;
        bool config;
};

/* Deletes ref: its containers, its volumes (those scoped to its tenant, env
 * and app, and no others) and its config and state. Idempotent: running it
 * again after an interruption finishes the job. */
int vol_apps_delete(struct vol_service *s, const struct vol_caller *caller, const struct vol_app_ref *ref,
                    struct vol_app_delete_result *ret, struct vol_error *err);

/* ---- one app's whole state (service/app_view.c) ---- */

#define VOL_APP_VIEW_CONTAINERS_MAX 64

struct vol_app_container {
        char *id, *name, *state; /* state as the engine says: "running", "exited", ... */
        unsigned long generation;
};

struct vol_app_view {
        char *config; /* the app layer's JSON, "{}" when it has none */
        char *state;  /* the last deploy's record (JSON), or NULL */
        bool engine;  /* volmand has an engine */
        bool engine_error; /* ... which did not answer: containers is empty for that */
        size_t n_containers;
        struct vol_app_container containers[VOL_APP_VIEW_CONTAINERS_MAX];
        bool resolved_ok;
        struct vol_app_resolved resolved; /* when resolved_ok */
        char *resolve_error;              /* else why the config does not resolve */
        bool *exists, *in_use;            /* per resolved.volume_paths[i] */
};

/* The app ref: its app layer, last deploy, containers (from the engine, by
 * their labels) and writeable volumes (resolved names, whether each exists
 * and has mount references). -ENOENT when it has neither an app layer nor a
 * deploy record, and for another tenant's app. */
int vol_apps_get(struct vol_service *s, const struct vol_caller *caller, const struct vol_app_ref *ref,
                 struct vol_app_view *ret, struct vol_error *err);
/* Frees what v owns. */
void vol_app_view_free(struct vol_app_view *v);

/* One known app: it has an app-layer config, or has been deployed. state is
 * the JSON of its last deploy, or NULL. */
typedef int (*vol_app_cb)(const char *tenant, const char *env, const char *app, bool has_config,
                          const char *state, void *userdata);

/* Every known app (of tenant, when not NULL), in (tenant, env, app) order. */
int vol_apps_list(struct vol_service *s, const struct vol_caller *caller, const char *tenant,
                  vol_app_cb cb, void *userdata, struct vol_error *err);
