#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/xmalloc.h"

struct vol_http_server {
        struct MHD_Daemon *mhd;
        int fd;
        char *path;
        const struct vol_route *routes;
        size_t n_routes;
        vol_http_error_fn on_error;
        void *ctx;
};

/* Per request state, made by the URI log callback before MHD unescapes. */
struct request_state {
        char *raw_uri;
        struct vol_strbuf body;
        bool started;
        bool too_large;
};

static void *uri_logger(void *cls, const char *uri, struct MHD_Connection *conn)
{
        struct request_state *st = xcalloc(1, sizeof(*st));
        st->raw_uri = xstrndup(uri, VOL_HTTP_URI_MAX);
        vol_strbuf_init(&st->body, VOL_HTTP_BODY_MAX);
        return st;
}

static void completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                      enum MHD_RequestTerminationCode toe)
{
        struct request_state *st = *req_cls;
        if (!st)
                return;
        free(st->raw_uri);
        vol_strbuf_free(&st->body);
        free(st);
        *req_cls = NULL;
}

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Decodes %XX in place. Returns -EINVAL on a malformed escape or an encoded NUL. */
static int percent_decode(char *s)
{
        char *w = s;
        for (char *r = s; *r; r++) {
                if (*r != '%') {
                        *w++ = *r;
                        continue;
                }
                int hi = hexval(r[1]), lo = hi >= 0 ? hexval(r[2]) : -1;
                if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                        return -EINVAL;
                *w++ = (char)(hi * 16 + lo);
                r += 2;
        }
        *w = 0;
        return 0;
}

/* Matches the raw path against pattern, splitting on raw '/', so that an
 * encoded %2F stays inside its segment (and a name validator then refuses it).
 * Fills params with decoded segments (heap, in segs). Returns 1 on a match,
 * 0 on none, -EINVAL on bad encoding. */
static int match(const char *pattern, const char *raw_path, char **segs, size_t *n_segs)
{
        const char *p = pattern, *u = raw_path;
        size_t n = 0;
        while (*p && *u) {
                if (*p != '/' || *u != '/')
                        return 0;
                p++;
                u++;
                const char *pe = strchrnul(p, '/'), *ue = strchrnul(u, '/');
                if (pe - p == 2 && p[0] == '{' && p[1] == '}') {
                        if (ue == u || n >= VOL_HTTP_PARAMS_MAX)
                                goto nomatch;
                        segs[n] = xstrndup(u, (size_t)(ue - u));
                        if (percent_decode(segs[n++]) < 0) {
                                for (size_t i = 0; i < n; i++)
                                        free(segs[i]);
                                return -EINVAL;
                        }
                } else if (pe - p != ue - u || strncmp(p, u, (size_t)(pe - p))) {
                        goto nomatch;
                }
                p = pe;
                u = ue;
        }
        if (*p || *u)
                goto nomatch;
        *n_segs = n;
        return 1;
nomatch:
        for (size_t i = 0; i < n; i++)
                free(segs[i]);
        return 0;
}

static enum MHD_Result send_response(struct MHD_Connection *conn, struct vol_http_response *resp)
{
        size_t len;
        char *body = vol_strbuf_take(&resp->body, &len);
        struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
        if (!r) {
                free(body);
                return MHD_NO;
        }
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                resp->content_type ? resp->content_type : "application/json");
        enum MHD_Result ret = MHD_queue_response(conn, (unsigned)resp->status, r);
        MHD_destroy_response(r);
        return ret;
}

static enum MHD_Result fail(struct vol_http_server *s, struct MHD_Connection *conn, int status,
                            const char *code, const char *message)
{
        struct vol_http_response resp = {.status = status};
        vol_strbuf_init(&resp.body, 0);
        s->on_error(&resp, status, code, message);
        return send_response(conn, &resp);
}

