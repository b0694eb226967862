/* A small HTTP/1.1 client over a unix socket: one request per connection,
 * for talking to the container engine (Docker's or Podman's API service).
 *
 * volmand's own client rather than a general one: it needs no TLS, no
 * redirects, no cookies, no proxies, and the daemon then carries no library
 * that does (each is code and memory in a long-running root process). Every
 * answer is bounded (head and body), the whole exchange has one deadline,
 * and a malformed answer is an error that names what was wrong.
 *
 * The answer parser (vol_http_answer_parse, vol_http_dechunk,
 * vol_http_body_decode) is pure and is unit-tested
 * (tests/unit/test_http_client.c) and fuzzed on its own. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/strbuf.h"

#define VOL_HTTP_ANSWER_HEAD_MAX (64u << 10) /* bytes of status line + headers */

/* What vol_http_answer_parse found in an answer's head. */
struct vol_http_answer {
        int status;       /* 100..599 */
        size_t head_len;  /* bytes up to and including the empty line */
        bool chunked;     /* Transfer-Encoding: chunked */
        bool has_length;  /* Content-Length was given */
        size_t length;    /* its value */
        bool no_body;     /* 1xx, 204 and 304 answers, and answers to HEAD */
};

/* Parses the head of an answer in buf[0..len). Returns 1 and fills *ret when
 * the head is whole, 0 when more bytes are needed, or -EBADMSG (with err) for
 * a head that can never be valid: a bad status line, a header without a
 * colon, a bare LF, a NUL, a repeated or non-numeric Content-Length, a
 * transfer coding other than chunked, a head past VOL_HTTP_ANSWER_HEAD_MAX.
 * An interim 1xx answer is reported as such (status < 200); the caller skips
 * it and parses again after ret->head_len. */
int vol_http_answer_parse(const char *buf, size_t len, bool head_request, struct vol_http_answer *ret,
                          struct vol_error *err);

/* Where vol_http_dechunk has got to in a chunked body; zero it to start. */
struct vol_http_dechunk {
        size_t in;   /* bytes of the encoded body consumed */
        size_t out;  /* bytes of payload decoded */
        size_t left; /* payload bytes still due in the current chunk */
        bool in_data;
        bool in_trailers;
        bool done;
};

/* Decodes the chunked body in buf[0..len) in place, resuming where st left
 * off (the payload goes to buf[0..st->out), which never overtakes what is
 * still to be read). Returns 1 once the last chunk and the trailers are read
 * (st->in is then where the body ends), 0 when more bytes are needed, or
 * -EBADMSG (with err) for a malformed chunk. */
int vol_http_dechunk(char *buf, size_t len, struct vol_http_dechunk *st, struct vol_error *err);

/* Where the decoding of an answer's body has got to: set it up with
 * vol_http_body_start, then feed it with vol_http_body_decode. */
struct vol_http_body {
        bool chunked, has_length, no_body; /* the answer's framing */
        size_t length;                     /* its Content-Length */
        size_t payload;                    /* payload bytes decoded so far */
        struct vol_http_dechunk dc;
        bool done;
};

/* Starts decoding the body of answer a (whose head vol_http_answer_parse
 * read): by its Content-Length, chunked, or up to the end of the connection. */
void vol_http_body_start(struct vol_http_body *st, const struct vol_http_answer *a);

/* Decodes the body bytes in buf[0..len), in place, resuming where st left
 * off: the payload found is moved to buf[0..*ret_payload) and the first
 * *ret_used bytes of buf are consumed (*ret_payload <= *ret_used). The
 * caller takes the payload, drops buf[0..*ret_used), keeps the rest and
 * appends what it reads next to it. eof says the connection has ended after
 * these bytes. Returns 1 once the body is whole (what follows it is left
 * unconsumed), 0 when more bytes are needed, or -EBADMSG (with err) for a
 * malformed chunk or a body that eof cut short. */
int vol_http_body_decode(struct vol_http_body *st, char *buf, size_t len, bool eof, size_t *ret_payload,
                         size_t *ret_used, struct vol_error *err);

/* Takes the next len bytes of a body as they arrive. Returns 0, or a
 * negative errno (filling err) to abandon the exchange. */
typedef int (*vol_http_sink)(void *userdata, const char *data, size_t len, struct vol_error *err);

#define VOL_HTTP_ERROR_BODY_MAX (1u << 20) /* body bytes kept of a non-2xx answer to a sink call */

struct vol_http_call {
        const char *socket_path; /* a unix socket */
        const char *method;
        const char *target;       /* path and query, already escaped */
        const char *content_type; /* NULL: no body is sent */
        const char *body;
        size_t body_len;
        size_t answer_max; /* most body bytes accepted (past the sink too) */
        int timeout_ms;    /* for the whole exchange, > 0 */
        /* NULL: the body is returned in memory. Else the decoded body of a
         * 2xx answer goes to sink(sink_data, ...) as it arrives, never held
         * whole; the body of any other answer is still returned in memory
         * (at most VOL_HTTP_ERROR_BODY_MAX bytes), for its error message. */
        vol_http_sink sink;
        void *sink_data;
};

/* Sends one request and reads its answer. Returns the HTTP status (>= 200)
 * with the body in *ret_body (NUL-terminated; empty when a sink took it),
 * or a negative errno with err naming what went wrong: -ENOENT or
 * -ECONNREFUSED (no server at the socket), -ETIMEDOUT, -E2BIG (an answer
 * past answer_max), -EBADMSG (a malformed or cut answer), -EIO, or what the
 * sink returned. ret_body is untouched on failure; a sink may have taken
 * part of the body by then. */
int vol_http_call(const struct vol_http_call *call, struct vol_strbuf *ret_body, struct vol_error *err);

/* Appends s to b with every byte outside RFC 3986's unreserved set
 * percent-encoded: for a name or a JSON filter put in a path or query. */
int vol_http_escape(struct vol_strbuf *b, const char *s);
