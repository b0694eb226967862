/* REST handlers for tenant apps (docs/apps.md). */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api/json_in.h"
#include "api/node_call.h"
#include "core/cleanup.h"
#include "core/xmalloc.h"
#include "service/apps.h"

static void fail(struct vol_http_response *resp, struct vol_error *err)
{
        vol_api_error(resp, err->code ? err->code : -EIO, vol_error_message(err));
        vol_error_clear(err);
}

/* The layer a route names from how many {} it has. */
static enum vol_layer layer_of(const struct vol_http_request *req, struct vol_app_ref *ref)
{
        ref->tenant = req->n_params > 0 ? req->params[0] : NULL;
        ref->env = req->n_params > 1 ? req->params[1] : NULL;
        ref->app = req->n_params > 2 ? req->params[2] : NULL;
        return req->n_params == 0 ? VOL_LAYER_GLOBAL : req->n_params == 2 ? VOL_LAYER_ENV : VOL_LAYER_APP;
}

/* Cluster mode: passes the call on to the node the app lives on (for a
 * first deploy: want, else the placement policy's pick); true when it
 * answered. The node that gets a call passed on acts on it. */
static bool at_app_node(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp,
                        const struct vol_app_ref *ref, const char *want, bool deploy)
{
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_caller caller = vol_api_caller(req);
        _cleanup_free_ char *node = NULL, *address = NULL;
        int r = 0;
        if (!vol_service_node(ctx)) {
                if (!want)
                        return false;
                r = vol_error_set(&err, -ENOTSUP, "node %s: this volmand is a single node, not part of a cluster",
                                  want);
        } else if (vol_api_forwarded(req)) {
                return false;
        } else if ((r = vol_apps_node(ctx, &caller, ref, &node, &err)) < 0) {
        } else if (want && node && strcmp(want, node) != 0) {
                r = vol_error_set(&err, -EEXIST,
                                  "app %s/%s/%s lives on node %s (its volumes, its containers); deploy it "
                                  "there, or move its volumes to %s first (volman volume move)",
                                  ref->tenant, ref->env, ref->app, node, want);
        } else if (!node && !deploy) {
                return false; /* never deployed: nothing of it runs anywhere */
        } else if (!node) {
                if ((r = vol_service_place(ctx, &caller, want, &node, &address, &err)) == 0 && !address)
                        return false;
        } else if (!strcmp(node, vol_service_node(ctx))) {
                return false;
        } else if ((r = vol_service_node_address(ctx, node, &address, &err)) < 0) {
                vol_error_wrap(&err, "app %s/%s/%s: ", ref->tenant, ref->env, ref->app);
        }
        if (r < 0) {
                fail(resp, &err);
                return true;
        }
        /* a deploy or a delete answers when its containers are done: no stall limit */
        vol_api_forward_stall(ctx, req, resp, node, address, req->body, req->body_len, 0);
        return true;
}

void vol_api_config_get(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_caller caller = vol_api_caller(req);
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_app_ref ref;
        enum vol_layer layer = layer_of(req, &ref);
        _cleanup_free_ char *json = NULL;
        if (vol_apps_config_get(ctx, &caller, layer, &ref, &json, &err) < 0)
                return fail(resp, &err);
        vol_strbuf_puts(&resp->body, json);
}

void vol_api_config_put(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_caller caller = vol_api_caller(req);
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_app_ref ref;
        enum vol_layer layer = layer_of(req, &ref);
        _cleanup_json_ json_t *body = NULL;
        _cleanup_free_ char *json = NULL;
        if (vol_json_parse_object(req->body, req->body_len, false, &body, &err) < 0 ||
            vol_apps_config_set(ctx, &caller, layer, &ref, body, &err) < 0 ||
            vol_apps_config_get(ctx, &caller, layer, &ref, &json, &err) < 0)
                return fail(resp, &err);
        vol_strbuf_puts(&resp->body, json);
}

static void render_resolved(struct vol_strbuf *b, const struct vol_app_ref *ref,
                            const struct vol_app_resolved *r)
{
        vol_strbuf_puts(b, "{\"tenant\":");
        vol_strbuf_json_string(b, ref->tenant);
        vol_strbuf_puts(b, ",\"env\":");
        vol_strbuf_json_string(b, ref->env);
        vol_strbuf_puts(b, ",\"app\":");
        vol_strbuf_json_string(b, ref->app);
        vol_strbuf_puts(b, ",\"config\":");
        vol_app_config_to_json(&r->config, b);
        vol_strbuf_puts(b, ",\"sources\":{");
        for (int i = 0; i < VOL_APP_FIELDS; i++)
                vol_strbuf_printf(b, "%s\"%s\":\"%s\"", i ? "," : "", vol_app_config_fields[i], r->sources[i]);
        vol_strbuf_puts(b, "},\"volumes\":[");
        for (size_t i = 0; i < r->n_volumes; i++) {
                vol_strbuf_puts(b, i ? ",{\"path\":" : "{\"path\":");
                vol_strbuf_json_string(b, r->volume_paths[i]);
                vol_strbuf_puts(b, ",\"name\":");
                vol_strbuf_json_string(b, r->volume_names[i]);
                vol_strbuf_putc(b, '}');
        }
        vol_strbuf_puts(b, "]}");
}

