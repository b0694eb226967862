/* HTTP/1.1 request parsing for volmand's own server (api/http.c). Pure: no
 * I/O, no allocation beyond what the caller hands in, so it is unit-tested and
 * fuzzed on its own (tests/unit/test_http_parse.c, fuzz/fuzz_http.c).
 *
 * Strict on purpose: a request that two parsers could read two ways (a
 * repeated Content-Length, Content-Length with Transfer-Encoding, a bare LF,
 * an obsolete line fold) is refused, so no proxy in front of volmand can
 * smuggle a second request past it. Every refusal is an HTTP status with a
 * message for the JSON error body. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VOL_HTTP_TARGET_MAX 8192        /* bytes in the request target (path and query) */
#define VOL_HTTP_HEAD_MAX (32u << 10)   /* bytes of request line + headers */
#define VOL_HTTP_HEADER_COUNT_MAX 64    /* header fields in one request */
#define VOL_HTTP_QUERY_MAX 32           /* query parameters in one request */
#define VOL_HTTP_METHOD_MAX 16

struct vol_http_field {
        const char *name; /* as sent; compare with strcasecmp */
        const char *value; /* leading and trailing blanks removed */
};

/* A parsed request head. Strings point into the buffer given to
 * vol_http_parse_head, which it NUL-terminates in place. */
struct vol_http_head {
        const char *method;
        char *target; /* raw request target: path, then ?query */
        int minor;    /* HTTP/1.minor: 0 or 1 */
        size_t n_fields;
        struct vol_http_field fields[VOL_HTTP_HEADER_COUNT_MAX];
        /* derived from the fields */
        bool keep_alive;
        bool chunked;
        bool has_length;
        uint64_t content_length;
        bool expect_continue;
};

/* A refusal: the HTTP status and a message naming what was wrong. */
struct vol_http_refusal {
        int status;
        const char *message; /* static text */
};

/* How far vol_http_head_end has looked; zero it for each new request. */
struct vol_http_head_scan {
        size_t scanned;
        bool line_one_done;
};

/* Looks for the end of a request head in buf[0..len). Returns the head's
 * length (up to and including the empty line) when it is whole, 0 when more
 * bytes are needed, or -1 with *ret why it can never become a valid head
 * (414 for a request line past VOL_HTTP_TARGET_MAX, 431 for a head past
 * VOL_HTTP_HEAD_MAX, 400 for a NUL or a bare LF). sc remembers what earlier
 * calls looked at, so a head arriving byte by byte is scanned once. */
long vol_http_head_end(const char *buf, size_t len, struct vol_http_head_scan *sc,
                       struct vol_http_refusal *ret);

/* Parses the head buf[0..len) (as found by vol_http_head_end) in place.
 * Returns 0 and fills *h, or -1 and *ret (400, 413 is not judged here, 501
 * for a transfer coding other than chunked, 505 for a version other than
 * HTTP/1.0 and HTTP/1.1). */
int vol_http_parse_head(char *buf, size_t len, struct vol_http_head *h, struct vol_http_refusal *ret);

/* The value of header `name` (case-insensitive), or NULL. */
const char *vol_http_head_field(const struct vol_http_head *h, const char *name);

/* Decodes %XX escapes in s in place (and '+' as a space when plus_is_space,
 * for query strings). Returns 0, or -1 for a malformed escape or an encoded
 * NUL (which would cut the string short). */
int vol_http_percent_decode(char *s, bool plus_is_space);

struct vol_http_param {
        const char *key;
        const char *value; /* "" for a key with no '=' */
};

/* Splits and decodes the query string q ("a=1&b=2", without '?') in place
 * into at most max parameters. Returns the count, or -1 and *ret (414 past
 * max parameters, 400 for a bad escape or an empty key). */
int vol_http_parse_query(char *q, struct vol_http_param *out, size_t max, struct vol_http_refusal *ret);

/* Matches the raw path (no query) against pattern, splitting on raw '/', so an
 * encoded %2F stays inside its segment. A "{}" segment of the pattern matches
 * one non-empty segment, whose raw text is copied, decoded, into seg_buf
 * (of seg_buf_size bytes) and pointed to from segs. Returns the number of
 * segments captured (>= 0) on a match, -1 on no match, -2 for a bad escape in
 * a captured segment, -3 when more than max_segs segments or seg_buf_size
 * bytes would be needed. */
int vol_http_route_match(const char *pattern, const char *raw_path, char *seg_buf,
                         size_t seg_buf_size, const char **segs, size_t max_segs);

/* The state of a chunked body being decoded. Zero it to start, then set max. */
struct vol_http_chunked {
        uint64_t max;       /* the most body bytes taken; 0: no bound */
        uint64_t total;     /* body bytes the chunks so far declared */
        int state;
        uint64_t remaining; /* bytes of the current chunk still to come */
        unsigned line;      /* bytes of the current size or trailer line */
        bool done;
};

/* Decodes in[0..len) of a chunked body: data bytes go to out(arg, bytes, n),
 * which returns 0 or -1 to stop (the body is then too large). Returns how many
 * input bytes were consumed (all of them unless the body ended: c->done), or
 * -1 and *ret (400 for a malformed chunk, 413 as soon as a chunk's size
 * would take the body past c->max, or when out refused). */
long vol_http_chunked_feed(struct vol_http_chunked *c, const char *in, size_t len,
                           int (*out)(void *arg, const char *data, size_t n), void *arg,
                           struct vol_http_refusal *ret);

/* The reason phrase of status, e.g. "Not Found"; "Unknown" for others. */
const char *vol_http_reason(int status);
