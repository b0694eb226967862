/* libFuzzer target: volume names and scoped names (core/names.c, and the
 * validators of core/volume.c they rest on), checked against docs/names.md.
 *
 * An input is two halves; each half is one tuple of fields separated by NUL
 * bytes: prefix, tenant, env, app, path, generation (decimal). Missing fields
 * are empty; bytes past the sixth field are ignored.
 *
 * For each tuple:
 * - vol_validate_name, vol_validate_prefix, vol_validate_scope_part and
 *   vol_validate_path accept a field exactly when the rules written in
 *   docs/names.md and core/volume.h (re-implemented here) do;
 * - vol_name_for_scope succeeds exactly when the tuple is valid; its name
 *   passes vol_validate_name, is at most VOL_NAME_MAX bytes, is the same when
 *   derived twice, equals the short form of docs/names.md built here (or its
 *   long form: the first 102 bytes, "__", 24 hex digits of the SHA-256 of the
 *   tuple's serialization), and a short form decodes back to the tuple;
 * - vol_name_is_scoped_form(prefix, name) is true for every scoped name;
 * - vol_app_container_name likewise, against {E(prefix)}-...-{generation}.
 * For the two tuples: the same name (scoped, or container) exactly when the
 * tuples are the same; every scoped name has the scoped form under its
 * prefix (vol_name_is_scoped_form), hyphens in the prefix included.
 * A broken rule stops the run with __builtin_trap (fuzz_check). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/names.h"
#include "core/sha256.h"
#include "core/volume.h"
#include "core/xmalloc.h"
#include "fuzz/fuzz.h"

enum { F_PREFIX, F_TENANT, F_ENV, F_APP, F_PATH, F_GENERATION, N_FIELDS };

/* Bytes of the short form a long name keeps, and of its hash (docs/names.md). */
#define LONG_KEEP 102
#define HASH_HEX 24

struct tuple {
        char *f[N_FIELDS];
        unsigned long generation;
        char *name;      /* vol_name_for_scope's, or NULL when refused */
        char *container; /* vol_app_container_name's, or NULL when refused */
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        return 0;
}

static void tuple_read(struct tuple *t, const uint8_t *data, size_t size)
{
        memset(t, 0, sizeof(*t));
        size_t at = 0;
        for (int i = 0; i < N_FIELDS; i++) {
                size_t n = 0;
                if (at < size) {
                        const uint8_t *end = memchr(data + at, 0, size - at);
                        n = end ? (size_t)(end - (data + at)) : size - at;
                }
                t->f[i] = fuzz_strndup(at < size ? data + at : (const uint8_t *)"", n);
                at += n + 1;
        }
        t->generation = strtoul(t->f[F_GENERATION], NULL, 10);
}

static void tuple_free(struct tuple *t)
{
        for (int i = 0; i < N_FIELDS; i++)
                free(t->f[i]);
        free(t->name);
        free(t->container);
}

/* ---- the rules, written again from the documentation ---- */