void vol_api_app_resolve(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_caller caller = vol_api_caller(req);
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_app_ref ref;
        layer_of(req, &ref);
        struct vol_app_resolved r;
        if (vol_apps_resolve(ctx, &caller, &ref, &r, &err) < 0)
                return fail(resp, &err);
        render_resolved(&resp->body, &ref, &r);
        vol_app_resolved_free(&r);
}

void vol_api_app_check(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_caller caller = vol_api_caller(req);
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_app_ref ref;
        layer_of(req, &ref);
        _cleanup_json_ json_t *body = NULL;
        struct vol_app_resolved r;
        if (vol_json_parse_object(req->body, req->body_len, false, &body, &err) < 0 ||
            vol_apps_check(ctx, &caller, &ref, body, &r, &err) < 0)
                return fail(resp, &err);
        render_resolved(&resp->body, &ref, &r);
        vol_app_resolved_free(&r);
}

void vol_api_app_get(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_caller caller = vol_api_caller(req);
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_app_ref ref;
        layer_of(req, &ref);
        if (at_app_node(ctx, req, resp, &ref, NULL, false))
                return;
        struct vol_app_view *v = xcalloc(1, sizeof(*v));
        if (vol_apps_get(ctx, &caller, &ref, v, &err) < 0) {
                free(v);
                return fail(resp, &err);
        }
        struct vol_strbuf *b = &resp->body;
        vol_strbuf_puts(b, "{\"tenant\":");
        vol_strbuf_json_string(b, ref.tenant);
        vol_strbuf_puts(b, ",\"env\":");
        vol_strbuf_json_string(b, ref.env);
        vol_strbuf_puts(b, ",\"app\":");
        vol_strbuf_json_string(b, ref.app);
        vol_strbuf_printf(b, ",\"config\":%s,\"deployed\":%s,\"engine\":%s,\"engine_error\":%s,\"containers\":[",
                          v->config, v->state ? v->state : "null", v->engine ? "true" : "false",
                          v->engine_error ? "true" : "false");
        for (size_t i = 0; i < v->n_containers; i++) {
                vol_strbuf_puts(b, i ? ",{\"id\":" : "{\"id\":");
                vol_strbuf_json_string(b, v->containers[i].id);
                vol_strbuf_puts(b, ",\"name\":");
                vol_strbuf_json_string(b, v->containers[i].name);
                vol_strbuf_puts(b, ",\"state\":");
                vol_strbuf_json_string(b, v->containers[i].state);
                vol_strbuf_printf(b, ",\"generation\":%lu}", v->containers[i].generation);
        }
        vol_strbuf_puts(b, "],\"volumes\":[");
        for (size_t i = 0; v->resolved_ok && i < v->resolved.n_volumes; i++) {
                vol_strbuf_puts(b, i ? ",{\"path\":" : "{\"path\":");
                vol_strbuf_json_string(b, v->resolved.volume_paths[i]);
                vol_strbuf_puts(b, ",\"name\":");
                vol_strbuf_json_string(b, v->resolved.volume_names[i]);
                vol_strbuf_printf(b, ",\"exists\":%s,\"in_use\":%s}", v->exists[i] ? "true" : "false",
                                  v->in_use[i] ? "true" : "false");
        }
        vol_strbuf_puts(b, "],\"resolve_error\":");
        if (v->resolve_error)
                vol_strbuf_json_string(b, v->resolve_error);
        else
                vol_strbuf_puts(b, "null");
        vol_strbuf_putc(b, '}');
        vol_app_view_free(v);
        free(v);
}

static const char *const deploy_fields[] = {"image", "cmd", "strategy", "node", NULL};

