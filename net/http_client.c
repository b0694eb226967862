/* HTTP/1.1 client over a unix socket: see http_client.h. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/cleanup.h"
#include "core/xmalloc.h"
#include "http_client.h"

#define CHUNK_LINE_MAX 1024 /* a chunk-size line, extensions included */
#define TRAILERS_MAX (16u << 10)
#define READ_SIZE (16u << 10)

/* ---- the answer's head (pure) ---- */

static bool is_tchar(unsigned char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The end of the head in buf[0..len): its length, 0 for more, < 0 bad. */
static long head_end(const char *buf, size_t len, struct vol_error *err)
{
        size_t n = len < VOL_HTTP_ANSWER_HEAD_MAX ? len : VOL_HTTP_ANSWER_HEAD_MAX;
        for (size_t i = 0; i < n; i++) {
                if (buf[i] == 0)
                        return vol_error_set(err, -EBADMSG, "a NUL byte in the answer's head");
                if (buf[i] != '\n')
                        continue;
                if (i == 0 || buf[i - 1] != '\r')
                        return vol_error_set(err, -EBADMSG, "a bare LF in the answer's head");
                if (i >= 3 && buf[i - 2] == '\n' && buf[i - 3] == '\r')
                        return (long)(i + 1);
        }
        if (len >= VOL_HTTP_ANSWER_HEAD_MAX)
                return vol_error_set(err, -EBADMSG, "the answer's head is longer than %u bytes",
                                     VOL_HTTP_ANSWER_HEAD_MAX);
        return 0;
}

static int parse_status_line(const char *p, size_t n, int *ret, struct vol_error *err)
{
        /* HTTP/1.x SP 3DIGIT [SP reason] */
        if (n < 12 || memcmp(p, "HTTP/1.", 7) || p[7] < '0' || p[7] > '9' || p[8] != ' ' ||
            p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9' ||
            (n > 12 && p[12] != ' '))
                return vol_error_set(err, -EBADMSG, "the answer does not start with an HTTP/1 status line");
        *ret = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
        return 0;
}

static bool value_is(const char *v, size_t n, const char *want)
{
        return n == strlen(want) && !strncasecmp(v, want, n);
}

/* One "name: value" line p[0..n) into *a. */
static int parse_field(const char *p, size_t n, struct vol_http_answer *a, struct vol_error *err)
{
        const char *colon = memchr(p, ':', n);
        if (!colon || colon == p)
                return vol_error_set(err, -EBADMSG, "a header line of the answer has no name");
        for (const char *q = p; q < colon; q++)
                if (!is_tchar((unsigned char)*q))
                        return vol_error_set(err, -EBADMSG, "a header name of the answer is malformed");
        size_t name_len = (size_t)(colon - p);
        const char *v = colon + 1, *end = p + n;
        while (v < end && (*v == ' ' || *v == '\t'))
                v++;
        while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
        size_t vn = (size_t)(end - v);
        if (name_len == 14 && !strncasecmp(p, "Content-Length", 14)) {
                if (a->has_length)
                        return vol_error_set(err, -EBADMSG, "the answer repeats Content-Length");
                if (!vn || vn > 18)
                        return vol_error_set(err, -EBADMSG, "the answer's Content-Length is not a number");
                size_t len = 0;
                for (size_t i = 0; i < vn; i++) {
                        if (v[i] < '0' || v[i] > '9')
                                return vol_error_set(err, -EBADMSG,
                                                     "the answer's Content-Length is not a number");
                        len = len * 10 + (size_t)(v[i] - '0');
                }
                a->has_length = true;
                a->length = len;
        } else if (name_len == 17 && !strncasecmp(p, "Transfer-Encoding", 17)) {
                if (a->chunked || !value_is(v, vn, "chunked"))
                        return vol_error_set(err, -EBADMSG,
                                             "the answer uses a transfer coding other than chunked");
                a->chunked = true;
        }
        return 0;
}

int vol_http_answer_parse(const char *buf, size_t len, bool head_request, struct vol_http_answer *ret,
                          struct vol_error *err)
{
        long end = head_end(buf, len, err);
        if (end <= 0)
                return (int)end;
        struct vol_http_answer a = {.head_len = (size_t)end};
        const char *p = buf, *stop = buf + end - 2; /* the last CRLF ends the head */
        const char *eol = memchr(p, '\r', (size_t)(stop - p));
        int r = parse_status_line(p, (size_t)(eol - p), &a.status, err);
        if (r < 0)
                return r;
        for (p = eol + 2; p < stop; p = eol + 2) {
                eol = memchr(p, '\r', (size_t)(stop - p));
                if (*p == ' ' || *p == '\t')
                        return vol_error_set(err, -EBADMSG, "the answer folds a header line");
                if ((r = parse_field(p, (size_t)(eol - p), &a, err)) < 0)
                        return r;
        }
        if (a.chunked && a.has_length)
                return vol_error_set(err, -EBADMSG, "the answer has both Content-Length and chunked");
        a.no_body = a.status < 200 || a.status == 204 || a.status == 304 || head_request;
        *ret = a;
        return 1;
}

/* ---- chunked bodies (pure) ---- */

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        c = (char)(c | 0x20);
        return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The next CRLF-ended line at buf[from..len): its length (without CRLF), or
 * -1 when it is not whole yet. */
static long line_at(const char *buf, size_t len, size_t from)
{
        for (size_t i = from; i + 1 < len; i++)
                if (buf[i] == '\r' && buf[i + 1] == '\n')
                        return (long)(i - from);
        return -1;
}

static int chunk_size_line(const char *p, size_t n, size_t *ret, struct vol_error *err)
{
        size_t i = 0, size = 0;
        for (; i < n && hexval(p[i]) >= 0; i++) {
                if (i >= 15)
                        return vol_error_set(err, -EBADMSG, "a chunk of the answer is too large");
                size = size * 16 + (size_t)hexval(p[i]);
        }
        if (i == 0 || (i < n && p[i] != ';' && p[i] != ' ' && p[i] != '\t'))
                return vol_error_set(err, -EBADMSG, "a chunk size of the answer is malformed");
        for (; i < n; i++)
                if ((unsigned char)p[i] < 0x20 && p[i] != '\t')
                        return vol_error_set(err, -EBADMSG, "a chunk extension of the answer is malformed");
        *ret = size;
        return 0;
}

int vol_http_dechunk(char *buf, size_t len, struct vol_http_dechunk *st, struct vol_error *err)
{
        while (!st->done) {
                if (st->in_data) {
                        size_t take = len - st->in < st->left ? len - st->in : st->left;
                        memmove(buf + st->out, buf + st->in, take);
                        st->out += take;
                        st->in += take;
                        st->left -= take;
                        if (st->left)
                                return 0;
                        if (len - st->in < 2)
                                return 0;
                        if (buf[st->in] != '\r' || buf[st->in + 1] != '\n')
                                return vol_error_set(err, -EBADMSG, "a chunk of the answer is longer than it said");
                        st->in += 2;
                        st->in_data = false;
                        continue;
                }
                long n = line_at(buf, len, st->in);
                if (n < 0) {
                        size_t pending = len - st->in;
                        if (pending > (st->in_trailers ? TRAILERS_MAX : CHUNK_LINE_MAX))
                                return vol_error_set(err, -EBADMSG, "a chunk line of the answer is too long");
                        return 0;
                }
                const char *line = buf + st->in;
                st->in += (size_t)n + 2;
                if (st->in_trailers) {
                        if (n == 0)
                                st->done = true;
                        continue; /* trailers are read and dropped */
                }
                size_t size = 0;
                int r = chunk_size_line(line, (size_t)n, &size, err);
                if (r < 0)
                        return r;
                if (size == 0)
                        st->in_trailers = true;
                else {
                        st->in_data = true;
                        st->left = size;
                }
        }
        return 1;
}

/* ---- bodies (pure) ---- */

void vol_http_body_start(struct vol_http_body *st, const struct vol_http_answer *a)
{
        *st = (struct vol_http_body){
                .chunked = a->chunked,
                .has_length = a->has_length,
                .no_body = a->no_body,
                .length = a->length,
                .done = a->no_body || (a->has_length && a->length == 0),
        };
}

int vol_http_body_decode(struct vol_http_body *st, char *buf, size_t len, bool eof, size_t *ret_payload,
                         size_t *ret_used, struct vol_error *err)
{
        size_t payload = 0, used = 0;
        if (st->done) {
                /* nothing more is part of the body */
        } else if (st->has_length) {
                size_t want = st->length - st->payload;
                payload = used = len < want ? len : want;
                st->done = payload == want;
        } else if (st->chunked) {
                /* the caller dropped what was consumed: offsets start again at 0 */
                st->dc.in = st->dc.out = 0;
                int r = vol_http_dechunk(buf, len, &st->dc, err);
                if (r < 0)
                        return r;
                payload = st->dc.out;
                used = st->dc.in;
                st->done = r > 0;
        } else {
                payload = used = len; /* up to the end of the connection */
                st->done = eof;
        }
        if (!st->done && eof)
                return vol_error_set(err, -EBADMSG, "the answer was cut short");
        st->payload += payload;
        *ret_payload = payload;
        *ret_used = used;
        return st->done ? 1 : 0;
}

/* ---- the exchange ---- */

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Gives the socket what is left of the deadline for its next send and recv. */
static int arm(int fd, int64_t deadline)
{
        int64_t left = deadline - now_ms();
        if (left <= 0)
                return -ETIMEDOUT;
        struct timeval tv = {.tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000};
        if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
                return -errno;
        return 0;
}

static int send_all(int fd, const char *p, size_t n, int64_t deadline)
{
        while (n) {
                int r = arm(fd, deadline);
                if (r < 0)
                        return r;
                ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0)
                        return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

/* Reads more of the answer into raw. Returns bytes read, 0 at the end. */
static ssize_t read_more(int fd, struct vol_strbuf *raw, int64_t deadline)
{
        char tmp[READ_SIZE];
        for (;;) {
                int r = arm(fd, deadline);
                if (r < 0)
                        return r;
                ssize_t n = recv(fd, tmp, sizeof(tmp), 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
                if (n > 0 && vol_strbuf_append(raw, tmp, (size_t)n) < 0)
                        return -E2BIG;
                return n;
        }
}

static int connect_unix(const char *path, int64_t deadline, struct vol_error *err)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(sa.sun_path))
                return vol_error_set(err, -ENAMETOOLONG, "socket path %s is too long", path);
        strcpy(sa.sun_path, path);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return vol_error_set(err, -errno, "socket: %m");
        int r = arm(fd, deadline);
        if (r < 0)
                return vol_error_set(err, r, "connecting to %s: %s", path, strerror(-r));
        while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                if (errno == EINTR)
                        continue;
                r = errno == EAGAIN ? -ETIMEDOUT : -errno;
                return vol_error_set(err, r, "connecting to %s: %s", path, strerror(-r));
        }
        return TAKE_FD(fd);
}

