/* What api/http.c, api/http_stream.c and api/http_listen.c share: the
 * connection and server records. Not a public header: routes and handlers
 * use api/http.h. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "http.h"

struct vol_tls_conn;

#define WORKERS_MAX 256
#define READ_CHUNK (64u << 10)
#define IN_MAX (VOL_HTTP_HEAD_MAX + READ_CHUNK)
#define SCAN_INTERVAL_MS 200
#define SEG_BUF (VOL_HTTP_TARGET_MAX + VOL_HTTP_PARAMS_MAX + 1)

enum conn_state {
        C_TLS,   /* the TLS handshake */
        C_HEAD,  /* reading a head (or idle between requests) */
        C_BODY,  /* reading a body */
        C_BUSY,  /* a worker has it */
        C_WRITE, /* the event thread finishes writing an answer */
        C_LINGER, /* a refusal is sent: what the client still sends is read and dropped, briefly */
        C_DEAD,  /* closed; freed at the end of the event loop's round */
};

struct conn {
        int fd;
        struct vol_tls_conn *tls; /* NULL: plain */
        struct vol_http_server *srv;
        enum conn_state state;
        struct vol_http_peer peer;
        /* input not yet consumed */
        char *in;
        size_t in_len, in_cap;
        /* the request being read */
        struct vol_http_head_scan scan;
        char *headbuf; /* the head, parsed in place */
        struct vol_http_head head;
        struct vol_strbuf body;
        bool chunked;
        uint64_t body_left; /* Content-Length mode */
        struct vol_http_chunked ch;
        bool keep_alive;
        /* timing, in ms of CLOCK_MONOTONIC */
        uint64_t last_active;
        uint64_t deadline; /* 0: none */
        /* output being written */
        char *out_head;
        size_t out_head_len;
        char *out_body;
        bool out_wipe; /* the answer is a secret: wiped before it is freed */
        size_t out_body_len;
        size_t out_off;
        bool close_after;
        bool linger; /* after this answer, linger before closing (a refusal of a request being sent) */
        struct vol_http_stream *stream; /* a streamed answer under way (worker only) */
        /* a body its handler reads as it comes (VOL_ROUTE_STREAM_BODY): the
         * decoded bytes not yet read are body.data[body_off..body.len) */
        bool stream_body;
        bool body_done;
        size_t body_off;
        /* its epoll registration (http.c, arm): the events it waits for,
         * 0 while a worker owns it (not registered); drained: the socket was
         * read dry since its last edge (plain sockets) */
        uint32_t armed;
        bool drained;
        bool peer_shut; /* the peer shut its sending side (EPOLLRDHUP seen) */
        struct conn *prev, *next; /* the server's list */
        struct conn *qnext;       /* the work queue, or the graveyard */
};

/* A worker thread. An idle one sleeps on `wake` alone; whoever takes it off
 * the idle list hands it its request in `job` (qlock held) and then wakes
 * it: one futex wake, no condition variable, no herd. */
struct http_worker {
        struct vol_http_server *srv;
        pthread_t thread;
        uint32_t wake;    /* 0 while it sleeps; set to 1 to wake it */
        struct conn *job; /* the request handed to it, or NULL (stopping) */
        struct http_worker *next_idle;
};

struct vol_http_server {
        int listen_fd;
        int epoll_fd;
        int wake_fd;
        char *path; /* the unix socket's; NULL for TCP */
        int port;
        const struct vol_route *routes;
        size_t n_routes;
        void *ctx;
        struct vol_http_options opts;

        pthread_t loop;
        bool loop_started;

        pthread_mutex_t lock; /* the list, states changed by workers, the queue */
        struct conn *conns;   /* every open connection */
        size_t n_conns;
        bool stopping;

        /* The work queue and the idle workers, under a lock of their own:
         * the event thread handing a request over never waits for a worker
         * giving a connection back (that takes `lock`). Lock order: lock,
         * then qlock. */
        pthread_mutex_t qlock;
        struct conn *queue_head, **queue_tail; /* requests no idle worker took */
        struct http_worker *idle;              /* the last to become idle first */
        size_t n_workers;                      /* started */
        size_t n_spare;                        /* idle, or started and not yet at work */
        size_t n_queued;                       /* requests in the queue */
        bool q_stopping;                       /* `stopping`, as the workers' loop sees it */
        struct http_worker workers[WORKERS_MAX];
};

#define STREAM_BUF (64u << 10)
#define STREAM_WAIT_MS 30000

struct vol_http_stream {
        struct conn *c;
        bool chunked; /* HTTP/1.1: chunks; HTTP/1.0: a body ended by the close */
        bool broken;  /* the peer is gone or stalled */
        bool ended;
        size_t len;
        char *buf; /* STREAM_BUF bytes, once started */
};

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t http_now_ms(void);
/* Reads up to n bytes from c (plain or TLS), without blocking: > 0, 0 at the
 * end, -EAGAIN, or another -errno. */
ssize_t http_conn_recv(struct conn *c, void *buf, size_t n);
/* Writes up to n bytes to c without blocking: > 0, -EAGAIN, or another -errno. */
ssize_t http_conn_send(struct conn *c, const void *buf, size_t n);

/* vol_http_body_read on c; and reading (and dropping) at most max more bytes
 * of a streamed body its handler left, so that a client still sending reads
 * the answer rather than a broken pipe. */
ssize_t http_body_read(struct conn *c, void *buf, size_t n);
void http_drain_body(struct conn *c, uint64_t max);

/* Drops the first n buffered input bytes of c. */
void http_consume(struct conn *c, size_t n);

/* Sockets (api/http_listen.c): a unix socket at path (its parent folder made,
 * a stale socket replaced, anything else refused), or a TCP listener on
 * host:port (*ret_port: the port bound). Return the listening fd, or < 0. */
int http_bind_unix(const char *path, unsigned mode, unsigned group, struct vol_error *err);
int http_listen_tcp(const char *host, const char *port, int *ret_port, struct vol_error *err);
