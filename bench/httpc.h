/* httpc: the small HTTP/1.1 client over a unix socket that bench/volbench.c and
 * bench/plugin_bench.c share. Raw sockets, one buffered reader per connection, keep-alive,
 * Content-Length and chunked bodies, every buffer bounded. A benchmark tool, not a library
 * for the daemon: nothing here prints. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HC_READ_BUF_SIZE (64 * 1024)

/* What a connection is and how it talks; set once by hc_conn_init. The strings are
 * borrowed and must outlive the connection. */
struct hc_options {
        const char *socket_path; /* or NULL for TCP: */
        const char *tcp_host;    /* an address, with tcp_port */
        int tcp_port;
        const char *ca_file;     /* TCP: speak TLS, trusting this PEM certificate (NULL: plain) */
        const char *extra_headers; /* sent with every request, lines ending in \r\n, or NULL */
        const char *host;       /* the Host header */
        const char *user_agent; /* the User-Agent header */
        int io_timeout_sec;     /* per read and per send; a stall becomes -ETIMEDOUT */
        size_t max_body;        /* hard maximum of one response body, in bytes */
        /* A response with neither Content-Length nor chunked encoding: read its body up to
         * EOF and close (true), or fail it with -EPROTO (false). */
        bool body_until_eof;
};

/* One keep-alive connection with its read buffer (large: allocate it on the heap or
 * statically, not on a thread's stack). */
struct hc_conn {
        struct hc_options opt;
        int fd;          /* -1 while closed */
        void *tls;       /* the TLS session while open over TLS */
        void *creds;     /* its trust store, kept across reconnects */
        size_t off, len; /* unread bytes are buf[off..len) */
        long connects;   /* successful connects so far */
        char buf[HC_READ_BUF_SIZE];
};

/* One response. The body is reused across requests (its length reset each time) and is
 * NUL-terminated once anything was read into it; it stays NULL until then. */
struct hc_response {
        int status;
        bool keep_alive;
        char *body;
        size_t body_len, body_cap;
};

/* Sets c up closed, with no connects counted, copying *opt. */
void hc_conn_init(struct hc_conn *c, const struct hc_options *opt);

/* Connects c to its socket (c must be closed) and counts the connect. Returns 0 or a
 * negative errno (-ENAMETOOLONG for a socket path that does not fit sun_path). */
int hc_conn_open(struct hc_conn *c);

/* Closes c's socket, if open, and drops any buffered bytes. Safe on a closed conn. */
void hc_conn_close(struct hc_conn *c);

/* Sends one request and reads its response into resp, opening c first if it is closed.
 * With a non-NULL body, the request carries it with content_type and its Content-Length;
 * with a NULL body it carries neither (content_type is then ignored). A HEAD request's
 * response is read without a body. A kept-alive connection found closed by the server
 * before any answer byte is reopened and the request resent once; a fresh one never is.
 * c is left closed after a failure or when the server does not keep the connection alive.
 * Returns 0 (the HTTP status, whatever it is, is in resp->status) or a negative errno for
 * a transport failure: -E2BIG for a request over 4 KiB or an oversized header line,
 * -EFBIG for a body over max_body, -EPROTO for a malformed answer, -ETIMEDOUT, ... */
int hc_request(struct hc_conn *c, const char *method, const char *path, const char *content_type,
               const char *body, struct hc_response *resp);

/* Frees resp's body and leaves resp empty. Accepts a zeroed response. */
void hc_response_free(struct hc_response *resp);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t hc_now_ns(void);

/* qsort comparator for uint32_t, ascending. */
int hc_cmp_u32(const void *a, const void *b);

/* The nearest-rank p-th percentile (0 < p <= 100) of sorted[0..n), ascending; 0 when n
 * is 0. */
uint32_t hc_percentile(const uint32_t *sorted, size_t n, double p);
