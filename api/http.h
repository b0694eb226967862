/* volmand's HTTP/1.1 server on a unix socket, driven by a route table. It
 * knows nothing of volumes: the REST API and the engines' plugin protocol are
 * each a table of routes served by one of these.
 *
 * One event thread reads requests (epoll, non-blocking) and hands each whole
 * request to a pool of worker threads, which run the handler and write the
 * answer. Every answer the server gives itself (a malformed request, a body
 * too large, an unknown route or query parameter) goes through the server's
 * error renderer, so a client always gets the protocol's own error shape.
 * Everything is bounded: head, body, query parameters, connections in all and
 * per client; idle and slow connections are closed within seconds, and when
 * the connection table is full the longest-idle connection makes room. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "api/http_parse.h"
#include "core/error.h"
#include "core/strbuf.h"

#define VOL_HTTP_BODY_MAX (1u << 20) /* bytes in a request body */
#define VOL_HTTP_PARAMS_MAX 5       /* {} segments in a route */

/* Who is at the other end of a connection. */
struct vol_http_peer {
        bool is_unix;
        uid_t uid; /* unix sockets: the peer's credentials (SO_PEERCRED) */
        gid_t gid;
        pid_t pid;
        char addr[48]; /* TCP: the peer's address, without the port */
        char desc[64]; /* for logs: "uid 0 pid 1234", "10.0.0.7:51234" */
};

#define VOL_HTTP_AUTH_MAX 512 /* bytes an authenticate hook may keep per request */

struct vol_http_request {
        const char *method;
        const char *path; /* the raw path, without the query */
        const char *params[VOL_HTTP_PARAMS_MAX]; /* decoded {} segments of the route */
        size_t n_params;
        const char *body; /* NUL-terminated; "" when none */
        size_t body_len;
        const struct vol_http_param *query; /* decoded, in order */
        size_t n_query;
        const struct vol_http_head *head;
        const struct vol_http_peer *peer;
        struct vol_http_stream *stream; /* for vol_http_stream_start; NULL inline */
        bool inline_call; /* run by the event thread (a VOL_ROUTE_FAST route): the
                             handler may answer vol_http_defer instead of waiting */
        void *auth; /* what the server's authenticate hook kept for the handler
                       (VOL_HTTP_AUTH_MAX bytes), or NULL: the server has no hook
                       or the route is VOL_ROUTE_PUBLIC */
};

struct vol_http_response {
        int status;
        const char *content_type; /* default application/json */
        struct vol_strbuf body;
        char *headers; /* more header lines, each ending in \r\n (malloc'd; the server frees), or NULL */
        bool wipe;     /* the body is a secret: the server wipes it from memory once sent */
        bool defer;    /* see vol_http_defer */
};

typedef void (*vol_http_handler)(void *ctx, const struct vol_http_request *req,
                                 struct vol_http_response *resp);

/* Called by a handler run inline (req->inline_call) that would have to wait
 * (a lock another thread holds, a slow driver): nothing is answered, and the
 * server runs the request again on a worker thread, where it may wait. The
 * handler must have changed nothing before it defers. */
static inline void vol_http_defer(struct vol_http_response *resp)
{
        resp->defer = true;
}

/* Route flags. */
enum {
        /* Its handler answers from memory or one store read and never waits
         * for the store's writer: the event thread runs it (when the request
         * has no query), saving a thread hand-off. */
        VOL_ROUTE_FAST = 1u << 0,
        /* Served without the server's authenticate hook (a login, the
         * console's files). */
        VOL_ROUTE_PUBLIC = 1u << 1,
        /* Its body is not gathered (nor bounded to 1 MiB) first: the handler
         * reads it as it comes with vol_http_body_read (an import). */
        VOL_ROUTE_STREAM_BODY = 1u << 2,
};

struct vol_route {
        const char *method;
        const char *pattern; /* "/v1/volumes/{}/mount": {} matches one segment */
        vol_http_handler handler;
        const char *const *query; /* query parameters it takes, NULL-terminated; NULL: none */
        unsigned flags;
};

/* How a server renders an error it gives itself (unknown route, bad method,
 * malformed request): the REST API and the plugin protocol differ here. */
typedef void (*vol_http_error_fn)(struct vol_http_response *resp, int status, const char *code,
                                  const char *message);

/* Called after each request a handler answered, with its status and how long
 * it took: the owner logs what it wants (every 5xx, say). */
typedef void (*vol_http_done_fn)(void *ctx, const struct vol_http_request *req,
                                 const struct vol_http_response *resp, double seconds);

/* Says who sent req, before its handler runs (on every route but a
 * VOL_ROUTE_PUBLIC one): true with what the handler needs kept in auth
 * (VOL_HTTP_AUTH_MAX bytes, zeroed), or false with the refusal in resp (which
 * is sent instead of the handler's answer). May run on the event thread: it
 * must not wait for the disk. */
