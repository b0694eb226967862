/* REST handlers: parse and validate at the edge, call the service, render. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api/json_in.h"
#include "core/cleanup.h"
#include "core/filter.h"
#include "core/volume_json.h"
#include "core/xmalloc.h"

#define LIST_LIMIT_MAX 10000
#define LIST_BODY_MAX (64u << 20)

DEFINE_CLEANUP_FUNC(struct vol_volume, vol_volume_free)

static void fail(struct vol_http_response *resp, struct vol_error *err)
{
        vol_api_error(resp, err->code ? err->code : -EIO, vol_error_message(err));
        vol_error_clear(err);
}

static void render_volume(struct vol_http_response *resp, int status, const struct vol_volume *v,
                          const struct vol_volume_info *info)
{
        resp->status = status;
        vol_volume_to_json(&resp->body, v, info);
}

void vol_api_health(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_error err = VOL_ERROR_INIT;
        bool degraded = vol_service_health(ctx, &err) < 0;
        /* degraded: alive, but refusing what it cannot do safely */
        resp->status = degraded ? 503 : 200;
        vol_strbuf_printf(&resp->body,
                          "{\"status\":\"%s\",\"version\":\"" VOLMAN_VERSION "\",\"removals_pending\":%zu",
                          degraded ? "degraded" : "ok", vol_service_removals_pending(ctx));
        if (degraded) {
                vol_strbuf_puts(&resp->body, ",\"reason\":");
                vol_strbuf_json_string(&resp->body, vol_error_message(&err));
        }
        vol_strbuf_putc(&resp->body, '}');
        vol_error_clear(&err);
}

void vol_api_metrics(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_caller caller = vol_api_caller(req);
        if (vol_service_render_metrics(ctx, &caller, &resp->body, &err) < 0)
                return fail(resp, &err);
        resp->content_type = "text/plain; version=0.0.4";
}

static const char *const create_fields[] = {"name", "driver", "options", "labels", "scope", "node", NULL};
void vol_api_create(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_error err = VOL_ERROR_INIT;
        _cleanup_json_ json_t *body = NULL;
        struct vol_placement place = {0};
        struct vol_create_request cr = {.options = VOL_KVS_INIT, .labels = VOL_KVS_INIT, .placement = &place};
        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
        bool created = false;
        struct vol_caller caller = vol_api_caller(req);
        int r;
        if ((r = vol_json_parse_object(req->body, req->body_len, false, &body, &err)) < 0 ||
            (r = vol_json_check_fields(body, create_fields, &err)) < 0 ||
            (r = vol_json_string(body, "name", &cr.name, &err)) < 0 ||
            (r = vol_json_string(body, "driver", &cr.driver, &err)) < 0 ||
            (r = vol_json_string_map(body, "options", VOL_OPTIONS_MAX, &cr.options, &err)) < 0 ||
            (r = vol_json_string_map(body, "labels", VOL_LABELS_MAX, &cr.labels, &err)) < 0 ||
            (r = vol_json_scope(body, "scope", &cr.scope, &err)) < 0 ||
            (r = vol_json_string(body, "node", &cr.node, &err)) < 0) {
                fail(resp, &err);
        } else if ((r = vol_service_create(ctx, &caller, &cr, &v, &created, &err)) == -EREMOTE && place.address &&
                   !vol_api_forwarded(req)) {
                /* placed on another node: made there */
                vol_error_clear(&err);
                json_object_set_new(body, "node", json_string(place.node));
                _cleanup_free_ char *text = json_dumps(body, JSON_COMPACT);
                vol_api_forward(ctx, req, resp, place.node, place.address, text, strlen(text));
        } else if (r < 0) {
                fail(resp, &err);
        } else {
                render_volume(resp, created ? 201 : 200, v, NULL);
        }
        vol_kvs_free(&cr.options);
        vol_kvs_free(&cr.labels);
        vol_scope_free(cr.scope);
        free(place.node);
        free(place.address);
}

