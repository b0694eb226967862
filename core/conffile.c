/* volmand's configuration file format (core/conffile.h). */
#include "conffile.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "size.h"
#include "strbuf.h"
#include "utf8.h"
#include "xmalloc.h"

static bool is_blank(char c)
{
        return c == ' ' || c == '\t';
}

static bool is_key_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

const struct vol_conf_key *vol_conf_key_find(const struct vol_conf_key *keys, size_t n_keys,
                                             const char *name)
{
        for (size_t i = 0; i < n_keys; i++)
                if (strcmp(keys[i].name, name) == 0)
                        return &keys[i];
        return NULL;
}

int vol_conf_check_value(const struct vol_conf_key *k, const char *value, struct vol_error *err)
{
        uint64_t n;
        switch (k->type) {
        case VOL_CONF_STRING:
                return 0;
        case VOL_CONF_PATH_OR_NONE:
                if (strcmp(value, "none") == 0)
                        return 0;
                if (value[0] != '/')
                        return vol_error_set(err, -EINVAL, "%s: give an absolute path or none, not %s",
                                             k->name, value);
                return 0;
        case VOL_CONF_PATH:
                if (value[0] != '/')
                        return vol_error_set(err, -EINVAL, "%s: give an absolute path, not %s", k->name,
                                             value);
                return 0;
        case VOL_CONF_SIZE:
                return vol_parse_size(k->name, value, &n, err);
        case VOL_CONF_CHOICE:
                for (size_t i = 0; k->choices && k->choices[i]; i++)
                        if (strcmp(k->choices[i], value) == 0)
                                return 0;
                struct vol_strbuf list;
                vol_strbuf_init(&list, 1024);
                for (size_t i = 0; k->choices && k->choices[i]; i++)
                        vol_strbuf_printf(&list, "%s%s", i ? ", " : "", k->choices[i]);
                int r = vol_error_set(err, -EINVAL, "%s: give one of %s, not %s", k->name,
                                      list.data ? list.data : "(none)", value);
                vol_strbuf_free(&list);
                return r;
        }
        return vol_error_set(err, -EINVAL, "%s: unknown type", k->name);
}

/* Reads a quoted value starting after the opening quote at *p (line ends at
 * end). Returns the value and moves *p past the closing quote, or NULL with
 * why in *ret_why. */
static char *quoted_value(const char **p, const char *end, const char **ret_why)
{
        struct vol_strbuf b;
        vol_strbuf_init(&b, VOL_CONF_LINE_MAX);
        const char *s = *p;
        for (; s < end && *s != '"'; s++) {
                if (*s == '\\') {
                        if (s + 1 >= end || (s[1] != '"' && s[1] != '\\')) {
                                vol_strbuf_free(&b);
                                *ret_why = "inside quotes, a backslash goes only before \" or \\";
                                return NULL;
                        }
                        s++;
                }
                vol_strbuf_putc(&b, *s);
        }
        if (s >= end) {
                vol_strbuf_free(&b);
                *ret_why = "the closing quote is missing";
                return NULL;
        }
        *p = s + 1;
        return vol_strbuf_take(&b, NULL);
}

/* Parses one line (no newline, checked for control bytes and UTF-8). Returns
 * 0 with *ret_key and *ret_value set (both NULL for a blank or comment line), or
 * -EINVAL with a message that the caller prefixes with FILE:LINE. */
static int parse_line(const char *s, const char *end, char **ret_key, char **ret_value,
                      struct vol_error *err)
{
        *ret_key = *ret_value = NULL;
        while (s < end && is_blank(*s))
                s++;
        if (s == end || *s == '#')
                return 0;
        const char *k = s;
        while (s < end && is_key_char(*s))
                s++;
        if (s == k)
                return vol_error_set(err, -EINVAL, "expected KEY = VALUE (keys are lowercase: a-z 0-9 -)");
        const char *key_end = s;
        while (s < end && is_blank(*s))
                s++;
        if (s == end || *s != '=')
                return vol_error_set(err, -EINVAL, "expected = after %.*s (KEY = VALUE)",
                                     (int)(key_end - k), k);
        s++;
        while (s < end && is_blank(*s))
                s++;
        _cleanup_free_ char *key = xstrndup(k, (size_t)(key_end - k));
        _cleanup_free_ char *value = NULL;
        if (s < end && *s == '"') {
                const char *why = NULL;
                s++;
                value = quoted_value(&s, end, &why);
                if (!value)
                        return vol_error_set(err, -EINVAL, "%s: %s", key, why);
                while (s < end && is_blank(*s))
                        s++;
                if (s < end && *s != '#')
                        return vol_error_set(err, -EINVAL, "%s: text after the closing quote", key);
        } else {
                const char *v = s;
                const char *e = s;
                for (; s < end; s++) {
                        if (*s == '#' && (s == v || is_blank(s[-1])))
                                break; /* a comment after the value */
                        if (!is_blank(*s))
                                e = s + 1;
                }
                value = xstrndup(v, (size_t)(e - v));
        }
        if (!*value)
                return vol_error_set(err, -EINVAL, "%s has no value (leave the line out for the default)",
                                     key);
        *ret_key = TAKE_PTR(key);
        *ret_value = TAKE_PTR(value);
        return 0;
}

