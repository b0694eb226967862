/* Moving a volume between nodes, at the edge (docs/cluster.md): the move
 * runs on the node the volume goes to (service/move.c); any node takes the
 * request and passes it there. This file is that node's reach to the
 * volume's node: the export stream pulled over a signed HTTPS call, fed to
 * the move through a pipe (libcurl pushes, the archive reader pulls), and
 * the call that tells the old node to destroy its copy. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "api/json_in.h"
#include "api/node_call.h"
#include "core/cleanup.h"
#include "core/volume_json.h"
#include "core/xmalloc.h"

DEFINE_CLEANUP_FUNC(struct vol_volume, vol_volume_free)

#define ERROR_BODY_MAX (64u << 10)
#define STALL_SECONDS 60 /* an export that sends nothing for this long is cut */

struct fetch {
        void *ctx;
        const struct vol_identity *me;
        char node[64];
        int rfd, wfd;
        pthread_t thread;
        bool started;
        /* the thread's, read after the join */
        CURL *h;
        struct curl_slist *headers;
        char *url;
        CURLcode result;
        long status;
        struct vol_strbuf error_body; /* an answer other than 200 */
        bool pipe_closed;             /* the reader stopped first */
};

static size_t fetch_body(char *data, size_t size, size_t n, void *userdata)
{
        struct fetch *f = userdata;
        size_t len = size * n;
        if (!f->status)
                vol_libcurl()->curl_easy_getinfo(f->h, CURLINFO_RESPONSE_CODE, &f->status);
        if (f->status != 200) {
                if (f->error_body.len + len <= ERROR_BODY_MAX)
                        vol_strbuf_append(&f->error_body, data, len);
                return len;
        }
        for (size_t done = 0; done < len;) {
                ssize_t w = write(f->wfd, data + done, len - done);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0) {
                        f->pipe_closed = true;
                        return 0; /* curl stops: the move gave up reading */
                }
                done += (size_t)w;
        }
        return len;
}

static void *fetch_main(void *arg)
{
        struct fetch *f = arg;
        f->result = vol_libcurl()->curl_easy_perform(f->h);
        if (!f->status)
                vol_libcurl()->curl_easy_getinfo(f->h, CURLINFO_RESPONSE_CODE, &f->status);
        close(f->wfd);
        f->wfd = -1;
        return NULL;
}

static int fetch_open(void *userdata, const char *node, const char *address, const char *name,
                      struct vol_error *err)
{
        struct fetch *f = userdata;
        int r = vol_libcurl_load("moving a volume between nodes", err);
        if (r < 0)
                return r;
        const struct vol_libcurl *c = vol_libcurl();
        snprintf(f->node, sizeof(f->node), "%s", node);
        _cleanup_free_ char *path = xasprintf("/v1/volumes/%s/export", name); /* a valid name needs no escaping */
        f->url = xasprintf("%s%s", address, path);
        f->headers = vol_api_node_headers(f->ctx, f->me, "GET", path, NULL);
        f->h = c->curl_easy_init();
        int p[2];
        if (!f->headers || !f->h)
                return vol_error_set(err, -ENOMEM, "no memory for a call to node %s", node);
        if (pipe2(p, O_CLOEXEC) < 0)
                return vol_error_set(err, -errno, "a pipe for the copy from node %s: %m", node);
        f->rfd = p[0];
        f->wfd = p[1];
        vol_api_node_curl(f->h, f->url, f->headers, STALL_SECONDS);
        c->curl_easy_setopt(f->h, CURLOPT_HTTPGET, 1L);
        c->curl_easy_setopt(f->h, CURLOPT_WRITEFUNCTION, fetch_body);
        c->curl_easy_setopt(f->h, CURLOPT_WRITEDATA, f);
        if ((r = pthread_create(&f->thread, NULL, fetch_main, f)) != 0) {
                close(f->wfd);
                f->wfd = -1;
                return vol_error_set(err, -r, "starting the copy from node %s: %s", node, strerror(r));
        }
        f->started = true;
        return 0;
}

