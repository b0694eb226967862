/* Streamed answers: a handler writes its answer piece by piece (a list of
 * 10,000 volumes, an export) and the server sends it as chunks. Run by the
 * worker that owns the connection. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "core/cleanup.h"
#include "core/xmalloc.h"
#include "http_internal.h"

/* ---- streamed answers (a worker's connection only) ---- */



/* Waits until c can take more bytes: 0, or -EPIPE for a reader that
 * stopped reading (STREAM_WAIT_MS) or is gone. */
static int wait_room(struct conn *c)
{
        struct pollfd p = {.fd = c->fd, .events = POLLOUT};
        if (poll(&p, 1, STREAM_WAIT_MS) <= 0 || (p.revents & (POLLERR | POLLHUP)))
                return -EPIPE;
        return 0;
}

/* Writes all of data to the (non-blocking) connection, waiting for room. */
static int write_all(struct conn *c, const char *data, size_t n)
{
        while (n) {
                ssize_t w = http_conn_send(c, data, n);
                if (w > 0) {
                        data += w;
                        n -= (size_t)w;
                        continue;
                }
                if (w == -EAGAIN && wait_room(c) == 0)
                        continue;
                return -EPIPE;
        }
        return 0;
}

/* Writes the n pieces of iov in order, waiting for room; iov is consumed.
 * On a plain socket they go out together (one sendmsg while there is room),
 * so a chunk's size line, its data and its CRLF wake the reader once, not
 * three times; TLS records go one piece at a time. */
static int write_allv(struct conn *c, struct iovec *iov, int n)
{
        if (c->tls) {
                for (int i = 0; i < n; i++)
                        if (write_all(c, iov[i].iov_base, iov[i].iov_len) < 0)
                                return -EPIPE;
                return 0;
        }
        while (n > 0) {
                if (!iov->iov_len) {
                        iov++;
                        n--;
                        continue;
                }
                struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
                ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        if ((errno == EAGAIN || errno == EWOULDBLOCK) && wait_room(c) == 0)
                                continue;
                        return -EPIPE;
                }
                for (size_t left = (size_t)w; left;) { /* past what went out */
                        size_t k = left < iov->iov_len ? left : iov->iov_len;
                        iov->iov_base = (char *)iov->iov_base + k;
                        iov->iov_len -= k;
                        left -= k;
                        if (!iov->iov_len) {
                                iov++;
                                n--;
                        }
                }
        }
        return 0;
}

/* Sends n bytes as one chunk (HTTP/1.1) or as they are (HTTP/1.0). */
static int send_chunk(struct vol_http_stream *st, const char *data, size_t n)
{
        char head[24];
        int k = snprintf(head, sizeof(head), "%zx\r\n", n);
        struct iovec iov[3] = {{head, (size_t)k}, {(char *)data, n}, {(char *)"\r\n", 2}};
        return st->chunked ? write_allv(st->c, iov, 3) : write_allv(st->c, iov + 1, 1);
}

static int stream_flush(struct vol_http_stream *st)
{
        if (st->broken)
                return -EPIPE;
        if (!st->len)
                return 0;
        int r = send_chunk(st, st->buf, st->len);
        st->len = 0;
        if (r < 0)
                st->broken = true;
        return r;
}

struct vol_http_stream *vol_http_stream_start(const struct vol_http_request *req, int status,
                                              const char *content_type)
{
        struct vol_http_stream *st = req->stream;
        if (!st || st->c->stream)
                return NULL;
        struct conn *c = st->c;
        c->stream = st;
        st->buf = xmalloc(STREAM_BUF);
        st->chunked = c->head.minor == 1;
        c->close_after = !st->chunked || !c->keep_alive || c->srv->stopping;
        const char *extra = c->srv->opts.extra_headers;
        _cleanup_free_ char *head = xasprintf("HTTP/1.1 %d %s\r\nContent-Type: %s\r\n%s%s%s\r\n", status,
                                              vol_http_reason(status), content_type,
                                              st->chunked ? "Transfer-Encoding: chunked\r\n" : "",
                                              !st->chunked || c->close_after ? "Connection: close\r\n" : "",
                                              extra ? extra : "");
        if (write_all(c, head, strlen(head)) < 0)
                st->broken = true;
        return st;
}

