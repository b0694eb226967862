/* httpc: the benchmarks' HTTP/1.1 client over a unix socket. See httpc.h. */
#include "httpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEADER_BYTES (32 * 1024)
#define MAX_REQUEST_BYTES 4096
#define MAX_CHUNK_LINE 256
#define MAX_TRAILERS 64

void hc_conn_init(struct hc_conn *c, const struct hc_options *opt)
{
        c->opt = *opt;
        c->fd = -1;
        c->off = c->len = 0;
        c->connects = 0;
        c->tls = c->creds = NULL;
}

void hc_conn_close(struct hc_conn *c)
{
        if (c->tls) {
                gnutls_deinit(c->tls);
                c->tls = NULL;
        }
        if (c->fd >= 0)
                close(c->fd);
        c->fd = -1;
        c->off = c->len = 0;
}

/* A TLS session on c's connected fd, verifying the server against ca_file. */
static int tls_open(struct hc_conn *c)
{
        if (!c->creds) {
                gnutls_certificate_credentials_t cr;
                if (gnutls_certificate_allocate_credentials(&cr) < 0)
                        return -ENOMEM;
                if (gnutls_certificate_set_x509_trust_file(cr, c->opt.ca_file, GNUTLS_X509_FMT_PEM) <= 0) {
                        gnutls_certificate_free_credentials(cr);
                        return -ENOENT;
                }
                c->creds = cr;
        }
        gnutls_session_t s;
        if (gnutls_init(&s, GNUTLS_CLIENT) < 0)
                return -ENOMEM;
        gnutls_set_default_priority(s);
        gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, c->creds);
        gnutls_session_set_verify_cert(s, c->opt.tcp_host, 0);
        gnutls_transport_set_int(s, c->fd);
        int g;
        do
                g = gnutls_handshake(s);
        while (g < 0 && !gnutls_error_is_fatal(g));
        if (g < 0) {
                gnutls_deinit(s);
                return -EPROTO;
        }
        c->tls = s;
        return 0;
}

static int tcp_open(struct hc_conn *c)
{
        struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->opt.tcp_port)};
        struct timeval tv = {.tv_sec = c->opt.io_timeout_sec};
        if (inet_pton(AF_INET, c->opt.tcp_host, &addr.sin_addr) != 1)
                return -EINVAL;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        c->fd = fd;
        c->off = c->len = 0;
        if (c->opt.ca_file) {
                int r = tls_open(c);
                if (r < 0) {
                        close(fd);
                        c->fd = -1;
                        return r;
                }
        }
        c->connects++;
        return 0;
}

