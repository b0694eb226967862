/* The Docker/Podman volume plugin protocol: a second face over the same
 * service calls as the REST API, with the protocol's own shapes. It holds no
 * logic of its own beyond translating requests (docs/engines.md).
 *
 * Errors are HTTP 500 with {"Err": "..."}: Podman takes a 200 with Err set as
 * success. Unmount never fails: an engine whose unmount failed never retries. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api/json_in.h"
#include "core/cleanup.h"
#include "core/volume_json.h"
#include "core/xmalloc.h"

#define PLUGIN_LIST_BODY_MAX (64u << 20)
#define LABEL_PREFIX "label."

DEFINE_CLEANUP_FUNC(struct vol_volume, vol_volume_free)

/* An engine calling through the plugin socket. */
static struct vol_caller engine_caller(const struct vol_http_request *req)
{
        return (struct vol_caller){VOL_FACE_PLUGIN, NULL, req->peer ? req->peer->desc : "unknown", NULL};
}

static void plugin_error(struct vol_http_response *resp, int status, const char *code,
                         const char *message)
{
        vol_strbuf_free(&resp->body);
        resp->status = status == 404 ? 404 : 500;
        resp->content_type = "application/vnd.docker.plugins.v1.1+json";
        vol_strbuf_puts(&resp->body, "{\"Err\":");
        vol_strbuf_json_string(&resp->body, message);
        vol_strbuf_putc(&resp->body, '}');
}

static void fail(struct vol_http_response *resp, struct vol_error *err)
{
        plugin_error(resp, 500, NULL, vol_error_message(err));
        vol_error_clear(err);
}

static void ok(struct vol_http_response *resp)
{
        resp->content_type = "application/vnd.docker.plugins.v1.1+json";
}

/* The request body and its Name. Engines may add fields: unknown ones are ignored. */
static int parse_named(const struct vol_http_request *req, json_t **body, const char **ret_name,
                       struct vol_error *err)
{
        int r = vol_json_parse_object(req->body, req->body_len, true, body, err);
        if (r < 0 || (r = vol_json_string(*body, "Name", ret_name, err)) < 0)
                return r;
        if (!*ret_name)
                return vol_error_set(err, -EINVAL, "the request has no volume Name");
        return 0;
}

static void activate(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        ok(resp);
        vol_strbuf_puts(&resp->body, "{\"Implements\":[\"VolumeDriver\"]}");
}

static void capabilities(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        ok(resp);
        vol_strbuf_puts(&resp->body, "{\"Capabilities\":{\"Scope\":\"local\"}}");
}

/* Splits the engine's options (-o k=v) into volman's request: `driver` picks
 * the backing driver, tenant/env/app/path make the scope, label.K=V sets
 * label K, and the rest are driver options (the driver names unknown ones). */
static int options_to_request(json_t *opts, struct vol_create_request *cr, struct vol_error *err)
{
        if (!opts || json_is_null(opts))
                return 0;
        if (!json_is_object(opts))
                return vol_error_set(err, -EINVAL, "Opts must be an object of strings");
        if (json_object_size(opts) > VOL_OPTIONS_MAX + VOL_LABELS_MAX)
                return vol_error_set(err, -E2BIG, "too many options (%zu)", json_object_size(opts));
        const char *scope[4] = {NULL, NULL, NULL, NULL};
        static const char *const scope_keys[4] = {"tenant", "env", "app", "path"};
        const char *k;
        json_t *v;
        json_object_foreach(opts, k, v)
        {
                if (!json_is_string(v))
                        return vol_error_set(err, -EINVAL, "option %.64s must be a string", k);
                const char *val = json_string_value(v);
                bool taken = false;
                for (int i = 0; i < 4; i++)
                        if (!strcmp(k, scope_keys[i])) {
                                scope[i] = val;
                                taken = true;
                        }
                if (taken)
                        continue;
                if (!strcmp(k, "driver")) {
                        cr->driver = val;
                } else if (!strncmp(k, LABEL_PREFIX, strlen(LABEL_PREFIX))) {
                        if (!k[strlen(LABEL_PREFIX)])
                                return vol_error_set(err, -EINVAL, "option label. needs a label name: label.KEY=VALUE");
                        vol_kvs_set(&cr->labels, k + strlen(LABEL_PREFIX), val);
                } else {
                        vol_kvs_set(&cr->options, k, val);
                }
        }
        int given = !!scope[0] + !!scope[1] + !!scope[2] + !!scope[3];
        if (given == 0)
                return 0;
        if (given != 4)
                return vol_error_set(err, -EINVAL,
                                     "a scoped volume needs all four options tenant, env, app and path");
        cr->scope = xcalloc(1, sizeof(*cr->scope));
        cr->scope->tenant = xstrdup(scope[0]);
        cr->scope->env = xstrdup(scope[1]);
        cr->scope->app = xstrdup(scope[2]);
        cr->scope->path = xstrdup(scope[3]);
        return 0;
}

