#include "strbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"
#include "xmalloc.h"

void vol_strbuf_init(struct vol_strbuf *b, size_t max)
{
        memset(b, 0, sizeof(*b));
        b->max = max;
}

static int reserve(struct vol_strbuf *b, size_t n)
{
        if (b->overflow)
                return -E2BIG;
        if (b->max && b->len + n > b->max) {
                b->overflow = true;
                return -E2BIG;
        }
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 256;
                while (cap < b->len + n + 1)
                        cap *= 2;
                b->data = xrealloc(b->data, cap);
                b->cap = cap;
        }
        return 0;
}

int vol_strbuf_append_slow(struct vol_strbuf *b, const void *data, size_t n)
{
        int r = reserve(b, n);
        if (r < 0)
                return r;
        memcpy(b->data + b->len, data, n);
        b->len += n;
        b->data[b->len] = 0;
        return 0;
}


int vol_strbuf_printf(struct vol_strbuf *b, const char *fmt, ...)
{
        char small[256];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(small, sizeof(small), fmt, ap);
        va_end(ap);
        if (n < 0)
                return -EINVAL;
        if ((size_t)n < sizeof(small))
                return vol_strbuf_append(b, small, (size_t)n);
        int r = reserve(b, (size_t)n);
        if (r < 0)
                return r;
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
        return 0;
}

char *vol_strbuf_take(struct vol_strbuf *b, size_t *ret_len)
{
        char *d = b->data ? b->data : xstrdup("");
        if (ret_len)
                *ret_len = b->len;
        size_t max = b->max;
        memset(b, 0, sizeof(*b));
        b->max = max;
        return d;
}

void vol_strbuf_free(struct vol_strbuf *b)
{
        free(b->data);
        b->data = NULL;
        b->len = b->cap = 0;
        b->overflow = false;
}

/* 1 for the bytes a JSON string must escape: controls, '"', '\\', DEL;
 * 2 for the first byte of a multi-byte (or invalid) UTF-8 sequence. */
static const unsigned char needs_escape[256] = {
        [0x00 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x7f] = 1, [0x80 ... 0xff] = 2,
};

int vol_strbuf_json_string(struct vol_strbuf *b, const char *s)
{
        static const char hex[] = "0123456789abcdef";
        int r = vol_strbuf_putc(b, '"');
        const unsigned char *p = (const unsigned char *)s, *run = p;
        for (;;) {
                while (!needs_escape[*p])
                        p++;
                if (needs_escape[*p] == 2) {
                        size_t n = vol_utf8_seq_len(p, 4, NULL); /* a NUL ends any sequence early */
                        if (n) { /* valid: it stays in the run */
                                p += n;
                                continue;
                        }
                }
                if (p > run)
                        r |= vol_strbuf_append(b, run, (size_t)(p - run));
                if (!*p)
                        break;
                switch (*p) {
                case '"':
                        r |= vol_strbuf_append(b, "\\\"", 2);
                        break;
                case '\\':
                        r |= vol_strbuf_append(b, "\\\\", 2);
                        break;
                case '\n':
                        r |= vol_strbuf_append(b, "\\n", 2);
                        break;
                case '\t':
                        r |= vol_strbuf_append(b, "\\t", 2);
                        break;
                default:
                        if (*p >= 0x80) { /* not UTF-8: the replacement character */
                                r |= vol_strbuf_append(b, "\\ufffd", 6);
                        } else {
                                char e[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
                                r |= vol_strbuf_append(b, e, 6);
                        }
                }
                p++;
                run = p;
        }
        r |= vol_strbuf_putc(b, '"');
        return r ? -E2BIG : 0;
}