static int send_request(int fd, const struct vol_http_call *c, int64_t deadline)
{
        bool sends_body = c->content_type || !strcmp(c->method, "POST") || !strcmp(c->method, "PUT");
        struct vol_strbuf head;
        vol_strbuf_init(&head, 0);
        vol_strbuf_printf(&head, "%s %s HTTP/1.1\r\nHost: localhost\r\nUser-Agent: volmand/%s\r\n"
                                 "Connection: close\r\n",
                          c->method, c->target, VOLMAN_VERSION);
        if (c->content_type)
                vol_strbuf_printf(&head, "Content-Type: %s\r\n", c->content_type);
        if (sends_body)
                vol_strbuf_printf(&head, "Content-Length: %zu\r\n", c->content_type ? c->body_len : 0);
        vol_strbuf_puts(&head, "\r\n");
        int r = send_all(fd, head.data, head.len, deadline);
        vol_strbuf_free(&head);
        if (r == 0 && c->content_type && c->body_len)
                r = send_all(fd, c->body, c->body_len, deadline);
        return r;
}

static int read_failed(const struct vol_http_call *c, int r, struct vol_error *err)
{
        if (r == -E2BIG)
                return vol_error_set(err, r, "the answer's body is larger than %zu bytes", c->answer_max);
        return vol_error_set(err, r, "reading the answer from %s: %s", c->socket_path, strerror(-r));
}