static ssize_t fetch_read(void *userdata, void *buf, size_t n)
{
        struct fetch *f = userdata;
        ssize_t got;
        do
                got = read(f->rfd, buf, n);
        while (got < 0 && errno == EINTR);
        return got < 0 ? -errno : got;
}

static int status_code(long status)
{
        return status == 404 ? -ENOENT : status == 409 ? -EBUSY : status == 503 ? -EAGAIN
                : status == 403 ? -EPERM : status == 401 ? -EACCES : -EIO;
}

static int fetch_close(void *userdata, bool read_all, struct vol_error *err)
{
        struct fetch *f = userdata;
        if (!f->started)
                return 0;
        char sink[4096];
        while (read_all && fetch_read(f, sink, sizeof(sink)) > 0)
                ; /* what follows the archive's end (its padding), so that the call ends well */
        close(f->rfd);
        f->rfd = -1;
        pthread_join(f->thread, NULL);
        f->started = false;
        if (f->status && f->status != 200) {
                _cleanup_(json_decrefp) json_t *j = json_loadb(f->error_body.data ? f->error_body.data : "",
                                                               f->error_body.len, 0, NULL);
                const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
                return vol_error_set(err, status_code(f->status), "node %s refused the export: %s", f->node,
                                     msg ? msg : "no reason given");
        }
        if (f->result != CURLE_OK && !(f->pipe_closed && !read_all))
                return vol_error_set(err, -EIO, "the copy from node %s broke off: %s", f->node,
                                     vol_libcurl()->curl_easy_strerror(f->result));
        return 0;
}

static void fetch_free(struct fetch *f)
{
        if (f->started) {
                struct vol_error ignored = VOL_ERROR_INIT;
                fetch_close(f, false, &ignored);
                vol_error_clear(&ignored);
        }
        if (f->rfd >= 0)
                close(f->rfd);
        if (f->wfd >= 0)
                close(f->wfd);
        if (f->h)
                vol_libcurl()->curl_easy_cleanup(f->h);
        if (f->headers)
                vol_libcurl()->curl_slist_free_all(f->headers);
        free(f->url);
        vol_strbuf_free(&f->error_body);
}

static size_t discard(char *data, size_t size, size_t n, void *userdata)
{
        (void)data;
        (void)userdata;
        return size * n;
}

/* Tells node to destroy what it no longer holds (best effort: its tick
 * does it within a minute anyway). */
static void fetch_reap(void *userdata, const char *node)
{
        struct fetch *f = userdata;
        struct vol_error err = VOL_ERROR_INIT;
        _cleanup_free_ char *address = NULL;
        if (vol_service_node_address(f->ctx, node, &address, &err) < 0 || !address) {
                vol_error_clear(&err);
                return;
        }
        const struct vol_libcurl *c = vol_libcurl();
        _cleanup_free_ char *path = xasprintf("/v1/nodes/%s/reap", node);
        _cleanup_free_ char *url = xasprintf("%s%s", address, path);
        struct curl_slist *headers = vol_api_node_headers(f->ctx, NULL, "POST", path, NULL);
        CURL *h = c->curl_easy_init();
        if (h && headers) {
                vol_api_node_curl(h, url, headers, 10);
                c->curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
                c->curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
                c->curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
                c->curl_easy_perform(h);
        }
        if (h)
                c->curl_easy_cleanup(h);
        if (headers)
                c->curl_slist_free_all(headers);
}

static const char *op_id(const struct vol_http_request *req)
{
        const char *id = vol_http_header(req, "X-Volman-Operation");
        return id && vol_validate_operation_id(id, NULL) == 0 ? id : NULL;
}

