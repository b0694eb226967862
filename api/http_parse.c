#include "http_parse.h"

#include <string.h>
#include <strings.h>

static bool refuse(struct vol_http_refusal *ret, int status, const char *message)
{
        if (ret) {
                ret->status = status;
                ret->message = message;
        }
        return false;
}

long vol_http_head_end(const char *buf, size_t len, struct vol_http_head_scan *sc,
                       struct vol_http_refusal *ret)
{
        size_t limit = len < VOL_HTTP_HEAD_MAX ? len : VOL_HTTP_HEAD_MAX;
        size_t i = sc->scanned;
        for (; i < limit; i++) {
                char c = buf[i];
                if (c == 0) {
                        refuse(ret, 400, "the request head holds a NUL byte");
                        return -1;
                }
                if (c != '\n')
                        continue;
                if (i == 0 || buf[i - 1] != '\r') {
                        refuse(ret, 400, "a line of the request head ends in a bare LF; HTTP needs CRLF");
                        return -1;
                }
                sc->line_one_done = true;
                if (i >= 3 && buf[i - 2] == '\n' && buf[i - 3] == '\r') {
                        sc->scanned = i + 1;
                        return (long)(i + 1);
                }
        }
        sc->scanned = limit;
        /* The request line alone may hold the method, the target and the version. */
        if (!sc->line_one_done && limit > VOL_HTTP_TARGET_MAX + VOL_HTTP_METHOD_MAX + 12) {
                refuse(ret, 414, "the request target is longer than 8192 bytes");
                return -1;
        }
        if (len >= VOL_HTTP_HEAD_MAX) {
                refuse(ret, 431, "the request head (request line and headers) is larger than 32 KiB");
                return -1;
        }
        return 0;
}