int hc_conn_open(struct hc_conn *c)
{
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        struct timeval tv = {.tv_sec = c->opt.io_timeout_sec};
        int fd;

        if (!c->opt.socket_path)
                return tcp_open(c);
        if (strlen(c->opt.socket_path) >= sizeof(addr.sun_path))
                return -ENAMETOOLONG;
        strcpy(addr.sun_path, c->opt.socket_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        /* A stalled server shows up as a timed-out request, never as a hung benchmark. */
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        c->fd = fd;
        c->off = c->len = 0;
        c->connects++;
        return 0;
}

/* Reads more bytes into the buffer, compacting it when full. -ECONNRESET at EOF. */
static int conn_fill(struct hc_conn *c)
{
        ssize_t n;

        if (c->off > 0 && c->off == c->len)
                c->off = c->len = 0;
        if (c->len == sizeof(c->buf)) {
                if (c->off == 0)
                        return -ENOBUFS;
                memmove(c->buf, c->buf + c->off, c->len - c->off);
                c->len -= c->off;
                c->off = 0;
        }
        if (c->tls) {
                do
                        n = gnutls_record_recv(c->tls, c->buf + c->len, sizeof(c->buf) - c->len);
                while (n == GNUTLS_E_INTERRUPTED || n == GNUTLS_E_AGAIN);
                if (n == GNUTLS_E_PREMATURE_TERMINATION)
                        n = 0;
                if (n < 0)
                        return -EPROTO;
        } else {
                do
                        n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
                while (n < 0 && errno == EINTR);
        }
        if (n < 0)
                return errno == EAGAIN ? -ETIMEDOUT : -errno;
        if (n == 0)
                return -ECONNRESET;
        c->len += (size_t)n;
        return 0;
}

/* Reads one CRLF-terminated line (CRLF stripped) into out, at most out_size - 1 bytes. */
static int conn_read_line(struct hc_conn *c, char *out, size_t out_size)
{
        for (;;) {
                char *start = c->buf + c->off;
                char *nl = memchr(start, '\n', c->len - c->off);
                if (nl) {
                        size_t n = (size_t)(nl - start);
                        if (n > 0 && start[n - 1] == '\r')
                                n--;
                        if (n >= out_size)
                                return -E2BIG;
                        memcpy(out, start, n);
                        out[n] = '\0';
                        c->off += (size_t)(nl - start) + 1;
                        return 0;
                }
                if (c->len - c->off >= out_size)
                        return -E2BIG;
                int r = conn_fill(c);
                if (r < 0)
                        return r;
        }
}

/* Appends n bytes to resp's body, never past max bytes in all. */
static int body_append(struct hc_response *resp, size_t max, const char *data, size_t n)
{
        if (n == 0)
                return 0;
        if (resp->body_len + n > max)
                return -EFBIG;
        if (resp->body_len + n + 1 > resp->body_cap) {
                size_t cap = resp->body_cap ? resp->body_cap : 4096;
                while (cap < resp->body_len + n + 1)
                        cap *= 2;
                char *p = realloc(resp->body, cap);
                if (!p)
                        return -ENOMEM;
                resp->body = p;
                resp->body_cap = cap;
        }
        memcpy(resp->body + resp->body_len, data, n);
        resp->body_len += n;
        resp->body[resp->body_len] = '\0';
        return 0;
}

/* Moves exactly n body bytes from the connection into resp. */
static int conn_read_bytes(struct hc_conn *c, struct hc_response *resp, size_t n)
{
        while (n > 0) {
                if (c->off == c->len) {
                        int r = conn_fill(c);
                        if (r < 0)
                                return r;
                }
                size_t take = c->len - c->off;
                if (take > n)
                        take = n;
                int r = body_append(resp, c->opt.max_body, c->buf + c->off, take);
                if (r < 0)
                        return r;
                c->off += take;
                n -= take;
        }
        return 0;
}

/* Reads a chunked body and its trailers into resp. */
static int conn_read_chunked(struct hc_conn *c, struct hc_response *resp)
{
        char line[MAX_CHUNK_LINE];

        for (;;) {
                int r = conn_read_line(c, line, sizeof(line));
                if (r < 0)
                        return r;
                char *end;
                errno = 0;
                unsigned long long size = strtoull(line, &end, 16);
                if (end == line || errno || (*end && *end != ';' && *end != ' '))
                        return -EPROTO;
                if (size > c->opt.max_body)
                        return -EFBIG;
                if (size == 0)
                        break;
                r = conn_read_bytes(c, resp, (size_t)size);
                if (r < 0)
                        return r;
                r = conn_read_line(c, line, sizeof(line));
                if (r < 0)
                        return r;
                if (line[0])
                        return -EPROTO;
        }
        /* Trailers, up to the empty line. */
        for (int i = 0; i < MAX_TRAILERS; i++) {
                int r = conn_read_line(c, line, sizeof(line));
                if (r < 0)
                        return r;
                if (!line[0])
                        return 0;
        }
        return -EPROTO;
}

/* Reads the body up to the server's close. */
static int conn_read_to_eof(struct hc_conn *c, struct hc_response *resp)
{
        for (;;) {
                int r = body_append(resp, c->opt.max_body, c->buf + c->off, c->len - c->off);
                if (r < 0)
                        return r;
                c->off = c->len = 0;
                r = conn_fill(c);
                if (r == -ECONNRESET)
                        return 0;
                if (r < 0)
                        return r;
        }
}

/* Reads one response: status line, headers, body. The body is kept in resp->body (reused
 * across calls: its length is reset). */
static int conn_read_response(struct hc_conn *c, bool head_request, struct hc_response *resp)
{
        char line[MAX_HEADER_BYTES];
        size_t header_bytes = 0;
        long long content_length = -1;
        bool chunked = false, close_conn = false;
        int minor = 1;

        resp->body_len = 0;
        if (resp->body)
                resp->body[0] = '\0';
        int r = conn_read_line(c, line, sizeof(line));
        if (r < 0)
                return r;
        if (sscanf(line, "HTTP/1.%d %d", &minor, &resp->status) != 2)
                return -EPROTO;
        if (minor == 0)
                close_conn = true;
        for (;;) {
                r = conn_read_line(c, line, sizeof(line));
                if (r < 0)
                        return r;
                header_bytes += strlen(line) + 2;
                if (header_bytes > MAX_HEADER_BYTES)
                        return -E2BIG;
                if (!line[0])
                        break;
                char *colon = strchr(line, ':');
                if (!colon)
                        return -EPROTO;
                *colon = '\0';
                char *value = colon + 1;
                value += strspn(value, " \t");
                if (strcasecmp(line, "Content-Length") == 0) {
                        char *end;
                        errno = 0;
                        content_length = strtoll(value, &end, 10);
                        if (errno || end == value || content_length < 0)
                                return -EPROTO;
                } else if (strcasecmp(line, "Transfer-Encoding") == 0) {
                        chunked = strcasestr(value, "chunked") != NULL;
                } else if (strcasecmp(line, "Connection") == 0) {
                        if (strcasestr(value, "close"))
                                close_conn = true;
                        else if (strcasestr(value, "keep-alive"))
                                close_conn = false;
                }
        }
        if (resp->status == 100)
                return conn_read_response(c, head_request, resp);
        if (head_request || resp->status == 204 || resp->status == 304)
                r = 0;
        else if (chunked)
                r = conn_read_chunked(c, resp);
        else if (content_length >= 0)
                r = conn_read_bytes(c, resp, (size_t)content_length);
        else if (c->opt.body_until_eof) {
                close_conn = true;
                r = conn_read_to_eof(c, resp);
        } else
                return -EPROTO;
        resp->keep_alive = !close_conn;
        return r;
}

/* Writes all n bytes of req to c's socket. */
static int conn_send_all(struct hc_conn *c, const char *req, size_t n)
{
        size_t sent = 0;

        while (sent < n) {
                if (c->tls) {
                        ssize_t w = gnutls_record_send(c->tls, req + sent, n - sent);
                        if (w == GNUTLS_E_INTERRUPTED || w == GNUTLS_E_AGAIN)
                                continue;
                        if (w < 0)
                                return -EPIPE;
                        sent += (size_t)w;
                        continue;
                }
                ssize_t w = send(c->fd, req + sent, n - sent, MSG_NOSIGNAL);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                sent += (size_t)w;
        }
        return 0;
}

int hc_request(struct hc_conn *c, const char *method, const char *path, const char *content_type,
               const char *body, struct hc_response *resp)
{
        char req[MAX_REQUEST_BYTES];
        int n;

        if (body)
                n = snprintf(req, sizeof(req),
                             "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n%s"
                             "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n%s",
                             method, path, c->opt.host, c->opt.user_agent,
                             c->opt.extra_headers ? c->opt.extra_headers : "", content_type, strlen(body), body);
        else
                n = snprintf(req, sizeof(req),
                             "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n%s\r\n", method, path,
                             c->opt.host, c->opt.user_agent, c->opt.extra_headers ? c->opt.extra_headers : "");
        if (n < 0 || (size_t)n >= sizeof(req))
                return -E2BIG;

        for (int attempt = 0; attempt < 2; attempt++) {
                bool fresh = false;
                if (c->fd < 0) {
                        int r = hc_conn_open(c);
                        if (r < 0)
                                return r;
                        fresh = true;
                }
                int r = conn_send_all(c, req, (size_t)n);
                if (r == 0)
                        r = conn_read_response(c, strcmp(method, "HEAD") == 0, resp);
                if (r == 0) {
                        if (!resp->keep_alive)
                                hc_conn_close(c);
                        return 0;
                }
                hc_conn_close(c);
                /* Only a stale kept-alive connection is retried, never a fresh one. */
                if (fresh || (r != -ECONNRESET && r != -EPIPE))
                        return r;
        }
        return -ECONNRESET;
}

void hc_response_free(struct hc_response *resp)
{
        free(resp->body);
        *resp = (struct hc_response){0};
}

uint64_t hc_now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int hc_cmp_u32(const void *a, const void *b)
{
        uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
        return (x > y) - (x < y);
}

uint32_t hc_percentile(const uint32_t *sorted, size_t n, double p)
{
        if (n == 0)
                return 0;
        size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
        if (rank < 1)
                rank = 1;
        if (rank > n)
                rank = n;
        return sorted[rank - 1];
}