struct filter_ctx {
        struct vol_filter *f;
        struct vol_error *err;
        int r;
};

static void add_filter(const char *value, void *userdata)
{
        struct filter_ctx *c = userdata;
        if (c->r == 0)
                c->r = vol_filter_add(c->f, value, c->err);
}

/* A list is rendered into the response body; past LIST_STREAM_AT bytes it
 * goes out as a stream, so a page of 10,000 is never held whole, in pieces
 * of that size. Each piece wakes the reader once; one that does not fit the
 * socket's send buffer (Linux's default, net.core.wmem_default, is 208 KiB)
 * makes the daemon wait for room. 192 KiB: a list of 10,000 (2.8 MB) took
 * 2.3 ms instead of 2.8 with 64 KiB pieces (16 wake-ups of the reader, not
 * 44), and 3.0 with 512 KiB ones. */
#define LIST_STREAM_AT (192u << 10)

struct list_render {
        struct vol_strbuf *out;
        size_t n;
        const struct vol_http_request *req;
        struct vol_http_stream *st; /* once streaming */
};

/* Sends what is buffered once there is enough of it. */
static int list_flush(struct list_render *lr, bool force)
{
        if (!lr->req->stream || (!force && lr->out->len < LIST_STREAM_AT))
                return 0;
        if (!lr->st && !(lr->st = vol_http_stream_start(lr->req, 200, "application/json")))
                return 0;
        int r = vol_http_stream_write(lr->st, lr->out->data, lr->out->len);
        lr->out->len = 0;
        return r;
}

static int render_listed(const struct vol_volume *v, const struct vol_volume_info *info,
                         void *userdata)
{
        struct list_render *lr = userdata;
        if (lr->n++)
                vol_strbuf_putc(lr->out, ',');
        int r = vol_volume_to_json(lr->out, v, info);
        return r < 0 ? r : list_flush(lr, false);
}

/* A volume the store kept as JSON: its text without the closing brace, the
 * driver's view, the brace. */
static int copy_listed(const char *json, size_t len, const struct vol_volume_info *info, void *userdata)
{
        struct list_render *lr = userdata;
        struct vol_strbuf *b = lr->out;
        int r = lr->n++ ? vol_strbuf_putc(b, ',') : 0;
        if (len < 2 || json[len - 1] != '}')
                return -EIO; /* never written so */
        r |= vol_strbuf_append(b, json, len - 1);
        r |= vol_volume_info_to_json(b, info);
        r |= vol_strbuf_putc(b, '}');
        return r ? -E2BIG : list_flush(lr, false);
}

void vol_api_list(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_filter f;
        vol_filter_init(&f);
        struct filter_ctx fc = {&f, &err, 0};
        vol_http_query_all(req, "filter", add_filter, &fc);
        size_t limit = LIST_LIMIT_MAX;
        const char *l = vol_http_query(req, "limit");
        if (fc.r == 0 && l) {
                char *end;
                long n = strtol(l, &end, 10);
                if (!*l || *end || n < 1 || n > LIST_LIMIT_MAX)
                        fc.r = vol_error_set(&err, -EINVAL, "limit must be a number from 1 to %d",
                                             LIST_LIMIT_MAX);
                else
                        limit = (size_t)n;
        }
        const char *after = vol_http_query(req, "after");
        if (fc.r < 0) {
                vol_filter_free(&f);
                return fail(resp, &err);
        }
        _cleanup_free_ char *next = NULL;
        resp->body.max = LIST_BODY_MAX;
        vol_strbuf_puts(&resp->body, "{\"volumes\":[");
        struct list_render lr = {&resp->body, 0, req, NULL};
        struct vol_caller caller = vol_api_caller(req);
        const char *u = vol_http_query(req, "usage");
        bool usage = u && (!strcmp(u, "true") || !strcmp(u, "1"));
        int r = usage ? vol_service_list_usage(ctx, &caller, &f, after, limit, render_listed, &lr, &next, &err)
                : vol_service_list_json_ok(ctx, &f)
                        ? vol_service_list_json(ctx, &caller, &f, after, limit, copy_listed, &lr, &next, &err)
                        : vol_service_list(ctx, &caller, &f, after, limit, render_listed, &lr, &next, &err);
        vol_filter_free(&f);
        if (r == -E2BIG)
                vol_error_set(&err, r, "the list is larger than the response limit; ask for a smaller page");
        if (r < 0 && lr.st) {
                /* too late for a status: the body is cut short instead */
                vol_http_stream_end(lr.st, false);
                return;
        }
        if (r < 0)
                return fail(resp, &err);
        vol_strbuf_puts(&resp->body, "],\"next\":");
        if (next)
                vol_strbuf_json_string(&resp->body, next);
        else
                vol_strbuf_puts(&resp->body, "null");
        vol_strbuf_putc(&resp->body, '}');
        if (lr.st) {
                list_flush(&lr, true);
                vol_http_stream_end(lr.st, true);
        }
}