static bool is_tchar(unsigned char c)
{
        /* RFC 9110 token characters */
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_vchar_or_blank(unsigned char c)
{
        return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

/* Splits off one CRLF-terminated line at *p. */
static char *next_line(char **p)
{
        char *line = *p, *cr = strstr(line, "\r\n");
        if (!cr)
                return NULL;
        *cr = 0;
        *p = cr + 2;
        return line;
}

static int parse_request_line(char *line, struct vol_http_head *h, struct vol_http_refusal *ret)
{
        char *sp1 = strchr(line, ' ');
        if (!sp1 || sp1 == line)
                return refuse(ret, 400, "the request line is not METHOD TARGET VERSION"), -1;
        *sp1 = 0;
        if ((size_t)(sp1 - line) > VOL_HTTP_METHOD_MAX)
                return refuse(ret, 400, "the request method is longer than 16 bytes"), -1;
        for (char *m = line; *m; m++)
                if (!is_tchar((unsigned char)*m))
                        return refuse(ret, 400, "the request method holds a character HTTP does not allow"), -1;
        char *target = sp1 + 1;
        char *sp2 = strchr(target, ' ');
        if (!sp2)
                return refuse(ret, 400, "the request line is not METHOD TARGET VERSION"), -1;
        *sp2 = 0;
        char *version = sp2 + 1;
        if (strlen(target) > VOL_HTTP_TARGET_MAX)
                return refuse(ret, 414, "the request target is longer than 8192 bytes"), -1;
        if (target[0] != '/')
                return refuse(ret, 400, "the request target must be a path starting with '/'"), -1;
        for (char *t = target; *t; t++)
                if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
                        return refuse(ret, 400, "the request target holds a space, a control character or a "
                                                "byte above 0x7e (percent-encode it)"), -1;
        if (strncmp(version, "HTTP/", 5))
                return refuse(ret, 400, "the request line does not end in an HTTP version"), -1;
        if (!strcmp(version + 5, "1.1"))
                h->minor = 1;
        else if (!strcmp(version + 5, "1.0"))
                h->minor = 0;
        else
                return refuse(ret, 505, "only HTTP/1.1 and HTTP/1.0 are served"), -1;
        h->method = line;
        h->target = target;
        return 0;
}

static int parse_field(char *line, struct vol_http_head *h, struct vol_http_refusal *ret)
{
        if (line[0] == ' ' || line[0] == '\t')
                return refuse(ret, 400, "a header line is folded (starts with a blank); send it on one line"), -1;
        char *colon = strchr(line, ':');
        if (!colon || colon == line)
                return refuse(ret, 400, "a header line has no name and colon"), -1;
        *colon = 0;
        for (char *n = line; *n; n++)
                if (!is_tchar((unsigned char)*n))
                        return refuse(ret, 400, "a header name holds a character HTTP does not allow"), -1;
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
                v++;
        char *end = v + strlen(v);
        while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
                *--end = 0;
        for (char *c = v; *c; c++)
                if (!is_vchar_or_blank((unsigned char)*c))
                        return refuse(ret, 400, "a header value holds a control character"), -1;
        if (h->n_fields == VOL_HTTP_HEADER_COUNT_MAX)
                return refuse(ret, 431, "the request has more than 64 header fields"), -1;
        h->fields[h->n_fields++] = (struct vol_http_field){line, v};
        return 0;
}

/* 1 if the comma-separated list value holds token (case-insensitive). */
static bool list_has(const char *value, const char *token)
{
        size_t n = strlen(token);
        for (const char *p = value; *p;) {
                while (*p == ' ' || *p == '\t' || *p == ',')
                        p++;
                const char *e = p;
                while (*e && *e != ',')
                        e++;
                const char *t = e;
                while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
                        t--;
                if ((size_t)(t - p) == n && !strncasecmp(p, token, n))
                        return true;
                p = e;
        }
        return false;
}

static int derive(struct vol_http_head *h, struct vol_http_refusal *ret)
{
        int n_length = 0, n_te = 0;
        const char *conn = NULL;
        h->keep_alive = h->minor == 1;
        for (size_t i = 0; i < h->n_fields; i++) {
                const char *name = h->fields[i].name, *v = h->fields[i].value;
                if (!strcasecmp(name, "Content-Length")) {
                        if (++n_length > 1)
                                return refuse(ret, 400, "the request has more than one Content-Length"), -1;
                        if (!*v || strlen(v) > 18)
                                return refuse(ret, 400, "Content-Length must be a decimal number below 10^18"), -1;
                        uint64_t n = 0;
                        for (const char *c = v; *c; c++) {
                                if (*c < '0' || *c > '9')
                                        return refuse(ret, 400, "Content-Length must be a decimal number below 10^18"), -1;
                                n = n * 10 + (uint64_t)(*c - '0');
                        }
                        h->has_length = true;
                        h->content_length = n;
                } else if (!strcasecmp(name, "Transfer-Encoding")) {
                        if (++n_te > 1 || strcasecmp(v, "chunked"))
                                return refuse(ret, 501, "the only transfer coding served is a single \"chunked\""), -1;
                        h->chunked = true;
                } else if (!strcasecmp(name, "Connection")) {
                        conn = v;
                } else if (!strcasecmp(name, "Expect")) {
                        if (strcasecmp(v, "100-continue"))
                                return refuse(ret, 417, "the only expectation served is 100-continue"), -1;
                        h->expect_continue = true;
                }
        }
        if (h->has_length && h->chunked)
                return refuse(ret, 400, "the request has both Content-Length and Transfer-Encoding"), -1;
        if (h->chunked && h->minor == 0)
                return refuse(ret, 400, "HTTP/1.0 has no chunked transfer coding"), -1;
        if (conn) {
                if (list_has(conn, "close"))
                        h->keep_alive = false;
                else if (list_has(conn, "keep-alive"))
                        h->keep_alive = true;
        }
        return 0;
}

int vol_http_parse_head(char *buf, size_t len, struct vol_http_head *h, struct vol_http_refusal *ret)
{
        memset(h, 0, sizeof(*h));
        if (len < 4 || memcmp(buf + len - 4, "\r\n\r\n", 4))
                return refuse(ret, 400, "the request head is not terminated by an empty line"), -1;
        buf[len - 2] = 0; /* the last CRLF of the head, so strstr stays inside */
        char *p = buf;
        char *line = next_line(&p);
        if (!line || parse_request_line(line, h, ret) < 0)
                return line ? -1 : (refuse(ret, 400, "the request line is missing"), -1);
        while ((line = next_line(&p)) && *line)
                if (parse_field(line, h, ret) < 0)
                        return -1;
        return derive(h, ret);
}

const char *vol_http_head_field(const struct vol_http_head *h, const char *name)
{
        for (size_t i = 0; i < h->n_fields; i++)
                if (!strcasecmp(h->fields[i].name, name))
                        return h->fields[i].value;
        return NULL;
}

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int vol_http_percent_decode(char *s, bool plus_is_space)
{
        char *w = s;
        for (char *r = s; *r; r++) {
                if (*r == '+' && plus_is_space) {
                        *w++ = ' ';
                        continue;
                }
                if (*r != '%') {
                        *w++ = *r;
                        continue;
                }
                int hi = hexval(r[1]), lo = hi >= 0 ? hexval(r[2]) : -1;
                if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                        return -1;
                *w++ = (char)(hi * 16 + lo);
                r += 2;
        }
        *w = 0;
        return 0;
}

int vol_http_parse_query(char *q, struct vol_http_param *out, size_t max, struct vol_http_refusal *ret)
{
        size_t n = 0;
        char *p = q;
        while (p && *p) {
                char *amp = strchr(p, '&');
                if (amp)
                        *amp = 0;
                if (*p) { /* "a=1&&b=2": an empty piece is nothing */
                        if (n == max)
                                return refuse(ret, 414, "the request has more than 32 query parameters"), -1;
                        char *eq = strchr(p, '=');
                        char *value = p + strlen(p); /* no '=': the empty string at its end */
                        if (eq) {
                                *eq = 0;
                                value = eq + 1;
                        }
                        if (!*p)
                                return refuse(ret, 400, "a query parameter has an empty name"), -1;
                        if (vol_http_percent_decode(p, true) < 0 || vol_http_percent_decode(value, true) < 0)
                                return refuse(ret, 400, "a query parameter has a malformed or NUL "
                                                        "percent-escape"), -1;
                        out[n++] = (struct vol_http_param){p, value};
                }
                p = amp ? amp + 1 : NULL;
        }
        return (int)n;
}

int vol_http_route_match(const char *pattern, const char *raw_path, char *seg_buf,
                         size_t seg_buf_size, const char **segs, size_t max_segs)
{
        const char *p = pattern, *u = raw_path;
        size_t n = 0, used = 0;
        while (*p && *u) {
                if (*p != '/' || *u != '/')
                        return -1;
                p++;
                u++;
                const char *pe = strchrnul(p, '/'), *ue = strchrnul(u, '/');
                size_t plen = (size_t)(pe - p), ulen = (size_t)(ue - u);
                if (plen == 2 && p[0] == '{' && p[1] == '}') {
                        if (ulen == 0)
                                return -1;
                        if (n == max_segs || used + ulen + 1 > seg_buf_size)
                                return -3;
                        char *seg = seg_buf + used;
                        memcpy(seg, u, ulen);
                        seg[ulen] = 0;
                        used += ulen + 1;
                        if (vol_http_percent_decode(seg, false) < 0)
                                return -2;
                        segs[n++] = seg;
                } else if (plen != ulen || strncmp(p, u, plen)) {
                        return -1;
                }
                p = pe;
                u = ue;
        }
        if (*p || *u)
                return -1;
        return (int)n;
}

enum { CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER, CH_TRAILER_LF };

#define CHUNK_LINE_MAX 4096

long vol_http_chunked_feed(struct vol_http_chunked *c, const char *in, size_t len,
                           int (*out)(void *arg, const char *data, size_t n), void *arg,
                           struct vol_http_refusal *ret)
{
        size_t i = 0;
        while (i < len && !c->done) {
                char ch = in[i];
                switch (c->state) {
                case CH_SIZE: {
                        int h = hexval(ch);
                        if (h >= 0) {
                                if (++c->line > 15)
                                        return refuse(ret, 413, "a chunk size has more than 15 hex digits"), -1;
                                c->remaining = c->remaining * 16 + (uint64_t)h;
                                i++;
                                break;
                        }
                        if (c->line == 0)
                                return refuse(ret, 400, "a chunk does not start with its size in hex"), -1;
                        if (ch == ';' || ch == ' ' || ch == '\t') {
                                c->state = CH_EXT;
                                i++;
                                break;
                        }
                        if (ch != '\r')
                                return refuse(ret, 400, "a chunk size line is malformed"), -1;
                        c->state = CH_SIZE_LF;
                        i++;
                        break;
                }
                case CH_EXT: /* chunk extensions are allowed and ignored, bounded */
                        if (++c->line > CHUNK_LINE_MAX)
                                return refuse(ret, 400, "a chunk extension is longer than 4096 bytes"), -1;
                        if (ch == '\r')
                                c->state = CH_SIZE_LF;
                        else if ((unsigned char)ch < 0x20 && ch != '\t')
                                return refuse(ret, 400, "a chunk extension holds a control character"), -1;
                        i++;
                        break;
                case CH_SIZE_LF:
                        if (ch != '\n')
                                return refuse(ret, 400, "a chunk size line does not end in CRLF"), -1;
                        c->total += c->remaining;
                        if (c->max && c->total > c->max)
                                return refuse(ret, 413, "the request body is too large"), -1;
                        i++;
                        c->line = 0;
                        c->state = c->remaining ? CH_DATA : CH_TRAILER;
                        break;
                case CH_DATA: {
                        size_t n = len - i;
                        if (n > c->remaining)
                                n = (size_t)c->remaining;
                        if (out(arg, in + i, n) < 0)
                                return refuse(ret, 413, "the request body is too large"), -1;
                        i += n;
                        c->remaining -= n;
                        if (!c->remaining)
                                c->state = CH_DATA_CR;
                        break;
                }
                case CH_DATA_CR:
                        if (ch != '\r')
                                return refuse(ret, 400, "a chunk's data is longer than its size says"), -1;
                        c->state = CH_DATA_LF;
                        i++;
                        break;
                case CH_DATA_LF:
                        if (ch != '\n')
                                return refuse(ret, 400, "a chunk's data does not end in CRLF"), -1;
                        c->state = CH_SIZE;
                        i++;
                        break;
                case CH_TRAILER: /* trailer fields are read and ignored; an empty line ends the body */
                        if (ch == '\r') {
                                c->state = CH_TRAILER_LF;
                        } else {
                                if (++c->line > CHUNK_LINE_MAX)
                                        return refuse(ret, 431, "a trailer field is longer than 4096 bytes"), -1;
                                if (ch == '\n' || (ch == 0))
                                        return refuse(ret, 400, "a trailer field is malformed"), -1;
                        }
                        i++;
                        break;
                case CH_TRAILER_LF:
                        if (ch != '\n')
                                return refuse(ret, 400, "a trailer line does not end in CRLF"), -1;
                        i++;
                        if (c->line == 0)
                                c->done = true;
                        c->line = 0;
                        c->state = CH_TRAILER;
                        break;
                }
        }
        return (long)i;
}

const char *vol_http_reason(int status)
{
        switch (status) {
        case 100: return "Continue";
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 204: return "No Content";
        case 206: return "Partial Content";
        case 301: return "Moved Permanently";
        case 302: return "Found";
        case 303: return "See Other";
        case 304: return "Not Modified";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 411: return "Length Required";
        case 413: return "Content Too Large";
        case 414: return "URI Too Long";
        case 415: return "Unsupported Media Type";
        case 417: return "Expectation Failed";
        case 422: return "Unprocessable Content";
        case 429: return "Too Many Requests";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        case 505: return "HTTP Version Not Supported";
        default: return "Unknown";
        }
}