static bool is_alnum(unsigned char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* [a-zA-Z0-9][a-zA-Z0-9_.-]*, 1..VOL_NAME_MAX bytes. */
static bool rule_name(const char *s)
{
        size_t n = strlen(s);
        if (n < 1 || n > VOL_NAME_MAX || !is_alnum((unsigned char)s[0]))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!is_alnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
                        return false;
        return true;
}

/* A DNS label [a-z0-9]([a-z0-9-]*[a-z0-9])? of 1..max bytes. */
static bool rule_label(const char *s, size_t max)
{
        size_t n = strlen(s);
        if (n < 1 || n > max || s[0] == '-' || s[n - 1] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
                        return false;
        return true;
}

/* Well-formed UTF-8, by the table of well-formed byte sequences in the
 * Unicode standard (ch. 3, table 3-7): no overlongs, surrogates or > U+10FFFF. */
static bool rule_utf8(const unsigned char *p)
{
        while (*p) {
                unsigned char c = *p;
                unsigned char lo = 0x80, hi = 0xbf;
                int more;
                if (c <= 0x7f)
                        more = 0;
                else if (c >= 0xc2 && c <= 0xdf)
                        more = 1;
                else if (c == 0xe0)
                        more = 2, lo = 0xa0;
                else if (c == 0xed)
                        more = 2, hi = 0x9f;
                else if (c >= 0xe1 && c <= 0xef)
                        more = 2;
                else if (c == 0xf0)
                        more = 3, lo = 0x90;
                else if (c == 0xf4)
                        more = 3, hi = 0x8f;
                else if (c >= 0xf1 && c <= 0xf3)
                        more = 3;
                else
                        return false;
                p++;
                for (int i = 0; i < more; i++, p++) {
                        if (*p < lo || *p > hi)
                                return false;
                        lo = 0x80, hi = 0xbf;
                }
        }
        return true;
}

/* Absolute and normalized: '/', not "/", no empty, "." or ".." component, no
 * trailing '/', no control characters, valid UTF-8, components of at most
 * VOL_PATH_COMPONENT_MAX bytes, VOL_PATH_MAX in all. */
static bool rule_path(const char *s)
{
        size_t n = strlen(s);
        if (n < 2 || n > VOL_PATH_MAX || s[0] != '/' || s[n - 1] == '/')
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                        return false;
        if (!rule_utf8((const unsigned char *)s))
                return false;
        size_t start = 1;
        for (size_t i = 1; i <= n; i++) {
                if (i < n && s[i] != '/')
                        continue;
                size_t len = i - start;
                if (len == 0 || len > VOL_PATH_COMPONENT_MAX)
                        return false;
                if ((len == 1 && s[start] == '.') ||
                    (len == 2 && s[start] == '.' && s[start + 1] == '.'))
                        return false;
                start = i + 1;
        }
        return true;
}

static bool rule_tuple(const struct tuple *t)
{
        return rule_label(t->f[F_PREFIX], VOL_PREFIX_MAX) &&
               rule_label(t->f[F_TENANT], VOL_SCOPE_PART_MAX) &&
               rule_label(t->f[F_ENV], VOL_SCOPE_PART_MAX) &&
               rule_label(t->f[F_APP], VOL_SCOPE_PART_MAX) && rule_path(t->f[F_PATH]);
}

/* ---- the encoding of docs/names.md ---- */

struct text {
        char *s;
        size_t len, cap;
};

static void put(struct text *b, const char *s, size_t n)
{
        if (b->len + n + 1 > b->cap) {
                b->cap = (b->len + n + 1) * 2;
                b->s = xrealloc(b->s, b->cap);
        }
        memcpy(b->s + b->len, s, n);
        b->len += n;
        b->s[b->len] = 0;
}

/* E(x): each '-' doubled. */
static void put_label(struct text *b, const char *s)
{
        for (; *s; s++)
                put(b, *s == '-' ? "--" : s, *s == '-' ? 2 : 1);
}

/* C(c) of the n bytes of one path component. */
static void put_component(struct text *b, const char *c, size_t n)
{
        static const char hex[] = "0123456789abcdef";
        for (size_t i = 0; i < n; i++) {
                unsigned char ch = (unsigned char)c[i];
                if (is_alnum(ch) || ch == '.') {
                        put(b, &c[i], 1);
                } else if (ch == '-' && i != 0 && i != n - 1) {
                        put(b, "--", 2);
                } else {
                        char e[3] = {'_', hex[ch >> 4], hex[ch & 15]};
                        put(b, e, 3);
                }
        }
}

/* The short form E(prefix)-E(tenant)-E(env)-E(app)-C(p1)-...-C(pn). */
static struct text short_form(const struct tuple *t)
{
        struct text b = {0};
        put_label(&b, t->f[F_PREFIX]);
        for (int i = F_TENANT; i <= F_APP; i++) {
                put(&b, "-", 1);
                put_label(&b, t->f[i]);
        }
        const char *p = t->f[F_PATH] + 1;
        for (;;) {
                const char *e = strchrnul(p, '/');
                put(&b, "-", 1);
                put_component(&b, p, (size_t)(e - p));
                if (!*e)
                        break;
                p = e + 1;
        }
        return b;
}

/* The hash of a long form: SHA-256 over, for each of prefix, tenant, env,
 * app, path, a 4-byte big-endian length and the bytes; its first 12 bytes in
 * lower-case hex. */
static void long_form_hash(const struct tuple *t, char out[HASH_HEX + 1])
{
        static const char hex[] = "0123456789abcdef";
        struct vol_sha256 h;
        vol_sha256_init(&h);
        for (int i = F_PREFIX; i <= F_PATH; i++) {
                size_t n = strlen(t->f[i]);
                uint8_t len[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
                                  (uint8_t)n};
                vol_sha256_update(&h, len, 4);
                vol_sha256_update(&h, t->f[i], n);
        }
        uint8_t d[32];
        vol_sha256_final(&h, d);
        for (int i = 0; i < HASH_HEX / 2; i++) {
                out[2 * i] = hex[d[i] >> 4];
                out[2 * i + 1] = hex[d[i] & 15];
        }
        out[HASH_HEX] = 0;
}

static int hex_value(char c)
{
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The decoder of docs/names.md: splits a short form at its runs of exactly
 * one '-', undoes "--" and "_xy", and checks that it gives back t. */
static void check_decodes_to(const char *name, const struct tuple *t)
{
        size_t n = strlen(name);
        struct text piece = {0}, path = {0};
        int index = 0; /* of the piece being read: 0..3 labels, then components */
        put(&piece, "", 0);
        for (size_t i = 0; i <= n; i++) {
                if (i < n && name[i] == '-') {
                        size_t run = 0;
                        while (i + run < n && name[i + run] == '-')
                                run++;
                        fuzz_check(run == 1 || run % 2 == 0);
                        if (run % 2 == 0) {
                                for (size_t k = 0; k < run / 2; k++)
                                        put(&piece, "-", 1);
                                i += run - 1;
                                continue;
                        }
                }
                if (i < n && name[i] != '-') {
                        if (name[i] == '_') {
                                fuzz_check(index >= 4 && i + 2 < n);
                                int h1 = hex_value(name[i + 1]), h2 = hex_value(name[i + 2]);
                                fuzz_check(h1 >= 0 && h2 >= 0);
                                char byte = (char)(h1 * 16 + h2);
                                put(&piece, &byte, 1);
                                i += 2;
                        } else {
                                put(&piece, &name[i], 1);
                        }
                        continue;
                }
                /* A separator, or the end: piece `index` is whole. */
                fuzz_check(piece.len > 0);
                if (index < 4) {
                        fuzz_check(!strcmp(piece.s, t->f[F_PREFIX + index]));
                } else {
                        put(&path, "/", 1);
                        put(&path, piece.s, piece.len);
                }
                index++;
                piece.len = 0;
                piece.s[0] = 0;
        }
        fuzz_check(index >= 5);
        fuzz_check(!strcmp(path.s, t->f[F_PATH]));
        free(piece.s);
        free(path.s);
}

/* ---- the checks ---- */

static void check_validators(const char *s)
{
        struct vol_error err = VOL_ERROR_INIT;
        int r = vol_validate_name(s, &err);
        fuzz_check_error(r, &err);
        fuzz_check((r == 0) == rule_name(s));
        fuzz_check(vol_validate_name(s, NULL) == r);
        vol_error_clear(&err);

        r = vol_validate_prefix(s, &err);
        fuzz_check_error(r, &err);
        fuzz_check((r == 0) == rule_label(s, VOL_PREFIX_MAX));
        /* A prefix starts every scoped name: it is a volume name itself. */
        if (r == 0)
                fuzz_check(rule_name(s));
        vol_error_clear(&err);

        r = vol_validate_scope_part("tenant", s, &err);
        fuzz_check_error(r, &err);
        fuzz_check((r == 0) == rule_label(s, VOL_SCOPE_PART_MAX));
        vol_error_clear(&err);

        r = vol_validate_path(s, &err);
        fuzz_check_error(r, &err);
        fuzz_check((r == 0) == rule_path(s));
        vol_error_clear(&err);
}

static void check_scoped_name(struct tuple *t)
{
        struct vol_error err = VOL_ERROR_INIT;
        struct vol_scope scope = {
            .tenant = t->f[F_TENANT], .env = t->f[F_ENV], .app = t->f[F_APP], .path = t->f[F_PATH]};
        char *const untouched = (char *)"untouched";
        char *name = untouched;
        int r = vol_name_for_scope(t->f[F_PREFIX], &scope, &name, &err);
        fuzz_check_error(r, &err);
        vol_error_clear(&err);
        fuzz_check((r == 0) == rule_tuple(t));
        if (r < 0) {
                fuzz_check(r == -EINVAL);
                fuzz_check(name == untouched);
                return;
        }
        t->name = name;
        fuzz_check(vol_validate_name(name, NULL) == 0);
        fuzz_check(strlen(name) <= VOL_NAME_MAX);
        fuzz_check(vol_name_is_scoped_form(t->f[F_PREFIX], name));

        char *again = NULL;
        fuzz_check(vol_name_for_scope(t->f[F_PREFIX], &scope, &again, NULL) == 0);
        fuzz_check(!strcmp(name, again));
        free(again);

        struct text want = short_form(t);
        if (want.len <= VOL_NAME_MAX) {
                fuzz_check(!strcmp(name, want.s));
                fuzz_check(!strstr(name, "__"));
                check_decodes_to(name, t);
        } else {
                char hash[HASH_HEX + 1];
                long_form_hash(t, hash);
                fuzz_check(strlen(name) == VOL_NAME_MAX);
                fuzz_check(!memcmp(name, want.s, LONG_KEEP));
                fuzz_check(!memcmp(name + LONG_KEEP, "__", 2));
                fuzz_check(!memcmp(name + LONG_KEEP + 2, hash, HASH_HEX));
        }
        free(want.s);
}

static void check_container_name(struct tuple *t)
{
        struct vol_error err = VOL_ERROR_INIT;
        char *const untouched = (char *)"untouched";
        char *name = untouched;
        int r = vol_app_container_name(t->f[F_PREFIX], t->f[F_TENANT], t->f[F_ENV], t->f[F_APP],
                                       t->generation, &name, &err);
        fuzz_check_error(r, &err);
        vol_error_clear(&err);
        bool valid = rule_label(t->f[F_PREFIX], VOL_PREFIX_MAX) &&
                     rule_label(t->f[F_TENANT], VOL_SCOPE_PART_MAX) &&
                     rule_label(t->f[F_ENV], VOL_SCOPE_PART_MAX) &&
                     rule_label(t->f[F_APP], VOL_SCOPE_PART_MAX);
        fuzz_check((r == 0) == valid);
        if (r < 0) {
                fuzz_check(r == -EINVAL);
                fuzz_check(name == untouched);
                return;
        }
        t->container = name;
        struct text want = {0};
        put_label(&want, t->f[F_PREFIX]);
        for (int i = F_TENANT; i <= F_APP; i++) {
                put(&want, "-", 1);
                put_label(&want, t->f[i]);
        }
        char gen[32];
        int n = snprintf(gen, sizeof(gen), "-%lu", t->generation);
        put(&want, gen, (size_t)n);
        fuzz_check(!strcmp(name, want.s));
        free(want.s);

        char *again = NULL;
        fuzz_check(vol_app_container_name(t->f[F_PREFIX], t->f[F_TENANT], t->f[F_ENV], t->f[F_APP],
                                          t->generation, &again, NULL) == 0);
        fuzz_check(!strcmp(name, again));
        free(again);
}

static bool same_scope(const struct tuple *a, const struct tuple *b)
{
        for (int i = F_PREFIX; i <= F_PATH; i++)
                if (strcmp(a->f[i], b->f[i]))
                        return false;
        return true;
}

static bool same_app(const struct tuple *a, const struct tuple *b)
{
        for (int i = F_PREFIX; i <= F_APP; i++)
                if (strcmp(a->f[i], b->f[i]))
                        return false;
        return a->generation == b->generation;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (!data) /* an empty input may come without a buffer */
                data = (const uint8_t *)"";
        struct tuple t[2];
        size_t half = size / 2;
        tuple_read(&t[0], data, half);
        tuple_read(&t[1], data + half, size - half);
        for (int i = 0; i < 2; i++) {
                for (int f = 0; f < N_FIELDS; f++)
                        check_validators(t[i].f[f]);
                check_scoped_name(&t[i]);
                check_container_name(&t[i]);
        }
        if (t[0].name && t[1].name)
                fuzz_check(same_scope(&t[0], &t[1]) == !strcmp(t[0].name, t[1].name));
        if (t[0].container && t[1].container)
                fuzz_check(same_app(&t[0], &t[1]) == !strcmp(t[0].container, t[1].container));
        tuple_free(&t[0]);
        tuple_free(&t[1]);
        return 0;
}