int vol_http_stream_write(struct vol_http_stream *st, const void *data, size_t n)
{
        const char *p = data;
        if (st->len == 0 && n >= STREAM_BUF) { /* a whole buffer's worth: one chunk, no copy */
                if (st->broken)
                        return -EPIPE;
                if (send_chunk(st, p, n) < 0) {
                        st->broken = true;
                        return -EPIPE;
                }
                return 0;
        }
        while (n) {
                if (st->broken)
                        return -EPIPE;
                size_t room = STREAM_BUF - st->len;
                size_t take = n < room ? n : room;
                memcpy(st->buf + st->len, p, take);
                st->len += take;
                p += take;
                n -= take;
                if (st->len == STREAM_BUF && stream_flush(st) < 0)
                        return -EPIPE;
        }
        return 0;
}

void vol_http_stream_end(struct vol_http_stream *st, bool ok)
{
        if (st->ended)
                return;
        st->ended = true;
        if (ok && stream_flush(st) == 0 && st->chunked && write_all(st->c, "0\r\n\r\n", 5) < 0)
                st->broken = true;
        if (!ok || st->broken)
                st->c->close_after = true; /* cut short: the client sees no end */
}

/* ---- streamed request bodies (a worker's connection only) ---- */

static int stage(void *arg, const char *data, size_t n)
{
        return vol_strbuf_append(arg, data, n);
}

ssize_t vol_http_body_read(const struct vol_http_request *req, void *buf, size_t n)
{
        if (!req->stream || !req->stream->c->stream_body)
                return -EINVAL;
        return http_body_read(req->stream->c, buf, n);
}

void http_drain_body(struct conn *c, uint64_t max)
{
        char buf[16384];
        uint64_t total = 0;
        ssize_t n;
        while (total < max && (n = http_body_read(c, buf, sizeof(buf))) > 0)
                total += (uint64_t)n;
}

ssize_t http_body_read(struct conn *c, void *buf, size_t n)
{
        for (;;) {
                if (c->body_off < c->body.len) { /* decoded, not yet read */
                        size_t k = c->body.len - c->body_off < n ? c->body.len - c->body_off : n;
                        memcpy(buf, c->body.data + c->body_off, k);
                        c->body_off += k;
                        if (c->body_off == c->body.len)
                                c->body_off = c->body.len = 0;
                        return (ssize_t)k;
                }
                if (c->body_done)
                        return 0;
                if (c->in_len) {
                        if (!c->chunked) {
                                size_t k = c->in_len < c->body_left ? c->in_len : (size_t)c->body_left;
                                k = k < n ? k : n;
                                memcpy(buf, c->in, k);
                                http_consume(c, k);
                                c->body_left -= k;
                                c->body_done = c->body_left == 0;
                                return (ssize_t)k;
                        }
                        struct vol_http_refusal why;
                        long used = vol_http_chunked_feed(&c->ch, c->in, c->in_len, stage, &c->body, &why);
                        if (used < 0)
                                return -EPROTO;
                        http_consume(c, (size_t)used);
                        c->body_done = c->ch.done;
                        continue;
                }
                /* more from the client */
                if (c->in_len == c->in_cap) {
                        c->in_cap = c->in_cap ? c->in_cap * 2 : 65536;
                        c->in = xrealloc(c->in, c->in_cap);
                }
                ssize_t r = http_conn_recv(c, c->in + c->in_len, c->in_cap - c->in_len);
                if (r > 0) {
                        c->in_len += (size_t)r;
                        continue;
                }
                if (r == 0)
                        return -ECONNRESET;
                if (r != -EAGAIN)
                        return -ECONNRESET;
                struct pollfd p = {.fd = c->fd, .events = POLLIN};
                int pr = poll(&p, 1, (int)c->srv->opts.body_timeout_ms);
                if (pr == 0)
                        return -ETIMEDOUT;
                if (pr < 0 && errno != EINTR)
                        return -ECONNRESET;
        }
}

int vol_http_stream_flush(struct vol_http_stream *st)
{
        return stream_flush(st);
}

bool vol_http_stream_alive(struct vol_http_stream *st)
{
        if (st->broken || st->c->srv->stopping) /* stopping: a follower ends, the server can go */
                return false;
        struct pollfd p = {.fd = st->c->fd, .events = POLLRDHUP};
        if (poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
                return false;
        return true;
}
