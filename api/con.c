/* REST handlers of the /con interface (docs/con.md, docs/api.md): the files
 * of the configuration and context areas and the secrets, at an env's level
 * (/v1/tenants/T/envs/E/...) or an app's (/v1/tenants/T/envs/E/apps/A/...).
 * File and secret bodies are raw bytes, not JSON. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "core/cleanup.h"
#include "core/xmalloc.h"
#include "service/con.h"

static void fail(struct vol_http_response *resp, struct vol_error *err)
{
        vol_api_error(resp, err->code ? err->code : -EIO, vol_error_message(err));
        vol_error_clear(err);
}

/* The level from the route: {tenant}/{env} then, for an app's routes (those
 * with app_params {} before the rest), {app}. Returns the index of the next
 * parameter. */
static size_t level_of(const struct vol_http_request *req, size_t rest, struct vol_app_ref *ref)
{
        ref->tenant = req->params[0];
        ref->env = req->params[1];
        ref->app = req->n_params == rest + 3 ? req->params[2] : NULL;
        return ref->app ? 3 : 2;
}

static const char *query(const struct vol_http_request *req, const char *name)
{
        for (size_t i = 0; i < req->n_query; i++)
                if (!strcmp(req->query[i].key, name))
                        return req->query[i].value;
        return NULL;
}

static void render_file(struct vol_strbuf *b, const struct vol_con_file_info *f)
{
        vol_strbuf_printf(b, "{\"area\":\"%s\",\"name\":", vol_con_area_name(f->area));
        vol_strbuf_json_string(b, f->name);
        vol_strbuf_printf(b, ",\"size\":%llu,\"updated\":%lld,\"sha256\":\"%s\"}", (unsigned long long)f->size,
                          (long long)f->updated, f->sha256);
}

void vol_api_file_put(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_caller caller = vol_api_caller(req);
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_app_ref ref;
        size_t i = level_of(req, 2, &ref);
        int area = vol_con_area_from_name(req->params[i], &err);
        struct vol_con_file_info f;
        if (area < 0 || vol_con_file_put(ctx, &caller, &ref, (enum vol_con_area)area, req->params[i + 1], req->body,
                                         req->body_len, &f, &err) < 0)
                return fail(resp, &err);
        render_file(&resp->body, &f);
}

void vol_api_file_get(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_caller caller = vol_api_caller(req);
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_app_ref ref;
        size_t i = level_of(req, 2, &ref);
        int area = vol_con_area_from_name(req->params[i], &err);
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        if (area < 0 || vol_con_file_get(ctx, &caller, &ref, (enum vol_con_area)area, req->params[i + 1], &data,
                                         &len, &err) < 0)
                return fail(resp, &err);
        resp->content_type = "application/octet-stream";
        vol_strbuf_append(&resp->body, data, len);
}

void vol_api_file_remove(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_caller caller = vol_api_caller(req);
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_app_ref ref;
        size_t i = level_of(req, 2, &ref);
        int area = vol_con_area_from_name(req->params[i], &err);
        if (area < 0 ||
            vol_con_file_remove(ctx, &caller, &ref, (enum vol_con_area)area, req->params[i + 1], &err) < 0)
                return fail(resp, &err);
        resp->status = 204;
}

struct list_ctx {
        struct vol_strbuf *b;
        size_t n;
};

static int list_file(const struct vol_con_file_info *f, void *userdata)
{
        struct list_ctx *l = userdata;
        if (l->n++)
                vol_strbuf_putc(l->b, ',');
        render_file(l->b, f);
        return 0;
}

void vol_api_file_list(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_caller caller = vol_api_caller(req);
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_app_ref ref;
        level_of(req, 0, &ref);
        const char *a = query(req, "area");
        int area = a ? vol_con_area_from_name(a, &err) : -1;
        if (a && area < 0)
                return fail(resp, &err);
        struct vol_strbuf b;
        vol_strbuf_init(&b, 0);
        vol_strbuf_puts(&b, "{\"files\":[");
        struct list_ctx l = {&b, 0};
        if (vol_con_file_list(ctx, &caller, &ref, area, list_file, &l, &err) < 0) {
                vol_strbuf_free(&b);
                return fail(resp, &err);
        }
        vol_strbuf_puts(&b, "]}");
        vol_strbuf_free(&resp->body);
        resp->body = b;
}

static void render_secret(struct vol_strbuf *b, const struct vol_secret_info *s)
{
        vol_strbuf_puts(b, "{\"name\":");
        vol_strbuf_json_string(b, s->name);
        vol_strbuf_printf(b, ",\"size\":%llu,\"created\":%lld,\"updated\":%lld}", (unsigned long long)s->size,
                          (long long)s->created, (long long)s->updated);
}

void vol_api_secret_put(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_caller caller = vol_api_caller(req);
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_app_ref ref;
        size_t i = level_of(req, 1, &ref);
        struct vol_secret_info info;
        if (vol_secret_put(ctx, &caller, &ref, req->params[i], req->body, req->body_len, &info, &err) < 0)
                return fail(resp, &err);
        render_secret(&resp->body, &info);
}

void vol_api_secret_remove(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_caller caller = vol_api_caller(req);
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_app_ref ref;
        size_t i = level_of(req, 1, &ref);
        if (vol_secret_remove(ctx, &caller, &ref, req->params[i], &err) < 0)
                return fail(resp, &err);
        resp->status = 204;
}

static int list_secret(const struct vol_secret_info *s, void *userdata)
{
        struct list_ctx *l = userdata;
        if (l->n++)
                vol_strbuf_putc(l->b, ',');
        render_secret(l->b, s);
        return 0;
}

void vol_api_secret_list(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_caller caller = vol_api_caller(req);
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_app_ref ref;
        level_of(req, 0, &ref);
        struct vol_strbuf b;
        vol_strbuf_init(&b, 0);
        vol_strbuf_puts(&b, "{\"secrets\":[");
        struct list_ctx l = {&b, 0};
        if (vol_secret_list(ctx, &caller, &ref, list_secret, &l, &err) < 0) {
                vol_strbuf_free(&b);
                return fail(resp, &err);
        }
        vol_strbuf_puts(&b, "]}");
        vol_strbuf_free(&resp->body);
        resp->body = b;
}

/* GET /v1/tenants/T/envs/E/apps/A/secrets/NAME: for the app's seed token. */
void vol_api_secret_read(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_caller caller = vol_api_caller(req);
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_app_ref ref = {req->params[0], req->params[1], req->params[2]};
        unsigned char *value = NULL;
        size_t len = 0;
        if (vol_secret_read(ctx, &caller, &ref, req->params[3], &value, &len, &err) < 0)
                return fail(resp, &err);
        resp->content_type = "application/octet-stream";
        resp->wipe = true;
        vol_strbuf_append(&resp->body, value, len);
        vol_secret_value_free(value);
}