static void create(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_error err = VOL_ERROR_INIT;
        _cleanup_json_ json_t *body = NULL;
        struct vol_create_request cr = {.options = VOL_KVS_INIT, .labels = VOL_KVS_INIT};
        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
        bool created;
        const char *name;
        if (parse_named(req, &body, &name, &err) < 0 ||
            options_to_request(json_object_get(body, "Opts"), &cr, &err) < 0) {
                fail(resp, &err);
        } else {
                cr.name = name;
                struct vol_caller caller = engine_caller(req);
                if (vol_service_create(ctx, &caller, &cr, &v, &created, &err) < 0) {
                        fail(resp, &err);
                } else {
                        ok(resp);
                        vol_strbuf_puts(&resp->body, "{\"Err\":\"\"}");
                }
        }
        vol_kvs_free(&cr.options);
        vol_kvs_free(&cr.labels);
        vol_scope_free(cr.scope);
}

static void remove_volume(void *ctx, const struct vol_http_request *req,
                          struct vol_http_response *resp)
{
        struct vol_error err = VOL_ERROR_INIT;
        _cleanup_json_ json_t *body = NULL;
        const char *name;
        struct vol_caller caller = engine_caller(req);
        if (parse_named(req, &body, &name, &err) < 0 || vol_service_remove(ctx, &caller, name, &err) < 0)
                return fail(resp, &err);
        ok(resp);
        vol_strbuf_puts(&resp->body, "{\"Err\":\"\"}");
}

/* The mount reference an engine gave: Docker sends a fresh id per mount,
 * Podman one placeholder id (it counts mounts itself and calls Mount on its
 * first and Unmount on its last). */
static const char *engine_id(json_t *body)
{
        json_t *id = json_object_get(body, "ID");
        if (json_is_string(id) && json_string_length(id) > 0)
                return json_string_value(id);
        return "engine"; /* protocol versions before mount ids */
}

/* Mount and Unmount run on the event thread (no hand-off to a worker) when
 * they need not wait: a volume of a driver that mounts with a check, whose
 * name no other operation holds, while the store's writer is idle (no commit,
 * queue or flush). Otherwise they are deferred to a worker, which asks again
 * (said at debug level). */
static void defer(struct vol_http_response *resp, struct vol_error *err, const char *what, const char *name)
{
        vol_error_clear(err);
        if (vol_service_log_enabled("debug"))
                vol_service_log("debug", "plugin %s of %s passed to a worker: it would wait", what, name);
        vol_http_defer(resp);
}

static void mount(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_error err = VOL_ERROR_INIT;
        _cleanup_json_ json_t *body = NULL;
        _cleanup_free_ char *mountpoint = NULL;
        const char *name;
        struct vol_caller caller = engine_caller(req);
        int r = parse_named(req, &body, &name, &err);
        if (r == 0)
                r = vol_service_mount(ctx, &caller, name, engine_id(body), req->inline_call, &mountpoint, &err);
        if (r == -EWOULDBLOCK && req->inline_call)
                return defer(resp, &err, "Mount", name);
        if (r < 0)
                return fail(resp, &err);
        ok(resp);
        vol_strbuf_puts(&resp->body, "{\"Mountpoint\":");
        vol_strbuf_json_string(&resp->body, mountpoint);
        vol_strbuf_puts(&resp->body, ",\"Err\":\"\"}");
}

static void unmount(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_error err = VOL_ERROR_INIT;
        _cleanup_json_ json_t *body = NULL;
        const char *name;
        struct vol_caller caller = engine_caller(req);
        if (parse_named(req, &body, &name, &err) == 0) {
                int r = vol_service_unmount(ctx, &caller, name, engine_id(body), req->inline_call, &err);
                if (r == -EWOULDBLOCK && req->inline_call)
                        return defer(resp, &err, "Unmount", name);
                if (r < 0 && err.code != -ENOENT)
                        vol_service_log("warning", "plugin unmount of %s (%s) answered success anyway: %s", name,
                                        engine_id(body), vol_error_message(&err));
        }
        vol_error_clear(&err);
        ok(resp);
        vol_strbuf_puts(&resp->body, "{\"Err\":\"\"}");
}