void vol_api_app_deploy(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_caller caller = vol_api_caller(req);
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_app_ref ref;
        layer_of(req, &ref);
        _cleanup_json_ json_t *body = NULL;
        struct vol_deploy_request dr = {0};
        const char *strategy = NULL, *node = NULL;
        _cleanup_free_ const char **cmd = NULL;
        if (vol_json_parse_object(req->body, req->body_len, false, &body, &err) < 0 ||
            vol_json_check_fields(body, deploy_fields, &err) < 0 ||
            vol_json_string(body, "image", &dr.image, &err) < 0 ||
            vol_json_string(body, "strategy", &strategy, &err) < 0 ||
            (json_object_get(body, "node") && vol_json_string(body, "node", &node, &err) < 0) ||
            (node && vol_validate_scope_part("node", node, &err) < 0))
                return fail(resp, &err);
        if (at_app_node(ctx, req, resp, &ref, node, true))
                return;
        if (strategy && strcmp(strategy, "recreate") && strcmp(strategy, "blue-green")) {
                vol_error_set(&err, -EINVAL, "strategy must be recreate or blue-green");
                return fail(resp, &err);
        }
        dr.blue_green = strategy && !strcmp(strategy, "blue-green");
        json_t *c = json_object_get(body, "cmd");
        if (c && !json_is_null(c)) {
                if (!json_is_array(c) || json_array_size(c) > VOL_APP_CMD_MAX) {
                        vol_error_set(&err, -EINVAL, "cmd must be a list of at most %d strings",
                                      VOL_APP_CMD_MAX);
                        return fail(resp, &err);
                }
                cmd = xcalloc(json_array_size(c) + 1, sizeof(char *));
                size_t i;
                json_t *a;
                json_array_foreach(c, i, a)
                {
                        if (!json_is_string(a) || strlen(json_string_value(a)) != json_string_length(a)) {
                                vol_error_set(&err, -EINVAL, "cmd[%zu] must be a string without NUL", i);
                                return fail(resp, &err);
                        }
                        cmd[i] = json_string_value(a);
                }
                dr.cmd = cmd;
                dr.n_cmd = json_array_size(c);
        }
        struct vol_deploy_result r;
        if (vol_apps_deploy(ctx, &caller, &ref, &dr, &r, &err) < 0)
                return fail(resp, &err);
        struct vol_strbuf *b = &resp->body;
        vol_strbuf_puts(b, "{\"container\":{\"id\":");
        vol_strbuf_json_string(b, r.container_id);
        vol_strbuf_puts(b, ",\"name\":");
        vol_strbuf_json_string(b, r.container_name);
        vol_strbuf_printf(b, "},\"generation\":%lu,\"replaced\":%zu,\"strategy\":\"%s\",\"resolved\":",
                          r.generation, r.replaced, dr.blue_green ? "blue-green" : "recreate");
        render_resolved(b, &ref, &r.resolved);
        vol_strbuf_putc(b, '}');
        vol_deploy_result_free(&r);
}

void vol_api_app_delete(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_caller caller = vol_api_caller(req);
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_app_ref ref;
        layer_of(req, &ref);
        if (at_app_node(ctx, req, resp, &ref, NULL, false))
                return;
        struct vol_app_delete_result r;
        if (vol_apps_delete(ctx, &caller, &ref, &r, &err) < 0)
                return fail(resp, &err);
        vol_strbuf_printf(&resp->body, "{\"removed\":{\"containers\":%zu,\"volumes\":%zu,\"config\":%s}}",
                          r.containers, r.volumes, r.config ? "true" : "false");
}

struct app_render {
        struct vol_strbuf *b;
        size_t n;
};

static int render_app(const char *tenant, const char *env, const char *app, bool has_config,
                      const char *state, void *userdata)
{
        struct app_render *ar = userdata;
        struct vol_strbuf *b = ar->b;
        vol_strbuf_puts(b, ar->n++ ? ",{\"tenant\":" : "{\"tenant\":");
        vol_strbuf_json_string(b, tenant);
        vol_strbuf_puts(b, ",\"env\":");
        vol_strbuf_json_string(b, env);
        vol_strbuf_puts(b, ",\"app\":");
        vol_strbuf_json_string(b, app);
        vol_strbuf_puts(b, has_config ? ",\"config\":true,\"deployed\":" : ",\"config\":false,\"deployed\":");
        vol_strbuf_puts(b, state ? state : "null");
        vol_strbuf_putc(b, '}');
        return 0;
}

void vol_api_apps_list(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_caller caller = vol_api_caller(req);
        struct vol_error err = VOL_ERROR_INIT;
        vol_strbuf_puts(&resp->body, "{\"apps\":[");
        struct app_render ar = {&resp->body, 0};
        if (vol_apps_list(ctx, &caller, vol_http_query(req, "tenant"), render_app, &ar, &err) < 0)
                return fail(resp, &err);
        vol_strbuf_puts(&resp->body, "]}");
}