static int render_viewed(const struct vol_volume *v, const struct vol_volume_info *info,
                         void *userdata)
{
        return vol_volume_to_json(userdata, v, info);
}

void vol_api_inspect(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_error err = VOL_ERROR_INIT;
        /* Usage can cost a walk of the whole tree: only when asked. */
        const char *u = vol_http_query(req, "usage");
        if (u && strcmp(u, "true") && strcmp(u, "false") && strcmp(u, "1") && strcmp(u, "0")) {
                vol_error_set(&err, -EINVAL, "usage must be true or false");
                return fail(resp, &err);
        }
        bool with_usage = u && (!strcmp(u, "true") || !strcmp(u, "1"));
        struct vol_caller caller = vol_api_caller(req);
        /* rendered straight from the store's row: no copy of the volume */
        if (vol_service_view(ctx, &caller, req->params[0], with_usage, render_viewed, &resp->body, &err) < 0)
                return fail(resp, &err);
}

void vol_api_remove(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        if (vol_api_forward_to_owner(ctx, req, resp))
                return;
        struct vol_error err = VOL_ERROR_INIT;
        /* ?force is accepted and deliberately changes nothing: a volume with
         * mount references is never removed. */
        struct vol_caller caller = vol_api_caller(req);
        if (vol_service_remove(ctx, &caller, req->params[0], &err) < 0)
                return fail(resp, &err);
        resp->status = 204;
}

static const char *const mount_fields[] = {"id", NULL};

static int parse_mount_id(const struct vol_http_request *req, json_t **body, const char **ret_id,
                          struct vol_error *err)
{
        int r;
        if ((r = vol_json_parse_object(req->body, req->body_len, false, body, err)) < 0 ||
            (r = vol_json_check_fields(*body, mount_fields, err)) < 0 ||
            (r = vol_json_string(*body, "id", ret_id, err)) < 0)
                return r;
        if (!*ret_id)
                return vol_error_set(err, -EINVAL, "field id (the mount reference) is required");
        return 0;
}

void vol_api_mount(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        if (vol_api_forward_to_owner(ctx, req, resp))
                return;
        struct vol_error err = VOL_ERROR_INIT;
        _cleanup_json_ json_t *body = NULL;
        _cleanup_free_ char *mountpoint = NULL;
        const char *id;
        struct vol_caller caller = vol_api_caller(req);
        if (parse_mount_id(req, &body, &id, &err) < 0 ||
            vol_service_mount(ctx, &caller, req->params[0], id, false, &mountpoint, &err) < 0)
                return fail(resp, &err);
        vol_strbuf_puts(&resp->body, "{\"mountpoint\":");
        vol_strbuf_json_string(&resp->body, mountpoint);
        vol_strbuf_putc(&resp->body, '}');
}