static void path(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_error err = VOL_ERROR_INIT;
        _cleanup_json_ json_t *body = NULL;
        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
        const char *name;
        struct vol_caller caller = engine_caller(req);
        if (parse_named(req, &body, &name, &err) < 0 ||
            vol_service_get(ctx, &caller, name, false, &v, NULL, &err) < 0)
                return fail(resp, &err);
        ok(resp);
        vol_strbuf_puts(&resp->body, "{\"Mountpoint\":");
        vol_strbuf_json_string(&resp->body, v->mountpoint);
        vol_strbuf_puts(&resp->body, ",\"Err\":\"\"}");
}

/* One volume in the protocol's shape; Status carries volman's own view. */
static int render_engine_volume(struct vol_strbuf *b, const struct vol_volume *v,
                                const struct vol_volume_info *info, bool with_status)
{
        char ts[32];
        vol_format_time(v->created_at, ts);
        int r = vol_strbuf_puts(b, "{\"Name\":");
        r |= vol_strbuf_json_string(b, v->name);
        r |= vol_strbuf_puts(b, ",\"Mountpoint\":");
        r |= vol_strbuf_json_string(b, v->mountpoint);
        r |= vol_strbuf_printf(b, ",\"CreatedAt\":\"%s\"", ts);
        if (with_status) {
                r |= vol_strbuf_puts(b, ",\"Status\":");
                r |= vol_volume_to_json(b, v, info);
        }
        r |= vol_strbuf_putc(b, '}');
        return r ? -E2BIG : 0;
}

static void get(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_error err = VOL_ERROR_INIT;
        _cleanup_json_ json_t *body = NULL;
        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
        struct vol_volume_info info;
        const char *name;
        struct vol_caller caller = engine_caller(req);
        if (parse_named(req, &body, &name, &err) < 0 ||
            vol_service_get(ctx, &caller, name, false, &v, &info, &err) < 0)
                return fail(resp, &err);
        ok(resp);
        vol_strbuf_puts(&resp->body, "{\"Volume\":");
        render_engine_volume(&resp->body, v, &info, true);
        vol_strbuf_puts(&resp->body, ",\"Err\":\"\"}");
}

struct list_ctx {
        struct vol_strbuf *out;
        size_t n;
};

static int list_one(const struct vol_volume *v, const struct vol_volume_info *info, void *userdata)
{
        struct list_ctx *c = userdata;
        if (v->status != VOL_STATUS_READY)
                return 0; /* engines should not see half-made or half-removed volumes */
        if (c->n++)
                vol_strbuf_putc(c->out, ',');
        return render_engine_volume(c->out, v, info, false);
}

static void list(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_error err = VOL_ERROR_INIT;
        resp->body.max = PLUGIN_LIST_BODY_MAX;
        vol_strbuf_puts(&resp->body, "{\"Volumes\":[");
        struct list_ctx c = {&resp->body, 0};
        struct vol_caller caller = engine_caller(req);
        int r = vol_service_list(ctx, &caller, NULL, NULL, 0, list_one, &c, NULL, &err);
        if (r == -E2BIG)
                vol_error_set(&err, r, "too many volumes to list in one answer");
        if (r < 0)
                return fail(resp, &err);
        ok(resp);
        vol_strbuf_puts(&resp->body, "],\"Err\":\"\"}");
}

static const struct vol_route plugin_routes[] = {
        {"POST", "/Plugin.Activate", activate, NULL, VOL_ROUTE_FAST},
        {"POST", "/VolumeDriver.Create", create, NULL, 0},
        {"POST", "/VolumeDriver.Remove", remove_volume, NULL, 0},
        {"POST", "/VolumeDriver.Mount", mount, NULL, VOL_ROUTE_FAST},
        {"POST", "/VolumeDriver.Unmount", unmount, NULL, VOL_ROUTE_FAST},
        {"POST", "/VolumeDriver.Path", path, NULL, VOL_ROUTE_FAST},
        {"POST", "/VolumeDriver.Get", get, NULL, VOL_ROUTE_FAST},
        {"POST", "/VolumeDriver.List", list, NULL, 0},
        {"POST", "/VolumeDriver.Capabilities", capabilities, NULL, VOL_ROUTE_FAST},
};

int vol_plugin_start(const char *socket_path, struct vol_service *svc, struct vol_http_server **ret,
                     struct vol_error *err)
{
        /* Engines run as root and connect as root: 0660 keeps others out. */
        struct vol_http_options opts = {.mode = 0660, .on_error = plugin_error};
        return vol_http_start(socket_path, &opts, plugin_routes,
                              sizeof(plugin_routes) / sizeof(plugin_routes[0]), svc, ret, err);
}
