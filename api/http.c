/* The HTTP/1.1 server: one event thread for all connections' I/O, a pool of
 * workers for handlers. A connection belongs to exactly one thread at a time:
 * the event thread while it reads a request (or finishes writing an answer),
 * a worker from a whole request until its answer is written. Its fd is in
 * epoll, edge-triggered, only while the event thread owns it: taken out when
 * a worker gets it, put back when the worker gives it back. A connection the
 * event thread answers itself (a fast route) stays registered from request
 * to request, without a call to epoll_ctl. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/futex.h"
#include "core/xmalloc.h"
#include "http_tls.h"

#include "http_internal.h"

/* What is read of a refused streamed body before answering: a client still
 * sending gets the answer, not a broken pipe; past this it gets the close. */
#define STREAM_DRAIN_MAX (UINT64_C(256) << 20)

uint64_t http_now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- connection bookkeeping ---- */

static void reset_request(struct conn *c)
{
        free(c->headbuf);
        c->headbuf = NULL;
        memset(&c->head, 0, sizeof(c->head));
        memset(&c->scan, 0, sizeof(c->scan));
        memset(&c->ch, 0, sizeof(c->ch));
        /* a body may be a secret (PUT .../secrets/NAME): none stays in freed memory */
        if (c->body.data)
                explicit_bzero(c->body.data, c->body.len);
        vol_strbuf_free(&c->body);
        vol_strbuf_init(&c->body, VOL_HTTP_BODY_MAX);
        c->chunked = false;
        c->body_left = 0;
        c->deadline = 0;
        c->stream_body = c->body_done = false;
        c->body_off = 0;
        if (c->out_wipe) { /* an answer that was a secret (response.wipe) */
                if (c->out_head)
                        explicit_bzero(c->out_head, c->out_head_len);
                if (c->out_body)
                        explicit_bzero(c->out_body, c->out_body_len);
        }
        c->out_wipe = false;
        free(c->out_head);
        free(c->out_body);
        c->out_head = c->out_body = NULL;
        c->out_head_len = c->out_body_len = c->out_off = 0;
}

static void conn_free(struct conn *c)
{
        vol_tls_conn_free(c->tls);
        c->tls = NULL;
        reset_request(c);
        vol_strbuf_free(&c->body);
        free(c->in);
        free(c);
}

/* Unlinks c from the server's list. Caller holds srv->lock. */
static void unlist(struct conn *c)
{
        struct vol_http_server *s = c->srv;
        if (c->prev)
                c->prev->next = c->next;
        else
                s->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = c->next = NULL;
        s->n_conns--;
}

/* Closes a connection the event thread owns; freed after the round, since
 * an event for it may still be in this round's batch. */
static void close_loop_conn(struct conn *c, struct conn **graveyard)
{
        struct vol_http_server *s = c->srv;
        pthread_mutex_lock(&s->lock);
        unlist(c);
        c->state = C_DEAD;
        pthread_mutex_unlock(&s->lock);
        epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
        vol_tls_conn_free(c->tls); /* its close_notify goes before the close */
        c->tls = NULL;
        close(c->fd);
        c->fd = -1;
        c->qnext = *graveyard;
        *graveyard = c;
}

/* Closes a connection a worker owns: no event can name it. */
static void close_worker_conn(struct conn *c)
{
        struct vol_http_server *s = c->srv;
        pthread_mutex_lock(&s->lock);
        unlist(c);
        c->state = C_DEAD;
        pthread_mutex_unlock(&s->lock);
        vol_tls_conn_free(c->tls);
        c->tls = NULL;
        close(c->fd);
        conn_free(c);
}

#define LINGER_MS 1000
#define LINGER_MAX (UINT64_C(8) << 20)

/* A refusal is out; the client may still be sending what was refused, and a
 * close now would reset the connection before it reads the answer. Read
 * and drop what comes (at most LINGER_MAX bytes, until it pauses for
 * LINGER_MS), then close. Event thread only. */
static void linger_or_close(struct conn *c, struct conn **graveyard);

/* Makes c's thread wake for events (EPOLLIN, EPOLLOUT) from the event thread.
 * Edge-triggered: an edge comes when bytes arrive, so a connection already
 * waiting for EPOLLIN whose socket was read dry needs no call; any other
 * change (re)registers it, and epoll then checks the socket at once, so
 * bytes already there, or a writable socket, wake it. c->armed is set before
 * the call: once registered, c is the event thread's. */
static void arm(struct conn *c, uint32_t events)
{
        /* Plaintext TLS already decrypted is not the socket's to signal: wake
         * at once, as for pipelined bytes. */
        if ((events & EPOLLIN) && c->tls && vol_tls_pending(c->tls))
                events |= EPOLLOUT;
        if (events == EPOLLIN && c->armed == EPOLLIN && c->drained && !c->tls)
                return;
        int op = c->armed ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
        c->armed = events;
        struct epoll_event ev = {.events = events | EPOLLET | EPOLLRDHUP, .data.ptr = c};
        epoll_ctl(c->srv->epoll_fd, op, c->fd, &ev);
}

/* Takes c out of epoll before a worker gets it: no event of c reaches the
 * event thread while the worker has it (HUP and ERR included, which a
 * registration with no events would still report). Event thread only. */
