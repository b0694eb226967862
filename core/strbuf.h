/* A growable byte buffer with a hard maximum (curl's dynbuf). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct vol_strbuf {
        char *data; /* NUL-terminated while len > 0 or after any append */
        size_t len;
        size_t cap;
        size_t max;    /* hard maximum of len; 0 = unbounded */
        bool overflow; /* an append was refused because of max */
};

/* A buffer that never grows past max bytes (0 = unbounded). */
void vol_strbuf_init(struct vol_strbuf *b, size_t max);
/* Appends n bytes, growing the buffer: the slow path of vol_strbuf_append. */
int vol_strbuf_append_slow(struct vol_strbuf *b, const void *data, size_t n);

/* Appends n bytes. Returns 0, or -E2BIG (and sets overflow) if max would be passed. */
static inline int vol_strbuf_append(struct vol_strbuf *b, const void *data, size_t n)
{
        if (b->len + n + 1 <= b->cap && !b->overflow && (!b->max || b->len + n <= b->max)) {
                memcpy(b->data + b->len, data, n);
                b->len += n;
                b->data[b->len] = 0;
                return 0;
        }
        return vol_strbuf_append_slow(b, data, n);
}

/* Appends a NUL-terminated string. */
static inline int vol_strbuf_puts(struct vol_strbuf *b, const char *s)
{
        return vol_strbuf_append(b, s, strlen(s));
}

/* Appends one byte. */
static inline int vol_strbuf_putc(struct vol_strbuf *b, char c)
{
        return vol_strbuf_append(b, &c, 1);
}

/* Appends formatted text. */
int vol_strbuf_printf(struct vol_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the data to the caller (NUL-terminated, never NULL) and resets b. */
char *vol_strbuf_take(struct vol_strbuf *b, size_t *ret_len);
/* Frees the data. Accepts a zeroed buffer. */
void vol_strbuf_free(struct vol_strbuf *b);

/* Appends s as a JSON string literal, quotes included, escaping what JSON
 * needs. Bytes that are not valid UTF-8 (a cut or forged sequence) become
 * U+FFFD, so the output is valid UTF-8 JSON whatever s holds. */
int vol_strbuf_json_string(struct vol_strbuf *b, const char *s);
