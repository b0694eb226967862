/* REST handlers for what a volume's driver does beyond create and remove:
 * drivers, snapshots, clone, resize (docs/api.md, "Storage"). */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api/json_in.h"
#include "core/cleanup.h"
#include "core/volume_json.h"
#include "drivers/driver.h"

DEFINE_CLEANUP_FUNC(struct vol_volume, vol_volume_free)

static void fail(struct vol_http_response *resp, struct vol_error *err)
{
        vol_api_error(resp, err->code ? err->code : -EIO, vol_error_message(err));
        vol_error_clear(err);
}

static const struct {
        unsigned cap;
        const char *name;
} cap_names[] = {
        {VOL_CAP_SIZE_LIMIT, "size_limit"}, {VOL_CAP_OWNERSHIP, "ownership"}, {VOL_CAP_USAGE, "usage"},
        {VOL_CAP_EPHEMERAL, "ephemeral"},   {VOL_CAP_SNAPSHOT, "snapshot"},   {VOL_CAP_SNAPSHOT, "clone"},
        {VOL_CAP_RESIZE, "resize"},
};

static int render_driver(const struct vol_driver_desc *d, void *userdata)
{
        struct vol_strbuf *b = userdata;
        if (b->data[b->len - 1] == '}')
                vol_strbuf_putc(b, ',');
        vol_strbuf_puts(b, "{\"name\":");
        vol_strbuf_json_string(b, d->name);
        vol_strbuf_printf(b, ",\"available\":%s,\"reason\":", d->available ? "true" : "false");
        if (d->reason)
                vol_strbuf_json_string(b, d->reason);
        else
                vol_strbuf_puts(b, "null");
        vol_strbuf_puts(b, ",\"capabilities\":[");
        bool first = true;
        for (size_t i = 0; i < sizeof(cap_names) / sizeof(cap_names[0]); i++)
                if (d->caps & cap_names[i].cap) {
                        vol_strbuf_printf(b, "%s\"%s\"", first ? "" : ",", cap_names[i].name);
                        first = false;
                }
        vol_strbuf_puts(b, "],\"options\":[");
        for (const char *const *o = d->options; o && *o; o++)
                vol_strbuf_printf(b, "%s\"%s\"", o == d->options ? "" : ",", *o);
        vol_strbuf_puts(b, "]}");
        return 0;
}

void vol_api_drivers(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        vol_strbuf_puts(&resp->body, "{\"drivers\":[");
        vol_service_drivers(ctx, render_driver, &resp->body);
        vol_strbuf_puts(&resp->body, "]}");
}

static void render_snapshot(struct vol_strbuf *b, const struct vol_snapshot *sn)
{
        char t[32];
        vol_format_time(sn->created, t);
        vol_strbuf_puts(b, "{\"name\":");
        vol_strbuf_json_string(b, sn->name);
        vol_strbuf_printf(b, ",\"created_at\":\"%s\",\"ready\":%s}", t, sn->ready ? "true" : "false");
}

static const char *const snap_fields[] = {"name", NULL};
void vol_api_snapshot_create(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_caller caller = vol_api_caller(req);
        _cleanup_json_ json_t *body = NULL;
        const char *name = NULL;
        struct vol_snapshot sn;
        if (vol_json_parse_object(req->body, req->body_len, true, &body, &err) < 0 ||
            vol_json_check_fields(body, snap_fields, &err) < 0 || vol_json_string(body, "name", &name, &err) < 0 ||
            vol_service_snapshot_create(ctx, &caller, req->params[0], name, &sn, &err) < 0)
                return fail(resp, &err);
        resp->status = 201;
        render_snapshot(&resp->body, &sn);
}

void vol_api_snapshot_list(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_caller caller = vol_api_caller(req);
        _cleanup_free_ struct vol_snapshot *list = NULL;
        size_t n = 0;
        if (vol_service_snapshot_list(ctx, &caller, req->params[0], &list, &n, &err) < 0)
                return fail(resp, &err);
        vol_strbuf_puts(&resp->body, "{\"snapshots\":[");
        for (size_t i = 0; i < n; i++) {
                if (i)
                        vol_strbuf_putc(&resp->body, ',');
                render_snapshot(&resp->body, &list[i]);
        }
        vol_strbuf_puts(&resp->body, "]}");
}

void vol_api_snapshot_remove(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_caller caller = vol_api_caller(req);
        if (vol_service_snapshot_remove(ctx, &caller, req->params[0], req->params[1], &err) < 0)
                return fail(resp, &err);
        resp->status = 204;
}

void vol_api_snapshot_restore(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_caller caller = vol_api_caller(req);
        if (vol_service_snapshot_restore(ctx, &caller, req->params[0], req->params[1], &err) < 0)
                return fail(resp, &err);
        vol_strbuf_puts(&resp->body, "{\"restored\":");
        vol_strbuf_json_string(&resp->body, req->params[1]);
        vol_strbuf_putc(&resp->body, '}');
}

static const char *const clone_fields[] = {"name", "labels", "scope", NULL};
void vol_api_clone(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_caller caller = vol_api_caller(req);
        _cleanup_json_ json_t *body = NULL;
        struct vol_create_request cr = {.options = VOL_KVS_INIT, .labels = VOL_KVS_INIT};
        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
        if (vol_json_parse_object(req->body, req->body_len, false, &body, &err) < 0 ||
            vol_json_check_fields(body, clone_fields, &err) < 0 || vol_json_string(body, "name", &cr.name, &err) < 0 ||
            vol_json_string_map(body, "labels", VOL_LABELS_MAX, &cr.labels, &err) < 0 ||
            vol_json_scope(body, "scope", &cr.scope, &err) < 0 ||
            vol_service_clone(ctx, &caller, req->params[0], &cr, &v, &err) < 0) {
                fail(resp, &err);
        } else {
                resp->status = 201;
                vol_volume_to_json(&resp->body, v, NULL);
        }
        vol_kvs_free(&cr.labels);
        vol_scope_free(cr.scope);
}

static const char *const resize_fields[] = {"size", NULL};
void vol_api_resize(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_caller caller = vol_api_caller(req);
        _cleanup_json_ json_t *body = NULL;
        const char *size = NULL;
        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
        if (vol_json_parse_object(req->body, req->body_len, false, &body, &err) < 0 ||
            vol_json_check_fields(body, resize_fields, &err) < 0 || vol_json_string(body, "size", &size, &err) < 0 ||
            vol_service_resize(ctx, &caller, req->params[0], size, &v, &err) < 0)
                return fail(resp, &err);
        vol_volume_to_json(&resp->body, v, NULL);
}
