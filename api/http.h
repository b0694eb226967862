/* A small HTTP/1.1 server on a unix socket (libmicrohttpd underneath), driven
 * by a route table. It knows nothing of volumes: the REST API and, later, the
 * engines' plugin protocol are each a table of routes served by one of these. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/strbuf.h"

#define VOL_HTTP_BODY_MAX (1u << 20)     /* bytes in a request body */
#define VOL_HTTP_HEADERS_MAX (32u << 10) /* bytes of request line + headers */
#define VOL_HTTP_URI_MAX 8192
#define VOL_HTTP_PARAMS_MAX 4

struct vol_http_request {
        const char *method;
        const char *path; /* percent-decoded path, without the query */
        const char *params[VOL_HTTP_PARAMS_MAX]; /* decoded {} segments of the route */
        size_t n_params;
        const char *body; /* NUL-terminated; "" when none */
        size_t body_len;
        void *conn; /* for vol_http_query */
};

struct vol_http_response {
        int status;
        const char *content_type; /* default application/json */
        struct vol_strbuf body;
};

typedef void (*vol_http_handler)(void *ctx, const struct vol_http_request *req,
                                 struct vol_http_response *resp);

struct vol_route {
        const char *method;
        const char *pattern; /* "/v1/volumes/{}/mount": {} matches one segment */
        vol_http_handler handler;
};

/* How a server answers what no handler does (unknown route, bad method,
 * too large a body). The REST API and the plugin protocol differ here. */
typedef void (*vol_http_error_fn)(struct vol_http_response *resp, int status, const char *code,
                                  const char *message);

struct vol_http_server;

/* Binds socket_path (replacing a stale socket, refusing to replace anything
 * else or a live one), chmods it to mode, and serves routes with one thread
 * per connection. Returns 0 and *ret, or < 0 with a message. */
int vol_http_start(const char *socket_path, unsigned mode, const struct vol_route *routes,
                   size_t n_routes, vol_http_error_fn on_error, void *ctx,
                   struct vol_http_server **ret, struct vol_error *err);
/* Stops accepting, finishes the requests under way, closes and unlinks the socket. */
void vol_http_stop(struct vol_http_server *s);

/* Every value of query parameter `key` of req, in order, through cb.
 * Returns how many there were. */
typedef void (*vol_http_query_cb)(const char *value, void *userdata);
size_t vol_http_query_all(const struct vol_http_request *req, const char *key, vol_http_query_cb cb,
                          void *userdata);
/* The first value of query parameter key, or NULL. */
const char *vol_http_query(const struct vol_http_request *req, const char *key);