static void disarm(struct conn *c)
{
        if (!c->armed)
                return;
        c->armed = 0;
        epoll_ctl(c->srv->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
}

static void linger_or_close(struct conn *c, struct conn **graveyard)
{
        /* the answer ends here for the client (it sees the end of the
         * stream at once); only its unread request is still taken in */
        if (c->tls)
                vol_tls_end_writes(c->tls);
        shutdown(c->fd, SHUT_WR);
        reset_request(c);
        c->linger = false;
        c->body_left = 0;
        c->in_len = 0;
        pthread_mutex_lock(&c->srv->lock);
        c->state = C_LINGER;
        c->deadline = http_now_ms() + LINGER_MS;
        pthread_mutex_unlock(&c->srv->lock);
        arm(c, EPOLLIN);
}

/* ---- the transport: plain or TLS ---- */

/* Reads up to n bytes: > 0, 0 at the end, -EAGAIN, or another -errno. */
ssize_t http_conn_recv(struct conn *c, void *buf, size_t n)
{
        if (c->tls)
                return vol_tls_recv(c->tls, buf, n);
        for (;;) {
                ssize_t r = recv(c->fd, buf, n, MSG_DONTWAIT);
                if (r >= 0)
                        return r;
                if (errno == EINTR)
                        continue;
                return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        }
}

/* Writes up to n bytes without blocking: > 0, -EAGAIN, or another -errno. */
ssize_t http_conn_send(struct conn *c, const void *buf, size_t n)
{
        if (c->tls)
                return vol_tls_send(c->tls, buf, n);
        for (;;) {
                ssize_t r = send(c->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (r >= 0)
                        return r;
                if (errno == EINTR)
                        continue;
                return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        }
}

/* ---- writing answers ---- */

static void format_head(struct conn *c, int status, const char *content_type, size_t body_len,
                        const char *headers)
{
        const char *extra = c->srv->opts.extra_headers;
        free(c->out_head);
        c->out_head = xasprintf("HTTP/1.1 %d %s\r\n"
                                "Content-Type: %s\r\n"
                                "Content-Length: %zu\r\n"
                                "%s%s%s"
                                "\r\n",
                                status, vol_http_reason(status), content_type, body_len,
                                c->close_after ? "Connection: close\r\n" : "", extra ? extra : "",
                                headers ? headers : "");
        c->out_head_len = strlen(c->out_head);
        c->out_off = 0;
        if (c->tls && c->out_body_len) {
                /* one record for a small answer instead of two */
                c->out_head = xrealloc(c->out_head, c->out_head_len + c->out_body_len + 1);
                memcpy(c->out_head + c->out_head_len, c->out_body, c->out_body_len);
                c->out_head_len += c->out_body_len;
                if (c->out_wipe)
                        explicit_bzero(c->out_body, c->out_body_len);
                free(c->out_body);
                c->out_body = NULL;
                c->out_body_len = 0;
        }
}

/* Writes what is left of the answer without blocking. Returns 1 when all is
 * written, 0 when the socket is full, -1 when the peer is gone. */
static int write_some(struct conn *c)
{
        while (c->tls) { /* the head holds the whole answer (format_head) */
                if (c->out_off >= c->out_head_len)
                        return 1;
                ssize_t w = http_conn_send(c, c->out_head + c->out_off, c->out_head_len - c->out_off);
                if (w == -EAGAIN)
                        return 0;
                if (w < 0)
                        return -1;
                c->out_off += (size_t)w;
        }
        for (;;) {
                size_t total = c->out_head_len + c->out_body_len;
                if (c->out_off >= total)
                        return 1;
                struct iovec iov[2];
                int n = 0;
                if (c->out_off < c->out_head_len) {
                        iov[n++] = (struct iovec){c->out_head + c->out_off, c->out_head_len - c->out_off};
                        if (c->out_body_len)
                                iov[n++] = (struct iovec){c->out_body, c->out_body_len};
                } else {
                        size_t off = c->out_off - c->out_head_len;
                        iov[n++] = (struct iovec){c->out_body + off, c->out_body_len - off};
                }
                struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
                ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                return 0;
                        return -1;
                }
                c->out_off += (size_t)w;
        }
}

/* What process() did with a connection. */
enum { P_WAIT, P_GONE };
static int process(struct conn *c, struct conn **graveyard);

/* The answer is written: the next request, or the end of the connection.
 * Called by whichever thread owns c. */
static void answered(struct conn *c, struct conn **graveyard)
{
        struct vol_http_server *s = c->srv;
        bool close_it = c->close_after;
        reset_request(c);
        c->last_active = http_now_ms();
        if (graveyard) { /* the event thread */
                if (close_it && c->linger && !s->stopping) {
                        linger_or_close(c, graveyard);
                        return;
                }
                if (close_it || s->stopping) {
                        close_loop_conn(c, graveyard);
                        return;
                }
                c->state = C_HEAD;
                (void)process(c, graveyard);
                return;
        }
        /* a worker: hand c back to the event thread */
        pthread_mutex_lock(&s->lock);
        bool stop = close_it || s->stopping;
        if (!stop) {
                c->state = C_HEAD;
                /* Bytes of a pipelined request are already here: let the
                 * event thread see them by waking on EPOLLOUT, which is
                 * ready at once. */
                arm(c, c->in_len ? EPOLLOUT : EPOLLIN);
        }
        pthread_mutex_unlock(&s->lock);
        if (stop)
                close_worker_conn(c);
}

/* Sends the answer prepared in c->out_*: done at once, or left to the event
 * thread. Called by a worker. */
static void send_from_worker(struct conn *c)
{
        int w = write_some(c);
        if (w < 0) {
                close_worker_conn(c);
                return;
        }
        if (w == 1) {
                answered(c, NULL);
                return;
        }
        pthread_mutex_lock(&c->srv->lock);
        c->state = C_WRITE;
        c->deadline = http_now_ms() + c->srv->opts.idle_timeout_ms; /* a reader that never reads */
        arm(c, EPOLLOUT);
        pthread_mutex_unlock(&c->srv->lock);
}

/* The server's own error answer, closing the connection after it (the
 * request's framing cannot be trusted any more). Event thread only. Returns
 * P_GONE: the connection is closed or only finishes writing. */
static int refuse_loop(struct conn *c, int status, const char *message, struct conn **graveyard)
{
        struct vol_http_server *s = c->srv;
        struct vol_http_response resp = {.status = status};
        vol_strbuf_init(&resp.body, 0);
        s->opts.on_error(&resp, status, status == 414   ? "uri_too_long"
                                        : status == 413 ? "too_large"
                                        : status == 431 ? "headers_too_large"
                                        : status == 505 ? "version_not_supported"
                                        : status == 501 ? "not_implemented"
                                        : status == 503 ? "unavailable"
                                        : status == 408 ? "timeout"
                                        : status == 417 ? "expectation_failed"
                                                        : "bad_request",
                         message);
        reset_request(c);
        c->close_after = true;
        size_t len;
        c->out_body = vol_strbuf_take(&resp.body, &len);
        c->out_body_len = len;
        format_head(c, resp.status, resp.content_type ? resp.content_type : "application/json", len,
                    resp.headers);
        free(resp.headers);
        c->linger = true;
        int w = write_some(c);
        if (w == 0) {
                pthread_mutex_lock(&s->lock);
                c->state = C_WRITE;
                c->deadline = http_now_ms() + s->opts.idle_timeout_ms;
                pthread_mutex_unlock(&s->lock);
                arm(c, EPOLLOUT);
                return P_GONE;
        }
        if (w < 0)
                close_loop_conn(c, graveyard);
        else
                linger_or_close(c, graveyard);
        return P_GONE;
}

/* ---- workers ---- */

static bool query_allowed(const struct vol_route *r, const char *key)
{
        for (const char *const *q = r->query; q && *q; q++)
                if (!strcmp(*q, key))
                        return true;
        return false;
}

static void dispatch(struct conn *c);

/* Routes, runs the handler and sends the answer. A worker passes no
 * graveyard; the event thread runs a fast route inline and passes its own. */
static void run_request(struct conn *c, struct conn **graveyard)
{
        struct vol_http_server *s = c->srv;
        struct vol_http_response resp = {.status = 200};
        vol_strbuf_init(&resp.body, 0);
        /* what a handler needs to stream; the buffer comes only if it does */
        struct vol_http_stream stream_state = {.c = c}, *stream = graveyard ? NULL : &stream_state;
        c->stream = NULL;
        struct vol_http_request req = {
                .method = c->head.method,
                .body = c->body.data ? c->body.data : "",
                .body_len = c->body.len,
                .head = &c->head,
                .peer = &c->peer,
                .stream = stream,
                .inline_call = graveyard != NULL,
        };
        char *target = c->head.target;
        char *q = strchr(target, '?');
        if (q)
                *q++ = 0;
        req.path = target;
        struct vol_http_param query[VOL_HTTP_QUERY_MAX];
        struct vol_http_refusal why;
        int nq = q ? vol_http_parse_query(q, query, VOL_HTTP_QUERY_MAX, &why) : 0;
        const struct vol_route *route = NULL;
        char segbuf[SEG_BUF];
        bool path_known = false;
        _Alignas(max_align_t) unsigned char auth[VOL_HTTP_AUTH_MAX];
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (nq < 0) {
                s->opts.on_error(&resp, why.status, why.status == 414 ? "uri_too_long" : "invalid_argument",
                                 why.message);
                goto send;
        }
        req.query = query;
        req.n_query = (size_t)nq;
        for (size_t i = 0; i < s->n_routes; i++) {
                int m = vol_http_route_match(s->routes[i].pattern, req.path, segbuf, sizeof(segbuf),
                                             req.params, VOL_HTTP_PARAMS_MAX);
                if (m == -2 || m == -3) {
                        s->opts.on_error(&resp, 400, "invalid_argument",
                                         m == -2 ? "the request path has a malformed or NUL percent-escape"
                                                 : "a segment of the request path is too long");
                        goto send;
                }
                if (m < 0)
                        continue;
                if (strcmp(s->routes[i].method, req.method)) {
                        path_known = true;
                        continue;
                }
                route = &s->routes[i];
                req.n_params = (size_t)m;
                break;
        }
        if (!route) {
                if (path_known)
                        s->opts.on_error(&resp, 405, "method_not_allowed",
                                         "this route does not take that method");
                else
                        s->opts.on_error(&resp, 404, "not_found", "no such route");
                goto send;
        }
        for (size_t i = 0; i < req.n_query; i++)
                if (!query_allowed(route, query[i].key)) {
                        struct vol_strbuf m;
                        vol_strbuf_init(&m, 512);
                        vol_strbuf_puts(&m, "unknown query parameter \"");
                        vol_strbuf_append(&m, query[i].key, strnlen(query[i].key, 64));
                        vol_strbuf_puts(&m, "\"; this route takes ");
                        if (!route->query || !*route->query)
                                vol_strbuf_puts(&m, "none");
                        for (const char *const *k = route->query; k && *k; k++)
                                vol_strbuf_printf(&m, "%s%s", k == route->query ? "" : ", ", *k);
                        s->opts.on_error(&resp, 400, "invalid_argument", m.data);
                        vol_strbuf_free(&m);
                        goto send;
                }
        if (s->opts.authenticate && !(route->flags & VOL_ROUTE_PUBLIC)) {
                memset(auth, 0, sizeof(auth));
                if (!s->opts.authenticate(s->ctx, &req, auth, &resp))
                        goto send;
                req.auth = auth;
        }
        route->handler(s->ctx, &req, &resp);
        if (resp.defer && graveyard) { /* it would wait: a worker runs it again */
                vol_strbuf_free(&resp.body);
                free(resp.headers);
                if (q)
                        q[-1] = '?';
                dispatch(c);
                return;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (s->opts.on_done)
                s->opts.on_done(s->ctx, &req, &resp,
                                (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
        if (c->stream) {
                /* the answer is out already: what is left is the connection */
                vol_http_stream_end(c->stream, false); /* a handler that forgot to end cuts it */
                c->close_after = c->close_after || !c->keep_alive || s->stopping || (c->stream_body && !c->body_done);
                c->stream = NULL;
                free(stream_state.buf);
                vol_strbuf_free(&resp.body);
                free(resp.headers);
                c->out_head_len = c->out_body_len = c->out_off = 0;
                answered(c, NULL);
                return;
        }
send:
        if (c->stream_body && !c->body_done && !graveyard)
                http_drain_body(c, STREAM_DRAIN_MAX);
        c->close_after = !c->keep_alive || s->stopping || (c->stream_body && !c->body_done);
        size_t len;
        c->out_wipe = resp.wipe;
        c->out_body = vol_strbuf_take(&resp.body, &len);
        c->out_body_len = len;
        format_head(c, resp.status, resp.content_type ? resp.content_type : "application/json", len,
                    resp.headers);
        free(resp.headers);
        if (!graveyard) {
                send_from_worker(c);
                return;
        }
        int w = write_some(c);
        if (w < 0) {
                close_loop_conn(c, graveyard);
        } else if (w == 0) {
                c->state = C_WRITE;
                c->deadline = http_now_ms() + s->opts.idle_timeout_ms;
                arm(c, EPOLLOUT);
        } else {
                answered(c, graveyard);
        }
}

/* Wakes w, taken off the idle list with its job set (qlock not held). */
static void worker_wake(struct http_worker *w)
{
        __atomic_store_n(&w->wake, 1, __ATOMIC_RELEASE);
        vol_futex_wake(&w->wake);
}

static void *worker_main(void *arg)
{
        struct http_worker *w = arg;
        struct vol_http_server *s = w->srv;
        pthread_mutex_lock(&s->qlock);
        s->n_spare--; /* at work: from here it is spare only while on the idle list */
        for (;;) {
                struct conn *c = w->job;
                w->job = NULL;
                if (!c && s->queue_head) {
                        c = s->queue_head;
                        s->queue_head = c->qnext;
                        if (!s->queue_head)
                                s->queue_tail = &s->queue_head;
                        s->n_queued--;
                }
                if (!c) {
                        if (s->q_stopping)
                                break; /* stopping, and nothing left */
                        __atomic_store_n(&w->wake, 0, __ATOMIC_RELAXED);
                        w->next_idle = s->idle;
                        s->idle = w;
                        s->n_spare++;
                        pthread_mutex_unlock(&s->qlock);
                        while (!__atomic_load_n(&w->wake, __ATOMIC_ACQUIRE))
                                vol_futex_wait(&w->wake, 0);
                        pthread_mutex_lock(&s->qlock);
                        continue;
                }
                pthread_mutex_unlock(&s->qlock);
                run_request(c, NULL);
                pthread_mutex_lock(&s->qlock);
        }
        pthread_mutex_unlock(&s->qlock);
        return NULL;
}

/* True when the request is for a route marked VOL_ROUTE_FAST and has no
 * query: its handler answers from one store read, so the event thread runs it
 * and no thread hand-off is paid. */
static bool is_fast(struct vol_http_server *s, struct conn *c)
{
        if (strchr(c->head.target, '?'))
                return false;
        char segbuf[SEG_BUF];
        const char *segs[VOL_HTTP_PARAMS_MAX];
        for (size_t i = 0; i < s->n_routes; i++) {
                const struct vol_route *r = &s->routes[i];
                if (!(r->flags & VOL_ROUTE_FAST) || strcmp(r->method, c->head.method))
                        continue;
                if (vol_http_route_match(r->pattern, c->head.target, segbuf, sizeof(segbuf), segs,
                                         VOL_HTTP_PARAMS_MAX) >= 0)
                        return true;
        }
        return false;
}

/* True when the request's route reads its body as it comes. */
static bool streams_body(struct vol_http_server *s, struct conn *c)
{
        char target[VOL_HTTP_TARGET_MAX + 1];
        snprintf(target, sizeof(target), "%s", c->head.target);
        char *q = strchr(target, '?');
        if (q)
                *q = 0;
        char segbuf[SEG_BUF];
        const char *segs[VOL_HTTP_PARAMS_MAX];
        for (size_t i = 0; i < s->n_routes; i++) {
                const struct vol_route *r = &s->routes[i];
                if (!(r->flags & VOL_ROUTE_STREAM_BODY) || strcmp(r->method, c->head.method))
                        continue;
                if (vol_http_route_match(r->pattern, target, segbuf, sizeof(segbuf), segs, VOL_HTTP_PARAMS_MAX) >= 0)
                        return true;
        }
        return false;
}

/* Hands a whole request to a worker: the one that became idle last (its
 * cache is warm), or the queue, starting a worker if none is spare. The
 * state needs no lock: only the event thread reads connections' states, and
 * this is it. */
static void dispatch(struct conn *c)
{
        struct vol_http_server *s = c->srv;
        disarm(c);
        c->state = C_BUSY;
        c->deadline = 0;
        c->qnext = NULL;
        pthread_mutex_lock(&s->qlock);
        struct http_worker *w = s->idle;
        if (w) {
                s->idle = w->next_idle;
                s->n_spare--;
                w->job = c;
        } else {
                *s->queue_tail = c;
                s->queue_tail = &c->qnext;
                s->n_queued++;
                /* a worker more unless the spare ones (started, not yet at
                 * work) cover the queue: two requests handed over before a
                 * new worker runs need two */
                if (s->n_queued > s->n_spare && s->n_workers < WORKERS_MAX) {
                        struct http_worker *nw = &s->workers[s->n_workers];
                        nw->srv = s;
                        if (pthread_create(&nw->thread, NULL, worker_main, nw) == 0) {
                                s->n_workers++;
                                s->n_spare++;
                        }
                }
        }
        pthread_mutex_unlock(&s->qlock);
        if (w)
                worker_wake(w);
}

/* ---- reading requests (event thread) ---- */

static int body_out(void *arg, const char *data, size_t n)
{
        return vol_strbuf_append(arg, data, n);
}

void http_consume(struct conn *c, size_t n)
{
        memmove(c->in, c->in + n, c->in_len - n);
        c->in_len -= n;
}

/* Parses what is buffered: refuses, dispatches a whole request, or waits for
 * more bytes. Returns P_WAIT when c waits for bytes (armed for EPOLLIN), or
 * P_GONE when it was handed to a worker, closed, or refused: then the caller
 * must not touch it again. */
static int process(struct conn *c, struct conn **graveyard)
{
        struct vol_http_server *s = c->srv;
        struct vol_http_refusal why;
        if (c->state == C_HEAD) {
                if (c->in_len == 0) {
                        c->deadline = 0; /* idle: the idle timeout applies */
                        arm(c, EPOLLIN);
                        return P_WAIT;
                }
                if (!c->deadline)
                        c->deadline = http_now_ms() + s->opts.head_timeout_ms;
                long end = vol_http_head_end(c->in, c->in_len, &c->scan, &why);
                if (end < 0)
                        return refuse_loop(c, why.status, why.message, graveyard);
                if (end == 0) {
                        arm(c, EPOLLIN);
                        return P_WAIT;
                }
                c->headbuf = xmalloc((size_t)end + 1);
                memcpy(c->headbuf, c->in, (size_t)end);
                c->headbuf[end] = 0;
                http_consume(c, (size_t)end);
                if (vol_http_parse_head(c->headbuf, (size_t)end, &c->head, &why) < 0)
                        return refuse_loop(c, why.status, why.message, graveyard);
                c->keep_alive = c->head.keep_alive;
                c->stream_body = streams_body(s, c);
                if (!c->stream_body && c->head.has_length && c->head.content_length > VOL_HTTP_BODY_MAX)
                        return refuse_loop(c, 413, "the request body is larger than 1 MiB", graveyard);
                c->chunked = c->head.chunked;
                c->ch.max = c->stream_body ? 0 : VOL_HTTP_BODY_MAX;
                c->body_left = c->head.has_length ? c->head.content_length : 0;
                c->body_done = !c->chunked && !c->body_left;
                if (c->head.expect_continue && (c->chunked || c->body_left)) {
                        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                        if (http_conn_send(c, cont, sizeof(cont) - 1) != (ssize_t)(sizeof(cont) - 1)) {
                                close_loop_conn(c, graveyard);
                                return P_GONE;
                        }
                }
                if (c->stream_body) { /* its handler reads the body */
                        dispatch(c);
                        return P_GONE;
                }
                c->state = C_BODY;
                c->deadline = http_now_ms() + s->opts.body_timeout_ms;
        }
        if (c->state == C_BODY) {
                size_t before = c->body.len;
                if (c->chunked) {
                        long used = vol_http_chunked_feed(&c->ch, c->in, c->in_len, body_out, &c->body, &why);
                        if (used < 0)
                                return refuse_loop(c, why.status,
                                                   why.status == 413 ? "the request body is larger than 1 MiB"
                                                                     : why.message,
                                                   graveyard);
                        http_consume(c, (size_t)used);
                        if (!c->ch.done) {
                                if (c->body.len != before || used)
                                        c->deadline = http_now_ms() + s->opts.body_timeout_ms;
                                arm(c, EPOLLIN);
                                return P_WAIT;
                        }
                } else {
                        size_t n = c->in_len < c->body_left ? c->in_len : (size_t)c->body_left;
                        if (n && vol_strbuf_append(&c->body, c->in, n) < 0)
                                return refuse_loop(c, 413, "the request body is larger than 1 MiB", graveyard);
                        http_consume(c, n);
                        c->body_left -= n;
                        if (c->body_left) {
                                if (n)
                                        c->deadline = http_now_ms() + s->opts.body_timeout_ms;
                                arm(c, EPOLLIN);
                                return P_WAIT;
                        }
                }
                if (is_fast(s, c)) {
                        c->state = C_BUSY; /* the event thread's own, for the handler's time */
                        c->deadline = 0;
                        run_request(c, graveyard);
                } else {
                        dispatch(c);
                }
        }
        return P_GONE;
}

/* Reads what the socket has. Returns 1 if bytes came, 0 at end of stream,
 * -1 on error, 2 when the buffer is full (the parser must make room). */
static int read_some(struct conn *c)
{
        bool got = false;
        for (;;) {
                if (c->in_len == c->in_cap) {
                        c->drained = false;
                        if (c->in_cap >= IN_MAX)
                                return 2; /* the parser makes room, then we read on */
                        c->in_cap = c->in_cap ? c->in_cap * 2 : 4096;
                        if (c->in_cap > IN_MAX)
                                c->in_cap = IN_MAX;
                        c->in = xrealloc(c->in, c->in_cap);
                }
                size_t room = c->in_cap - c->in_len;
                ssize_t r = http_conn_recv(c, c->in + c->in_len, room);
                if (r > 0) {
                        c->in_len += (size_t)r;
                        got = true;
                        /* A short read of a plain socket took all it had: the
                         * next would say EAGAIN (a syscall per request saved;
                         * epoll tells of more). TLS may hold decrypted bytes
                         * epoll cannot see, and a peer that shut its side
                         * sends no new edge for its end: read those dry. */
                        if (!c->tls && (size_t)r < room && !c->peer_shut) {
                                c->drained = true;
                                return 1;
                        }
                        c->drained = false;
                        continue;
                }
                if (r == 0)
                        return got ? 1 : 0;
                if (r == -EAGAIN) {
                        c->drained = true;
                        return 1;
                }
                return -1;
        }
}

static void on_conn_event(struct conn *c, uint32_t events, struct conn **graveyard)
{
        if (c->state == C_DEAD)
                return;
        if (c->state == C_TLS) {
                int h = vol_tls_handshake(c->tls);
                if (h < 0) {
                        close_loop_conn(c, graveyard);
                        return;
                }
                if (h == 0) {
                        arm(c, vol_tls_wants_write(c->tls) ? EPOLLOUT : EPOLLIN);
                        return;
                }
                c->state = C_HEAD; /* a request may have come with the last flight */
                c->deadline = 0;
                c->last_active = http_now_ms();
        }
        if (c->state == C_LINGER) { /* drop what comes; the end or the deadline closes */
                char buf[16384];
                for (;;) {
                        ssize_t r = http_conn_recv(c, buf, sizeof(buf));
                        if (r > 0) {
                                c->deadline = http_now_ms() + LINGER_MS; /* still sending: a moment more */
                                c->body_left += (uint64_t)r; /* counts what was dropped */
                                if (c->body_left > LINGER_MAX) {
                                        close_loop_conn(c, graveyard);
                                        return;
                                }
                                continue;
                        }
                        if (r == -EAGAIN) {
                                c->drained = true;
                                arm(c, EPOLLIN);
                                return;
                        }
                        close_loop_conn(c, graveyard);
                        return;
                }
        }
        if (c->state == C_WRITE) {
                int w = write_some(c);
                if (w < 0) {
                        close_loop_conn(c, graveyard);
                } else if (w == 0) {
                        c->deadline = http_now_ms() + c->srv->opts.idle_timeout_ms;
                        arm(c, EPOLLOUT);
                } else {
                        answered(c, graveyard);
                }
                return;
        }
        /* C_HEAD or C_BODY */
        if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                c->peer_shut = true;
        int r = read_some(c);
        if (r < 0 || (r == 0 && c->in_len == 0 && c->state == C_HEAD)) {
                close_loop_conn(c, graveyard); /* gone, or done between requests */
                return;
        }
        if (r != 0)
                c->last_active = http_now_ms();
        /* At the end of the stream a whole request buffered is still
         * answered (a client may shut its side after sending); a partial one
         * never can be. A full buffer: process() consumed what it could, and
         * the next round reads on. */
        if (process(c, graveyard) == P_WAIT && r == 0)
                close_loop_conn(c, graveyard);
}

/* ---- accepting ---- */

/* Makes room when the table is full: the longest-idle connection between
 * requests goes first, then the slowest partial request. Returns false if
 * every connection is busy in a handler. Event thread, srv->lock held. */
static struct conn *pick_victim(struct vol_http_server *s)
{
        struct conn *idle = NULL, *partial = NULL;
        for (struct conn *c = s->conns; c; c = c->next) {
                if ((c->state == C_HEAD && c->in_len == 0) || c->state == C_LINGER) {
                        if (!idle || c->last_active < idle->last_active)
                                idle = c;
                } else if (c->state == C_TLS || c->state == C_HEAD || c->state == C_BODY) {
                        if (!partial || c->last_active < partial->last_active)
                                partial = c;
                }
        }
        return idle ? idle : partial;
}

static size_t count_peer(struct vol_http_server *s, const struct vol_http_peer *p)
{
        size_t n = 0;
        for (struct conn *c = s->conns; c; c = c->next)
                if (p->is_unix ? c->peer.uid == p->uid && c->peer.pid == p->pid : !strcmp(c->peer.addr, p->addr))
                        n++;
        return n;
}

static void reject_new(struct vol_http_server *s, int fd, const char *message)
{
        if (s->opts.tls) { /* no plaintext on a TLS port: the client sees the close */
                close(fd);
                return;
        }
        struct vol_http_response resp = {.status = 503};
        vol_strbuf_init(&resp.body, 0);
        s->opts.on_error(&resp, 503, "unavailable", message);
        char head[256];
        int n = snprintf(head, sizeof(head),
                         "HTTP/1.1 503 Service Unavailable\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                         "Connection: close\r\nRetry-After: 1\r\n\r\n",
                         resp.content_type ? resp.content_type : "application/json", resp.body.len);
        struct iovec iov[2] = {{head, (size_t)n}, {resp.body.data, resp.body.len}};
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
        (void)!sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        vol_strbuf_free(&resp.body);
        close(fd);
}

static void unix_peer(int fd, struct vol_http_peer *peer)
{
        struct ucred cred;
        socklen_t cl = sizeof(cred);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0) {
                peer->uid = cred.uid;
                peer->gid = cred.gid;
                peer->pid = cred.pid;
        }
        snprintf(peer->desc, sizeof(peer->desc), "uid %u pid %d", (unsigned)peer->uid, (int)peer->pid);
}

static void tcp_peer(int fd, struct vol_http_peer *peer)
{
        struct sockaddr_storage sa;
        socklen_t sl = sizeof(sa);
        int port = 0;
        if (getpeername(fd, (struct sockaddr *)&sa, &sl) == 0) {
                if (sa.ss_family == AF_INET) {
                        struct sockaddr_in *a = (struct sockaddr_in *)&sa;
                        inet_ntop(AF_INET, &a->sin_addr, peer->addr, sizeof(peer->addr));
                        port = ntohs(a->sin_port);
                } else if (sa.ss_family == AF_INET6) {
                        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&sa;
                        inet_ntop(AF_INET6, &a->sin6_addr, peer->addr, sizeof(peer->addr));
                        port = ntohs(a->sin6_port);
                }
        }
        if (!peer->addr[0])
                snprintf(peer->addr, sizeof(peer->addr), "unknown");
        snprintf(peer->desc, sizeof(peer->desc), strchr(peer->addr, ':') ? "[%s]:%d" : "%s:%d", peer->addr, port);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void accept_all(struct vol_http_server *s, struct conn **graveyard)
{
        for (;;) {
                int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0)
                        return; /* EAGAIN, or an error accept will report again */
                struct vol_http_peer peer = {.is_unix = !s->port};
                if (peer.is_unix)
                        unix_peer(fd, &peer);
                else
                        tcp_peer(fd, &peer);

                pthread_mutex_lock(&s->lock);
                size_t mine = count_peer(s, &peer);
                struct conn *victim = NULL;
                bool full = s->n_conns >= s->opts.max_connections;
                if (mine < s->opts.max_per_client && full)
                        victim = pick_victim(s);
                pthread_mutex_unlock(&s->lock);
                if (mine >= s->opts.max_per_client) {
                        char msg[160];
                        snprintf(msg, sizeof(msg),
                                 "this client (%s) holds %zu connections already; the most is %u",
                                 peer.desc, mine, s->opts.max_per_client);
                        reject_new(s, fd, msg);
                        continue;
                }
                if (full && !victim) {
                        reject_new(s, fd, "every connection is busy; retry");
                        continue;
                }
                if (victim)
                        close_loop_conn(victim, graveyard);

                struct conn *c = xcalloc(1, sizeof(*c));
                c->fd = fd;
                c->srv = s;
                c->peer = peer;
                c->state = C_HEAD;
                if (s->opts.tls) {
                        c->tls = vol_tls_conn_new(s->opts.tls, fd);
                        if (!c->tls) {
                                close(fd);
                                free(c);
                                continue;
                        }
                        c->state = C_TLS;
                        c->deadline = http_now_ms() + s->opts.head_timeout_ms;
                }
                c->last_active = http_now_ms();
                vol_strbuf_init(&c->body, VOL_HTTP_BODY_MAX);
                pthread_mutex_lock(&s->lock);
                c->next = s->conns;
                if (s->conns)
                        s->conns->prev = c;
                s->conns = c;
                s->n_conns++;
                pthread_mutex_unlock(&s->lock);
                struct epoll_event ev = {.events = EPOLLIN | EPOLLET | EPOLLRDHUP, .data.ptr = c};
                c->armed = EPOLLIN; /* nothing read yet: not drained */
                if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
                        close_loop_conn(c, graveyard);
        }
}

/* Closes connections past their deadlines: a head or body that stalls, an
 * idle kept-alive connection, an answer nobody reads. */
static void expire(struct vol_http_server *s, struct conn **graveyard)
{
        uint64_t now = http_now_ms();
        struct conn *doomed[64];
        size_t n = 0;
        bool timed_out[64];
        pthread_mutex_lock(&s->lock);
        for (struct conn *c = s->conns; c && n < 64; c = c->next) {
                if (c->state == C_BUSY || c->state == C_DEAD)
                        continue;
                bool idle = c->state == C_HEAD && c->in_len == 0;
                if (idle && now - c->last_active >= s->opts.idle_timeout_ms) {
                        timed_out[n] = false;
                        doomed[n++] = c;
                } else if (!idle && c->deadline && now >= c->deadline) {
                        timed_out[n] = c->state != C_WRITE && c->state != C_TLS && c->state != C_LINGER;
                        doomed[n++] = c;
                }
        }
        pthread_mutex_unlock(&s->lock);
        for (size_t i = 0; i < n; i++) {
                if (timed_out[i])
                        refuse_loop(doomed[i], 408, "the request did not arrive in time", graveyard);
                else
                        close_loop_conn(doomed[i], graveyard);
        }
}

static void *loop_main(void *arg)
{
        struct vol_http_server *s = arg;
        struct epoll_event evs[64];
        uint64_t next_scan = http_now_ms() + SCAN_INTERVAL_MS;
        for (;;) {
                int n = epoll_wait(s->epoll_fd, evs, 64, SCAN_INTERVAL_MS);
                struct conn *graveyard = NULL;
                bool stop = false;
                for (int i = 0; i < n; i++) {
                        void *p = evs[i].data.ptr;
                        if (p == &s->listen_fd)
                                accept_all(s, &graveyard);
                        else if (p == &s->wake_fd)
                                stop = true;
                        else
                                on_conn_event(p, evs[i].events, &graveyard);
                }
                uint64_t now = http_now_ms();
                if (now >= next_scan) {
                        expire(s, &graveyard);
                        next_scan = now + SCAN_INTERVAL_MS;
                }
                while (graveyard) {
                        struct conn *c = graveyard;
                        graveyard = c->qnext;
                        conn_free(c);
                }
                if (stop)
                        break;
        }
        return NULL;
}

static int serve(int fd, const char *path, int port, const struct vol_http_options *opts,
                 const struct vol_route *routes, size_t n_routes, void *ctx,
                 struct vol_http_server **ret, struct vol_error *err);

int vol_http_start(const char *socket_path, const struct vol_http_options *opts,
                   const struct vol_route *routes, size_t n_routes, void *ctx,
                   struct vol_http_server **ret, struct vol_error *err)
{
        int fd = http_bind_unix(socket_path, opts->mode, opts->group, err);
        if (fd < 0)
                return fd;
        return serve(fd, socket_path, 0, opts, routes, n_routes, ctx, ret, err);
}

int vol_http_start_tcp(const char *host, const char *port, const struct vol_http_options *opts,
                       const struct vol_route *routes, size_t n_routes, void *ctx,
                       struct vol_http_server **ret, struct vol_error *err)
{
        int bound = 0;
        int fd = http_listen_tcp(host, port, &bound, err);
        if (fd < 0)
                return fd;
        return serve(fd, NULL, bound, opts, routes, n_routes, ctx, ret, err);
}

int vol_http_port(struct vol_http_server *s)
{
        return s->port;
}

static int serve(int fd, const char *path, int port, const struct vol_http_options *opts,
                 const struct vol_route *routes, size_t n_routes, void *ctx,
                 struct vol_http_server **ret, struct vol_error *err)
{
        struct vol_http_server *s = xcalloc(1, sizeof(*s));
        s->listen_fd = fd;
        s->path = path ? xstrdup(path) : NULL;
        s->port = port;
        s->routes = routes;
        s->n_routes = n_routes;
        s->ctx = ctx;
        s->opts = *opts;
        if (!s->opts.max_connections)
                s->opts.max_connections = 512;
        if (!s->opts.max_per_client)
                s->opts.max_per_client = 64;
        if (!s->opts.idle_timeout_ms)
                s->opts.idle_timeout_ms = 30000;
        if (!s->opts.head_timeout_ms)
                s->opts.head_timeout_ms = 5000;
        if (!s->opts.body_timeout_ms)
                s->opts.body_timeout_ms = 10000;
        pthread_mutex_init(&s->lock, NULL);
        pthread_mutex_init(&s->qlock, NULL);
        s->queue_tail = &s->queue_head;
        s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        int r = 0;
        if (s->epoll_fd < 0 || s->wake_fd < 0) {
                r = vol_error_set(err, -errno, "epoll: %m");
                goto fail;
        }
        struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &s->listen_fd};
        struct epoll_event wev = {.events = EPOLLIN, .data.ptr = &s->wake_fd};
        if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &lev) < 0 ||
            epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->wake_fd, &wev) < 0) {
                r = vol_error_set(err, -errno, "epoll_ctl: %m");
                goto fail;
        }
        if (pthread_create(&s->loop, NULL, loop_main, s) != 0) {
                r = vol_error_set(err, -EAGAIN, "starting the HTTP thread failed");
                goto fail;
        }
        s->loop_started = true;
        *ret = s;
        return 0;