/* The sink refused the body with r: its message, or one saying so. */
static int sink_failed(const struct vol_http_call *c, int r, struct vol_error *err)
{
        if (err && !err->msg)
                vol_error_set(err, r, "taking the answer's body from %s: %s", c->socket_path, strerror(-r));
        return r;
}

/* Reads the answer into raw. On success *ret is its head and the body kept
 * in memory is raw->data + ret->head_len, *ret_body_len bytes long: all of
 * it, or none of a 2xx answer that went to c->sink as it came. */
static int read_answer(int fd, const struct vol_http_call *c, int64_t deadline, struct vol_strbuf *raw,
                       struct vol_http_answer *ret, size_t *ret_body_len, struct vol_error *err)
{
        struct vol_http_answer a = {0};
        bool eof = false;
        int r;
        for (;;) { /* the head, skipping interim 1xx answers */
                r = vol_http_answer_parse(raw->data ? raw->data : "", raw->len,
                                          !strcmp(c->method, "HEAD"), &a, err);
                if (r < 0)
                        return r;
                if (r > 0 && a.status >= 200)
                        break;
                if (r > 0) {
                        memmove(raw->data, raw->data + a.head_len, raw->len - a.head_len);
                        raw->len -= a.head_len;
                        continue;
                }
                if (eof)
                        return vol_error_set(err, -EBADMSG, "the answer ended before its head did");
                ssize_t n = read_more(fd, raw, deadline);
                if (n < 0)
                        return read_failed(c, (int)n, err);
                eof = n == 0;
        }
        bool to_sink = c->sink && a.status / 100 == 2;
        size_t limit = c->answer_max;
        if (c->sink && !to_sink && limit > VOL_HTTP_ERROR_BODY_MAX)
                limit = VOL_HTTP_ERROR_BODY_MAX;
        if (a.has_length && a.length > limit)
                return read_failed(c, -E2BIG, err);
        struct vol_http_body st;
        vol_http_body_start(&st, &a);
        size_t kept = 0; /* payload kept after the head (not to_sink) */
        for (;;) {
                char *b = raw->data + a.head_len + kept;
                size_t have = raw->len - a.head_len - kept, payload = 0, used = 0;
                r = vol_http_body_decode(&st, b, have, eof, &payload, &used, err);
                if (r < 0)
                        return r;
                if (st.payload > limit)
                        return read_failed(c, -E2BIG, err);
                if (to_sink) {
                        int s = payload ? c->sink(c->sink_data, b, payload, err) : 0;
                        if (s < 0)
                                return sink_failed(c, s, err);
                        memmove(b, b + used, have - used);
                        raw->len -= used;
                } else {
                        memmove(b + payload, b + used, have - used);
                        raw->len -= used - payload;
                        kept += payload;
                }
                if (r > 0)
                        break;
                ssize_t n = read_more(fd, raw, deadline);
                if (n < 0)
                        return read_failed(c, (int)n, err);
                eof = n == 0;
        }
        *ret = a;
        *ret_body_len = kept;
        return 0;
}