typedef bool (*vol_http_auth_fn)(void *ctx, const struct vol_http_request *req, void *auth,
                                 struct vol_http_response *resp);

struct vol_tls;

struct vol_http_options {
        unsigned mode;             /* the socket file's mode */
        unsigned group;            /* the socket file's group id, or 0 to leave it */
        unsigned max_connections;  /* 0: 512 */
        unsigned max_per_client;   /* connections one peer (uid+pid) may hold; 0: 64 */
        unsigned idle_timeout_ms;  /* between requests on a kept-alive connection; 0: 30 s */
        unsigned head_timeout_ms;  /* from a request's first byte to its whole head; 0: 5 s */
        unsigned body_timeout_ms;  /* without progress while a body arrives; 0: 10 s */
        vol_http_error_fn on_error;
        vol_http_done_fn on_done; /* or NULL */
        vol_http_auth_fn authenticate; /* or NULL: handlers see auth NULL */
        const char *extra_headers; /* sent with every answer, lines ending in \r\n, or NULL */
        struct vol_tls *tls; /* TCP listeners: serve TLS with it (the caller
                                frees it after vol_http_stop), or NULL */
};

struct vol_http_server;

/* Binds socket_path (making its parent folder, mode 0755, if missing;
 * replacing a stale socket, refusing to replace anything else or a live one),
 * chmods it to opts->mode and serves routes. Returns 0 and *ret, or < 0 with
 * a message. */
int vol_http_start(const char *socket_path, const struct vol_http_options *opts,
                   const struct vol_route *routes, size_t n_routes, void *ctx,
                   struct vol_http_server **ret, struct vol_error *err);
/* Listens on TCP address host:port ("0.0.0.0", "::", "127.0.0.1", a name)
 * and serves routes as vol_http_start does, over TLS when opts->tls is set.
 * Connections per client count by address. Returns 0 and *ret, or < 0. */
int vol_http_start_tcp(const char *host, const char *port, const struct vol_http_options *opts,
                       const struct vol_route *routes, size_t n_routes, void *ctx,
                       struct vol_http_server **ret, struct vol_error *err);
/* The port a TCP server listens on (for port 0: the one the kernel chose). */
int vol_http_port(struct vol_http_server *s);
/* Stops accepting, lets the requests under way finish, closes every
 * connection and unlinks the socket. Accepts NULL. */
void vol_http_stop(struct vol_http_server *s);

/* A streamed answer: a handler that cannot or should not hold its whole
 * answer in memory (a list of 10,000 volumes, an export) starts a stream,
 * writes pieces as it makes them, and ends it; the server sends them as they
 * fill a 64 KiB buffer, as a chunked body (a body ended by closing the
 * connection for an HTTP/1.0 client). Once started, the status cannot change:
 * a failure half-way is told by ending with ok false, which cuts the body
 * short (no last chunk, the connection closed) so a client cannot take it for
 * whole. Only a handler run by a worker may stream (not a VOL_ROUTE_FAST one). */
struct vol_http_stream;

/* Starts the answer to req with status and content_type. Returns the stream
 * (owned by the request), or NULL when req cannot stream. */
struct vol_http_stream *vol_http_stream_start(const struct vol_http_request *req, int status,
                                              const char *content_type);
/* Appends n bytes. Returns 0, or -EPIPE once the peer is gone (the handler
 * may stop early; ending is still needed). */
int vol_http_stream_write(struct vol_http_stream *st, const void *data, size_t n);
/* Sends what st holds now (a live stream: each event as it comes). Returns 0
 * or -EPIPE. */
int vol_http_stream_flush(struct vol_http_stream *st);
/* Whether the client is still there (it has not closed or reset). */
bool vol_http_stream_alive(struct vol_http_stream *st);
/* Ends the answer: whole (ok) or cut short. After this the handler leaves resp
 * alone. */
void vol_http_stream_end(struct vol_http_stream *st, bool ok);

/* Reads the next bytes of req's body, for a VOL_ROUTE_STREAM_BODY route:
 * > 0 bytes (at most n), 0 at its end, or < 0: -EPROTO for a malformed
 * chunk, -ETIMEDOUT when it stalls past the body timeout, -ECONNRESET when
 * the client went away. Blocks the worker while it waits. A body the handler
 * leaves unread closes the connection after the answer. */
ssize_t vol_http_body_read(const struct vol_http_request *req, void *buf, size_t n);

/* Every value of query parameter `key` of req, in order, through cb.
 * Returns how many there were. */
typedef void (*vol_http_query_cb)(const char *value, void *userdata);
size_t vol_http_query_all(const struct vol_http_request *req, const char *key, vol_http_query_cb cb,
                          void *userdata);
/* The first value of query parameter key, or NULL. */
const char *vol_http_query(const struct vol_http_request *req, const char *key);
/* The value of request header name (case-insensitive), or NULL. */
const char *vol_http_header(const struct vol_http_request *req, const char *name);