void vol_api_volume_move(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        static const char *const fields[] = {"to", NULL};
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_caller caller = vol_api_caller(req);
        _cleanup_json_ json_t *body = NULL;
        _cleanup_free_ char *to = NULL, *address = NULL, *placed_address = NULL;
        _cleanup_(vol_volume_freep) struct vol_volume *v = NULL;
        const char *want = NULL;
        int r;
        if ((r = vol_json_parse_object(req->body, req->body_len, true, &body, &err)) < 0 ||
            (r = vol_json_check_fields(body, fields, &err)) < 0 ||
            (json_object_get(body, "to") && (r = vol_json_string(body, "to", &want, &err)) < 0))
                goto out;
        if (!vol_service_node(ctx)) {
                r = vol_error_set(&err, -ENOTSUP, "a move needs cluster mode: this volmand is a single node");
                goto out;
        }
        if (!vol_caller_is_admin(&caller)) {
                r = vol_error_set(&err, -EPERM, "only an admin moves volumes between nodes");
                goto out;
        }
        if (want && (r = vol_validate_scope_part("node", want, &err)) < 0)
                goto out;
        /* a node named must be up and take volumes; else the placement
         * policy's choice (a draining node is never one) */
        if ((r = vol_service_place(ctx, &caller, want, &to, &placed_address, &err)) < 0)
                goto out;
        if (strcmp(to, vol_service_node(ctx)) != 0) {
                if (vol_api_forwarded(req)) {
                        r = vol_error_set(&err, -EREMOTE, "a move runs on the node the volume goes to (%s), not "
                                                          "on %s", to, vol_service_node(ctx));
                        goto out;
                }
                if ((r = vol_service_node_address(ctx, to, &address, &err)) < 0)
                        goto out;
                _cleanup_(vol_strbuf_free) struct vol_strbuf fwd = {0};
                vol_strbuf_puts(&fwd, "{\"to\":");
                vol_strbuf_json_string(&fwd, to);
                vol_strbuf_putc(&fwd, '}');
                /* the answer comes when the copy is done: no stall limit */
                vol_api_forward_stall(ctx, req, resp, to, address, fwd.data, fwd.len, 0);
                return;
        }
        struct fetch f = {.ctx = ctx, .me = req->auth, .rfd = -1, .wfd = -1};
        struct vol_move_fetch mf = {fetch_open, fetch_read, fetch_close, fetch_reap, &f};
        struct vol_transfer_progress progress = {0};
        r = vol_service_move(ctx, &caller, op_id(req), req->params[0], &mf, &progress, &v, &err);
        fetch_free(&f);
        if (r == 0) {
                resp->status = 200;
                vol_volume_to_json(&resp->body, v, NULL);
        }
out:
        if (r < 0)
                vol_api_error(resp, r, vol_error_message(&err));
        vol_error_clear(&err);
}

void vol_api_node_reap(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_caller caller = vol_api_caller(req);
        int r;
        if (!vol_service_node(ctx) || strcmp(req->params[0], vol_service_node(ctx)) != 0) {
                r = vol_error_set(&err, -EREMOTE, "node %s reaps its own storage only; this is %s", req->params[0],
                                  vol_service_node(ctx) ? vol_service_node(ctx) : "a single node");
        } else if ((r = vol_service_reap(ctx, &caller, &err)) == 0) {
                resp->status = 200;
                vol_strbuf_puts(&resp->body, "{\"reaping\":true}");
        }
        if (r < 0)
                vol_api_error(resp, r, vol_error_message(&err));
        vol_error_clear(&err);
}

void vol_api_operation_at_node(void *ctx, const struct vol_http_request *req, struct vol_http_response *resp)
{
        const char *node = vol_http_query(req, "node");
        if (node && vol_service_node(ctx) && strcmp(node, vol_service_node(ctx)) != 0 && !vol_api_forwarded(req)) {
                struct vol_error err = VOL_ERROR_INIT;
                _cleanup_free_ char *address = NULL;
                if (vol_service_node_address(ctx, node, &address, &err) < 0) {
                        vol_api_error(resp, err.code, vol_error_message(&err));
                        vol_error_clear(&err);
                        return;
                }
                vol_api_forward(ctx, req, resp, node, address, NULL, 0);
                return;
        }
        vol_api_operation_get(ctx, req, resp);
}