int vol_http_call(const struct vol_http_call *c, struct vol_strbuf *ret_body, struct vol_error *err)
{
        if (c->timeout_ms <= 0)
                return vol_error_set(err, -EINVAL, "a call to %s needs a timeout", c->socket_path);
        int64_t deadline = now_ms() + c->timeout_ms;
        _cleanup_close_ int fd = connect_unix(c->socket_path, deadline, err);
        if (fd < 0)
                return fd;
        int r = send_request(fd, c, deadline);
        /* a server may answer (and close) before it has read the whole request */
        if (r < 0 && r != -EPIPE && r != -ECONNRESET)
                return vol_error_set(err, r, "sending to %s: %s", c->socket_path, strerror(-r));
        /* room for the head, the body held in memory, trailers not read yet,
         * and one read; a body going to a sink is held only when it is an
         * error's */
        size_t in_memory = c->sink ? VOL_HTTP_ERROR_BODY_MAX : c->answer_max;
        size_t room = VOL_HTTP_ANSWER_HEAD_MAX + TRAILERS_MAX + READ_SIZE;
        struct vol_strbuf raw;
        vol_strbuf_init(&raw, in_memory > SIZE_MAX - room ? SIZE_MAX : room + in_memory);
        struct vol_http_answer a = {0};
        size_t body_len = 0;
        r = read_answer(fd, c, deadline, &raw, &a, &body_len, err);
        if (r == 0) {
                vol_strbuf_append(ret_body, raw.data + a.head_len, body_len);
                vol_strbuf_append(ret_body, "", 0); /* NUL-terminated even when empty */
                r = a.status;
        }
        vol_strbuf_free(&raw);
        return r;
}

int vol_http_escape(struct vol_strbuf *b, const char *s)
{
        static const char hex[] = "0123456789ABCDEF";
        int r = 0;
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                unsigned char c = *p;
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == '~') {
                        r |= vol_strbuf_putc(b, (char)c);
                } else {
                        char e[3] = {'%', hex[c >> 4], hex[c & 15]};
                        r |= vol_strbuf_append(b, e, 3);
                }
        }
        return r ? -E2BIG : 0;
}
