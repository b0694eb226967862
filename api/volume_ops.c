/* REST handlers for what a volume's driver does beyond create and remove:
 * drivers, snapshots, clone, resize (docs/api.md, "Storage"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "api/json_in.h"
#include "core/cleanup.h"
#include "core/volume_json.h"
#include "core/xmalloc.h"
#include "drivers/driver.h"

DEFINE_CLEANUP_FUNC(struct vol_volume, vol_volume_free)

static void fail(struct vol_http_response *resp, struct vol_error *err)
{
        vol_api_error(resp, err->code ? err->code : -EIO, vol_error_message(err));
        vol_error_clear(err);
}

/* The operation id the caller chose (X-Volman-Operation), for GET
 * /v1/operations/{id} while the request runs; NULL when none or malformed. */
static const char *op_id(const struct vol_http_request *req)
{
        const char *id = vol_http_header(req, "X-Volman-Operation");
        return id && vol_validate_operation_id(id, NULL) == 0 ? id : NULL;
}

static const struct {
        unsigned cap;
        const char *name;
} cap_names[] = {
        {VOL_CAP_SIZE_LIMIT, "size_limit"}, {VOL_CAP_OWNERSHIP, "ownership"}, {VOL_CAP_USAGE, "usage"},
        {VOL_CAP_EPHEMERAL, "ephemeral"},   {VOL_CAP_SNAPSHOT, "snapshot"},   {VOL_CAP_SNAPSHOT, "clone"},
        {VOL_CAP_RESIZE, "resize"}, {VOL_CAP_USAGE_CHEAP, "cheap_usage"},
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
        if (vol_api_forward_to_owner(ctx, req, resp))
                return;
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_caller caller = vol_api_caller(req);
        _cleanup_json_ json_t *body = NULL;
        const char *name = NULL;
        struct vol_snapshot sn;
        if (vol_json_parse_object(req->body, req->body_len, true, &body, &err) < 0 ||
            vol_json_check_fields(body, snap_fields, &err) < 0 || vol_json_string(body, "name", &name, &err) < 0 ||
            vol_service_snapshot_create(ctx, &caller, op_id(req), req->params[0], name, &sn, &err) < 0)
                return fail(resp, &err);
        resp->status = 201;
        render_snapshot(&resp->body, &sn);
}

void vol_api_snapshot_list(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        if (vol_api_forward_to_owner(ctx, req, resp))
                return;
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
        if (vol_api_forward_to_owner(ctx, req, resp))
                return;
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_caller caller = vol_api_caller(req);
        if (vol_service_snapshot_remove(ctx, &caller, req->params[0], req->params[1], &err) < 0)
                return fail(resp, &err);
        resp->status = 204;
}