/* Checks the bytes of one line: no control character but tab, valid UTF-8. */
static int check_bytes(const char *s, size_t n, struct vol_error *err)
{
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                if ((c < 0x20 && c != '\t') || c == 0x7f)
                        return vol_error_set(err, -EINVAL, "a control character (byte 0x%02x)%s", c,
                                             c == '\r' ? ": save the file with Unix line ends" : "");
        }
        size_t bad = vol_utf8_invalid_at(s, n);
        if (bad < n)
                return vol_error_set(err, -EINVAL, "not UTF-8 (byte 0x%02x)", (unsigned char)s[bad]);
        return 0;
}

void vol_conf_free(struct vol_conf *c)
{
        for (size_t i = 0; i < c->n; i++)
                free(c->entries[i].value);
        free(c->entries);
        c->entries = NULL;
        c->n = 0;
}

int vol_conf_parse(const char *text, size_t len, const char *file, const struct vol_conf_key *keys,
                   size_t n_keys, struct vol_conf *ret, struct vol_error *err)
{
        if (len > VOL_CONF_FILE_MAX)
                return vol_error_set(err, -EFBIG, "%s: %zu bytes; a configuration file has at most %u", file,
                                     len, VOL_CONF_FILE_MAX);
        struct vol_conf c = {0};
        unsigned line = 0;
        int r = 0;
        for (const char *s = text, *end = text + len; s < end && r >= 0;) {
                const char *nl = memchr(s, '\n', (size_t)(end - s));
                const char *le = nl ? nl : end;
                line++;
                char *key = NULL, *value = NULL;
                if ((size_t)(le - s) > VOL_CONF_LINE_MAX)
                        r = vol_error_set(err, -EINVAL, "a line longer than %d bytes", VOL_CONF_LINE_MAX);
                else if ((r = check_bytes(s, (size_t)(le - s), err)) >= 0)
                        r = parse_line(s, le, &key, &value, err);
                s = nl ? nl + 1 : end;
                if (r < 0 || !key)
                        continue;
                const struct vol_conf_key *k = vol_conf_key_find(keys, n_keys, key);
                if (!k) {
                        struct vol_strbuf known;
                        vol_strbuf_init(&known, 4096);
                        for (size_t i = 0; i < n_keys; i++)
                                vol_strbuf_printf(&known, "%s%s", i ? ", " : "", keys[i].name);
                        r = vol_error_set(err, -EINVAL, "unknown key %s (the keys: %s)", key,
                                          known.data ? known.data : "none");
                        vol_strbuf_free(&known);
                } else {
                        size_t ki = (size_t)(k - keys);
                        for (size_t i = 0; i < c.n && r >= 0; i++)
                                if (c.entries[i].key == ki)
                                        r = vol_error_set(err, -EINVAL, "%s is set again (first on line %u)",
                                                          key, c.entries[i].line);
                        if (r >= 0)
                                r = vol_conf_check_value(k, value, err);
                        if (r >= 0) {
                                c.entries = xrealloc(c.entries, (c.n + 1) * sizeof(*c.entries));
                                c.entries[c.n++] = (struct vol_conf_entry){ki, line, TAKE_PTR(value)};
                        }
                }
                free(key);
                free(value);
        }
        if (r < 0) {
                vol_conf_free(&c);
                return vol_error_wrap(err, "%s:%u: ", file, line);
        }
        *ret = c;
        return 0;
}

char *vol_conf_quote(const char *value)
{
        size_t n = strlen(value);
        bool plain = n > 0 && !is_blank(value[0]) && !is_blank(value[n - 1]) && value[0] != '"' &&
                     value[0] != '#';
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)value[i];
                if ((c < 0x20 && c != '\t') || c == 0x7f)
                        return NULL;
                if (c == '#' && i > 0 && is_blank(value[i - 1]))
                        plain = false;
        }
        if (plain)
                return xstrdup(value);
        struct vol_strbuf b;
        vol_strbuf_init(&b, 2 * n + 3);
        vol_strbuf_putc(&b, '"');
        for (size_t i = 0; i < n; i++) {
                if (value[i] == '"' || value[i] == '\\')
                        vol_strbuf_putc(&b, '\\');
                vol_strbuf_putc(&b, value[i]);
        }
        vol_strbuf_putc(&b, '"');
        return vol_strbuf_take(&b, NULL);
}
