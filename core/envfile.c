/* ENV files (core/envfile.h). Depends on no other core file: con-init
 * compiles it into its static binary. */
#include "envfile.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

/* One line being read. */
struct envline {
        char key[VOL_ENVFILE_KEY_MAX + 1];
        bool key_ok; /* key holds a whole valid key, followed by = */
        char *value; /* VOL_ENVFILE_VALUE_MAX + 1 bytes, NUL-terminated */
        size_t value_len;
        const char *why; /* a bad line: why; never quotes the line */
};

enum { LINE_BAD = -1, LINE_SKIP = 0, LINE_ENTRY = 1 };

static bool is_blank(char c)
{
        return c == ' ' || c == '\t';
}

static bool is_key_start(char c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_key_char(char c)
{
        return is_key_start(c) || (c >= '0' && c <= '9');
}

static int bad(struct envline *l, const char *why)
{
        l->why = why;
        return LINE_BAD;
}

/* After a closing quote at p - 1: only blanks, then maybe a # comment. */
static int after_quote(struct envline *l, const char *p, const char *end)
{
        while (p < end && is_blank(*p))
                p++;
        if (p < end && *p != '#')
                return bad(l, "text after the closing quote");
        return LINE_ENTRY;
}

/* "..." starting at p (the opening quote), with \" \\ \n \t \$. */
static int double_quoted(struct envline *l, const char *p, const char *end)
{
        size_t n = 0;
        for (p++; p < end && *p != '"'; p++) {
                char c = *p;
                if (c == '\0')
                        return bad(l, "value holds a NUL byte");
                if (c == '\\') {
                        if (p + 1 >= end)
                                return bad(l, "unterminated double quote");
                        switch (*++p) {
                        case '"':
                        case '\\':
                        case '$':
                                c = *p;
                                break;
                        case 'n':
                                c = '\n';
                                break;
                        case 't':
                                c = '\t';
                                break;
                        default:
                                return bad(l, "unknown escape in double quotes "
                                              "(known: \\\" \\\\ \\n \\t \\$)");
                        }
                }
                if (n >= VOL_ENVFILE_VALUE_MAX)
                        return bad(l, "value longer than 65536 bytes");
                l->value[n++] = c;
        }
        if (p >= end)
                return bad(l, "unterminated double quote");
        l->value[n] = '\0';
        l->value_len = n;
        return after_quote(l, p + 1, end);
}

/* '...' starting at p (the opening quote): every byte as is. */
static int single_quoted(struct envline *l, const char *p, const char *end)
{
        p++;
        const char *close = memchr(p, '\'', (size_t)(end - p));
        if (!close)
                return bad(l, "unterminated single quote");
        size_t n = (size_t)(close - p);
        if (memchr(p, '\0', n))
                return bad(l, "value holds a NUL byte");
        if (n > VOL_ENVFILE_VALUE_MAX)
                return bad(l, "value longer than 65536 bytes");
        memcpy(l->value, p, n);
        l->value[n] = '\0';
        l->value_len = n;
        return after_quote(l, close + 1, end);
}

/* Everything after = to the end of the line. */
static int raw_value(struct envline *l, const char *p, const char *end)
{
        size_t n = (size_t)(end - p);
        if (memchr(p, '\0', n))
                return bad(l, "value holds a NUL byte");
        if (n > VOL_ENVFILE_VALUE_MAX)
                return bad(l, "value longer than 65536 bytes");
        memcpy(l->value, p, n);
        l->value[n] = '\0';
        l->value_len = n;
        return LINE_ENTRY;
}

/* Reads the line [p, end) (without its \n and \r) into l. Returns
 * LINE_ENTRY, LINE_SKIP (blank or comment) or LINE_BAD with l->why. */
static int parse_line(struct envline *l, const char *p, const char *end)
{
        l->key_ok = false;
        while (p < end && is_blank(*p))
                p++;
        if (p == end || *p == '#')
                return LINE_SKIP;
        if (end - p > 6 && memcmp(p, "export", 6) == 0 && is_blank(p[6])) {
                for (p += 6; p < end && is_blank(*p);)
                        p++;
                if (p == end)
                        return bad(l, "no key after export");
        }

        /* The key is not quoted in reasons until it is known to be one: a
         * line without = may be a stray piece of a secret. */
        const char *key = p;
        if (*p == '=')
                return bad(l, "no key before =");
        if (*p >= '0' && *p <= '9')
                return bad(l, "the key starts with a digit");
        while (p < end && is_key_char(*p))
                p++;
        if (p == end || !memchr(p, '=', (size_t)(end - p)))
                return bad(l, "no = after the key");
        if (is_blank(*p)) {
                while (is_blank(*p))
                        p++;
                return bad(l, *p == '=' ? "blanks between the key and = (write KEY=value)"
                                        : "a blank in the key");
        }
        if (*p != '=')
                return bad(l, "the key holds a character other than A-Z, a-z, 0-9 and _");
        size_t key_len = (size_t)(p - key);
        if (key_len > VOL_ENVFILE_KEY_MAX)
                return bad(l, "key longer than 256 bytes");
        memcpy(l->key, key, key_len);
        l->key[key_len] = '\0';
        l->key_ok = true;
        p++;

        if (p < end && *p == '"')
                return double_quoted(l, p, end);
        if (p < end && *p == '\'')
                return single_quoted(l, p, end);
        return raw_value(l, p, end);
}

int vol_envfile_parse(const char *text, size_t len, vol_envfile_entry_fn on_entry,
                      vol_envfile_bad_fn on_bad, void *userdata)
{
        if (len > VOL_ENVFILE_MAX)
                return -E2BIG;
        _cleanup_free_ char *value = malloc(VOL_ENVFILE_VALUE_MAX + 1);
        if (!value)
                return -ENOMEM;
        struct envline l = {.value = value};
        const char *p = text, *text_end = text + len;
        unsigned line = 0;
        int good = 0;

        while (p < text_end) {
                const char *nl = memchr(p, '\n', (size_t)(text_end - p));
                const char *end = nl ? nl : text_end;
                const char *next = nl ? nl + 1 : text_end;
                if (end > p && end[-1] == '\r')
                        end--;
                line++;

                int r = parse_line(&l, p, end);
                p = next;
                if (r == LINE_SKIP)
                        continue;
                if (r == LINE_BAD) {
                        if (!on_bad)
                                continue;
                        if (!l.key_ok) {
                                on_bad(line, l.why, userdata);
                                continue;
                        }
                        char why[VOL_ENVFILE_KEY_MAX + 128];
                        snprintf(why, sizeof(why), "key \"%s\": %s", l.key, l.why);
                        on_bad(line, why, userdata);
                        continue;
                }
                if (on_entry) {
                        r = on_entry(l.key, l.value, l.value_len, userdata);
                        if (r < 0)
                                return r;
                }
                good++;
        }
        return good;
}