void vol_api_snapshot_restore(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        if (vol_api_forward_to_owner(ctx, req, resp))
                return;
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
        if (vol_api_forward_to_owner(ctx, req, resp))
                return;
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_caller caller = vol_api_caller(req);
        _cleanup_json_ json_t *body = NULL;
        struct vol_create_request cr = {.options = VOL_KVS_INIT, .labels = VOL_KVS_INIT};
        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
        if (vol_json_parse_object(req->body, req->body_len, false, &body, &err) < 0 ||
            vol_json_check_fields(body, clone_fields, &err) < 0 || vol_json_string(body, "name", &cr.name, &err) < 0 ||
            vol_json_string_map(body, "labels", VOL_LABELS_MAX, &cr.labels, &err) < 0 ||
            vol_json_scope(body, "scope", &cr.scope, &err) < 0 ||
            vol_service_clone(ctx, &caller, op_id(req), req->params[0], &cr, &v, &err) < 0) {
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
        if (vol_api_forward_to_owner(ctx, req, resp))
                return;
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

/* ---- export and import ---- */

static int to_stream(void *userdata, const void *buf, size_t n)
{
        return vol_http_stream_write(userdata, buf, n);
}

void vol_api_export(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        if (vol_api_forward_to_owner(ctx, req, resp))
                return;
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_caller caller = vol_api_caller(req);
        const char *comp = vol_http_query(req, "compression");
        if (comp && strcmp(comp, "zstd") && strcmp(comp, "none")) {
                vol_error_set(&err, -EINVAL, "compression must be zstd or none");
                return fail(resp, &err);
        }
        bool zstd = comp && !strcmp(comp, "zstd");
        /* what can fail before the first byte answers with an error */
        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
        if (vol_service_get(ctx, &caller, req->params[0], false, &v, NULL, &err) < 0 ||
            vol_service_transfer_ready("volume export", &err) < 0)
                return fail(resp, &err);
        struct vol_http_stream *st =
                vol_http_stream_start(req, 200, zstd ? "application/zstd" : "application/x-tar");
        if (!st) {
                vol_error_set(&err, -EIO, "this request cannot stream an answer");
                return fail(resp, &err);
        }
        struct vol_transfer_progress progress = {0};
        int r = vol_service_export(ctx, &caller, op_id(req), req->params[0], zstd, to_stream, st, &progress, &err);
        if (r < 0)
                vol_service_log("error", "export of %s cut short after %llu bytes: %s", req->params[0],
                                (unsigned long long)progress.bytes, vol_error_message(&err));
        vol_error_clear(&err);
        vol_http_stream_end(st, r == 0);
}

/* ---- the metadata store's backup ---- */

void vol_api_store_backup(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_caller caller = vol_api_caller(req);
        _cleanup_close_ int fd = -1;
        if (vol_service_store_backup(ctx, &caller, &fd, &err) < 0)
                return fail(resp, &err);
        struct vol_http_stream *st = vol_http_stream_start(req, 200, "application/vnd.sqlite3");
        if (!st) {
                vol_error_set(&err, -EIO, "this request cannot stream an answer");
                return fail(resp, &err);
        }
        const size_t size = 1 << 16;
        _cleanup_free_ char *buf = xmalloc(size);
        bool ok = true;
        for (;;) {
                ssize_t n = read(fd, buf, size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        if (n < 0) {
                                vol_service_log("error", "store backup cut short: reading the copy: %m");
                                ok = false;
                        }
                        break;
                }
                if (vol_http_stream_write(st, buf, (size_t)n) < 0) {
                        ok = false;
                        break;
                }
        }
        vol_http_stream_end(st, ok);
}

static ssize_t from_body(void *userdata, void *buf, size_t n)
{
        return vol_http_body_read(userdata, buf, n);
}

struct kv_ctx {
        struct vol_kvs *kvs;
        const char *what;
        struct vol_error *err;
        int r;
};

static void add_kv(const char *value, void *userdata)
{
        struct kv_ctx *k = userdata;
        const char *eq = strchr(value, '=');
        if (k->r < 0)
                return;
        if (!eq || eq == value) {
                k->r = vol_error_set(k->err, -EINVAL, "%s %s: give KEY=VALUE", k->what, value);
                return;
        }
        _cleanup_free_ char *key = strndup(value, (size_t)(eq - value));
        vol_kvs_set(k->kvs, key, eq + 1);
}

void vol_api_import(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_caller caller = vol_api_caller(req);
        struct vol_create_request cr = {.options = VOL_KVS_INIT, .labels = VOL_KVS_INIT};
        struct vol_scope scope = {0};
        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
        cr.name = vol_http_query(req, "name");
        cr.driver = vol_http_query(req, "driver");
        scope.tenant = (char *)vol_http_query(req, "tenant");
        scope.env = (char *)vol_http_query(req, "env");
        scope.app = (char *)vol_http_query(req, "app");
        scope.path = (char *)vol_http_query(req, "path");
        struct kv_ctx ko = {&cr.options, "opt", &err, 0}, kl = {&cr.labels, "label", &err, 0};
        vol_http_query_all(req, "opt", add_kv, &ko);
        vol_http_query_all(req, "label", add_kv, &kl);
        bool any_scope = scope.tenant || scope.env || scope.app || scope.path;
        if (ko.r < 0 || kl.r < 0) {
                fail(resp, &err);
        } else if (any_scope && !(scope.tenant && scope.env && scope.app && scope.path)) {
                vol_error_set(&err, -EINVAL, "a scope needs tenant, env, app and path");
                fail(resp, &err);
        } else {
                cr.scope = any_scope ? &scope : NULL;
                struct vol_transfer_progress progress = {0};
                if (vol_service_import(ctx, &caller, op_id(req), &cr, from_body, (void *)req, &progress, &v, &err) < 0) {
                        fail(resp, &err);
                } else {
                        resp->status = 201;
                        vol_volume_to_json(&resp->body, v, NULL);
                }
        }
        vol_kvs_free(&cr.options);
        vol_kvs_free(&cr.labels);
}

/* ---- operations ---- */

static void render_op(struct vol_strbuf *b, const struct vol_operation *o)
{
        char started[32], finished[32];
        vol_format_time(o->started, started);
        vol_format_time(o->finished, finished);
        vol_strbuf_puts(b, "{\"id\":");
        vol_strbuf_json_string(b, o->id);
        vol_strbuf_printf(b, ",\"kind\":\"%s\",\"volume\":", o->kind);
        vol_strbuf_json_string(b, o->volume);
        vol_strbuf_printf(b, ",\"state\":\"%s\",\"started_at\":\"%s\",\"finished_at\":",
                          !o->finished ? "running" : o->result ? "failed" : "done", started);
        if (o->finished)
                vol_strbuf_printf(b, "\"%s\"", finished);
        else
                vol_strbuf_puts(b, "null");
        vol_strbuf_printf(b, ",\"bytes\":%llu,\"entries\":%llu,\"total_bytes\":", (unsigned long long)o->bytes,
                          (unsigned long long)o->entries);
        if (o->total)
                vol_strbuf_printf(b, "%llu", (unsigned long long)o->total);
        else
                vol_strbuf_puts(b, "null");
        vol_strbuf_puts(b, ",\"error\":");
        if (o->finished && o->result)
                vol_strbuf_json_string(b, o->message);
        else
                vol_strbuf_puts(b, "null");
        vol_strbuf_putc(b, '}');
}

void vol_api_operation_get(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_caller caller = vol_api_caller(req);
        struct vol_operation o;
        if (vol_service_operation_get(ctx, &caller, req->params[0], &o, &err) < 0)
                return fail(resp, &err);
        render_op(&resp->body, &o);
}

static int list_op(const struct vol_operation *o, void *userdata)
{
        struct vol_strbuf *b = userdata;
        if (b->data[b->len - 1] == '}')
                vol_strbuf_putc(b, ',');
        render_op(b, o);
        return 0;
}

void vol_api_operation_list(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_caller caller = vol_api_caller(req);
        vol_strbuf_puts(&resp->body, "{\"operations\":[");
        vol_service_operation_list(ctx, &caller, list_op, &resp->body);
        vol_strbuf_puts(&resp->body, "]}");
}
