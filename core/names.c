/* Volume names for scoped volumes; the algorithm and why it is injective are in
 * docs/names.md. */
#include "names.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "sha256.h"
#include "strbuf.h"

/* Bytes of the short form kept in a long name, before "__" and the hash. */
#define HASH_HEX 24 /* 12 bytes of SHA-256 */
#define LONG_KEEP (VOL_NAME_MAX - 2 - HASH_HEX)
/* The longest short form: four labels of at most 2 * 63 bytes, a path of at
 * most 3 bytes per input byte, separators. A hard bound, never reached. */
#define SHORT_FORM_MAX (4 * 2 * VOL_SCOPE_PART_MAX + 3 * VOL_PATH_MAX + 8)

static const char hex_digits[] = "0123456789abcdef";

static bool is_lower_alnum(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

int vol_validate_prefix(const char *prefix, struct vol_error *err)
{
        if (!prefix || !*prefix)
                return vol_error_set(err, -EINVAL, "name prefix is empty");
        size_t n = strlen(prefix);
        if (n > VOL_PREFIX_MAX)
                return vol_error_set(err, -EINVAL, "name prefix is %zu bytes long; the most is %d",
                                     n, VOL_PREFIX_MAX);
        for (size_t i = 0; i < n; i++)
                if (!is_lower_alnum(prefix[i]) && prefix[i] != '-')
                        return vol_error_set(err, -EINVAL,
                                             "name prefix may hold only lower-case letters, digits "
                                             "and '-' (a DNS label)");
        if (prefix[0] == '-' || prefix[n - 1] == '-')
                return vol_error_set(err, -EINVAL,
                                     "name prefix must start and end with a letter or digit");
        return 0;
}

/* E(x): a DNS label with each '-' doubled. */
static int encode_label(struct vol_strbuf *b, const char *s)
{
        int r = 0;
        for (const char *p = s; *p; p++)
                r |= *p == '-' ? vol_strbuf_append(b, "--", 2) : vol_strbuf_putc(b, *p);
        return r;
}

/* C(c): one path component of n bytes. Alnum and '.' stay; an inner '-' is
 * doubled; anything else, a leading or trailing '-' included, becomes "_xx". */
static int encode_component(struct vol_strbuf *b, const char *c, size_t n)
{
        int r = 0;
        for (size_t i = 0; i < n; i++) {
                unsigned char ch = (unsigned char)c[i];
                if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '.') {
                        r |= vol_strbuf_putc(b, (char)ch);
                } else if (ch == '-' && i > 0 && i + 1 < n) {
                        r |= vol_strbuf_append(b, "--", 2);
                } else {
                        char e[3] = {'_', hex_digits[ch >> 4], hex_digits[ch & 15]};
                        r |= vol_strbuf_append(b, e, 3);
                }
        }
        return r;
}

/* One field of the hashed tuple: a 4-byte big-endian length, then the bytes. */
static void hash_field(struct vol_sha256 *h, const char *s)
{
        size_t n = strlen(s);
        uint8_t len[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
        vol_sha256_update(h, len, sizeof(len));
        vol_sha256_update(h, s, n);
}

int vol_name_for_scope(const char *prefix, const struct vol_scope *scope, char **ret_name,
                       struct vol_error *err)
{
        int r;
        if ((r = vol_validate_prefix(prefix, err)) < 0)
                return r;
        if (!scope)
                return vol_error_set(err, -EINVAL, "scope is missing");
        if ((r = vol_validate_scope(scope, err)) < 0)
                return r;

        struct vol_strbuf b;
        vol_strbuf_init(&b, SHORT_FORM_MAX);
        r = encode_label(&b, prefix);
        const char *labels[] = {scope->tenant, scope->env, scope->app};
        for (size_t i = 0; i < 3; i++) {
                r |= vol_strbuf_putc(&b, '-');
                r |= encode_label(&b, labels[i]);
        }
        /* The path is validated: '/' then non-empty components separated by single '/'. */
        for (const char *p = scope->path; *p;) {
                p++;
                const char *e = strchrnul(p, '/');
                r |= vol_strbuf_putc(&b, '-');
                r |= encode_component(&b, p, (size_t)(e - p));
                p = e;
        }
        if (r) {
                vol_strbuf_free(&b);
                return vol_error_set(err, -EINVAL,
                                     "volume name for the scope is too long to build");
        }

        if (b.len > VOL_NAME_MAX) {
                struct vol_sha256 h;
                uint8_t digest[32];
                vol_sha256_init(&h);
                hash_field(&h, prefix);
                hash_field(&h, scope->tenant);
                hash_field(&h, scope->env);
                hash_field(&h, scope->app);
                hash_field(&h, scope->path);
                vol_sha256_final(&h, digest);

                char *d = b.data + LONG_KEEP;
                *d++ = '_';
                *d++ = '_';
                for (size_t i = 0; i < HASH_HEX / 2; i++) {
                        *d++ = hex_digits[digest[i] >> 4];
                        *d++ = hex_digits[digest[i] & 15];
                }
                *d = 0;
                b.len = VOL_NAME_MAX;
        }
        *ret_name = vol_strbuf_take(&b, NULL);
        return 0;
}

bool vol_name_is_scoped_form(const char *prefix, const char *name)
{
        /* Scoped names start with E(prefix) and '-': the prefix with each
         * '-' doubled (see vol_name_for_scope). */
        const char *p = prefix, *n = name;
        for (; *p; p++) {
                if (*n++ != *p)
                        return false;
                if (*p == '-' && *n++ != '-')
                        return false;
        }
        return *n == '-';
}

int vol_app_container_name(const char *prefix, const char *tenant, const char *env, const char *app,
                           unsigned long generation, char **ret_name, struct vol_error *err)
{
        int r;
        if ((r = vol_validate_prefix(prefix, err)) < 0 ||
            (r = vol_validate_scope_part("tenant", tenant, err)) < 0 ||
            (r = vol_validate_scope_part("env", env, err)) < 0 ||
            (r = vol_validate_scope_part("app", app, err)) < 0)
                return r;
        struct vol_strbuf b;
        vol_strbuf_init(&b, 0);
        encode_label(&b, prefix);
        vol_strbuf_putc(&b, '-');
        encode_label(&b, tenant);
        vol_strbuf_putc(&b, '-');
        encode_label(&b, env);
        vol_strbuf_putc(&b, '-');
        encode_label(&b, app);
        vol_strbuf_printf(&b, "-%lu", generation);
        *ret_name = vol_strbuf_take(&b, NULL);
        return 0;
}