fail:
        vol_http_stop(s);
        return r;
}

void vol_http_stop(struct vol_http_server *s)
{
        if (!s)
                return;
        pthread_mutex_lock(&s->lock);
        s->stopping = true;
        pthread_mutex_lock(&s->qlock);
        s->q_stopping = true;
        struct http_worker *idle = s->idle;
        s->idle = NULL;
        for (struct http_worker *w = idle; w; w = w->next_idle)
                s->n_spare--;
        pthread_mutex_unlock(&s->qlock);
        pthread_mutex_unlock(&s->lock);
        for (struct http_worker *w = idle, *next; w; w = next) {
                next = w->next_idle; /* read before the wake: w may run at once */
                worker_wake(w);
        }
        if (s->loop_started) {
                uint64_t one = 1;
                (void)!write(s->wake_fd, &one, sizeof(one));
                pthread_join(s->loop, NULL);
        }
        /* No event thread from here: workers finish their requests and, seeing
         * `stopping`, close their connections themselves. */
        for (size_t i = 0; i < s->n_workers; i++)
                pthread_join(s->workers[i].thread, NULL);
        while (s->conns) {
                struct conn *c = s->conns;
                s->conns = c->next;
                vol_tls_conn_free(c->tls);
                c->tls = NULL;
                close(c->fd);
                conn_free(c);
        }
        if (s->epoll_fd >= 0)
                close(s->epoll_fd);
        if (s->wake_fd >= 0)
                close(s->wake_fd);
        close(s->listen_fd);
        if (s->path)
                unlink(s->path);
        pthread_mutex_destroy(&s->lock);
        pthread_mutex_destroy(&s->qlock);
        free(s->path);
        free(s);
}

size_t vol_http_query_all(const struct vol_http_request *req, const char *key, vol_http_query_cb cb,
                          void *userdata)
{
        size_t n = 0;
        for (size_t i = 0; i < req->n_query; i++)
                if (!strcmp(req->query[i].key, key)) {
                        n++;
                        if (cb)
                                cb(req->query[i].value, userdata);
                }
        return n;
}

const char *vol_http_query(const struct vol_http_request *req, const char *key)
{
        for (size_t i = 0; i < req->n_query; i++)
                if (!strcmp(req->query[i].key, key))
                        return req->query[i].value;
        return NULL;
}

const char *vol_http_header(const struct vol_http_request *req, const char *name)
{
        return req->head ? vol_http_head_field(req->head, name) : NULL;
}