static enum MHD_Result dispatch(struct vol_http_server *s, struct MHD_Connection *conn,
                                struct request_state *st, const char *method)
{
        _cleanup_free_ char *path = xstrdup(st->raw_uri);
        char *q = strchr(path, '?');
        if (q)
                *q = 0;
        bool path_known = false;
        for (size_t i = 0; i < s->n_routes; i++) {
                char *segs[VOL_HTTP_PARAMS_MAX];
                size_t n = 0;
                int m = match(s->routes[i].pattern, path, segs, &n);
                if (m < 0)
                        return fail(s, conn, 400, "invalid_argument",
                                    "the request path has a malformed or NUL percent-escape");
                if (m == 0)
                        continue;
                if (strcmp(s->routes[i].method, method)) {
                        path_known = true;
                        for (size_t j = 0; j < n; j++)
                                free(segs[j]);
                        continue;
                }
                struct vol_http_request req = {
                        .method = method,
                        .path = path,
                        .n_params = n,
                        .body = st->body.data ? st->body.data : "",
                        .body_len = st->body.len,
                        .conn = conn,
                };
                for (size_t j = 0; j < n; j++)
                        req.params[j] = segs[j];
                struct vol_http_response resp = {.status = 200};
                vol_strbuf_init(&resp.body, 0);
                s->routes[i].handler(s->ctx, &req, &resp);
                for (size_t j = 0; j < n; j++)
                        free(segs[j]);
                return send_response(conn, &resp);
        }
        if (path_known)
                return fail(s, conn, 405, "method_not_allowed", "this route does not take that method");
        return fail(s, conn, 404, "not_found", "no such route");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
        struct vol_http_server *s = cls;
        struct request_state *st = *req_cls;
        if (!st) /* the URI logger always runs first */
                return MHD_NO;
        if (!st->started) {
                /* Headers are in. Refuse a declared oversized body before reading it. */
                st->started = true;
                const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
                if (cl && strtoull(cl, NULL, 10) > VOL_HTTP_BODY_MAX)
                        return fail(s, conn, 413, "too_large", "the request body is larger than 1 MiB");
                return MHD_YES;
        }
        if (*upload_data_size) {
                if (!st->too_large && vol_strbuf_append(&st->body, upload_data, *upload_data_size) < 0)
                        st->too_large = true; /* keep reading, then answer 413 */
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (st->too_large)
                return fail(s, conn, 413, "too_large", "the request body is larger than 1 MiB");
        return dispatch(s, conn, st, method);
}

static int bind_socket(const char *path, unsigned mode, struct vol_error *err)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(sa.sun_path))
                return vol_error_set(err, -ENAMETOOLONG, "socket path %s is longer than %zu bytes", path,
                                     sizeof(sa.sun_path) - 1);
        strcpy(sa.sun_path, path);

        /* parent directory, like /run/volman */
        _cleanup_free_ char *dir = xstrdup(path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = 0;
                if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                        return vol_error_set(err, -errno, "creating %s: %m", dir);
        }

        struct stat st;
        if (lstat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                        return vol_error_set(err, -EEXIST, "%s exists and is not a socket; not replacing it",
                                             path);
                int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
                        close(probe);
                        return vol_error_set(err, -EADDRINUSE,
                                             "another server is listening on %s (is volmand already running?)",
                                             path);
                }
                if (probe >= 0)
                        close(probe);
                unlink(path); /* stale */
        }
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return vol_error_set(err, -errno, "socket: %m");
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, mode) < 0 ||
            listen(fd, 512) < 0) {
                int r = vol_error_set(err, -errno, "listening on %s: %m", path);
                close(fd);
                return r;
        }
        return fd;
}

int vol_http_start(const char *socket_path, unsigned mode, const struct vol_route *routes,
                   size_t n_routes, vol_http_error_fn on_error, void *ctx,
                   struct vol_http_server **ret, struct vol_error *err)
{
        int fd = bind_socket(socket_path, mode, err);
        if (fd < 0)
                return fd;
        struct vol_http_server *s = xcalloc(1, sizeof(*s));
        s->fd = fd;
        s->path = xstrdup(socket_path);
        s->routes = routes;
        s->n_routes = n_routes;
        s->on_error = on_error;
        s->ctx = ctx;
        s->mhd = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                          MHD_USE_POLL,
                                  0, NULL, NULL, on_request, s,
                                  MHD_OPTION_LISTEN_SOCKET, fd,
                                  MHD_OPTION_URI_LOG_CALLBACK, uri_logger, s,
                                  MHD_OPTION_NOTIFY_COMPLETED, completed, s,
                                  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)VOL_HTTP_HEADERS_MAX,
                                  MHD_OPTION_CONNECTION_LIMIT, 512u,
                                  MHD_OPTION_CONNECTION_TIMEOUT, 60u,
                                  MHD_OPTION_THREAD_STACK_SIZE, (size_t)(256u << 10),
                                  MHD_OPTION_END);
        if (!s->mhd) {
                close(fd);
                unlink(socket_path);
                free(s->path);
                free(s);
                return vol_error_set(err, -EIO, "starting the HTTP server on %s failed", socket_path);
        }
        *ret = s;
        return 0;
}

void vol_http_stop(struct vol_http_server *s)
{
        if (!s)
                return;
        MHD_quiesce_daemon(s->mhd);
        MHD_stop_daemon(s->mhd);
        close(s->fd);
        unlink(s->path);
        free(s->path);
        free(s);
}

struct query_iter {
        const char *key;
        vol_http_query_cb cb;
        void *userdata;
        size_t n;
};

static enum MHD_Result query_one(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
        struct query_iter *it = cls;
        if (key && !strcmp(key, it->key)) {
                it->n++;
                if (it->cb)
                        it->cb(value ? value : "", it->userdata);
        }
        return MHD_YES;
}

size_t vol_http_query_all(const struct vol_http_request *req, const char *key, vol_http_query_cb cb,
                          void *userdata)
{
        struct query_iter it = {key, cb, userdata, 0};
        MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_one, &it);
        return it.n;
}

const char *vol_http_query(const struct vol_http_request *req, const char *key)
{
        return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}