void vol_api_unmount(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        if (vol_api_forward_to_owner(ctx, req, resp))
                return;
        struct vol_error err = VOL_ERROR_INIT;
        _cleanup_json_ json_t *body = NULL;
        const char *id;
        struct vol_caller caller = vol_api_caller(req);
        if (parse_mount_id(req, &body, &id, &err) < 0 ||
            vol_service_unmount(ctx, &caller, req->params[0], id, false, &err) < 0)
                return fail(resp, &err);
        vol_strbuf_puts(&resp->body, "{}");
}

static const char *const prune_fields[] = {"filters", "all", "dry_run", NULL};

struct prune_render {
        struct vol_strbuf removed; /* "[...": the names */
        struct vol_strbuf kept;    /* "[...": {name, reason} */
};

static void prune_seen(const char *name, const char *kept_because, void *userdata)
{
        struct prune_render *pr = userdata;
        struct vol_strbuf *b = kept_because ? &pr->kept : &pr->removed;
        if (b->len > 1)
                vol_strbuf_putc(b, ',');
        if (!kept_because) {
                vol_strbuf_json_string(b, name);
                return;
        }
        vol_strbuf_puts(b, "{\"name\":");
        vol_strbuf_json_string(b, name);
        vol_strbuf_puts(b, ",\"reason\":");
        vol_strbuf_json_string(b, kept_because);
        vol_strbuf_putc(b, '}');
}

void vol_api_prune(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_error err = VOL_ERROR_INIT;
        _cleanup_json_ json_t *body = NULL;
        struct vol_filter f;
        vol_filter_init(&f);
        bool all = false, dry_run = false, filters_done = false;
        int r;
        if ((r = vol_json_parse_object(req->body, req->body_len, true, &body, &err)) < 0 ||
            (r = vol_json_check_fields(body, prune_fields, &err)) < 0 ||
            (r = vol_json_bool(body, "all", &all, &err)) < 0 ||
            (r = vol_json_bool(body, "dry_run", &dry_run, &err)) < 0)
                goto out;
        if ((r = vol_json_filters(body, "filters", &f, &err)) < 0)
                goto out;
        if (vol_filter_is_empty(&f) && !all) {
                r = vol_error_set(&err, -EINVAL,
                                  "prune needs at least one filter, or \"all\": true to remove every "
                                  "unused volume");
                goto out;
        }
        struct prune_render pr;
        vol_strbuf_init(&pr.removed, 0);
        vol_strbuf_init(&pr.kept, 0);
        vol_strbuf_putc(&pr.removed, '[');
        vol_strbuf_putc(&pr.kept, '[');
        struct vol_caller caller = vol_api_caller(req);
        r = vol_service_prune(ctx, &caller, &f, dry_run, prune_seen, &pr, &err);
        vol_strbuf_putc(&pr.removed, ']');
        vol_strbuf_putc(&pr.kept, ']');
        if (r >= 0) {
                vol_strbuf_puts(&resp->body, "{\"removed\":");
                vol_strbuf_append(&resp->body, pr.removed.data, pr.removed.len);
                vol_strbuf_puts(&resp->body, ",\"kept\":");
                vol_strbuf_append(&resp->body, pr.kept.data, pr.kept.len);
                vol_strbuf_puts(&resp->body, dry_run ? ",\"dry_run\":true}" : ",\"dry_run\":false}");
        } else {
                /* What went before the failure is gone: say so in the error. */
                vol_api_error(resp, err.code ? err.code : -EIO, vol_error_message(&err));
                vol_error_clear(&err);
                resp->body.len--; /* reopen the top object */
                vol_strbuf_puts(&resp->body, ",\"removed\":");
                vol_strbuf_append(&resp->body, pr.removed.data, pr.removed.len);
                vol_strbuf_putc(&resp->body, '}');
        }
        vol_strbuf_free(&pr.removed);
        vol_strbuf_free(&pr.kept);
        filters_done = true;
out:
        vol_filter_free(&f);
        if (r < 0 && !filters_done)
                fail(resp, &err);
}
